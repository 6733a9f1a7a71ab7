// @ts-check
// Runs in Node (bench/run.mjs) and in the chart page. The benchmark's targets, each a
// ratio of two metrics from the same run (or a count), written once. A target that is
// missed stays here, and is reported as missed, until it is met.

/**
 * @typedef {{ name: string, ratio: (m: Record<string, number>) => number | null, op: '>=' | '<=', goal: number, why: string }} Target
 */

/** @param {Record<string, number>} m @param {string} a @param {string} b */
const div = (m, a, b) => (m[a] !== undefined && m[b] !== undefined && m[b] !== 0 ? m[a] / m[b] : null);

/** @type {Target[]} */
export const TARGETS = [
  { name: 'ring round trip / Atomics ping-pong', ratio: (m) => div(m, 'read_hit_ring_ns', 'atomics_pingpong_ns'), op: '<=', goal: 2, why: 'a ring read round trip within 2× of one word through Atomics.wait/notify and back' },
  { name: 'cached hit / raw view', ratio: (m) => div(m, 'read_hit_cached_ns', 'raw_view_ns'), op: '<=', goal: 3, why: 'a cached zero-copy read within 3× of three Atomics.loads and a subarray' },
  { name: 'cached hit, readSync / raw view', ratio: (m) => div(m, 'read_hit_cached_sync_ns', 'raw_view_ns'), op: '<=', goal: 3, why: 'the same hit without the promise read() must return' },
  { name: 'comlink copy / ring round trip', ratio: (m) => div(m, 'read_comlink_copy_ns', 'read_hit_ring_ns'), op: '>=', goal: 10, why: 'a ring round trip must beat a copying RPC by 10×' },
  { name: 'comlink copy / cached hit', ratio: (m) => div(m, 'read_comlink_copy_ns', 'read_hit_cached_ns'), op: '>=', goal: 100, why: 'a cached zero-copy read must beat a copying RPC by 100×' },
  { name: 'cached hit 1 MiB / 4 KiB', ratio: (m) => div(m, 'read_hit_cached_1m_ns', 'read_hit_cached_4k_ns'), op: '<=', goal: 2, why: 'a zero-copy read costs the same whatever the block size' },
  { name: 'memory 8 guests / 1 guest', ratio: (m) => div(m, 'memory_8_guests_bytes', 'memory_1_guest_bytes'), op: '<=', goal: 1.15, why: 'a block read by 8 guests is resident once' },
  { name: 'memory 32 guests / 1 guest', ratio: (m) => div(m, 'scale_guests_32_memory_bytes', 'scale_guests_1_memory_bytes'), op: '<=', goal: 1.3, why: 'a block read by 32 guests is resident once; a guest adds only its runtime' },
  { name: 'sharing captured', ratio: (m) => m.sharing_captured ?? null, op: '>=', goal: 0.99, why: 'frames resident = distinct blocks read' },
  { name: 'pool cold read / raw getAll', ratio: (m) => div(m, 'pool_cold_read_mb_s', 'idb_raw_getall_mb_s'), op: '>=', goal: 0.95, why: 'the pool reads, verified, at the speed of raw IndexedDB' },
  { name: 'pool import / raw put', ratio: (m) => m.pool_import_vs_raw ?? null, op: '>=', goal: 0.95, why: 'the pool writes, checksummed (the dedup key and the read check), at the speed of raw IndexedDB (rounds in mirrored pairs, each pair of rounds: raw put time ÷ import time; median of the pairs; the import takes its ArrayBuffer over, as dom0 imports)' },
  { name: 'ring no-op ops/s', ratio: (m) => m.ring_noop_ops_per_s ?? null, op: '>=', goal: 5_000_000, why: 'batched requests through the ring (batches of 128, two in flight: bench/guests/queue-depth.ts; the median of three reps in each run since 2026-12-03)' },
  { name: 'postMessage copy / channel message (64 KiB)', ratio: (m) => div(m, 'idc_postmessage_copy_64k_ns', 'idc_msg_64k_ns'), op: '>=', goal: 10, why: 'a zero-copy message between guests must beat a copying postMessage by 10×' },
  { name: 'cleaning write cost at 75% (cost-benefit)', ratio: (m) => m.clean_write_cost_75_costbenefit ?? null, op: '<=', goal: 1.6, why: 'LFS cost-benefit cleaning' },
  { name: 'cost-benefit / greedy at 75%', ratio: (m) => div(m, 'clean_write_cost_75_costbenefit', 'clean_write_cost_75_greedy'), op: '<=', goal: 0.6, why: 'cost-benefit at least 40% below greedy' },
];

/** @param {Target} t @param {Record<string, number>} m */
export function evaluate(t, m) {
  const value = t.ratio(m);
  if (value === null || !Number.isFinite(value)) return { value: null, met: null };
  return { value, met: t.op === '>=' ? value >= t.goal : value <= t.goal };
}
