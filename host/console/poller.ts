// Runs on the console's main thread. Samples the machine a few times a second — dom0's
// counters, every trust group's frames, every domain's page map, every guest's latency
// histogram — and hands one consistent snapshot to the views inside requestAnimationFrame.
// Never overlaps itself: a slow sample delays the next instead of piling up, and a guest
// that does not answer (killed mid-call) is skipped after a timeout rather than stalling
// the loop. The snapshots are small: frames() of a 512-frame arena is ~30 KB cloned.
import type { Remote } from 'comlink';
import type { Dom0Stats, FrameSummary } from '../dom0/dom0-service';
import type { Hypervisor } from '../page/hypervisor';
import type { DatasetInfo } from '../pool';
import type { LatencySnapshot } from '../../shared/latency-buckets';
import type { TarGuestApi, TarGuestStats } from '../../guest/workloads/tar-guest';
import { within } from '../../shared/within';

export interface MachineSnapshot {
  stats: Dom0Stats;
  datasets: DatasetInfo[];
  frames: Map<string, FrameSummary[]>;
  pageMaps: Map<number, Int32Array>;
  latency: Map<number, LatencySnapshot>;
  guestStats: Map<number, TarGuestStats>;
  /** Clone → per-block ownership (0 hole, 1 shared with its origin, 2 own), from dom0. */
  ownership: Map<string, Uint8Array>;
}

export interface PolledGuest {
  id: number;
  api: Remote<TarGuestApi>;
  running: () => boolean;
}

export class Poller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private frame = 0;
  last: MachineSnapshot | null = null;
  /**
   * Called once, and polling stops, when dom0 reports the pool closed under it (another tab
   * deleted it): every later sample would fail the same way, and the console says why.
   */
  onPoolClosed: ((err: Error) => void) | null = null;

  constructor(
    private readonly hv: Pick<Hypervisor, 'pool' | 'memory'>,
    private readonly guests: () => PolledGuest[],
    private readonly render: (s: MachineSnapshot) => void,
    private readonly periodMs = 250,
  ) {}

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
  }

  /** Sample now (after an action), instead of waiting for the next tick. */
  async now(): Promise<MachineSnapshot | null> {
    const s = await this.sample();
    if (s) this.paint(s);
    return s;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    try {
      const s = await this.sample();
      if (s) this.paint(s);
    } catch (err: unknown) {
      if ((err as { code?: unknown } | null)?.code === 'pool-closed') {
        this.stopped = true;
        this.onPoolClosed?.(err as Error);
        return;
      }
      // dom0 is shutting down (reset) or a domain vanished between calls: try again later.
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(50, this.periodMs - (performance.now() - started)));
  }

  private paint(s: MachineSnapshot): void {
    this.last = s;
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.render(s));
  }

  private async sample(): Promise<MachineSnapshot | null> {
    const [stats, datasets] = await Promise.all([this.hv.pool.stats(), this.hv.pool.list()]);
    const frames = new Map<string, FrameSummary[]>();
    const pageMaps = new Map<number, Int32Array>();
    const latency = new Map<number, LatencySnapshot>();
    const guestStats = new Map<number, TarGuestStats>();
    const ownership = new Map<string, Uint8Array>();
    await Promise.all([
      ...datasets
        .filter((d) => d.kind === 'clone')
        .map(async (d) => {
          const own = await this.hv.pool.ownership(d.name).catch(() => null);
          if (own) ownership.set(d.name, own);
        }),
      ...stats.groups.map(async (g) => frames.set(g.id, await this.hv.memory.frames(g.id))),
      ...stats.domains.map(async (d) => {
        const pm = await this.hv.memory.pageMap(d.id).catch(() => null);
        if (pm) pageMaps.set(d.id, pm);
      }),
      ...this.guests()
        .filter((g) => g.running())
        .map(async (g) => {
          const [l, st] = await Promise.all([within(g.api.latency(), 1000), within(g.api.stats(), 1000)]);
          if (l) latency.set(g.id, l);
          if (st) guestStats.set(g.id, st);
        }),
    ]);
    if (this.stopped) return null;
    return { stats, datasets, frames, pageMaps, latency, guestStats, ownership };
  }
}
