// Runs in the dom0 driver worker. The one service loop over every domain's rings.
//
// Why one loop and not one per domain: dom0 is a single thread, so per-domain loops would
// take turns only at their awaits, and every await that yields to the event loop costs a
// task hop (tens of µs) per batch. Here a turn polls all rings round-robin.
//
// When the rings go quiet, dom0 spins for SPIN_MS (a busy guest's next request usually
// comes within it, and a spinning dom0 picks it up sooner than a woken one: bench, ring
// round-trip median 35–50 µs spinning, 50–65 µs napping), then naps: it blocks in
// Atomics.wait on one doorbell word that every guest rings when it publishes to a ring
// whose event dom0 armed. A thread blocked in Atomics.wait is woken by the notify directly
// (bench: atomics_pingpong_ns), where a longer spin would hold a core the guest and the
// page need (the test machine has two) and Atomics.waitAsync would add a task hop (about
// 0.1–0.3 ms) to every request of a guest that computes between requests.
// A nap lasts at most until the next yield: dom0 yields to its event loop at least every
// millisecond, and whenever requests wait on IndexedDB, so pool reads, commits and
// control-plane calls keep flowing. After NAP_FOR_MS without a request the loop sleeps on
// the event loop (Atomics.waitAsync on every ring), which costs nothing while idle.
//
// The host page rings the same bell after every control-plane message it posts to dom0, and
// dom0 does not nap while a control-plane call runs, nor for NAP_HOLD_MS after one that
// went async (Dom0Service.controlCall): such a call (a clone, a snapshot) runs on IndexedDB
// events and follow-up work, which a napping dom0 would each hold up to a millisecond. A
// synchronous call (a stats read, which the console polls) holds nothing after it returns.
//
// The doorbell is one word every guest can write. A guest that rewrites it can make dom0
// wake for nothing, or (by restoring the value dom0 read, between another guest's ring and
// dom0's wait) make dom0 miss that wake-up until the nap times out: at most one
// YIELD_EVERY_MS. Nothing is lost; each ring's own indices stay the truth, and every turn
// polls all of them. docs/isolation.md, "What a guest can do to dom0".
//
// Where the thread may not block (a window's main thread) or there is no doorbell (no
// SharedArrayBuffer, Node tests that run both ends in one thread), the loop goes from the
// spin straight to the event-loop sleep.
import type { RingPort } from './ring-port';
import { soon } from './soon';
import { canBlock } from '../../shared/atomics-wait';
import { perf } from '../../shared/clock';

/** Spin this long on empty rings before napping or sleeping (the timer is ~5 µs coarse). */
const SPIN_MS = 0.2;
/** Nap on the doorbell for up to this long after the last request before sleeping on the event loop. */
const NAP_FOR_MS = 20;
/** How long after a control-plane call ends dom0 does not nap yet (Dom0Service.controlCall). */
export const NAP_HOLD_MS = 2;
/** Longest stretch without yielding to the event loop. */
const YIELD_EVERY_MS = 1;

/** dom0 is a dedicated worker (it may block without freezing a page). */
const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

export class RingScheduler {
  private readonly ports = new Set<RingPort>();
  private running = false;
  turns = 0;
  sleeps = 0;
  /** Blocking waits on the doorbell between requests. */
  naps = 0;
  /** Naps that ran to their timeout while a ring already had entries: a wake-up missed (a guest rewrote the doorbell, or never rang it). */
  missedWakes = 0;
  yields = 0;
  /** Time spent away from the rings in those yields, in ms: what one costs is yieldMs / yields. */
  yieldMs = 0;
  /**
   * Entries the loop's turns took off the rings, and the time those turns took, in ms:
   * servingMs / servedEntries is what serving a request costs dom0's thread, apart from its
   * spins, naps and yields (session 35 found it 112–160 ns for a NOOP in the product).
   */
  servedEntries = 0;
  servingMs = 0;

  /** Polls made from outside the loop, inside a commit's requests (pollOnce), and the entries they took. */
  outsidePolls = 0;
  outsideEntries = 0;
  /** A poll is running: pollOnce does not nest in it. */
  private polling = false;
  /** Whether a port said it was busy in the last poll (pollPorts). */
  private portsBusy = false;

  /** Resolves the current sleep early: a sleep only covers the ports it began with. */
  private interrupt: (() => void) | null = null;
  /** The doorbell word, or null where dom0 must not block. */
  private readonly bell: Int32Array | null;

  /** `doorbell`: word 0 is what guests' request rings ring (RingProducer.doorbell). */
  constructor(doorbell: SharedArrayBuffer | null = null) {
    this.bell = doorbell && canBlock && inWorker ? new Int32Array(doorbell, 0, 1) : null;
  }

  add(port: RingPort): void {
    this.ports.add(port);
    if (!this.running) void this.loop();
    // A new domain's first request must not wait for an old ring's idle timeout.
    this.interrupt?.();
  }

  remove(port: RingPort): void {
    this.ports.delete(port);
  }

  private async loop(): Promise<void> {
    this.running = true;
    let lastWork = perf.now();
    let lastYield = lastWork;
    let rung = false;
    try {
      while (this.ports.size > 0) {
        this.turns++;
        const began = perf.now();
        const work = this.pollPorts();
        const busy = this.portsBusy;
        const now = perf.now();
        if (work > 0) {
          lastWork = now;
          this.servedEntries += work;
          this.servingMs += now - began;
        }
        if (now - lastYield >= YIELD_EVERY_MS || (busy && work === 0)) {
          lastYield = await this.yieldFrom(now);
          continue;
        }
        if (work > 0) {
          rung = false;
          continue;
        }
        if (rung) {
          // The bell rang and no ring had work: the page posted a control-plane message
          // (it rings the bell too), which only the event loop delivers.
          rung = false;
          lastYield = await this.yieldFrom(now);
          continue;
        }
        if (now - lastWork < SPIN_MS) continue;
        if (this.bell && now - lastWork < NAP_FOR_MS && this.controlCalls === 0 && now >= this.napsHeldUntil) {
          rung = this.nap(YIELD_EVERY_MS - (now - lastYield));
          continue;
        }
        this.sleeps++;
        const interrupted = new Promise<void>((resolve) => (this.interrupt = resolve));
        await Promise.race([...[...this.ports].map((p) => p.wait()), interrupted]);
        this.interrupt = null;
        lastWork = lastYield = perf.now();
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One poll of every ring, from a long synchronous step of dom0's own (a pool commit
   * issuing its requests: Pool.setCommitYield), so a guest's request does not wait for the
   * whole step. What the loop's turn does with the ports, without its spin, nap or yield.
   * Returns the entries taken.
   */
  pollOnce(): number {
    if (this.polling) return 0;
    const work = this.pollPorts();
    this.outsidePolls++;
    this.outsideEntries += work;
    return work;
  }

  /**
   * Poll every live port once (dropping dead ones) and return the entries taken; sets
   * `portsBusy` if any port said it is busy. The one place the ports are polled: the
   * loop's turn and pollOnce.
   */
  private pollPorts(): number {
    this.polling = true;
    let work = 0;
    let busy = false;
    try {
      for (const p of this.ports) {
        if (!p.alive) {
          this.ports.delete(p);
          continue;
        }
        work += p.poll();
        busy ||= p.busy;
      }
    } finally {
      this.polling = false;
    }
    this.portsBusy = busy;
    return work;
  }

  /** One turn of the event loop, counted; resolves with when it ended. */
  private async yieldFrom(now: number): Promise<number> {
    this.yields++;
    await soon();
    const back = perf.now();
    this.yieldMs += back - now;
    return back;
  }

  /**
   * No naps for `ms` more: a control-plane call just ended, and its follow-up work (the
   * reply's delivery, IndexedDB events) only the event loop delivers. The event-loop sleep
   * serves that time instead.
   */
  holdNaps(ms: number): void {
    this.napsHeldUntil = Math.max(this.napsHeldUntil, perf.now() + ms);
  }
  private napsHeldUntil = 0;
  /** Control-plane calls running now (Dom0Service.controlCall): no naps while any is. */
  controlCalls = 0;

  /** Block until the doorbell rings or `ms` pass; true if it rang. */
  private nap(ms: number): boolean {
    const bell = this.bell!;
    // Read the bell before arming: a guest that sees an armed event rings after this read,
    // so the value differs by the time we wait (or its notify finds us waiting).
    const rung = Atomics.load(bell, 0);
    for (const p of this.ports) if (p.arm()) return false;
    this.naps++;
    if (Atomics.wait(bell, 0, rung, Math.max(0, ms)) !== 'timed-out') return true;
    for (const p of this.ports) {
      if (p.pending()) {
        this.missedWakes++;
        return false;
      }
    }
    return false;
  }
}
