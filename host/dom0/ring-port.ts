// Runs in the dom0 driver worker. One domain's rings on the zero-copy transport: requests
// are copied out of the guest's request ring, validated, handed to the driver; completions
// go back on the completion ring; page-map changes are published into the guest's control
// buffer. It does not loop by itself: ring-scheduler.ts polls every port in turn.
//
// With the ring worker (ring-worker-host.ts) the rings this port serves are the domain's
// inner rings, which the ring worker fills from the guest's rings and empties into them;
// the page map, staging slots and private frames are the guest's control buffer either way.
import { RingConsumer, RingProducer } from '../../shared/ring';
import { CPL_FRAME, CPL_GEN, CPL_OP, CPL_STATUS, CPL_TAG, CPL_USED, ENTRY_WORDS, Op, REQ_OP, REQ_TAG } from '../../shared/protocol';
import { LEASE_COUNT, LEASE_KEPT, PM_FRAME, PM_LEASE, PM_WORDS, type DomainLayout } from '../../shared/memory-layout';
import type { Completion, Dom0Driver, Domain } from './driver';
import { serve } from './request-dispatch';
import { encodeFrame } from '../../shared/ids';
import type { InnerRings } from './ring-relay';

/** Rings to serve instead of the guest's own: the ring worker's inner rings for this domain. */
export interface Relayed {
  readonly rings: InnerRings;
  /** Rung with each completion the ring worker asked to be woken for (it naps on it). */
  readonly bell: SharedArrayBuffer;
}

/** Entries handled per poll, so one busy domain cannot starve the others. */
const BATCH = 64;
/** How long a sleeping port waits before it looks again (to notice a dead domain). */
const IDLE_WAKE_MS = 500;

export class RingPort {
  private readonly req: RingConsumer;
  private readonly cpl: RingProducer;
  private readonly pm: Int32Array;
  private readonly control: SharedArrayBuffer;
  private readonly backlog: Int32Array[] = [];
  private inflight = 0;
  private publishQueued = false;

  constructor(
    private readonly driver: Dom0Driver,
    private readonly d: Domain,
    control: SharedArrayBuffer,
    private readonly layout: DomainLayout,
    relayed: Relayed | null = null,
  ) {
    const rings = relayed?.rings;
    this.req = rings ? new RingConsumer(rings.buffer, rings.layout.request) : new RingConsumer(control, layout.requestRing);
    this.cpl = rings ? new RingProducer(rings.buffer, rings.layout.completion) : new RingProducer(control, layout.completionRing);
    if (relayed) this.cpl.doorbell = new Int32Array(relayed.bell, 0, 1);
    this.pm = new Int32Array(control, layout.pageMapByteOffset, layout.blocks * PM_WORDS);
    this.control = control;
    this.req.onFault = (f) => driver.fault(d, `request ring: ${f.message}`);
    this.cpl.onFault = (f) => driver.fault(d, `completion ring: ${f.message}`);
    driver.attachZeroCopy(
      d,
      {
        publish: (lba, ref) => Atomics.store(this.pm, lba * PM_WORDS + PM_FRAME, encodeFrame(ref)),
        clearLeased: (lba, keep) => this.clearLeased(lba, keep),
        keptAsked: (lba) => (Atomics.load(this.pm, lba * PM_WORDS + PM_LEASE) & LEASE_KEPT) === 0,
      },
      control,
      layout.privateFrames,
    );
  }

  get alive(): boolean {
    return this.d.alive;
  }

  /** Bytes of the shared control buffer now (rings and page map, and the staging slots and private frames used so far). */
  get controlBytes(): number {
    return this.control.byteLength;
  }

  /** Async requests (pool reads, commits) still running: they need the event loop. */
  get busy(): boolean {
    return this.inflight > 0 || this.backlog.length > 0;
  }

  /** Handle up to one batch of requests; returns how many. */
  poll(): number {
    // Backpressure: a guest cannot make dom0 hold more work than its ring holds.
    const room = this.req.capacity - this.inflight;
    if (room <= 0 || !this.d.alive) return 0;
    const n = this.req.consume(Math.min(BATCH, room), this.handleEntry);
    if (n > 0) this.publish();
    return n;
  }

  /** Ask the guest to ring dom0's doorbell at its next request; true when one is already waiting. */
  arm(): boolean {
    return this.d.alive && this.req.armEntries();
  }

  /** Whether requests wait in the ring (without consuming them). */
  pending(): boolean {
    return this.d.alive && this.req.available() > 0;
  }

  /** Sleep until the guest publishes (one outstanding wait per port, reused). */
  private sleeping: Promise<unknown> | null = null;
  wait(): Promise<unknown> {
    this.sleeping ??= this.req.waitForEntriesAsync(IDLE_WAKE_MS).finally(() => {
      this.sleeping = null;
    });
    return this.sleeping;
  }

  /**
   * A WRITE's bytes from its staging slot, copied out before use: the guest may rewrite the
   * slot while we hash and store it. Null for a slot the layout does not have, or one the
   * guest never grew its buffer to hold (its runtime grows it before the first write).
   */
  private readonly stagedBytes = (slot: number, length: number): Uint8Array | null => {
    if (slot >= this.layout.stagingSlots) return null;
    const at = this.layout.stagingByteOffset + slot * this.layout.blockBytes;
    if (this.control.byteLength < at + length) return null;
    return new Uint8Array(this.control, at, length); // a view: Dom0Driver.write copies it first
  };

  private readonly handleEntry = (entry: Int32Array): void => this.handle(entry);

  private handle(entry: Int32Array): void {
    const tag = entry[REQ_TAG]!;
    const op = entry[REQ_OP]!;
    const r = serve(this.driver, this.d, entry, this.stagedBytes);
    if (r === null) return;
    if (r instanceof Promise) {
      this.inflight++;
      void r.then((c) => {
        this.inflight--;
        if (!c) return;
        this.complete(tag, op, c);
        this.queuePublish();
      });
    } else {
      this.complete(tag, op, r);
    }
  }

  // The completion being written: fields of the port rather than a closure per entry,
  // because this runs once per request (millions per second for no-ops).
  private outTag = 0;
  private outOp = 0;
  private outC: Completion | null = null;
  private readonly fillCompletion = (w: Int32Array, base: number): void => {
    const c = this.outC!;
    w[base + CPL_TAG] = this.outTag;
    w[base + CPL_STATUS] = c.status;
    w[base + CPL_FRAME] = encodeFrame(c.frame);
    w[base + CPL_GEN] = c.generation;
    w[base + CPL_OP] = this.outOp;
    for (let k = base + CPL_USED; k < base + ENTRY_WORDS; k++) w[k] = 0;
  };

  private complete(tag: number, op: number, c: Completion): void {
    if (!this.d.alive) return;
    if (c.frame >= 0 && op === Op.READ) this.driver.counters.bytesShared += this.d.volume.blockBytes;
    this.outTag = tag;
    this.outOp = op;
    this.outC = c;
    // The common case writes straight into the ring; only a full ring queues.
    if (this.backlog.length === 0 && this.cpl.produce(1, this.fillCompletion) === 1) return;
    const words = new Int32Array(ENTRY_WORDS);
    this.fillCompletion(words, 0);
    this.backlog.push(words);
    this.drainBacklog();
  }

  private drainBacklog(): void {
    // A domain no longer served gets no more completions. Its completion ring may be the
    // reason (a faulted ring never has space, and waitForSpaceAsync resolves at once for
    // it): waiting for space again would spin dom0 in microtasks for ever, and for a dead
    // guest that never consumes, poll every IDLE_WAKE_MS for ever.
    if (!this.d.alive || this.cpl.fault !== null) {
      this.backlog.length = 0;
      return;
    }
    while (this.backlog.length > 0) {
      const next = this.backlog[0]!;
      if (this.cpl.produce(1, (w, base) => w.set(next, base)) === 0) break;
      this.backlog.shift();
    }
    if (this.backlog.length > this.cpl.capacity) {
      this.driver.fault(this.d, 'guest stopped consuming completions (completion backlog over ring capacity)');
    } else if (this.backlog.length > 0) {
      void this.cpl.waitForSpaceAsync(IDLE_WAKE_MS).then(() => {
        this.drainBacklog();
        this.publish();
      });
    }
  }

  private queuePublish(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    queueMicrotask(() => {
      this.publishQueued = false;
      this.publish();
    });
  }

  private publish(): void {
    this.cpl.publish();
  }

  /**
   * The revocation handshake (Dekker-style, all sequentially consistent): dom0 clears FRAME
   * and then reads LEASE; the guest adds to LEASE and then reads FRAME. Whichever goes
   * second sees the other: either dom0 sees the lease and keeps the frame, or the guest sees
   * the cleared entry and does not use it. A guest that lies in LEASE only keeps or loses
   * its own mappings.
   *
   * With `keep`, dom0 keeps the frame pinned if the guest holds views, and says so with
   * LEASE_KEPT, set in the same atomic step that reads the count (an Atomics.or: no retry
   * loop a guest could keep spinning). The guest's last release, an Atomics.sub that
   * returns the bit with the count, cannot miss it; it clears the bit and asks for every
   * pin kept so far (docs/design.md, "Mappings can be taken back"). If nothing was leased,
   * the bit is taken back unless it was there before; a guest that saw it meanwhile sends
   * one UNMAP for pins that were all asked for already, which is harmless.
   */
  private clearLeased(lba: number, keep: boolean): 'none' | 'held' | 'first' {
    const at = lba * PM_WORDS + PM_LEASE;
    Atomics.store(this.pm, lba * PM_WORDS + PM_FRAME, 0);
    if (!keep) return (Atomics.load(this.pm, at) & LEASE_COUNT) !== 0 ? 'held' : 'none';
    const was = Atomics.or(this.pm, at, LEASE_KEPT);
    if ((was & LEASE_COUNT) !== 0) return (was & LEASE_KEPT) === 0 ? 'first' : 'held';
    if ((was & LEASE_KEPT) === 0) Atomics.and(this.pm, at, LEASE_COUNT);
    return 'none';
  }
}
