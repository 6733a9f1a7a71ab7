// Runs in the benchmark page (main thread). The product's claim, measured against what a
// user would otherwise use, in one run: a shared block read zero-copy vs the same block
// returned by comlink or postMessage; and memory for 1 and 8 guests zero-copy vs 8 guests
// over the copy transport. Timings are taken inside a guest worker (bench-guest.ts).
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import type { BenchGuestApi } from '../guests/bench-guest';
import { guestModuleUrl } from '../../host/page/guest-runtime';

type Metrics = Record<string, { value: number; unit: string }>;
export interface SuiteOptions {
  quick: boolean;
  log: (line: string) => void;
}

const GUEST = guestModuleUrl('bench/guests/bench-guest');
const KIB = 1024;
const MIB = 1024 * KIB;

/** Non-dedupable bytes: every block differs, so frames needed = blocks. */
export function imageBytes(bytes: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes);
  for (let o = 0; o < bytes; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(bytes, o + 65536)));
  return out;
}

async function copyServerPorts(blockBytes: number): Promise<{ worker: Worker; comlink: MessagePort; raw: MessagePort }> {
  const worker = new Worker(new URL('../workers/copy-server.ts', import.meta.url), { type: 'module' });
  const c = new MessageChannel();
  const r = new MessageChannel();
  const ready = new Promise((resolve) => worker.addEventListener('message', resolve, { once: true }));
  worker.postMessage({ blockBytes, comlinkPort: c.port1, rawPort: r.port1 }, [c.port1, r.port1]);
  await ready;
  return { worker, comlink: c.port2, raw: r.port2 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

// The suites' pools are not deleted when a suite ends: IndexedDB keeps each 64 KiB block
// as a file of its own, and on this project's machines (ext4 without a journal) a file
// created in the minutes after thousands were deleted is slow to create, which the suite
// after it pays (the pool suite's import ÷ raw put, paired: median 0.85 with the reads,
// stream and memory suites deleting theirs against 0.94 without, four alternated pairs,
// 2026-12-01; docs/pool.md, "Import, paired in mirrored rounds"). bench/run.mjs removes
// each run's profile after the last run.
export async function runReads(opts: SuiteOptions): Promise<Metrics> {
  const { quick, log } = opts;
  const BS = 64 * KIB;
  const blocks = quick ? 256 : 2048;
  const hv = await Hypervisor.start({ poolName: `bench-reads-${crypto.randomUUID()}`, arenaFrames: blocks + 64, quota: blocks + 64 });
  const guests: GuestHandle<BenchGuestApi>[] = [];
  const server = await copyServerPorts(BS);
  try {
    log(`reads: importing ${(blocks * BS) / MIB} MiB image`);
    await hv.pool.import('img', imageBytes(blocks * BS).buffer, { blockSize: BS });
    await hv.pool.snapshot('img', 'img@base');
    for (const size of [4 * KIB, 1 * MIB]) {
      await hv.pool.import(`img${size}`, imageBytes(size * 4).buffer, { blockSize: size, group: `g${size}` });
      await hv.pool.snapshot(`img${size}`, `img${size}@base`);
    }
    const spawn = (base: string, init?: Record<string, unknown>) =>
      hv.guests.spawn<BenchGuestApi>({ base, module: GUEST, ...(init ? { init } : {}) }).then((g) => (guests.push(g), g));
    const a = await hv.guests.spawn<BenchGuestApi>({
      base: 'img@base',
      module: GUEST,
      init: { copyServer: server.comlink, rawPort: server.raw },
      transfer: [server.comlink, server.raw],
    });
    guests.push(a);
    const b = await spawn('img@base');
    const c = await spawn('img@base');
    const d = await spawn('img@base');

    // Each timed phase follows an untimed warm-up on other blocks: the first requests of a
    // path pay for JIT compilation on both sides of the ring, which is not the steady state.
    // Each guest is an isolate of its own, compiling its read path by itself: a warm-up of
    // 128 reads left it in V8's lower tiers, with the compiler threads busy through the
    // timed phase (2 cores: they take a core from dom0 or the guest), and the mean came out
    // 30–200 µs; after 640 reads it was 4.8–6.7 µs in 3 of 4 runs (2026-12-01). With 512
    // reads before the timed ones, a third to a half of the runs were still slow (median
    // 20–55 µs: the renderer's background threads held the other core while the guest read,
    // docs/design.md); with 1,536, a mean over 9.8 µs in 4 of 30. So the image is 2,048
    // blocks, a ring phase warms up on every block it does not time, and the first `cold`
    // reads of a fresh guest are reported on their own (read_hit_ring_cold_ns). The timed
    // blocks are the last the pool-miss phase fills, so that, as with the smaller image,
    // their frames are fresh (filled less than CHECK_FRESH_MS before) and a round trip does
    // not also re-verify one: read_hit_ring_checked_fraction says how many did.
    const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
    const cold = quick ? blocks / 8 : 128;
    const q = quick ? (blocks - 2 * cold) / 2 : 384; // measured blocks per phase
    const asyncSet = range(blocks - cold - q, q);
    const syncSet = range(blocks - cold - 2 * q, q);
    log('reads: pool misses');
    await a.api.missNs(range(0, cold));
    const missNs = await a.api.missNs(range(cold, blocks - cold));
    log('reads: ring round trips (resident, not mapped by this domain)');
    const coldDist = await b.api.ringReadNs(range(0, cold));
    await b.api.ringReadNs(range(cold, blocks - 2 * cold - q));
    const checkedBefore = (await hv.integrity.stats()).verified;
    const y0 = (await hv.pool.stats()).scheduler;
    const g0 = await b.api.stats();
    const dist = await b.api.ringReadNs(asyncSet);
    const y1 = (await hv.pool.stats()).scheduler;
    const g1 = await b.api.stats();
    const ringNs = dist.mean;
    log(`reads: ring mean ${dist.mean.toFixed(0)} p50 ${dist.p50.toFixed(0)} p90 ${dist.p90.toFixed(0)} p99 ${dist.p99.toFixed(0)} ns; dom0 sleeps ${y1.sleeps - y0.sleeps} naps ${y1.naps - y0.naps} turns ${y1.turns - y0.turns} yields ${y1.yields - y0.yields} taking ${(y1.yieldMs - y0.yieldMs).toFixed(1)} ms; guest polls skipped ${g1.pollsSkipped - g0.pollsSkipped} (stops ${g1.pollStops - g0.pollStops})`);
    // How many of those round trips also re-verified the frame before mapping it (a frame
    // filled or checked more than a second ago is checked again: 64 KiB hashed).
    const ringChecked = ((await hv.integrity.stats()).verified - checkedBefore) / asyncSet.length;
    // readSync() before the guest that computes between its reads: that one's 0.45 s would
    // leave these frames more than CHECK_FRESH_MS old, and each read would re-verify one.
    await c.api.ringReadSyncNs(range(0, blocks - cold - 2 * q));
    const checkedBeforeSync = (await hv.integrity.stats()).verified;
    const syncDist = await c.api.ringReadSyncNs(syncSet);
    const ringSyncNs = syncDist.mean;
    const syncChecked = ((await hv.integrity.stats()).verified - checkedBeforeSync) / syncSet.length;
    log(`reads: ring readSync mean ${ringSyncNs.toFixed(0)} p50 ${syncDist.p50.toFixed(0)} p90 ${syncDist.p90.toFixed(0)} p99 ${syncDist.p99.toFixed(0)} ns; frames re-verified first ${(syncChecked * 100).toFixed(0)} %`);
    // The same round trip from a guest that computes 3 ms between its reads, as a program
    // does: dom0 has gone quiet by each request, so this is what its nap on the doorbell
    // (host/dom0/ring-scheduler.ts) is for.
    await d.api.ringReadNs(range(blocks / 2, blocks / 2));
    const gapDist = await d.api.ringReadNs(range(cold, quick ? 20 : 150), 3);
    log(`reads: ring after 3 ms of compute: mean ${gapDist.mean.toFixed(0)} p50 ${gapDist.p50.toFixed(0)} ns`);
    log('reads: cached hits');
    const iters = quick ? 20_000 : 200_000;
    const cachedNs = median([await a.api.cachedHitNs(0, iters), await a.api.cachedHitNs(1, iters), await a.api.cachedHitNs(2, iters)]);
    const cachedSyncNs = median([await a.api.cachedHitSyncNs(0, iters), await a.api.cachedHitSyncNs(1, iters), await a.api.cachedHitSyncNs(2, iters)]);
    const cachedUsingNs = median([await a.api.cachedHitUsingNs(0, iters), await a.api.cachedHitUsingNs(1, iters), await a.api.cachedHitUsingNs(2, iters)]);
    const awaitNs = median([await a.api.awaitResolvedNs(iters), await a.api.awaitResolvedNs(iters), await a.api.awaitResolvedNs(iters)]);
    log('reads: baselines (comlink, postMessage)');
    const copyIters = quick ? 300 : 2000;
    const comlinkNs = await a.api.comlinkCopyNs(copyIters);
    const postNs = await a.api.postMessageCopyNs(copyIters);
    log('reads: size scaling');
    const g4k = await spawn(`img${4 * KIB}@base`);
    const g1m = await spawn(`img${MIB}@base`);
    const cached4k = median([await g4k.api.cachedHitNs(0, iters), await g4k.api.cachedHitNs(1, iters), await g4k.api.cachedHitNs(2, iters)]);
    const cached1m = median([await g1m.api.cachedHitNs(0, iters), await g1m.api.cachedHitNs(1, iters), await g1m.api.cachedHitNs(2, iters)]);
    log('reads: ring no-ops');
    // Three reps, each way, and their medians, after a warm-up as long as the limits suite's
    // rings get (a million no-ops before their measured batches). Since 2026-12-03 (session
    // 34): in two runs of eight reps with only each rep's own tenth as warm-up, the rate
    // climbed rep by rep from 2.7–3.3 M/s to 4.6–6.1; with the million first, runs were flat
    // within the run (3.3–3.7 in three) or still climbed (3.7 to 6.1), and runs differed more
    // than reps. What the climb is, is not settled; one rep alone measured too much of it.
    const noops: number[] = [];
    const noopsQd1: number[] = [];
    await a.api.noopOpsPerS(quick ? 50_000 : 1_000_000, 128, 2);
    const n0 = (await hv.pool.stats()).scheduler;
    for (let rep = 0; rep < (quick ? 1 : 3); rep++) {
      noops.push(await a.api.noopOpsPerS(quick ? 50_000 : 500_000, 128, 2));
      noopsQd1.push(await a.api.noopOpsPerS(quick ? 50_000 : 500_000, 128, 1));
    }
    const n1 = (await hv.pool.stats()).scheduler;
    const noop = median(noops);
    const noopQd1 = median(noopsQd1);
    // What serving one no-op cost dom0's thread over the reps, its spins, naps and yields
    // apart. None reach dom0 when a ring worker answers them (ringWorker): then no figure.
    const served = n1.servedEntries - n0.servedEntries;
    const serveNs = served > 0 ? ((n1.servingMs - n0.servingMs) * 1e6) / served : NaN;
    const mps = (xs: number[]): string => xs.map((x) => (x / 1e6).toFixed(2)).join(', ');
    log(`reads: ring no-ops ${(noop / 1e6).toFixed(2)} M/s (${mps(noops)}; one batch at a time ${(noopQd1 / 1e6).toFixed(2)}: ${mps(noopsQd1)}); dom0 turns ${n1.turns - n0.turns} naps ${n1.naps - n0.naps} sleeps ${n1.sleeps - n0.sleeps} yields ${n1.yields - n0.yields} taking ${(n1.yieldMs - n0.yieldMs).toFixed(1)} ms; serving ${serveNs.toFixed(0)} ns a no-op, ${(n1.servingMs - n0.servingMs).toFixed(0)} ms in all`);
    return {
      read_hit_cached_ns: { value: cachedNs, unit: 'ns' },
      read_hit_cached_sync_ns: { value: cachedSyncNs, unit: 'ns' },
      read_hit_cached_using_ns: { value: cachedUsingNs, unit: 'ns' },
      await_resolved_ns: { value: awaitNs, unit: 'ns' },
      read_hit_ring_ns: { value: ringNs, unit: 'ns' },
      read_hit_ring_p50_ns: { value: dist.p50, unit: 'ns' },
      read_hit_ring_p99_ns: { value: dist.p99, unit: 'ns' },
      read_hit_ring_cold_ns: { value: coldDist.mean, unit: 'ns' },
      read_hit_ring_after_compute_ns: { value: gapDist.mean, unit: 'ns' },
      read_hit_ring_after_compute_p50_ns: { value: gapDist.p50, unit: 'ns' },
      read_hit_ring_checked_fraction: { value: ringChecked, unit: 'ratio' },
      read_hit_ring_sync_ns: { value: ringSyncNs, unit: 'ns' },
      read_hit_ring_sync_p50_ns: { value: syncDist.p50, unit: 'ns' },
      read_hit_ring_sync_p99_ns: { value: syncDist.p99, unit: 'ns' },
      read_hit_ring_sync_checked_fraction: { value: syncChecked, unit: 'ratio' },
      read_comlink_copy_ns: { value: comlinkNs, unit: 'ns' },
      read_postmessage_copy_ns: { value: postNs, unit: 'ns' },
      read_pool_miss_ns: { value: missNs, unit: 'ns' },
      read_hit_cached_4k_ns: { value: cached4k, unit: 'ns' },
      read_hit_cached_1m_ns: { value: cached1m, unit: 'ns' },
      ring_noop_ops_per_s: { value: noop, unit: 'ops/s' },
      ring_noop_qd1_ops_per_s: { value: noopQd1, unit: 'ops/s' },
      ...(served > 0 ? { ring_noop_dom0_serve_ns: { value: serveNs, unit: 'ns' } } : {}),
    };
  } finally {
    server.worker.terminate();
    await hv.shutdown();
  }
}

/**
 * Streaming under overcommit: a volume 4× the arena read end to end by one guest alone,
 * then by two guests at once (total MB/s). Every read misses (the arena holds a quarter of
 * the volume), so this measures dom0 taking back mappings and refilling frames while two
 * domains compete for them; the ratio says what the second guest costs the first.
 */
export async function runStream(opts: SuiteOptions): Promise<Metrics> {
  const { quick, log } = opts;
  const BS = 64 * KIB;
  const arena = quick ? 32 : 128;
  const blocks = 4 * arena;
  const hv = await Hypervisor.start({ poolName: `bench-stream-${crypto.randomUUID()}`, arenaFrames: arena, quota: arena, scrubEveryMs: 0 });
  try {
    log(`stream: importing ${(blocks * BS) / MIB} MiB image (4× a ${(arena * BS) / MIB} MiB arena)`);
    await hv.pool.import('img', imageBytes(blocks * BS).buffer, { blockSize: BS });
    await hv.pool.snapshot('img', 'img@base');
    const spawn = () => hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST });
    const a = await spawn();
    await a.api.readAll(); // warm-up: JIT on both ring ends
    const mbs = (guests: number, ms: number) => (guests * blocks * BS) / MIB / (ms / 1000);
    log('stream: one guest alone');
    let t0 = performance.now();
    await a.api.readAll();
    const alone = mbs(1, performance.now() - t0);
    const b = await spawn();
    await b.api.readAll();
    log('stream: two guests at once');
    t0 = performance.now();
    await Promise.all([a.api.readAll(), b.api.readAll()]);
    const two = mbs(2, performance.now() - t0);
    return {
      stream_1_guest_4x_arena_mb_s: { value: alone, unit: 'MB/s' },
      stream_2_guests_4x_arena_mb_s: { value: two, unit: 'MB/s' },
      stream_2_guests_over_1_ratio: { value: two / alone, unit: 'ratio' },
    };
  } finally {
    await hv.shutdown();
  }
}

interface MemoryBreakdown {
  bytes: number;
  types: string[];
}
interface MemoryApi {
  measureUserAgentSpecificMemory?: () => Promise<{ bytes: number; breakdown: MemoryBreakdown[] }>;
}

/**
 * Page + workers memory as the browser counts it, after a GC where one can be forced.
 * Chromium attributes a SharedArrayBuffer in full to every realm that references it
 * (measured: one 32 MiB SAB held by the page and 3 workers adds 128 MiB), although it is
 * one mapping in one process. With `sharedBytes` given, every realm whose share is at
 * least that large is taken to hold the shared arena, and the arena is counted once.
 * `controlBytes`: the domains' control buffers (rings, page map, staging, private
 * frames), each held by three realms (dom0, its guest, and the page, which keeps it to
 * mark the rings closed if dom0 dies: measured 2026-11-29 from the breakdown, the page's
 * and dom0's shares each grow by one control buffer per guest), so counted once here too.
 */
export async function measureMemory(sharedBytes = 0, controlBytes = 0): Promise<{ bytes: number; raw: number; holders: number } | null> {
  const perf = performance as unknown as MemoryApi;
  if (!perf.measureUserAgentSpecificMemory) return null;
  (globalThis as { gc?: () => void }).gc?.();
  const m = await perf.measureUserAgentSpecificMemory();
  const holders = sharedBytes > 0 ? m.breakdown.filter((b) => b.bytes >= sharedBytes).length : 0;
  const bytes = (holders > 1 ? m.bytes - (holders - 1) * sharedBytes : m.bytes) - 2 * controlBytes;
  return { bytes, raw: m.bytes, holders };
}

export async function runMemory(opts: SuiteOptions): Promise<Metrics> {
  const { quick, log } = opts;
  const BS = 64 * KIB;
  const imageMiB = quick ? 16 : 64;
  const blocks = (imageMiB * MIB) / BS;
  const poolName = `bench-memory-${crypto.randomUUID()}`;

  if (!(performance as unknown as MemoryApi).measureUserAgentSpecificMemory) {
    log('memory: performance.measureUserAgentSpecificMemory is unavailable; using the arena accounting only');
  }

  const setup = await Hypervisor.start({ poolName });
  log(`memory: importing ${imageMiB} MiB image`);
  await setup.pool.import('img', imageBytes(imageMiB * MIB).buffer, { blockSize: BS });
  await setup.pool.snapshot('img', 'img@base');
  const chunks = (await setup.pool.stats()).pool.chunks;
  await setup.shutdown();

  const scenario = async (guests: number, forceCopy: boolean) => {
    const hv = await Hypervisor.start({ poolName, arenaFrames: blocks + 16, quota: blocks + 16, forceCopy });
    try {
      const handles = await Promise.all(Array.from({ length: guests }, () => hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST })));
      await Promise.all(handles.map((h) => h.api.readAll()));
      const s = await hv.pool.stats();
      const group = s.groups[0]!;
      const arenaBytes = group.arenaBytes;
      // Zero-copy: the arena is one SharedArrayBuffer however many guests map it. Copy
      // transport: dom0's arena is a plain ArrayBuffer and each guest holds its own copies.
      const controlBytes = s.domains.reduce((sum, d) => sum + d.controlBytes, 0);
      const measured = await measureMemory(forceCopy ? 0 : arenaBytes, controlBytes);
      const bytes = measured ? measured.bytes : forceCopy ? arenaBytes + s.driver.bytesCopied : arenaBytes;
      log(`memory: ${guests} guest(s)${forceCopy ? ' (copy)' : ''}: ${(bytes / MIB).toFixed(1)} MiB` +
        (measured ? ` (browser raw ${(measured.raw / MIB).toFixed(1)} MiB, arena held by ${measured.holders} realms)` : ''));
      for (const h of handles) await hv.guests.kill(h.id);
      return { bytes, raw: measured?.raw ?? bytes, resident: group.resident, arenaBytes, copied: s.driver.bytesCopied };
    } finally {
      await hv.shutdown();
    }
  };
  log('memory: 1 guest, zero-copy');
  const one = await scenario(1, false);
  log('memory: 8 guests, zero-copy');
  const eight = await scenario(8, false);
  log('memory: 8 guests, copy transport');
  const eightCopy = await scenario(8, true);
  // The copy transport's guests hold their own copies; the arena accounting of dom0 is the
  // same as zero-copy, so their difference is what the guests copied.
  return {
    memory_1_guest_bytes: { value: one.bytes, unit: 'bytes' },
    memory_8_guests_bytes: { value: eight.bytes, unit: 'bytes' },
    memory_8_guests_copy_bytes: { value: eightCopy.bytes, unit: 'bytes' },
    memory_8_guests_raw_bytes: { value: eight.raw, unit: 'bytes' },
    memory_arena_8_guests_bytes: { value: eight.arenaBytes, unit: 'bytes' },
    memory_copied_8_guests_copy_bytes: { value: eightCopy.copied, unit: 'bytes' },
    sharing_captured: { value: chunks / eight.resident, unit: 'ratio' },
  };
}
