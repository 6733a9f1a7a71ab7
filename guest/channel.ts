// Runs in a guest worker. The guest's end of its command channel, as one interface with two
// adapters: RingChannel (shared memory, zero-copy) and CopyChannel (messages). The block
// device above does not know which one it has, except for readSync, which only a ring can do.
import { canBlock } from '../shared/atomics-wait';
import { RingConsumer, RingProducer } from '../shared/ring';
import { SpinGauge } from '../shared/spin-gauge';
import { CPL_STATUS, CPL_TAG, ENTRY_WORDS, REQ_ARG0, REQ_ARG1, REQ_ARG2, REQ_LBA, REQ_OP, REQ_TAG, REQ_USED, type Op } from '../shared/protocol';
import type { CopyMessage } from '../shared/grant';
import type { DomainLayout } from '../shared/memory-layout';
import { RING_CLOSED_I32 } from '../shared/ring-layout';
import { perf } from '../shared/clock';

/** Why a channel stopped: dom0 is gone (the host says so), or a ring broke. */
export type ChannelCloseCode = 'DOM0_GONE' | 'RING_FAULT';

/**
 * Every request outstanding on a closed channel, and every later one, rejects with this.
 * `code` says which, `message` names the cause.
 */
export class ChannelClosedError extends Error {
  override name = 'ChannelClosedError';
  constructor(
    readonly code: ChannelCloseCode,
    readonly reason: string,
  ) {
    super(code === 'DOM0_GONE' ? `dom0 is gone: ${reason}` : `I/O ring faulted: ${reason}`);
  }
}

/** The channels this guest has open; the bootstrap closes them all when the host says dom0 is gone. */
const open = new Set<{ close(code: ChannelCloseCode, cause: string): void }>();

export function closeAllChannels(code: ChannelCloseCode, cause: string): void {
  for (const c of [...open]) c.close(code, cause);
}

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
  /** Blocking: all of `reqs` on the ring at once, then every reply, in order (workers, zero-copy only). */
  readonly submitAllSync?: (reqs: readonly Request[]) => Reply[];
  readonly stats: { submitted: number; roundTrips: number };
  /** Set once the channel is closed: every call rejects with it. */
  readonly closed: ChannelClosedError | null;
  /** Reject every outstanding request and every later one. */
  close(code: ChannelCloseCode, cause: string): void;
  /** Throw the ChannelClosedError if the channel is closed (or, for a ring, has just been found closed). */
  ensureOpen(): void;
}

interface Waiter {
  onReply: (entry: Int32Array) => void;
  fail: (err: ChannelClosedError) => void;
  /** Completions still to come under this waiter's tag (a batch shares one tag). */
  left: number;
}

function encode(words: Int32Array, base: number, tag: number, req: Request): void {
  words[base + REQ_OP] = req.op;
  words[base + REQ_TAG] = tag;
  words[base + REQ_LBA] = req.lba;
  words[base + REQ_ARG0] = req.arg0 ?? 0;
  words[base + REQ_ARG1] = req.arg1 ?? 0;
  words[base + REQ_ARG2] = req.arg2 ?? 0;
  for (let k = REQ_USED; k < ENTRY_WORDS; k++) words[base + k] = 0;
}

/**
 * How long a guest waits for its completion before sleeping on the event loop, in ms
 * (blocked in Atomics.wait in a worker; polling where it may not block): at least SPIN_MIN_MS,
 * and up to SPIN_MAX_MS when dom0's recent answers came within that. Waking from
 * Atomics.waitAsync costs a task hop (about 0.1–0.2 ms in Chromium), more than dom0 takes
 * for a resident block even when it verifies the frame first (a 64 KiB checksum), so a
 * fixed short spin would put that hop on every such read. Answers that take longer (pool
 * misses) make the spin fall back to the minimum, so a guest waiting on IndexedDB does
 * not burn a core.
 */
const SPIN_MIN_MS = 0.05;
const SPIN_MAX_MS = 0.25;
/**
 * Where the guest may block, it first polls this long without arming the ring's event:
 * an answer within it needs no `Atomics.notify` from dom0 and no wake-up, which on the
 * 2-vCPU test VM cost more than the wait (browser bench, two runs each, 2026-11-30: ring
 * round trip median 40–55 → 15–20 µs in three of four runs, batched no-ops 1.1–1.7 →
 * 1.8–2.2 M/s together with one tag per batch). Only while that pays (SpinGauge): with the
 * guest and dom0 on one core, the poll keeps dom0 off it.
 */
export const POLL_MS = 0.03;

/**
 * Microtask turns the completion pump gives up when it starts, and after it settled a
 * request while others are still outstanding, before it polls or blocks for their
 * answers. The pump's wait is synchronous (Atomics.wait, or a poll), so without them a
 * request submitted in the same turn as the one that started the pump went on the ring
 * only after that one was answered, and the code awaiting a settled request ran only once
 * every other answer was in or the pump fell asleep on the event loop: a guest with two
 * requests in flight saw the first answer no sooner than the second, and a guest keeping
 * the ring fed (a batch in flight while it builds the next) could not build it. Each
 * `await` lets one step of an awaiting chain run: two are enough for a caller awaiting the
 * channel (test/unit/channel-concurrency.test.ts fails with one), four leave room for the
 * block device's await between them. A task instead of microtasks would give way to any
 * chain, and cost 0.1–0.3 ms each time.
 */
const SETTLE_TICKS = 4;

/** Learns how long this channel's answers take, to choose how long to poll for the next. */
export class SpinBudget {
  /** Typical wait for an answer that came within SPIN_MAX_MS, in ms (moving average). */
  private fastMs = 0;
  /** Moving share of waits that ended within SPIN_MAX_MS. */
  private fastShare = 1;

  get ms(): number {
    if (this.fastShare < 0.5) return SPIN_MIN_MS;
    return Math.min(SPIN_MAX_MS, Math.max(SPIN_MIN_MS, 1.5 * this.fastMs + 0.01));
  }

  /** A wait for an answer ended after `ms`. */
  observe(ms: number): void {
    const fast = ms <= SPIN_MAX_MS;
    this.fastShare += ((fast ? 1 : 0) - this.fastShare) / 8;
    if (fast) this.fastMs += (ms - this.fastMs) / 4;
  }
}

export class RingChannel implements Channel {
  private readonly req: RingProducer;
  private readonly cpl: RingConsumer;
  private readonly pending = new Map<number, Waiter>();
  private nextTag = 1;
  private pumping = false;
  /** The completion ring's header: the host stores a nonzero RING_CLOSED_I32 there when dom0 is gone. */
  private readonly cplHeader: Int32Array;
  closed: ChannelClosedError | null = null;
  /** sleeps: waits that went on to Atomics.waitAsync (the event loop) after the blocking wait or the polling ran out. */
  readonly stats = { submitted: 0, roundTrips: 0, sleeps: 0 };
  private readonly spin = new SpinBudget();
  /** Whether polling for completions pays (it does not while dom0 shares this thread's core). */
  readonly poll = new SpinGauge();

  constructor(control: SharedArrayBuffer, layout: DomainLayout, doorbell?: SharedArrayBuffer) {
    this.req = new RingProducer(control, layout.requestRing);
    if (doorbell) this.req.doorbell = new Int32Array(doorbell, 0, 1);
    this.cpl = new RingConsumer(control, layout.completionRing);
    this.cplHeader = new Int32Array(control, layout.completionRing.byteOffset, RING_CLOSED_I32 + 1);
    open.add(this);
  }

  close(code: ChannelCloseCode, cause: string): void {
    if (this.closed) return;
    this.closed = new ChannelClosedError(code, cause);
    open.delete(this);
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.fail(this.closed);
  }

  ensureOpen(): void {
    this.check();
  }

  /** Throw if the channel is closed, or the host marked dom0 gone, or a ring faulted. */
  private check(): void {
    if (!this.closed) {
      if (Atomics.load(this.cplHeader, RING_CLOSED_I32) !== 0) this.close('DOM0_GONE', 'the host marked the ring closed');
      else if (this.cpl.fault) this.close('RING_FAULT', `completion ring: ${this.cpl.fault.message}`);
      else if (this.req.fault) this.close('RING_FAULT', `request ring: ${this.req.fault.message}`);
    }
    if (this.closed) throw this.closed;
  }

  private tag(): number {
    const t = this.nextTag;
    this.nextTag = this.nextTag >= 0x7fff_ffff ? 1 : this.nextTag + 1;
    return t;
  }

  async submit(req: Request): Promise<Reply> {
    let settle: (r: Reply) => void = () => {};
    let fail: (e: ChannelClosedError) => void = () => {};
    const reply = new Promise<Reply>((resolve, reject) => ((settle = resolve), (fail = reject)));
    await this.enqueue(req, 1, { onReply: (entry) => settle({ words: entry.slice() }), fail, left: 1 });
    return reply;
  }

  async submitBatch(req: Request, count: number): Promise<number> {
    let ok = 0;
    let left = count;
    let settle: () => void = () => {};
    let fail: (e: ChannelClosedError) => void = () => {};
    const done = new Promise<void>((resolve, reject) => ((settle = resolve), (fail = reject)));
    await this.enqueue(req, count, {
      onReply: (entry) => {
        if (entry[CPL_STATUS] === 0) ok++;
        if (--left === 0) settle();
      },
      fail,
      left: count,
    });
    await done;
    return ok;
  }

  /**
   * Put `count` copies of `req` on the ring under one tag, each answered by `onReply`;
   * waits for space as needed. One tag per batch rather than per entry: dom0 echoes a
   * request's tag in its completion and nothing else reads it, and a map entry per no-op
   * was a good part of what a batch cost the guest.
   */
  private async enqueue(req: Request, count: number, waiter: Waiter): Promise<void> {
    let queued = 0;
    const tag = this.tag();
    this.pending.set(tag, waiter);
    const fill = (w: Int32Array, base: number): void => encode(w, base, tag, req);
    while (queued < count) {
      this.check();
      const made = this.req.produce(count - queued, fill);
      queued += made;
      this.stats.submitted += made;
      this.req.publish();
      void this.pump();
      // A faulted ring never has space again: say so rather than spin.
      if (queued < count) await this.req.waitForSpaceAsync(1000);
    }
  }

  readonly submitSync = (req: Request): Reply => this.submitAllSync([req])[0]!;

  /**
   * Blocking round trip for a batch: every request is on the ring before the first wait,
   * so dom0 serves them as one burst (writes of one burst share one group commit).
   */
  readonly submitAllSync = (reqs: readonly Request[]): Reply[] => {
    const tags = new Map<number, number>();
    let queued = 0;
    while (queued < reqs.length) {
      this.check();
      const made = this.req.produce(reqs.length - queued, (w, base) => {
        const tag = this.tag();
        tags.set(tag, queued);
        encode(w, base, tag, reqs[queued++]!);
      });
      this.stats.submitted += made;
      this.req.publish();
      if (queued < reqs.length && made === 0) this.req.waitForSpace(1000);
    }
    const replies: Reply[] = new Array<Reply>(reqs.length);
    let left = reqs.length;
    for (;;) {
      this.cpl.consume(Infinity, (entry) => {
        const t = entry[CPL_TAG]!;
        const i = tags.get(t);
        if (i === undefined) return this.deliver(t, entry);
        tags.delete(t);
        replies[i] = { words: entry.slice() };
        left--;
        this.stats.roundTrips++;
      });
      if (left === 0) return replies;
      this.check();
      // Poll first, as the async pump does: an answer within POLL_MS needs no wake-up.
      if (!this.poll.poll(this.cpl, POLL_MS)) this.cpl.waitForEntries(1000);
    }
  };

  private deliver(tag: number, entry: Int32Array): void {
    const waiter = this.pending.get(tag);
    if (!waiter) return; // not ours to answer (a stale or forged completion): drop it
    if (--waiter.left <= 0) this.pending.delete(tag);
    this.stats.roundTrips++;
    waiter.onReply(entry);
  }

  /**
   * Collect completions while any async request is outstanding. Nobody awaits it, so it
   * must not throw: whatever stops it (a faulted ring, dom0 gone, a throw in a reply
   * handler) closes the channel, which rejects every outstanding request with the cause.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      // The pump starts inside the submit that found it stopped, and its wait is
      // synchronous: without these turns, a request submitted in the same turn (the other
      // half of a Promise.all, a driver's second batch) went on the ring only once the first
      // was answered, so two in flight were one at a time (session 35: 24,200 of 25,800
      // no-op batches sent with nothing else outstanding; test/unit/channel-concurrency.test.ts).
      for (let i = 0; i < SETTLE_TICKS; i++) await undefined;
      while (this.pending.size > 0) {
        const waiting = this.pending.size;
        const n = this.cpl.consume(Infinity, (entry) => this.deliver(entry[CPL_TAG]!, entry));
        if (n > 0) {
          // Requests were settled (the map shrank) and others are still outstanding.
          if (this.pending.size < waiting && this.pending.size > 0) for (let i = 0; i < SETTLE_TICKS; i++) await undefined;
          continue;
        }
        this.check();
        const start = perf.now();
        let arrived = false;
        if (canBlock) {
          // Poll briefly, then block rather than spin: dom0's notify wakes a thread blocked
          // in Atomics.wait directly (bench: atomics_pingpong_ns, two such wakes, ~15 µs on
          // the 2-core test VM), and the core is dom0's meanwhile instead of burnt polling.
          arrived = this.poll.poll(this.cpl, POLL_MS);
          if (!arrived) {
            this.cpl.waitForEntries(this.spin.ms);
            arrived = this.cpl.available() > 0;
          }
        } else {
          arrived = this.cpl.pollFor(this.spin.ms);
        }
        // The host wakes this wait when it marks the ring closed (it notifies PROD).
        if (!arrived) {
          this.stats.sleeps++;
          await this.cpl.waitForEntriesAsync(1000);
        }
        this.spin.observe(perf.now() - start);
      }
    } catch (err) {
      if (!(err instanceof ChannelClosedError)) this.close('RING_FAULT', `completion pump: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.pumping = false;
    }
  }
}

export class CopyChannel implements Channel {
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: ChannelClosedError) => void }>();
  private nextTag = 1;
  closed: ChannelClosedError | null = null;
  readonly stats = { submitted: 0, roundTrips: 0 };

  constructor(private readonly port: MessagePort) {
    port.onmessage = (ev: MessageEvent<CopyMessage>) => {
      const { words, bytes } = ev.data;
      const tag = words[CPL_TAG]!;
      const waiter = this.pending.get(tag);
      if (!waiter) return;
      this.pending.delete(tag);
      this.stats.roundTrips++;
      waiter.resolve(bytes ? { words, bytes } : { words });
    };
    port.start();
    open.add(this);
  }

  close(code: ChannelCloseCode, cause: string): void {
    if (this.closed) return;
    this.closed = new ChannelClosedError(code, cause);
    open.delete(this);
    this.port.close();
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.reject(this.closed);
  }

  async submitBatch(req: Request, count: number): Promise<number> {
    const replies = await Promise.all(Array.from({ length: count }, () => this.submit(req)));
    return replies.filter((r) => r.words[CPL_STATUS] === 0).length;
  }

  ensureOpen(): void {
    if (this.closed) throw this.closed;
  }

  submit(req: Request): Promise<Reply> {
    if (this.closed) return Promise.reject(this.closed);
    const tag = this.nextTag++;
    const words = new Int32Array(ENTRY_WORDS);
    encode(words, 0, tag, req);
    this.stats.submitted++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(tag, { resolve, reject });
      const msg: CopyMessage = req.bytes ? { words, bytes: req.bytes } : { words };
      this.port.postMessage(msg);
    });
  }
}
