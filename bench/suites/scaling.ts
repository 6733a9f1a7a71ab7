// Runs in the benchmark page (main thread). How the costs grow (each point is a metric
// named as bench/series.mjs says, so it gets a median and spread over runs):
//
// guests   1, 2, 4, 8, 16, 32 guests (quick: 1, 2, 4), each a clone of one 64 MiB image
//          (quick: 16 MiB), each reading every block: memory as the browser counts it with
//          the shared arena once (bench/suites/hypervisor.ts measureMemory), memory per
//          added guest, and aggregate reads/s of all guests reading the whole image again
//          at once (cached zero-copy hits) and of their first pass (ring round trips to
//          dom0, which maps the frames the first guest faulted in). Beside them, the
//          platform's floor: what an empty module worker adds to the page's memory
//          (8 of them, measured the same way), so the 32-guest ratio can be read
//          against what 32 workers cost before any code of ours runs.
// volume   16 MiB → 1 GiB volumes (quick: 16 MiB) of random bytes, 64 KiB blocks:
//          import MB/s, Pool.open time, cold read MB/s (1,024-block batches), and the
//          pool's metadata held in memory per GiB of volume: the page's memory after
//          opening the pool minus before, after a forced GC, as the browser measures it.
// ws       a working set of 0.5×, 1×, 2×, 4× the arena (256 frames of 64 KiB; quick: 64
//          frames and no 1× point),
//          1 and 4 guests reading uniformly random blocks of it (fixed seeds) after a
//          warm-up pass over as much of it as the arena holds: hit rate (reads that
//          needed no pool read), evictions/s, reads/s.
//          Each guest's quota is half the arena divided among the guests, so mappings
//          never pin every frame.
import { Pool } from '../../host/pool';
import { Hypervisor } from '../../host/page/hypervisor';
import type { BenchGuestApi } from '../guests/bench-guest';
import { GUEST_COUNTS, VOLUME_MIB, WORKING_SET_X, wsKey } from '../series.mjs';
import { imageBytes, measureMemory } from './hypervisor';
import { guestModuleUrl } from '../../host/page/guest-runtime';
import { mulberry32 } from '../../scripts/seed.mjs';

type Metrics = Record<string, { value: number; unit: string }>;
const GUEST = guestModuleUrl('bench/guests/bench-guest');
const KIB = 1024;
const MIB = 1024 * KIB;
const BS = 64 * KIB;

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  });
}

/** Memory one empty module worker adds, as measureMemory counts it (mean of `n`); null where it cannot be measured. */
async function emptyWorkerBytes(n: number): Promise<number | null> {
  const spawn = (k: number) => Array.from({ length: k }, () => new Worker(new URL('../workers/empty-worker.ts', import.meta.url), { type: 'module' }));
  const ready = (ws: Worker[]) => Promise.all(ws.map((w) => new Promise((resolve) => w.addEventListener('message', resolve, { once: true }))));
  // A measurement issued right after a new worker's first message waited 60 s for it
  // (Chromium 156 on a 2-core machine: 7 of 9 runs of this suite alone, whether the message
  // was posted during the worker's evaluation or from a task after it); 100 ms later it
  // answered at once (4 of 4), so both measurements wait a settle time first. Without
  // it the quick benchmark took 72–134 s instead of under one minute.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 250));
  const workers = spawn(1);
  try {
    await ready(workers);
    await settle();
    const before = await measureMemory();
    if (!before) return null;
    const added = spawn(n);
    workers.push(...added);
    await ready(added);
    await settle();
    const after = await measureMemory();
    return after ? (after.bytes - before.bytes) / n : null;
  } finally {
    for (const w of workers) w.terminate();
  }
}

async function guests(quick: boolean, log: (l: string) => void): Promise<Metrics> {
  const imageMiB = quick ? 16 : 64;
  const blocks = (imageMiB * MIB) / BS;
  const counts = quick ? GUEST_COUNTS.filter((n) => n <= 4) : GUEST_COUNTS;
  const poolName = `bench-scale-guests-${crypto.randomUUID()}`;
  const setup = await Hypervisor.start({ poolName });
  await setup.pool.import('img', imageBytes(imageMiB * MIB).buffer, { blockSize: BS });
  await setup.pool.snapshot('img', 'img@base');
  await setup.shutdown();
  const out: Metrics = {};
  let one = 0;
  const floor = await emptyWorkerBytes(8);
  if (floor !== null) {
    out.memory_empty_worker_bytes = { value: floor, unit: 'bytes' };
    log(`scaling: an empty worker adds ${(floor / MIB).toFixed(2)} MiB`);
  }
  try {
    for (const n of counts) {
      const hv = await Hypervisor.start({ poolName, arenaFrames: blocks + 16, quota: blocks + 16 });
      try {
        const handles = [];
        for (let i = 0; i < n; i++) handles.push(await hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST }));
        // First pass: the first guest faults every block in from the pool; the others'
        // first reads are ring round trips that map frames already resident.
        await handles[0]!.api.readAllTimed(1);
        const t0 = performance.now();
        await Promise.all(handles.slice(1).map((h) => h.api.readAllTimed(1)));
        const firstMs = performance.now() - t0;
        const t1 = performance.now();
        await Promise.all(handles.map((h) => h.api.readAllTimed(2)));
        const cachedMs = performance.now() - t1;
        const s = await hv.pool.stats();
        const controlBytes = s.domains.reduce((sum, d) => sum + d.controlBytes, 0);
        const arenaBytes = s.groups[0]!.arenaBytes;
        const measured = await measureMemory(arenaBytes, controlBytes);
        const bytes = measured ? measured.bytes : arenaBytes;
        if (n === 1) one = bytes;
        out[`scale_guests_${n}_memory_bytes`] = { value: bytes, unit: 'bytes' };
        if (n > 1) {
          out[`scale_guests_${n}_per_added_bytes`] = { value: (bytes - one) / (n - 1), unit: 'bytes' };
          // What the ratio to one guest would be if each added guest cost only an empty worker.
          if (floor !== null) out[`scale_guests_${n}_floor_ratio`] = { value: (one + (n - 1) * floor) / one, unit: 'ratio' };
          out[`scale_guests_${n}_first_pass_reads_per_s`] = { value: ((n - 1) * blocks) / (firstMs / 1000), unit: 'reads/s' };
        }
        out[`scale_guests_${n}_reads_per_s`] = { value: (2 * n * blocks) / (cachedMs / 1000), unit: 'reads/s' };
        log(`scaling: ${n} guest(s): ${(bytes / MIB).toFixed(1)} MiB, ${((2 * n * blocks) / (cachedMs / 1000) / 1e6).toFixed(2)} M cached reads/s`);
        for (const h of handles) await hv.guests.kill(h.id);
      } finally {
        await hv.shutdown();
      }
    }
  } finally {
    await deleteDb(poolName);
  }
  return out;
}

async function volumes(quick: boolean, log: (l: string) => void): Promise<Metrics> {
  const sizes = quick ? VOLUME_MIB.filter((m) => m <= 16) : VOLUME_MIB;
  const out: Metrics = {};
  for (const mib of sizes) {
    const name = `bench-scale-volume-${crypto.randomUUID()}`;
    let bytes: Uint8Array<ArrayBuffer> | null = imageBytes(mib * MIB);
    let pool = await Pool.open(name, { durability: 'default' });
    try {
      const t0 = performance.now();
      await pool.importVolume(bytes.buffer, { name: 'v', blockSize: BS });
      const importMs = performance.now() - t0;
      pool.close();
      bytes = null; // let the source go before measuring memory
      const before = await measureMemory();
      const t1 = performance.now();
      pool = await Pool.open(name, { durability: 'default' });
      const openMs = performance.now() - t1;
      const after = await measureMemory();
      const blocks = (mib * MIB) / BS;
      const t2 = performance.now();
      for (let lba = 0; lba < blocks; lba += 1024) {
        await pool.readBlocks('v', Array.from({ length: Math.min(1024, blocks - lba) }, (_, i) => lba + i));
      }
      const readMs = performance.now() - t2;
      const k = `scale_volume_${mib}m`;
      out[`${k}_import_mb_s`] = { value: (mib * MIB) / 1e6 / (importMs / 1000), unit: 'MB/s' };
      out[`${k}_cold_read_mb_s`] = { value: (mib * MIB) / 1e6 / (readMs / 1000), unit: 'MB/s' };
      out[`${k}_open_ms`] = { value: openMs, unit: 'ms' };
      if (before && after) {
        out[`${k}_metadata_bytes_per_gib`] = { value: Math.max(0, after.bytes - before.bytes) * (1024 / mib), unit: 'bytes' };
      }
      log(`scaling: volume ${mib} MiB: import ${out[`${k}_import_mb_s`]!.value.toFixed(0)} MB/s, read ${out[`${k}_cold_read_mb_s`]!.value.toFixed(0)} MB/s, open ${openMs.toFixed(1)} ms`);
    } finally {
      pool.close();
      await deleteDb(name);
    }
  }
  return out;
}

/** Fixed seeds: the same random reads every run (mulberry32, scripts/seed.mjs). */
function prng(seed: number): (n: number) => number {
  const r = mulberry32(seed);
  return (n) => Math.floor(r() * n);
}

async function workingSet(quick: boolean, log: (l: string) => void): Promise<Metrics> {
  const frames = quick ? 64 : 256;
  const readsPerGuest = quick ? 100 : 2000;
  const xs = quick ? [0.5, 2, 4] : WORKING_SET_X;
  const maxX = Math.max(...WORKING_SET_X);
  const imageBlocks = frames * maxX;
  const poolName = `bench-scale-ws-${crypto.randomUUID()}`;
  const setup = await Hypervisor.start({ poolName });
  await setup.pool.import('img', imageBytes(imageBlocks * BS).buffer, { blockSize: BS });
  await setup.pool.snapshot('img', 'img@base');
  await setup.shutdown();
  const out: Metrics = {};
  try {
    for (const g of [1, 4]) {
      for (const x of xs) {
        const ws = Math.round(frames * x);
        const quota = Math.max(1, Math.floor(frames / 2 / g));
        const hv = await Hypervisor.start({ poolName, arenaFrames: frames, quota });
        try {
          const handles = [];
          for (let i = 0; i < g; i++) handles.push(await hv.guests.spawn<BenchGuestApi>({ base: 'img@base', module: GUEST }));
          // Warm-up: fill the arena, then measure. Under uniform random reads any full arena is
          // the steady state, so reading more than the arena holds only evicts what it read
          // (it was each guest reading the whole working set in turn: 4 × 1,024 pool reads
          // at 4×, a third of this suite's time).
          const warm = Array.from({ length: Math.min(ws, frames) }, (_, i) => i);
          for (const h of handles) await h.api.readLbas(warm);
          const lists = handles.map((_, i) => {
            const r = prng(0x16 + 977 * i + Math.round(x * 100));
            return Array.from({ length: readsPerGuest }, () => r(ws));
          });
          const s0 = await hv.pool.stats();
          const t0 = performance.now();
          await Promise.all(handles.map((h, i) => h.api.readLbas(lists[i]!)));
          const ms = performance.now() - t0;
          const s1 = await hv.pool.stats();
          const reads = g * readsPerGuest;
          const poolReads = s1.driver.poolReads - s0.driver.poolReads;
          const evictions = s1.groups[0]!.evictions - s0.groups[0]!.evictions;
          out[wsKey(x, g, 'hit_rate')] = { value: 1 - poolReads / reads, unit: 'ratio' };
          out[wsKey(x, g, 'evictions_per_s')] = { value: evictions / (ms / 1000), unit: 'evictions/s' };
          out[wsKey(x, g, 'reads_per_s')] = { value: reads / (ms / 1000), unit: 'reads/s' };
          log(`scaling: working set ${x}× arena, ${g} guest(s): hit rate ${(1 - poolReads / reads).toFixed(3)}, ${(reads / (ms / 1000)).toFixed(0)} reads/s`);
          for (const h of handles) await hv.guests.kill(h.id);
        } finally {
          await hv.shutdown();
        }
      }
    }
  } finally {
    await deleteDb(poolName);
  }
  return out;
}

export async function run(opts: { quick: boolean; log: (line: string) => void; parts?: string[] }): Promise<Metrics> {
  const parts = opts.parts ?? ['guests', 'volume', 'ws'];
  const out: Metrics = {};
  if (parts.includes('guests')) Object.assign(out, await guests(opts.quick, opts.log));
  if (parts.includes('volume')) Object.assign(out, await volumes(opts.quick, opts.log));
  if (parts.includes('ws')) Object.assign(out, await workingSet(opts.quick, opts.log));
  return out;
}
