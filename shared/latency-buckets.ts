// Imported by both sides: the tar guest (guest worker) counts its reads into these
// buckets; the console (host main thread) labels the histogram with them. Upper edges in
// microseconds. The first bucket is "below the timer": cross-origin isolated pages
// coarsen performance.now() to about 5 µs, so a mapping-cache hit usually measures 0.
export const LATENCY_EDGES_US = [5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, Infinity] as const;

export function bucketOf(us: number): number {
  for (let i = 0; i < LATENCY_EDGES_US.length; i++) if (us < LATENCY_EDGES_US[i]!) return i;
  return LATENCY_EDGES_US.length - 1;
}

export function bucketLabel(i: number): string {
  const hi = LATENCY_EDGES_US[i]!;
  const fmt = (us: number): string => (us >= 1000 ? `${us / 1000} ms` : `${us} µs`);
  if (i === 0) return `< ${fmt(hi)}`;
  if (hi === Infinity) return `≥ ${fmt(LATENCY_EDGES_US[i - 1]!)}`;
  return `< ${fmt(hi)}`;
}

export interface LatencySnapshot {
  /** Reads per bucket since the guest booted. */
  counts: number[];
  total: number;
  /** Reads served with no request (the guest's mapping cache). */
  cached: number;
}
