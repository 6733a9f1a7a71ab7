// Runs in every guest (guest/channel.ts). Decides whether a guest waiting for dom0's answer
// should poll the completion ring before it blocks.
//
// Why: polling pays only while the guest and dom0 each have a core. Pinned to one core
// (the renderer under `taskset -c 0`, `npm run bench -- --one-core`), a guest that polled
// for 30 µs only kept dom0 off the core it needed to answer: ring round trip median 55 µs,
// blocking at once 25 µs. With a core each, blocking at once costs a cross-core wake-up each
// way: median 45–50 µs against 5 µs polling (docs/design.md, "Polling only while it pays").
// So a guest keeps a gauge of whether its recent polls paid, stops polling when they keep
// losing the core, and polls again now and then in case the scheduler has moved the two
// apart.
//
// Only a lost core counts against polling: a gap in the polling thread's clock means
// another thread took its core, and on a crowded core a poll only keeps the core longer
// from whoever needs it, dom0 among them. A stricter variant that counted a gap only when
// dom0's answer came in it, dom0 not having taken the request before (the exact sign of
// dom0 on this core), never fired with everything on one core: there the scheduler does
// not preempt the polling guest for dom0; the poll runs out and dom0 runs once the guest
// blocks. What the gauge sees there is the renderer's other threads taking the core. A
// poll that runs out on its core says dom0 was slow (a pool read, a turn of its event
// loop), which blocking would not speed up; counting that too (as "dom0 did not even take
// the request") stopped polling in free runs as well. dom0's own spin between requests
// keeps no gauge: pinned, it made no difference (25 µs median with or without one), since
// a woken guest preempts it.
import { perf } from './clock';

/**
 * A jump of the polling thread's clock longer than this means it lost its core. The clock
 * is 5 µs coarse with jitter, so two readings an instant apart can differ by 10 µs.
 */
export const SPIN_GAP_MS = 0.012;
/** Polls that lost the core, net of the ones that paid, before the gauge stops polling. */
const MISSES_TO_STOP = 4;
/** While not polling, every this-many-th wait polls anyway, to notice that polling pays again. */
const PROBE_EVERY = 16;

/** What the gauge polls: a ring consumer (shared/ring.ts), or a stand-in in tests. */
export interface Pollable {
  available(): number;
}

export class SpinGauge {
  private spinning = true;
  private misses = 0;
  private sinceProbe = 0;
  /** Waits that went straight to blocking, and times the gauge stopped polling. */
  readonly stats = { skipped: 0, stops: 0 };

  /**
   * Before a blocking wait: poll `ring` for up to `ms` if polling pays (else look once),
   * and learn from how the poll went. True if entries are there.
   *
   * A poll that lost the core counts against polling, whether the answer came or not; one
   * that paid counts for it; one that ran out on its core counts for neither (see the top
   * of this file). Every guest compiles its own copy of this path: the gauge
   * costs each guest about 8 KB (bench, memory per added guest: 699 KB without it, 707 with
   * it in this one function, 712 split over a ring method and gauge methods), which the
   * smaller view cache pays back (guest/block-device.ts, VIEW_CACHE).
   */
  poll(ring: Pollable, ms: number): boolean {
    if (!this.spinning && ++this.sinceProbe < PROBE_EVERY) {
      this.stats.skipped++;
      return ring.available() > 0;
    }
    this.sinceProbe = 0;
    let last = perf.now();
    const until = last + ms;
    let lostCore = false;
    for (;;) {
      const arrived = ring.available() > 0;
      // Read after the look, so that a gap just before entries showed up is seen.
      const now = perf.now();
      if (now - last > SPIN_GAP_MS) lostCore = true;
      if (!arrived && now < until) {
        last = now;
        continue;
      }
      if (!lostCore) {
        if (arrived) {
          this.misses = Math.max(0, this.misses - 1);
          this.spinning = true;
        }
      } else if (this.spinning && ++this.misses >= MISSES_TO_STOP) {
        this.spinning = false;
        this.misses = 0;
        this.stats.stops++;
      }
      return arrived;
    }
  }
}
