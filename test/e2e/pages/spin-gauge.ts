// Runs in the page test/e2e/pages/spin-gauge.html (main thread), driven by
// test/e2e/spin-gauge.spec.ts: one guest reads an image into the arena, a second reads the
// same blocks, each read a ring round trip to dom0 (resident, not mapped by it), and the
// page reports the second guest's device stats, where its spin gauge (shared/spin-gauge.ts)
// counts the waits it sent straight to blocking. The second guest reads the first half as
// a warm-up and the page reports the second half: how soon the gauge stops depends on how
// the kernel shares the core (in one CI run only after about 375 of 512 reads), what it does once
// it has stopped does not.
import { Hypervisor } from '../../../host/page/hypervisor';
import type { BenchGuestApi } from '../../../bench/guests/bench-guest';

const BS = 65536;
const BLOCKS = 2048;
const GUEST = new URL('../../../bench/guests/bench-guest.ts', import.meta.url).href;

export interface GaugeRun {
  reads: number;
  pollsSkipped: number;
  pollStops: number;
  p50Ns: number;
}

declare global {
  interface Window {
    __gauge: { run(): Promise<GaugeRun> };
  }
}

window.__gauge = {
  async run() {
    const hv = await Hypervisor.start({ poolName: `spin-gauge-${crypto.randomUUID()}`, arenaFrames: BLOCKS + 64, quota: BLOCKS + 64, scrubEveryMs: 0 });
    try {
      const image = new Uint8Array(BLOCKS * BS);
      for (let o = 0; o < image.length; o += BS) crypto.getRandomValues(image.subarray(o, o + BS));
      await hv.pool.import('img', image.buffer, { blockSize: BS });
      await hv.pool.snapshot('img', 'img@base');
      const a = await hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST });
      const b = await hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST });
      const all = Array.from({ length: BLOCKS }, (_, i) => i);
      await a.api.missNs(all);
      await b.api.ringReadNs(all.slice(0, BLOCKS / 2));
      const s0 = await b.api.stats();
      const dist = await b.api.ringReadNs(all.slice(BLOCKS / 2));
      const s = await b.api.stats();
      return { reads: BLOCKS / 2, pollsSkipped: s.pollsSkipped - s0.pollsSkipped, pollStops: s.pollStops, p50Ns: dist.p50 };
    } finally {
      await hv.shutdown();
    }
  },
};
