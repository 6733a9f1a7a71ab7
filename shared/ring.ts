// Runs on both sides of the boundary. One end of a single-producer/single-consumer ring
// (layout in ring-layout.ts). Each end distrusts the other: the peer can write any word of
// the shared header at any time. A peer that publishes an impossible index is recorded as
// a fault of that peer (`fault`, `onFault`), the ring stops moving, and nothing is thrown
// into the caller's service loop.
//
// Ordering: indices are read and written with Atomics (sequentially consistent). Entry
// words are plain stores made *before* the Atomics.store that publishes them, and read
// *after* the Atomics.load that observed them, which is what the JS memory model needs
// for the entries to be visible (synchronizes-with on the index word).
import { waitAsync, waitSync, type WaitResult } from './atomics-wait';
import {
  RING_CONS_EVENT_I32,
  RING_CONS_I32,
  RING_ENTRIES_I32,
  RING_PROD_EVENT_I32,
  RING_PROD_I32,
  ringBytes,
  type RingGeometry,
} from './ring-layout';
import { perf } from './clock';

export type RingFaultKind =
  /** The producer published more entries than the ring can hold (Xen: "ill-behaved frontend"). */
  | 'producer-overflow'
  /** The consumer published an index it cannot have reached, or moved it backwards. */
  | 'consumer-overrun';

export interface RingFault {
  readonly kind: RingFaultKind;
  readonly message: string;
  /** The indices as observed when the fault was detected (u32). */
  readonly prod: number;
  readonly cons: number;
}

export interface RingStats {
  /** Batches published (producer) or consumed (consumer). */
  batches: number;
  /** Entries produced or consumed. */
  entries: number;
  /** Atomics.notify calls made: with event indices this stays far below `batches` when busy. */
  notifies: number;
  /** Times this end armed its event (asked to be woken): the peer's notifies never exceed it. */
  waits: number;
}

type SharedOrPlainBuffer = SharedArrayBuffer | ArrayBuffer;

/** Zero a ring's header and set both indices to `startIndex` (tests start near 2^32). */
export function initRing(buffer: SharedOrPlainBuffer, g: RingGeometry, startIndex = 0): void {
  if (g.byteOffset + ringBytes(g.capacity, g.entryWords) > buffer.byteLength) {
    throw new RangeError(`ring at ${g.byteOffset} (${ringBytes(g.capacity, g.entryWords)} bytes) does not fit a ${buffer.byteLength}-byte buffer`);
  }
  const i32 = new Int32Array(buffer, g.byteOffset, ringBytes(g.capacity, g.entryWords) / 4);
  i32.fill(0, 0, RING_ENTRIES_I32);
  Atomics.store(i32, RING_PROD_I32, startIndex | 0);
  Atomics.store(i32, RING_CONS_I32, startIndex | 0);
  // Event indices start "already passed" so no one is notified until someone waits.
  Atomics.store(i32, RING_PROD_EVENT_I32, startIndex | 0);
  Atomics.store(i32, RING_CONS_EVENT_I32, startIndex | 0);
}

abstract class RingEnd {
  /** The ring's words: header at 0, entries from RING_ENTRIES_I32. Public for zero-cost fills. */
  readonly words: Int32Array;
  readonly capacity: number;
  readonly entryWords: number;
  protected readonly mask: number;
  readonly stats: RingStats = { batches: 0, entries: 0, notifies: 0, waits: 0 };
  fault: RingFault | null = null;
  onFault: ((fault: RingFault) => void) | null = null;

  constructor(buffer: SharedOrPlainBuffer, g: RingGeometry) {
    this.words = new Int32Array(buffer, g.byteOffset, ringBytes(g.capacity, g.entryWords) / 4);
    this.capacity = g.capacity;
    this.entryWords = g.entryWords;
    this.mask = g.capacity - 1;
  }

  /** Word index in `words` of the entry with free-running index `idx`. */
  protected slotWord(idx: number): number {
    return RING_ENTRIES_I32 + (idx & this.mask) * this.entryWords;
  }

  protected raise(kind: RingFaultKind, message: string, prod: number, cons: number): void {
    if (this.fault) return;
    this.fault = Object.freeze({ kind, message, prod, cons });
    this.onFault?.(this.fault);
  }
}

export class RingProducer extends RingEnd {
  /** Private cursor: entries written but not yet published (Xen's req_prod_pvt). */
  private prodPvt: number;
  /** Last index published to PROD. */
  private published: number;
  /** Last CONS value seen; refreshed only when the ring looks full. */
  private consSeen: number;
  /**
   * A second word, word 0 of its own buffer, to bump and notify whenever this ring notifies
   * its consumer. dom0 serves every domain's request ring from one thread and Atomics.wait
   * takes one address, so while it naps between requests it waits on one doorbell that
   * every guest rings (host/dom0/ring-scheduler.ts). Null: notify PROD only.
   */
  doorbell: Int32Array | null = null;

  constructor(buffer: SharedOrPlainBuffer, g: RingGeometry) {
    super(buffer, g);
    this.prodPvt = Atomics.load(this.words, RING_PROD_I32) >>> 0;
    this.published = this.prodPvt;
    this.consSeen = this.prodPvt;
  }

  /** Free slots, re-reading the consumer's index. 0 once the consumer has faulted. */
  freeSlots(): number {
    if (this.fault) return 0;
    const cons = Atomics.load(this.words, RING_CONS_I32) >>> 0;
    // The consumer may only move CONS forward and never past what we published.
    if (((cons - this.consSeen) >>> 0) > ((this.published - this.consSeen) >>> 0)) {
      this.raise('consumer-overrun', `consumer index ${cons} is outside [${this.consSeen}, ${this.published}]`, this.prodPvt, cons);
      return 0;
    }
    this.consSeen = cons;
    return this.capacity - ((this.prodPvt - cons) >>> 0);
  }

  /**
   * Write up to `count` entries: `fill(words, base, i)` writes entry i at words[base ..
   * base + entryWords). Returns how many were written (fewer when the ring is full). They
   * are not visible to the consumer until `publish()`.
   */
  produce(count: number, fill: (words: Int32Array, base: number, i: number) => void): number {
    if (this.fault) return 0;
    let free = this.capacity - ((this.prodPvt - this.consSeen) >>> 0);
    if (free < count) free = this.freeSlots();
    const n = Math.min(count, free);
    for (let i = 0; i < n; i++) {
      fill(this.words, this.slotWord(this.prodPvt), i);
      this.prodPvt = (this.prodPvt + 1) >>> 0;
    }
    return n;
  }

  /** Write one entry from `entry` (entryWords long). False when the ring is full. */
  tryPush(entry: ArrayLike<number>): boolean {
    return this.produce(1, (w, base) => {
      for (let k = 0; k < this.entryWords; k++) w[base + k] = entry[k] ?? 0;
    }) === 1;
  }

  /** Entries written but not yet published. */
  get pending(): number {
    return (this.prodPvt - this.published) >>> 0;
  }

  /**
   * Make written entries visible, and notify the consumer only if it asked to be woken
   * within the published range (Xen's RING_PUSH_REQUESTS_AND_CHECK_NOTIFY). Returns
   * whether it notified.
   */
  publish(): boolean {
    const old = this.published;
    const now = this.prodPvt;
    if (old === now) return false;
    // Consumer sees the entries /before/ the updated producer index (SC store after plain writes).
    Atomics.store(this.words, RING_PROD_I32, now | 0);
    this.published = now;
    this.stats.batches++;
    this.stats.entries += (now - old) >>> 0;
    // SC store above, SC load here: with the consumer's store-event-then-load-prod this is
    // a Dekker pair, so either we see its event or it sees our index.
    const event = Atomics.load(this.words, RING_PROD_EVENT_I32) >>> 0;
    if (((now - event) >>> 0) < ((now - old) >>> 0)) {
      Atomics.notify(this.words, RING_PROD_I32);
      if (this.doorbell) {
        // Changing the value is what closes the race with a consumer about to wait on it.
        Atomics.add(this.doorbell, 0, 1);
        Atomics.notify(this.doorbell, 0);
      }
      this.stats.notifies++;
      return true;
    }
    return false;
  }

  /** Arm the consumer-side event for one free slot; returns the CONS value to wait on, or null if space exists. */
  private armSpaceEvent(): number | null {
    if (this.freeSlots() > 0 || this.fault) return null;
    const want = (this.prodPvt - this.capacity + 1) >>> 0;
    Atomics.store(this.words, RING_CONS_EVENT_I32, want | 0);
    this.stats.waits++;
    const cons = Atomics.load(this.words, RING_CONS_I32);
    if (this.freeSlots() > 0 || this.fault) return null;
    return cons;
  }

  /** Block (workers only) until a slot is free. */
  waitForSpace(timeoutMs = Infinity): WaitResult {
    const cons = this.armSpaceEvent();
    if (cons === null) return 'not-equal';
    return waitSync(this.words, RING_CONS_I32, cons, timeoutMs);
  }

  /** Wait without blocking the event loop until a slot is free. */
  waitForSpaceAsync(timeoutMs = Infinity): Promise<WaitResult> {
    const cons = this.armSpaceEvent();
    if (cons === null) return Promise.resolve('not-equal');
    return waitAsync(this.words, RING_CONS_I32, cons, timeoutMs);
  }
}

export class RingConsumer extends RingEnd {
  /** Private cursor: next entry to read (Xen's req_cons). */
  private consPvt: number;
  /** Last index published to CONS. */
  private published: number;
  /** Private copy of the entry being handled: the producer cannot change it mid-use. */
  private readonly scratch: Int32Array;

  constructor(buffer: SharedOrPlainBuffer, g: RingGeometry) {
    super(buffer, g);
    this.consPvt = Atomics.load(this.words, RING_CONS_I32) >>> 0;
    this.published = this.consPvt;
    this.scratch = new Int32Array(g.entryWords);
  }

  /** Entries the producer has published and we have not consumed. 0 once the producer has faulted. */
  available(): number {
    if (this.fault) return 0;
    const prod = Atomics.load(this.words, RING_PROD_I32) >>> 0;
    const avail = (prod - this.consPvt) >>> 0;
    if (avail > this.capacity) {
      this.raise(
        'producer-overflow',
        `producer index ${prod} is ${avail} entries ahead of consumer index ${this.consPvt}; capacity is ${this.capacity}`,
        prod,
        this.consPvt,
      );
      return 0;
    }
    return avail;
  }

  /**
   * Handle up to `max` entries. Each is copied out of shared memory first; `handle` gets the
   * private copy, valid only during the call. Frees the slots (publishes CONS) at the end of
   * the batch and wakes a producer that waits for space. Returns how many were handled.
   */
  consume(max: number, handle: (entry: Int32Array, i: number) => void): number {
    const n = Math.min(max, this.available());
    const scratch = this.scratch;
    const words = this.words;
    const ew = this.entryWords;
    for (let i = 0; i < n; i++) {
      const base = this.slotWord(this.consPvt);
      for (let k = 0; k < ew; k++) scratch[k] = words[base + k]!;
      this.consPvt = (this.consPvt + 1) >>> 0;
      handle(scratch, i);
    }
    if (n > 0) this.release();
    return n;
  }

  private release(): void {
    const old = this.published;
    const now = this.consPvt;
    // Producer sees the slots free only /after/ we finished copying them out.
    Atomics.store(this.words, RING_CONS_I32, now | 0);
    this.published = now;
    this.stats.batches++;
    this.stats.entries += (now - old) >>> 0;
    const event = Atomics.load(this.words, RING_CONS_EVENT_I32) >>> 0;
    if (((now - event) >>> 0) < ((now - old) >>> 0)) {
      Atomics.notify(this.words, RING_CONS_I32);
      this.stats.notifies++;
    }
  }

  /**
   * Xen's RING_FINAL_CHECK_FOR_REQUESTS: ask to be notified at the next entry, then look
   * again. Returns the PROD value to wait on, or null when entries are already there.
   */
  private armEntryEvent(): number | null {
    if (this.available() > 0 || this.fault) return null;
    Atomics.store(this.words, RING_PROD_EVENT_I32, ((this.consPvt + 1) >>> 0) | 0);
    this.stats.waits++;
    if (this.available() > 0 || this.fault) return null;
    return this.consPvt | 0;
  }

  /**
   * Ask the producer to notify (and ring its doorbell) at the next entry, for a consumer
   * that waits somewhere else (a doorbell). True when entries are already there (never
   * for a faulted ring: it has nothing more to give).
   */
  armEntries(): boolean {
    return this.armEntryEvent() === null && !this.fault;
  }

  /**
   * Poll for entries for up to `ms` (a spin: no futex wake is needed for a producer that
   * answers within it). True if entries arrived.
   */
  pollFor(ms: number): boolean {
    const until = perf.now() + ms;
    while (perf.now() < until) if (this.available() > 0) return true;
    return false;
  }

  /** Block (workers only) until an entry is available, a notify, or the timeout. */
  waitForEntries(timeoutMs = Infinity): WaitResult {
    const prod = this.armEntryEvent();
    if (prod === null) return 'not-equal';
    return waitSync(this.words, RING_PROD_I32, prod, timeoutMs);
  }

  /** Wait without blocking the event loop (main thread): Atomics.waitAsync or a polling fallback. */
  waitForEntriesAsync(timeoutMs = Infinity, forcePolling = false): Promise<WaitResult> {
    const prod = this.armEntryEvent();
    if (prod === null) return Promise.resolve('not-equal');
    return waitAsync(this.words, RING_PROD_I32, prod, timeoutMs, forcePolling);
  }
}
