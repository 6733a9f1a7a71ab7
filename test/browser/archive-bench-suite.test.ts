// Runs in real Chromium (vitest project `browser`). The archive benchmark suite runs in a
// page and reports its figures in the benchmark format; the ratio is near 1 %.
import { expect, it } from 'vitest';
import { run } from '../../bench/suites/archive';

it('bench/suites/archive.ts reports the second-snapshot ratio and bytes per tier', async () => {
  const t0 = performance.now();
  const out = await run({ quick: true });
  console.log(JSON.stringify(out), `${Math.round(performance.now() - t0)} ms`);
  expect(out.archive_second_snapshot_bytes_ratio!.unit).toBe('ratio');
  expect(out.archive_second_snapshot_bytes_ratio!.value).toBeGreaterThan(0.01);
  expect(out.archive_second_snapshot_bytes_ratio!.value).toBeLessThan(0.013);
  expect(out.archive_warm_bytes!.value).toBeGreaterThan(16 * 1024 * 1024);
  expect(out.archive_cold_bytes!.value).toBeGreaterThan(0);
}, 120_000);
