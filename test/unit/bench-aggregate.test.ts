// Runs in Node (vitest unit). The benchmark's report over several runs: median and spread
// per metric, targets as the median of per-run ratios, series points from their metrics.
import { describe, expect, it } from 'vitest';
import { aggregate, median, spread } from '../../bench/aggregate.mjs';

const run = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { value: v, unit: 'x' }]));

describe('bench aggregate', () => {
  it('median and spread', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spread([5])).toBe(0);
    expect(spread([1, 2, 3])).toBeCloseTo(1);
  });

  it('summarises each metric over runs and skips non-finite values', () => {
    const { metrics } = aggregate([run({ a: 10, b: 1 }), run({ a: 30, b: NaN }), run({ a: 20 })]);
    expect(metrics.a).toMatchObject({ value: 20, min: 10, max: 30, runs: [10, 30, 20], spread: 1 });
    expect(metrics.b).toMatchObject({ value: 1, runs: [1] });
  });

  it('takes the median of per-run ratios, not the ratio of medians', () => {
    // Per run: 100/50 = 2, 300/100 = 3, 100/200 = 0.5 → median 2. Ratio of medians would be 1.
    const runs = [
      run({ pool_cold_read_mb_s: 100, idb_raw_getall_mb_s: 50 }),
      run({ pool_cold_read_mb_s: 300, idb_raw_getall_mb_s: 100 }),
      run({ pool_cold_read_mb_s: 100, idb_raw_getall_mb_s: 200 }),
    ];
    const t = aggregate(runs).targets.find((x) => x.name === 'pool cold read / raw getAll')!;
    expect(t.value).toBe(2);
    expect(t.met).toBe(true);
    expect(t.metInRuns).toBe(2);
    expect([t.min, t.max]).toEqual([0.5, 3]);
    const missing = aggregate(runs).targets.find((x) => x.name === 'pool import / raw put')!;
    expect(missing.value).toBeNull();
    expect(missing.met).toBeNull();
  });

  it('marks a missed target as missed', () => {
    const t = aggregate([run({ read_hit_ring_ns: 10_000, atomics_pingpong_ns: 1_000 })]).targets.find((x) => x.name === 'ring round trip / Atomics ping-pong')!;
    expect(t.value).toBe(10);
    expect(t.met).toBe(false);
  });

  it('builds series lines from per-point metrics, leaving out points not measured', () => {
    const { series } = aggregate([run({ scale_guests_1_memory_bytes: 100, scale_guests_4_memory_bytes: 110 })]);
    const s = series.find((x) => (x as { name: string }).name === 'guests_memory') as { lines: { label: string; points: { x: number; y: number }[] }[] };
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]!.points.map((p) => [p.x, p.y])).toEqual([[1, 100], [4, 110]]);
  });
});
