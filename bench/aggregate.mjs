// @ts-check
// Runs in Node (bench/run.mjs) and in unit tests. Folds the results of several benchmark
// runs into one report: per metric the median and spread of its values, per target the
// median of its per-run ratios (a ratio of two metrics taken in the same run is what is
// robust to load from elsewhere, so ratios are formed inside each run, then summarised),
// and the scaling series (bench/series.mjs) assembled from their per-point metrics.
import { TARGETS, evaluate } from './targets.mjs';
import { SERIES } from './series.mjs';

/** @typedef {{ value: number, unit: string }} Metric */
/** @typedef {{ value: number, unit: string, runs: number[], min: number, max: number, spread: number }} Summary */
/** @typedef {{ name: string, op: string, goal: number, why: string, value: number | null, met: boolean | null, runs: number[], min: number | null, max: number | null, metInRuns: number }} TargetSummary */

/** Median; for an even count, the mean of the two middle values. @param {number[]} xs */
export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? /** @type {number} */ (s[m]) : (/** @type {number} */ (s[m - 1]) + /** @type {number} */ (s[m])) / 2;
}

/**
 * Spread of a metric across runs: (max − min) ÷ |median|, 0 for a single run.
 * @param {number[]} xs
 */
export function spread(xs) {
  if (xs.length < 2) return 0;
  const m = Math.abs(median(xs));
  return m === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / m;
}

/**
 * @param {Record<string, Metric>[]} runs one metrics map per run
 * @returns {{ metrics: Record<string, Summary>, targets: TargetSummary[], series: object[] }}
 */
export function aggregate(runs) {
  /** @type {Record<string, Summary>} */
  const metrics = {};
  const names = [...new Set(runs.flatMap((r) => Object.keys(r)))];
  for (const k of names) {
    const vals = /** @type {number[]} */ (runs.map((r) => r[k]?.value).filter((v) => typeof v === 'number' && Number.isFinite(v)));
    const unit = runs.find((r) => r[k])?.[k]?.unit ?? '';
    if (vals.length === 0) continue;
    metrics[k] = { value: median(vals), unit, runs: vals, min: Math.min(...vals), max: Math.max(...vals), spread: spread(vals) };
  }
  const targets = TARGETS.map((t) => {
    const perRun = /** @type {number[]} */ (runs
      .map((r) => evaluate(t, Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.value]))).value)
      .filter((v) => v !== null));
    const value = perRun.length ? median(perRun) : null;
    const met = value === null ? null : t.op === '>=' ? value >= t.goal : value <= t.goal;
    return {
      name: t.name, op: t.op, goal: t.goal, why: t.why, value, met,
      runs: perRun, min: perRun.length ? Math.min(...perRun) : null, max: perRun.length ? Math.max(...perRun) : null,
      metInRuns: perRun.filter((v) => (t.op === '>=' ? v >= t.goal : v <= t.goal)).length,
    };
  });
  const series = SERIES.map((s) => ({
    name: s.name, title: s.title, xLabel: s.xLabel, unit: s.unit,
    lines: s.lines.map((l) => ({
      label: l.label,
      points: s.x.map((x) => ({ x, y: metrics[l.key(x)]?.value ?? null, min: metrics[l.key(x)]?.min ?? null, max: metrics[l.key(x)]?.max ?? null })).filter((p) => p.y !== null),
    })).filter((l) => l.points.length > 0),
  })).filter((s) => s.lines.length > 0);
  return { metrics, targets, series };
}
