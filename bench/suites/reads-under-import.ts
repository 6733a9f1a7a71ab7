// Runs in the benchmark page (main thread). What an import in dom0 does to a guest reading
// at the same time: ring round trips (resident blocks the guest has not mapped), one every
// millisecond, first with dom0 otherwise idle, then while dom0 imports a 64 MiB image.
// dom0 serves the rings on the thread that runs the pool, so whatever the import does on
// that thread (the commit's put() loop and the read checksums; SHA-256 too, before format
// 3: docs/pool.md) is time a guest's request waits.
import { Hypervisor } from '../../host/page/hypervisor';
import type { BenchGuestApi } from '../guests/bench-guest';
import { guestModuleUrl } from '../../host/page/guest-runtime';
import { imageBytes, type SuiteOptions } from './hypervisor';

type Metrics = Record<string, { value: number; unit: string }>;

const GUEST = guestModuleUrl('bench/guests/bench-guest');
const BS = 64 * 1024;

/**
 * Metrics (ns; each read timed on its own in the guest, 1 ms of guest computing between reads):
 *   read_ring_paced_quiet_{mean,p50,p99}_ns        dom0 otherwise idle
 *   read_ring_paced_importing_{mean,p50,p99}_ns    while dom0 imports a 64 MiB image
 *   reads_under_import_import_ms                   that import's time
 */
export async function run(opts: SuiteOptions): Promise<Metrics> {
  const { quick, log } = opts;
  const blocks = quick ? 512 : 2048;
  const timed = quick ? 64 : 384;
  const hv = await Hypervisor.start({ poolName: `bench-busy-${crypto.randomUUID()}`, arenaFrames: blocks + 64, quota: blocks + 64 });
  try {
    await hv.pool.import('img', imageBytes(blocks * BS).buffer, { blockSize: BS });
    await hv.pool.snapshot('img', 'img@base');
    const a = await hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST });
    const b = await hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST });
    const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
    await a.api.missNs(range(0, blocks)); // every block resident, none mapped by b
    // The guest's read path warmed up first, as in the reads suite (a fresh isolate's first
    // reads wait for its JIT).
    await b.api.ringReadNs(range(0, blocks - 2 * timed));
    const quiet = await b.api.ringReadNs(range(blocks - 2 * timed, timed), 1);
    const source = imageBytes((quick ? 16 : 64) * 1024 * 1024).buffer;
    const t0 = performance.now();
    const importing = hv.pool.import('second', source, { blockSize: BS }).then(() => performance.now() - t0);
    const busy = await b.api.ringReadNs(range(blocks - timed, timed), 1);
    const importMs = await importing;
    log(`reads under import: quiet mean ${quiet.mean.toFixed(0)} p50 ${quiet.p50.toFixed(0)} p99 ${quiet.p99.toFixed(0)} ns; importing mean ${busy.mean.toFixed(0)} p50 ${busy.p50.toFixed(0)} p99 ${busy.p99.toFixed(0)} ns; import ${importMs.toFixed(0)} ms`);
    return {
      read_ring_paced_quiet_mean_ns: { value: quiet.mean, unit: 'ns' },
      read_ring_paced_quiet_p50_ns: { value: quiet.p50, unit: 'ns' },
      read_ring_paced_quiet_p99_ns: { value: quiet.p99, unit: 'ns' },
      read_ring_paced_importing_mean_ns: { value: busy.mean, unit: 'ns' },
      read_ring_paced_importing_p50_ns: { value: busy.p50, unit: 'ns' },
      read_ring_paced_importing_p99_ns: { value: busy.p99, unit: 'ns' },
      reads_under_import_import_ms: { value: importMs, unit: 'ms' },
    };
  } finally {
    await hv.shutdown();
  }
}
