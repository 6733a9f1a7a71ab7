// Runs in the ring worker (host/dom0/ring-worker.ts); Node tests run it in one thread.
// One domain's rings as the ring worker serves them: it is the only consumer of the guest's
// request ring and the only producer of its completion ring, so the guest's side of the
// protocol is unchanged. It answers a NOOP itself and hands every other request, copied
// verbatim, to dom0 on an inner request ring that only dom0 and the ring worker hold; dom0's
// RingPort serves that ring exactly as it served the guest's and completes on an inner
// completion ring, which the relay copies onto the guest's. dom0 still validates every
// request: the relay trusts nothing in an entry and decides nothing but "NOOP or not".
//
// Why it was built: dom0's thread runs the pool, IndexedDB, its timers and the control plane
// between turns of its ring loop, and a loop of dom0's own in a thread of its own cleared
// 5 M no-ops/s where dom0 in the product did not (issue #16). Measured in the product it did
// not raise the no-op rate, and it adds a hop to every other request, so it is an option,
// off by default (Dom0Config.ringWorker; docs/design.md, "The ring worker, first stage").
// Its second stage, serving a resident READ from dom0's frame tables moved into shared
// memory, would start here.
//
// The inner buffer:  | state (64 bytes) | inner request ring | inner completion ring |
import { RingConsumer, RingProducer, initRing } from '../../shared/ring';
import { ringBytes, ringGeometry, type RingGeometry } from '../../shared/ring-layout';
import { CPL_FRAME, CPL_GEN, CPL_OP, CPL_STATUS, CPL_TAG, CPL_USED, ENTRY_WORDS, Op, REQ_OP, REQ_TAG, Status } from '../../shared/protocol';
import type { DomainLayout } from '../../shared/memory-layout';
import { encodeFrame } from '../../shared/ids';

/** State word: 1 while dom0 serves the domain; dom0 stores 0 when it stops (fault, destroy). */
export const RELAY_ALIVE_I32 = 0;
/** State word: NOOPs the relay answered (written by the ring worker only). */
export const RELAY_NOOPS_I32 = 1;
const STATE_BYTES = 64;

export interface RelayLayout {
  /** dom0's side: its RingPort consumes `request` and produces `completion`. */
  readonly request: RingGeometry;
  readonly completion: RingGeometry;
  readonly bytes: number;
}

/** The inner rings have the guest's rings' geometry, so dom0 can hold as much work as before. */
export function relayLayout(d: DomainLayout): RelayLayout {
  const { capacity, entryWords } = d.requestRing;
  const request = ringGeometry(STATE_BYTES, capacity, entryWords);
  const completion = ringGeometry(STATE_BYTES + ringBytes(capacity, entryWords), d.completionRing.capacity, d.completionRing.entryWords);
  return Object.freeze({ request, completion, bytes: completion.byteOffset + ringBytes(completion.capacity, completion.entryWords) });
}

/** A domain's inner rings: the buffer and where its rings lie. */
export interface InnerRings {
  readonly buffer: SharedArrayBuffer;
  readonly layout: RelayLayout;
}

/** A domain's inner rings, made and marked served (dom0 makes them; benchmarks and tests too). */
export function innerRings(d: DomainLayout): InnerRings {
  const layout = relayLayout(d);
  const buffer = new SharedArrayBuffer(layout.bytes);
  initRing(buffer, layout.request);
  initRing(buffer, layout.completion);
  Atomics.store(new Int32Array(buffer, 0, 1), RELAY_ALIVE_I32, 1);
  return { buffer, layout };
}

/** Entries moved per direction per poll, as dom0's port takes them (ring-port.ts, BATCH). */
const BATCH = 64;

export class RingRelay {
  private readonly guestReq: RingConsumer;
  private readonly guestCpl: RingProducer;
  private readonly innerReq: RingProducer;
  private readonly innerCpl: RingConsumer;
  private readonly state: Int32Array;
  /** Tags of NOOPs answered while the guest's completion ring was full. */
  private readonly backlog: number[] = [];
  private ended = false;
  /** A fault of the guest (a ring it broke, completions it never takes): dom0 faults the domain. */
  onFault: ((message: string) => void) | null = null;

  constructor(
    control: SharedArrayBuffer,
    layout: DomainLayout,
    inner: SharedArrayBuffer,
    /** dom0's doorbell: rung when dom0 armed its inner request ring, as guests rang it before. */
    dom0Bell: SharedArrayBuffer | null,
  ) {
    const rl = relayLayout(layout);
    this.guestReq = new RingConsumer(control, layout.requestRing);
    this.guestCpl = new RingProducer(control, layout.completionRing);
    this.innerReq = new RingProducer(inner, rl.request);
    this.innerCpl = new RingConsumer(inner, rl.completion);
    if (dom0Bell) this.innerReq.doorbell = new Int32Array(dom0Bell, 0, 1);
    this.state = new Int32Array(inner, 0, STATE_BYTES / 4);
    this.guestReq.onFault = (f) => this.fail(`request ring: ${f.message}`);
    this.guestCpl.onFault = (f) => this.fail(`completion ring: ${f.message}`);
    this.innerReq.onFault = (f) => this.fail(`inner request ring: ${f.message}`);
    this.innerCpl.onFault = (f) => this.fail(`inner completion ring: ${f.message}`);
  }

  get alive(): boolean {
    return !this.ended && Atomics.load(this.state, RELAY_ALIVE_I32) === 1;
  }

  /** Move up to a batch each way; returns the entries moved. */
  poll(): number {
    if (!this.alive) return 0;
    let moved = this.toGuest();
    // Only what dom0's ring has room for: an entry left in the guest's ring is the guest's
    // backpressure, as it was when dom0 consumed that ring itself.
    const room = Math.min(BATCH, this.innerReq.freeSlots());
    if (room > 0) {
      const n = this.guestReq.consume(room, this.handleEntry);
      moved += n;
      if (n > 0) {
        this.innerReq.publish();
        if (this.backlog.length > this.guestCpl.capacity) {
          this.fail('guest stopped consuming completions (completion backlog over ring capacity)');
          return moved;
        }
      }
    }
    this.guestCpl.publish();
    return moved;
  }

  /** dom0's completions and held NOOP answers onto the guest's ring, as far as it has room. */
  private toGuest(): number {
    let moved = 0;
    while (this.backlog.length > 0) {
      this.outTag = this.backlog[0]!;
      if (this.guestCpl.produce(1, this.fillNoop) === 0) return moved;
      this.backlog.shift();
      moved++;
    }
    const room = Math.min(BATCH, this.guestCpl.freeSlots());
    if (room > 0) moved += this.innerCpl.consume(room, this.copyToGuest);
    return moved;
  }

  private readonly copyToGuest = (entry: Int32Array): void => {
    // Room was counted before the consume, and only the guest frees more.
    this.guestCpl.produce(1, (w, base) => w.set(entry, base));
  };

  private outTag = 0;
  private readonly fillNoop = (w: Int32Array, base: number): void => {
    // As RingPort.fillCompletion writes a NOOP's answer: the guest cannot tell who wrote it.
    w[base + CPL_TAG] = this.outTag;
    w[base + CPL_STATUS] = Status.OK;
    w[base + CPL_FRAME] = encodeFrame(-1);
    w[base + CPL_GEN] = 0;
    w[base + CPL_OP] = Op.NOOP;
    for (let k = base + CPL_USED; k < base + ENTRY_WORDS; k++) w[k] = 0;
  };

  private readonly handleEntry = (entry: Int32Array): void => {
    if (entry[REQ_OP] === Op.NOOP) {
      // A plain store: this thread is the word's only writer, an aligned Int32Array access
      // cannot tear, and dom0 only reads it for stats; an Atomics.add would cost every no-op.
      this.state[RELAY_NOOPS_I32] = (this.state[RELAY_NOOPS_I32]! + 1) | 0;
      this.outTag = entry[REQ_TAG]!;
      if (this.backlog.length > 0 || this.guestCpl.produce(1, this.fillNoop) === 0) this.backlog.push(this.outTag);
      return;
    }
    // Room was counted before the consume, and only dom0 frees more.
    this.innerReq.produce(1, (w, base) => w.set(entry, base));
  };

  /**
   * Ask to be woken (on the ring worker's doorbell) at the guest's next request and dom0's
   * next completion. True when a poll could move something now, so napping would be wrong.
   * Entries that cannot move for want of room do not count: the loop must not spin on a
   * guest that stopped taking completions. Its nap's timeout looks again.
   */
  arm(): boolean {
    if (!this.alive) return false;
    const requests = this.guestReq.armEntries() && this.innerReq.freeSlots() > 0;
    const completions = (this.innerCpl.armEntries() || this.backlog.length > 0) && this.guestCpl.freeSlots() > 0;
    return requests || completions;
  }

  /**
   * Waits that end when this relay may have work, for a loop that sleeps on its event loop.
   * The ones that lose the loop's race stay armed until their timeout; the loop sleeps only
   * after NAP_FOR_MS idle, so at most a few dozen are pending per relay.
   */
  waits(timeoutMs: number): Promise<unknown>[] {
    if (!this.alive) return [];
    return [
      this.guestReq.waitForEntriesAsync(timeoutMs),
      this.innerCpl.waitForEntriesAsync(timeoutMs),
      // Stuck for room: the guest taking completions, or dom0 taking requests, frees it.
      ...(this.backlog.length > 0 || this.innerCpl.available() > 0 ? [this.guestCpl.waitForSpaceAsync(timeoutMs)] : []),
      ...(this.guestReq.available() > 0 ? [this.innerReq.waitForSpaceAsync(timeoutMs)] : []),
    ];
  }

  private fail(message: string): void {
    if (this.ended) return;
    this.ended = true;
    this.backlog.length = 0;
    this.onFault?.(message);
  }
}
