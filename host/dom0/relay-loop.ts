// Runs in the ring worker (host/dom0/ring-worker.ts). The one loop over every domain's
// relay (ring-relay.ts). It is dom0's RingScheduler without what dom0's thread needs: no
// yield to the event loop every millisecond (nothing else runs here), only when dom0 has
// posted a message ("mail": a domain to add) or when every ring has been idle for
// NAP_FOR_MS. Between requests it spins SPIN_MS, then blocks in Atomics.wait on the
// doorbell every guest rings and dom0's completions ring, as the benchmark's blocking
// stand-in did (bench: ring_blocking_noop_ops_per_s).
//
// The doorbell is a word every guest can write: a guest that rewrites it can hide a
// wake-up, which costs another guest at most one nap (NAP_MS), as it cost dom0 before
// (docs/isolation.md, "What a guest can do to dom0"). The idle sleep waits on each ring's
// own index, which no guest but its owner can touch.
import type { RingRelay } from './ring-relay';
import { canBlock } from '../../shared/atomics-wait';
import { perf } from '../../shared/clock';

/** Spin this long on empty rings before napping (the timer is ~5 µs coarse). */
const SPIN_MS = 0.2;
/** Longest nap on the doorbell: what a hidden wake-up or a ring stuck for room costs at most. */
const NAP_MS = 1;
/** After this long without an entry moved, sleep on the event loop instead of napping. */
const NAP_FOR_MS = 20;
/** How long an idle sleep lasts before it looks again. */
const IDLE_WAKE_MS = 500;

/** Word of the mail buffer: nonzero when dom0 has posted a message the loop has not taken. */
export const MAIL_I32 = 0;

export class RelayLoop {
  private readonly relays = new Set<RingRelay>();
  private running = false;
  private wake: (() => void) | null = null;
  private readonly bell: Int32Array | null;
  private readonly mail: Int32Array;

  /** `bell`: word 0 is what guests and dom0 ring; `mail`: word MAIL_I32 is set by dom0 before it posts. */
  constructor(bell: SharedArrayBuffer | null, mail: SharedArrayBuffer) {
    this.bell = bell && canBlock ? new Int32Array(bell, 0, 1) : null;
    this.mail = new Int32Array(mail, 0, 1);
  }

  /** Serve `relay` too; ends an idle sleep, so its first request is not held. */
  add(relay: RingRelay): void {
    this.relays.add(relay);
    if (!this.running) void this.loop();
    this.wake?.();
  }

  /** Poll every relay once, dropping ended ones; returns the entries moved. */
  pollAll(): number {
    let moved = 0;
    for (const r of this.relays) {
      if (!r.alive) {
        this.relays.delete(r);
        continue;
      }
      moved += r.poll();
    }
    return moved;
  }

  private async loop(): Promise<void> {
    this.running = true;
    // When the rings went quiet; -1 while entries move, so a busy turn reads no clock.
    let idleFrom = -1;
    try {
      while (this.relays.size > 0) {
        if (Atomics.load(this.mail, MAIL_I32) !== 0) {
          // dom0 posted: only the event loop delivers it. Cleared first, so a post after this
          // point sets it again.
          Atomics.store(this.mail, MAIL_I32, 0);
          await new Promise((r) => setTimeout(r, 0));
          continue;
        }
        if (this.pollAll() > 0) {
          idleFrom = -1;
          continue;
        }
        const now = perf.now();
        if (idleFrom < 0) idleFrom = now;
        if (now - idleFrom < SPIN_MS) continue;
        if (this.bell && now - idleFrom < NAP_FOR_MS) {
          this.nap(this.bell);
          continue;
        }
        const woken = new Promise<void>((r) => (this.wake = r));
        await Promise.race([...[...this.relays].flatMap((r) => r.waits(IDLE_WAKE_MS)), woken]);
        this.wake = null;
        idleFrom = -1;
      }
    } finally {
      this.running = false;
    }
  }

  private nap(bell: Int32Array): void {
    // Read the bell before arming: a producer that sees an armed event rings after this
    // read, so the value differs by the time we wait (or its notify finds us waiting).
    const rung = Atomics.load(bell, 0);
    for (const r of this.relays) if (r.arm()) return;
    if (Atomics.load(this.mail, MAIL_I32) !== 0) return;
    Atomics.wait(bell, 0, rung, NAP_MS);
  }
}
