// Runs in a guest worker. The guest's end of its command channel, as one interface with two
// adapters: RingChannel (shared memory, zero-copy) and CopyChannel (messages). The block
// device above does not know which one it has, except for readSync, which only a ring can do.
import { RingConsumer, RingProducer } from '../shared/ring';
import { CPL_STATUS, CPL_TAG, ENTRY_WORDS, REQ_ARG0, REQ_ARG1, REQ_ARG2, REQ_LBA, REQ_OP, REQ_TAG, type Op } from '../shared/protocol';
import type { CopyMessage } from '../shared/grant';
import type { DomainLayout } from '../shared/memory-layout';

export interface Request {
  op: Op;
  lba: number;
  arg0?: number;
  arg1?: number;
  arg2?: number;
  /** Copy transport only: a WRITE's bytes. */
  bytes?: Uint8Array;
}
export interface Reply {
  words: Int32Array;
  /** Copy transport only: a READ's bytes. */
  bytes?: Uint8Array;
}

export interface Channel {
  submit(req: Request): Promise<Reply>;
  /** `count` copies of `req` as one batch; resolves with how many completed OK. */
  submitBatch(req: Request, count: number): Promise<number>;
  /** Blocking round trip (workers, zero-copy only); undefined where impossible. */
  readonly submitSync?: (req: Request) => Reply;
  readonly stats: { submitted: number; roundTrips: number };
}

function encode(words: Int32Array, base: number, tag: number, req: Request): void {
  words[base + REQ_OP] = req.op;
  words[base + REQ_TAG] = tag;
  words[base + REQ_LBA] = req.lba;
  words[base + REQ_ARG0] = req.arg0 ?? 0;
  words[base + REQ_ARG1] = req.arg1 ?? 0;
  words[base + REQ_ARG2] = req.arg2 ?? 0;
  for (let k = REQ_ARG2 + 1; k < ENTRY_WORDS; k++) words[base + k] = 0;
}

/** How long a guest polls for its completion before sleeping, in ms. */
const SPIN_MS = 0.05;

export class RingChannel implements Channel {
  private readonly req: RingProducer;
  private readonly cpl: RingConsumer;
  private readonly pending = new Map<number, (entry: Int32Array) => void>();
  private nextTag = 1;
  private pumping = false;
  readonly stats = { submitted: 0, roundTrips: 0 };

  constructor(control: SharedArrayBuffer, layout: DomainLayout) {
    this.req = new RingProducer(control, layout.requestRing);
    this.cpl = new RingConsumer(control, layout.completionRing);
  }

  private tag(): number {
    const t = this.nextTag;
    this.nextTag = this.nextTag >= 0x7fff_ffff ? 1 : this.nextTag + 1;
    return t;
  }

  async submit(req: Request): Promise<Reply> {
    let settle: (r: Reply) => void = () => {};
    const reply = new Promise<Reply>((resolve) => (settle = resolve));
    await this.enqueue(req, 1, (entry) => settle({ words: entry.slice() }));
    return reply;
  }

  async submitBatch(req: Request, count: number): Promise<number> {
    let ok = 0;
    let left = count;
    let settle: () => void = () => {};
    const done = new Promise<void>((resolve) => (settle = resolve));
    await this.enqueue(req, count, (entry) => {
      if (entry[CPL_STATUS] === 0) ok++;
      if (--left === 0) settle();
    });
    await done;
    return ok;
  }

  /** Put `count` copies of `req` on the ring, each answered by `onReply`; waits for space as needed. */
  private async enqueue(req: Request, count: number, onReply: (entry: Int32Array) => void): Promise<void> {
    let queued = 0;
    while (queued < count) {
      const made = this.req.produce(count - queued, (w, base) => {
        const tag = this.tag();
        encode(w, base, tag, req);
        this.pending.set(tag, onReply);
      });
      queued += made;
      this.stats.submitted += made;
      this.req.publish();
      void this.pump();
      if (queued < count) {
        if (this.req.fault) throw new Error(`request ring: ${this.req.fault.message}`);
        await this.req.waitForSpaceAsync(1000);
      }
    }
  }

  readonly submitSync = (req: Request): Reply => {
    const tag = this.tag();
    while (this.req.produce(1, (w, base) => encode(w, base, tag, req)) === 0) {
      // A faulted ring never has space again: say so rather than spin.
      if (this.req.fault) throw new Error(`request ring: ${this.req.fault.message}`);
      this.req.waitForSpace(1000);
    }
    this.stats.submitted++;
    this.req.publish();
    let mine: Reply | null = null;
    for (;;) {
      this.cpl.consume(Infinity, (entry) => {
        const t = entry[CPL_TAG]!;
        if (t === tag) mine = { words: entry.slice() };
        else this.deliver(t, entry);
      });
      if (mine) {
        this.stats.roundTrips++;
        return mine;
      }
      if (this.cpl.fault) throw new Error(`completion ring: ${this.cpl.fault.message}`);
      this.cpl.waitForEntries(1000);
    }
  };

  private deliver(tag: number, entry: Int32Array): void {
    const handler = this.pending.get(tag);
    if (!handler) return; // not ours to answer (a stale or forged completion): drop it
    this.pending.delete(tag);
    this.stats.roundTrips++;
    handler(entry);
  }

  /** Collect completions while any async request is outstanding. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.size > 0) {
        const n = this.cpl.consume(Infinity, (entry) => this.deliver(entry[CPL_TAG]!, entry));
        if (n > 0) continue;
        if (this.cpl.fault) throw new Error(`completion ring: ${this.cpl.fault.message}`);
        const until = performance.now() + SPIN_MS;
        let arrived = false;
        while (performance.now() < until) if (this.cpl.available() > 0) { arrived = true; break; }
        if (!arrived) await this.cpl.waitForEntriesAsync(1000);
      }
    } finally {
      this.pumping = false;
    }
  }
}

export class CopyChannel implements Channel {
  private readonly pending = new Map<number, (r: Reply) => void>();
  private nextTag = 1;
  readonly stats = { submitted: 0, roundTrips: 0 };

  constructor(private readonly port: MessagePort) {
    port.onmessage = (ev: MessageEvent<CopyMessage>) => {
      const { words, bytes } = ev.data;
      const tag = words[CPL_TAG]!;
      const resolve = this.pending.get(tag);
      if (!resolve) return;
      this.pending.delete(tag);
      this.stats.roundTrips++;
      resolve(bytes ? { words, bytes } : { words });
    };
    port.start();
  }

  async submitBatch(req: Request, count: number): Promise<number> {
    const replies = await Promise.all(Array.from({ length: count }, () => this.submit(req)));
    return replies.filter((r) => r.words[CPL_STATUS] === 0).length;
  }

  submit(req: Request): Promise<Reply> {
    const tag = this.nextTag++;
    const words = new Int32Array(ENTRY_WORDS);
    encode(words, 0, tag, req);
    this.stats.submitted++;
    return new Promise<Reply>((resolve) => {
      this.pending.set(tag, resolve);
      const msg: CopyMessage = req.bytes ? { words, bytes: req.bytes } : { words };
      this.port.postMessage(msg);
    });
  }
}
