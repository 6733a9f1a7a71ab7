// Runs in the dom0 driver worker. The mirror routine of seed 002 (US 7,774,645): a WRITE
// that becomes durable sets its page's dirty bit; the routine visits only dirty pages —
// takes the page's lock, copies the page, sends it to the remote fault domain (a second tab
// with its own host and IndexedDB pool, over a BroadcastChannel), and when the remote has
// made it durable, clears the bit and releases the lock. A clean page costs nothing: no
// scan, no copy, no message. Pages rewritten before the routine reaches them are sent
// once (coalescing), so bytes mirrored ≤ bytes written.
//
// The dirty bits live here, in dom0's private memory, keyed by dataset (a clone, which is
// what a domain's page map addresses): the guest-visible page map is guest-writable and
// so untrusted, and keying by dataset keeps the bits of a domain that died until they
// are mirrored.
//
// Modes. 'async': a write is acknowledged when it is durable locally; the mirror trails
// by the mirror lag (the remote may miss the last writes if this tab dies). 'sync': the
// acknowledgement also waits until the page is durable in the remote, so every acknowledged
// write survives losing this tab. If the remote stops answering, sync degrades to async
// (reported in stats) instead of blocking every write forever; it returns when it answers.
import type { Dom0Driver, Domain } from './driver';
import { PageLocks } from './page-lock';
import { parseAck, type MirrorAck, type MirrorBlock, type MirrorLink } from '../mirror/mirror-protocol';

export interface MirrorOptions {
  /** 'sync': acknowledge a write only once the remote has it; 'async': trail behind. */
  mode: 'sync' | 'async';
  /**
   * Mirror only these datasets, each copied whole at the start (default: every dataset a
   * domain writes, each copied whole at the first write the mirror sees).
   */
  datasets?: string[];
  /** Pages per batch message. */
  batchBlocks?: number;
  /** A batch not acknowledged by then counts as lost: the mirror is degraded and retries. */
  ackTimeoutMs?: number;
}

export interface MirrorStats {
  mode: 'sync' | 'async';
  target: string | null;
  degraded: string | null;
  /** Pages dirty now (written, not yet durable in the remote). */
  dirty: number;
  writes: number;
  bytesWritten: number;
  /** Bytes of dirty pages sent because they were written. */
  bytesMirrored: number;
  /** Bytes sent by the initial synchronisation of listed datasets (not written). */
  bytesResync: number;
  batches: number;
  /** Writes that waited for the page lock held by the mirror routine. */
  lockWaits: number;
  /** Milliseconds from a write's acknowledgement to its page being durable in the remote. */
  lagMs: { p50: number; p90: number; max: number; samples: number };
}

interface DirtySet {
  readonly blocks: number;
  readonly blockBytes: number;
  readonly bits: Uint8Array; // the dirty bit of each page
  /** Acknowledgement times of the writes each dirty page carries (lag samples), and sync waiters. */
  readonly acks: Map<number, number[]>;
  readonly waiters: Map<number, (() => void)[]>;
}

const RETRY_MS = 500;
const MAX_LAG_SAMPLES = 100_000;

export class MirrorSource {
  readonly id = crypto.randomUUID();
  private readonly sets = new Map<string, DirtySet>();
  /** Dirty pages in the order they became dirty; a page is queued once while dirty. */
  private queue: [string, number][] = [];
  private readonly locks = new PageLocks();
  private seq = 0;
  private running = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pendingAck: { seq: number; resolve: (a: MirrorAck) => void } | null = null;
  private target: string | null = null;
  private degraded: string | null = null;
  private lags: number[] = [];
  private closed = false;
  private readonly counters = { writes: 0, bytesWritten: 0, bytesMirrored: 0, bytesResync: 0, batches: 0 };
  private readonly only: Set<string> | null;
  private readonly batchBlocks: number;
  private readonly ackTimeoutMs: number;

  constructor(
    private readonly driver: Dom0Driver,
    private readonly link: MirrorLink,
    readonly options: MirrorOptions,
  ) {
    this.only = options.datasets ? new Set(options.datasets) : null;
    this.batchBlocks = options.batchBlocks ?? 64;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 2000;
    link.onmessage = (data) => {
      const ack = parseAck(data);
      if (!ack || ack.source !== this.id || !this.pendingAck || ack.seq !== this.pendingAck.seq) return;
      this.pendingAck.resolve(ack);
    };
    driver.hooks.beforeWrite = (d, lba) => (this.covers(d.dataset) ? this.locks.acquire(key(d.dataset, lba)) : undefined);
    driver.hooks.afterWrite = (d, lba, durable) => this.afterWrite(d, lba, durable);
  }

  /** Mark every allocated page of the listed datasets dirty: the remote starts from a full copy. */
  async initialSync(): Promise<void> {
    for (const dataset of this.only ?? []) {
      const info = await this.driver.store.volume(dataset);
      const set = this.set(dataset, info.blocks, info.blockBytes);
      const lbas = Array.from({ length: info.blocks }, (_, i) => i);
      const blocks = await this.driver.store.resolve(dataset, lbas);
      blocks.forEach((b, lba) => {
        if (b && !set.bits[lba]) {
          set.bits[lba] = 1;
          this.queue.push([dataset, lba]);
        }
      });
    }
    this.kick();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.driver.hooks.beforeWrite) delete this.driver.hooks.beforeWrite;
    if (this.driver.hooks.afterWrite) delete this.driver.hooks.afterWrite;
    for (const s of this.sets.values()) for (const ws of s.waiters.values()) ws.forEach((w) => w());
    this.link.close();
  }

  stats(): MirrorStats {
    const sorted = [...this.lags].sort((a, b) => a - b);
    const q = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN);
    let dirty = 0;
    for (const s of this.sets.values()) for (let i = 0; i < s.bits.length; i++) dirty += s.bits[i]!;
    return {
      mode: this.options.mode,
      target: this.target,
      degraded: this.degraded,
      dirty,
      ...this.counters,
      lockWaits: this.locks.waits,
      lagMs: { p50: q(0.5), p90: q(0.9), max: sorted.length ? sorted[sorted.length - 1]! : NaN, samples: sorted.length },
    };
  }

  /** Resolves once every page dirty now has been mirrored (or the mirror is degraded). */
  drained(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const s of this.sets.values()) {
      for (let lba = 0; lba < s.bits.length; lba++) if (s.bits[lba]) waits.push(this.waitFor(s, lba));
    }
    return Promise.all(waits).then(() => undefined);
  }

  private covers(dataset: string): boolean {
    return !this.closed && (this.only === null || this.only.has(dataset));
  }

  private set(dataset: string, blocks: number, blockBytes: number): DirtySet {
    let s = this.sets.get(dataset);
    if (!s) this.sets.set(dataset, (s = { blocks, blockBytes, bits: new Uint8Array(blocks), acks: new Map(), waiters: new Map() }));
    return s;
  }

  private afterWrite(d: Domain, lba: number, durable: boolean): Promise<void> | void {
    if (!this.covers(d.dataset)) return;
    this.locks.release(key(d.dataset, lba));
    if (!durable) return;
    const fresh = !this.sets.has(d.dataset);
    const s = this.set(d.dataset, d.volume.blocks, d.volume.blockBytes);
    this.counters.writes++;
    this.counters.bytesWritten += d.volume.blockBytes;
    // The dirty bit: set by the write, cleared only by the mirror routine.
    if (!s.bits[lba]) {
      s.bits[lba] = 1;
      this.queue.push([d.dataset, lba]);
    }
    const acks = s.acks.get(lba) ?? [];
    acks.push(performance.now());
    s.acks.set(lba, acks);
    // The rest of a dataset seen for the first time queues behind this page, so a sync
    // writer waits for its own page, not for the whole first copy.
    if (fresh && this.only === null) this.queueWhole(d.dataset, s);
    this.kick();
    if (this.options.mode === 'sync' && this.degraded === null) return this.waitFor(s, lba);
  }

  /**
   * With no list of datasets, the mirror learns of a dataset at its first write: then
   * every allocated page of it is queued, as initialSync does for a listed one. Without
   * this the remote copy of a clone held only the pages written since, and read zeros
   * where the primary reads its snapshot's blocks (attack review of 2026-12-03).
   */
  private queueWhole(dataset: string, s: DirtySet): void {
    const lbas = Array.from({ length: s.blocks }, (_, i) => i);
    const mark = (blocks: readonly (unknown | null)[]): void => {
      if (this.sets.get(dataset) !== s) return; // forgotten meanwhile
      blocks.forEach((b, lba) => {
        if (b && !s.bits[lba]) {
          s.bits[lba] = 1;
          this.queue.push([dataset, lba]);
        }
      });
      this.kick();
    };
    const store = this.driver.store;
    try {
      if (store.resolveSync) return mark(store.resolveSync(dataset, lbas));
    } catch {
      return; // the pool closed: nothing can be copied out now anyway
    }
    void store.resolve(dataset, lbas).then(mark, () => undefined);
  }

  private waitFor(s: DirtySet, lba: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const list = s.waiters.get(lba) ?? [];
      list.push(resolve);
      s.waiters.set(lba, list);
    });
  }

  private kick(): void {
    if (this.running || this.closed || this.retryTimer) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      if (this.queue.length > 0 && !this.retryTimer) this.kick();
    });
  }

  /** The mirror routine: only dirty pages, in batches, each page locked while it is copied and sent. */
  private async run(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      // One dataset per batch.
      const dataset = this.queue[0]![0];
      const picked: number[] = [];
      const rest: [string, number][] = [];
      for (const item of this.queue) {
        if (item[0] === dataset && picked.length < this.batchBlocks) picked.push(item[1]);
        else rest.push(item);
      }
      this.queue = rest;
      const s = this.sets.get(dataset)!;
      // In ascending order, as a write takes its group's locks (Dom0Driver.stageDurably):
      // in the order they became dirty, a batch holding page 5 and waiting for 3 deadlocked
      // with a held group holding 3 and waiting for 5 (attack review of 2026-12-03).
      picked.sort((a, b) => a - b);
      for (const lba of picked) {
        const wait = this.locks.acquire(key(dataset, lba));
        if (wait) await wait;
      }
      let ok = false;
      let gone = false;
      const sent = new Map<number, number>();
      try {
        const blocks = await this.copyOut(dataset, picked);
        for (const b of blocks) sent.set(b.lba, b.bytes?.byteLength ?? 0);
        const seq = ++this.seq;
        const ack = await this.send(seq, dataset, s, blocks);
        if (ack.ok) {
          ok = true;
          this.target = ack.target;
          this.degraded = null;
        } else {
          this.degraded = `remote ${ack.target} failed batch ${seq}: ${ack.error ?? 'unknown error'}`;
        }
      } catch (err) {
        // A dataset destroyed since its pages went dirty has nothing left to mirror; retried,
        // it held up every other dataset's pages behind it for ever.
        if (this.driver.store.hasDataset?.(dataset) === false) gone = true;
        else this.degraded = err instanceof Error ? err.message : String(err);
      }
      const now = performance.now();
      for (const lba of picked) {
        if (ok) {
          s.bits[lba] = 0;
          // A page carrying writes counts as mirrored; one queued only by initialSync, as resync.
          if (s.acks.has(lba)) this.counters.bytesMirrored += sent.get(lba) ?? 0;
          else this.counters.bytesResync += sent.get(lba) ?? 0;
          for (const t of s.acks.get(lba) ?? []) if (this.lags.length < MAX_LAG_SAMPLES) this.lags.push(now - t);
          s.acks.delete(lba);
        }
        // Sync writers wait for their page; degraded, they are let go (the page stays dirty).
        const ws = s.waiters.get(lba);
        s.waiters.delete(lba);
        ws?.forEach((w) => w());
        this.locks.release(key(dataset, lba));
      }
      if (gone) {
        this.forget(dataset);
        continue;
      }
      if (!ok) {
        // Pages stay dirty and go back to the head of the queue; try again later.
        this.queue = [...picked.map((lba): [string, number] => [dataset, lba]), ...this.queue];
        for (const ws of s.waiters.values()) ws.forEach((w) => w());
        s.waiters.clear();
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.kick();
        }, RETRY_MS);
        return;
      }
    }
  }

  /** Drop what is left of a destroyed dataset: its dirty pages, queued or not, and its waiters. */
  private forget(dataset: string): void {
    const s = this.sets.get(dataset);
    if (!s) return;
    this.sets.delete(dataset);
    this.queue = this.queue.filter(([d]) => d !== dataset);
    for (const ws of s.waiters.values()) ws.forEach((w) => w());
  }

  /**
   * The pages' current bytes, from the pool (SHA-256 verified on read). Never from a frame:
   * any guest of the trust group can write a shared frame at any moment, so a frame's bytes
   * are not evidence of anything durable.
   */
  private async copyOut(dataset: string, lbas: number[]): Promise<MirrorBlock[]> {
    const store = this.driver.store;
    const resolved = await store.resolve(dataset, lbas);
    const info = await store.volume(dataset);
    const present = lbas.map((_, i) => i).filter((i) => resolved[i]);
    const bytes = present.length > 0 ? await store.read(dataset, present.map((i) => resolved[i]!)) : [];
    const out: MirrorBlock[] = lbas.map((lba) => ({ lba, bytes: null }));
    present.forEach((i, k) => {
      let b = bytes[k]!;
      // A short last block is padded: the remote stores whole blocks.
      if (b.byteLength !== info.blockBytes) {
        const full = new Uint8Array(info.blockBytes);
        full.set(b);
        b = full;
      }
      out[i] = { lba: lbas[i]!, bytes: b };
    });
    return out;
  }

  private send(seq: number, dataset: string, s: DirtySet, blocks: MirrorBlock[]): Promise<MirrorAck> {
    return new Promise<MirrorAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAck = null;
        reject(new Error(`no mirror acknowledged batch ${seq} within ${this.ackTimeoutMs} ms`));
      }, this.ackTimeoutMs);
      this.pendingAck = {
        seq,
        resolve: (a) => {
          clearTimeout(timer);
          this.pendingAck = null;
          resolve(a);
        },
      };
      this.counters.batches++;
      this.link.post({ t: 'mirror-batch', source: this.id, seq, dataset, volumeBlocks: s.blocks, blockBytes: s.blockBytes, blocks });
    });
  }
}

const key = (dataset: string, lba: number): string => `${dataset}\u0000${lba}`;
