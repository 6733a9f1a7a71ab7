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
  'read_hit_cached_ns', 'read_hit_ring_ns', 'read_comlink_copy_ns', 'read_postmessage_copy_ns', 'read_pool_miss_ns',
  'read_hit_cached_4k_ns', 'read_hit_cached_1m_ns', 'ring_noop_ops_per_s',
  'pool_cold_read_mb_s', 'idb_raw_getall_mb_s', 'pool_import_mb_s', 'idb_raw_put_mb_s',
  'memory_1_guest_bytes', 'memory_8_guests_bytes', 'memory_8_guests_copy_bytes', 'sharing_captured',
  'clean_write_cost_50_costbenefit', 'clean_write_cost_75_costbenefit', 'clean_write_cost_90_costbenefit',
  'clean_write_cost_50_greedy', 'clean_write_cost_75_greedy', 'clean_write_cost_90_greedy',
  'failover_takeover_ms', 'mirror_lag_ms', 'mirror_bytes_ratio', 'scrub_arena_ms_per_gib',
];

test('npm run bench -- --quick writes well-formed JSON and a chart', async () => {
  test.setTimeout(240_000);
  const out = join('test-results', 'bench-quick', 'latest.json');
  const { stdout } = await run(process.execPath, ['bench/run.mjs', '--quick', '--out', out], { timeout: 230_000, maxBuffer: 16 << 20 });
  expect(stdout).toMatch(/target\s+ratio\s+goal/);
  const json = JSON.parse(readFileSync(out, 'utf8')) as {
    env: Record<string, unknown>;
    metrics: Record<string, { value: unknown; unit: unknown }>;
    errors: unknown[];
  };
  expect(json.errors).toEqual([]);
  expect(typeof json.env.browser).toBe('string');
  expect(typeof json.env.userAgent).toBe('string');
  expect(typeof json.env.cores).toBe('number');
  expect(Number.isNaN(Date.parse(String(json.env.date)))).toBe(false);
  for (const key of REQUIRED) expect(Object.keys(json.metrics), key).toContain(key);
  for (const [key, m] of Object.entries(json.metrics)) {
    expect(typeof m.value, key).toBe('number');
    expect(Number.isFinite(m.value), key).toBe(true);
    expect(typeof m.unit, key).toBe('string');
  }
  expect(existsSync(out.replace(/\.json$/, '.png'))).toBe(true);
});
