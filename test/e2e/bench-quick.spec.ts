// Playwright (Node side): the benchmark still runs. `npm run bench -- --quick` end to end,
// in its own Vite server and Chromium; asserts the JSON's shape, never the numbers
// (timings are the benchmark's business, not the test suite's).
import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REQUIRED = [
  'atomics_pingpong_ns', 'atomics_pingpong_spin_ns', 'raw_view_ns', 'memcpy_64k_ns', 'read_hit_cached_sync_ns',
  'ring_blocking_noop_ops_per_s', 'ring_blocking_noop_qd1_ops_per_s', 'ring_blocking_rtt_ns',
  'ring_sched_noop_ops_per_s', 'ring_sched_noop_qd1_ops_per_s', 'ring_sched_noop_serve_ns', 'ring_relay_noop_ops_per_s', 'ring_relay_noop_qd1_ops_per_s',
  'checksum_sha256_webcrypto_gb_s', 'checksum_pool_js_gb_s',
  'scale_guests_1_memory_bytes', 'scale_guests_4_memory_bytes', 'scale_guests_4_per_added_bytes', 'scale_guests_4_reads_per_s',
  'scale_volume_16m_import_mb_s', 'scale_volume_16m_cold_read_mb_s', 'scale_volume_16m_open_ms',
  'scale_ws_0p5x_1g_hit_rate', 'scale_ws_4x_4g_reads_per_s', 'scale_ws_2x_1g_evictions_per_s',
  'read_hit_cached_ns', 'read_hit_cached_using_ns', 'await_resolved_ns', 'read_hit_ring_ns', 'read_hit_ring_sync_ns', 'read_hit_ring_sync_p50_ns', 'read_hit_ring_sync_p99_ns', 'read_hit_ring_sync_checked_fraction', 'read_comlink_copy_ns', 'read_postmessage_copy_ns', 'read_pool_miss_ns',
  'read_hit_cached_4k_ns', 'read_hit_cached_1m_ns', 'ring_noop_ops_per_s', 'ring_noop_qd1_ops_per_s', 'ring_noop_dom0_serve_ns',
  'pool_cold_read_mb_s', 'idb_raw_getall_mb_s', 'pool_import_mb_s', 'idb_raw_put_mb_s',
  'memory_1_guest_bytes', 'memory_8_guests_bytes', 'memory_8_guests_copy_bytes', 'sharing_captured',
  'clean_write_cost_50_costbenefit', 'clean_write_cost_75_costbenefit', 'clean_write_cost_90_costbenefit',
  'clean_write_cost_50_greedy', 'clean_write_cost_75_greedy', 'clean_write_cost_90_greedy',
  'failover_takeover_ms', 'mirror_lag_ms', 'mirror_bytes_ratio', 'scrub_arena_ms_per_gib',
  // The relay forwards every message under a grant and so renews every buffer of its sender.
  'idc_relay_forward_64k_msgs_per_s', 'idc_relay_copy_64k_msgs_per_s', 'idc_relay_renewed',
];

test('npm run bench -- --quick writes well-formed JSON and a chart', async () => {
  test.setTimeout(480_000); // the whole quick benchmark, on a machine that may be shared
  const out = join('test-results', 'bench-quick', 'latest.json');
  const { stdout } = await run(process.execPath, ['bench/run.mjs', '--quick', '--out', out], { timeout: 470_000, maxBuffer: 16 << 20 });
  expect(stdout).toMatch(/target\s+ratio\s+range\s+goal/);
  const json = JSON.parse(readFileSync(out, 'utf8')) as {
    env: Record<string, unknown>;
    metrics: Record<string, { value: unknown; unit: unknown }>;
    errors: unknown[];
    targets: { name: string; value: number | null; met: boolean | null }[];
    series: { name: string; lines: { points: { x: number; y: number }[] }[] }[];
  };
  expect(json.errors).toEqual([]);
  expect(typeof json.env.browser).toBe('string');
  expect(typeof json.env.userAgent).toBe('string');
  expect(typeof json.env.cores).toBe('number');
  expect(Number.isNaN(Date.parse(String(json.env.date)))).toBe(false);
  // The smoke test runs off the record (IndexedDB in memory) to stay fast, and says so.
  expect(json.env.storage).toBe('off the record (in memory)');
  // It measures the product as users get it: built, not the dev server's sources.
  expect(json.env.served).toMatch(/^build /);
  for (const key of REQUIRED) expect(Object.keys(json.metrics), key).toContain(key);
  // Every target is evaluated (met or missed) except those whose metrics quick mode skips.
  const skippedInQuick = new Set(['memory 32 guests / 1 guest']);
  for (const t of json.targets) {
    if (skippedInQuick.has(t.name)) continue;
    expect(typeof t.met, t.name).toBe('boolean');
  }
  expect(json.series.map((s) => s.name)).toEqual(expect.arrayContaining(['guests_memory', 'volume_mb_s', 'ws_hit']));
  expect(existsSync(out.replace(/\.json$/, '.md'))).toBe(true);
  for (const [key, m] of Object.entries(json.metrics)) {
    expect(typeof m.value, key).toBe('number');
    expect(Number.isFinite(m.value), key).toBe(true);
    expect(typeof m.unit, key).toBe('string');
  }
  expect(existsSync(out.replace(/\.json$/, '.png'))).toBe(true);
});

test('a full benchmark run measures IndexedDB on disk, and says so', async () => {
  // A full run always uses a fresh profile on disk: a context without a profile would keep
  // IndexedDB in memory, which is not what a user's pool runs on. One small suite is enough
  // to check where the run happened.
  test.setTimeout(180_000);
  const out = join('test-results', 'bench-disk', 'latest.json');
  await run(process.execPath, ['bench/run.mjs', '--only', 'limits', '--out', out], { timeout: 170_000, maxBuffer: 16 << 20 });
  const json = JSON.parse(readFileSync(out, 'utf8')) as { env: Record<string, unknown>; errors: unknown[]; metrics: Record<string, unknown> };
  expect(json.errors).toEqual([]);
  expect(json.env.storage).toBe('profile on disk');
  expect(Object.keys(json.metrics)).toContain('atomics_pingpong_ns');
});
