// Runs in the dom0 driver worker. The one service loop over every domain's rings.
//
// Why one loop and not one per domain: dom0 is a single thread, so per-domain loops would
// take turns only at their awaits, and every await that yields to the event loop costs a
// task hop (tens of µs) per batch. Here a turn polls all rings round-robin; when none has
// work the loop spins briefly (a busy guest's next request usually arrives within it),
// then sleeps on all rings at once with Atomics.waitAsync. It yields to the event loop
// at least every millisecond, and whenever requests wait on IndexedDB, so pool reads,
// commits and control-plane calls keep flowing.
import type { RingPort } from './ring-port';
import { soon } from './soon';

/** Spin this long on empty rings before sleeping (the timer is ~5 µs coarse). */
const SPIN_MS = 0.2;
/** Longest stretch without yielding to the event loop. */
const YIELD_EVERY_MS = 1;

export class RingScheduler {
  private readonly ports = new Set<RingPort>();
  private running = false;
  turns = 0;
  sleeps = 0;
  yields = 0;
  /** Time spent away from the rings in those yields, in ms: what one costs is yieldMs / yields. */
  yieldMs = 0;

  /** Resolves the current sleep early: a sleep only covers the ports it began with. */
  private interrupt: (() => void) | null = null;

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
    let lastWork = performance.now();
    let lastYield = lastWork;
    try {
      while (this.ports.size > 0) {
        this.turns++;
        let work = 0;
        let busy = false;
        for (const p of this.ports) {
          if (!p.alive) {
            this.ports.delete(p);
            continue;
          }
          work += p.poll();
          busy ||= p.busy;
        }
        const now = performance.now();
        if (work > 0) lastWork = now;
        if (now - lastYield >= YIELD_EVERY_MS || (busy && work === 0)) {
          this.yields++;
          await soon();
          lastYield = performance.now();
          this.yieldMs += lastYield - now;
          continue;
        }
        if (work === 0 && now - lastWork >= SPIN_MS) {
          this.sleeps++;
          const interrupted = new Promise<void>((resolve) => (this.interrupt = resolve));
          await Promise.race([...[...this.ports].map((p) => p.wait()), interrupted]);
          this.interrupt = null;
          lastWork = lastYield = performance.now();
        }
      }
    } finally {
      this.running = false;
    }
  }
}
