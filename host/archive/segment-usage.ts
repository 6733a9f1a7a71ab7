// Runs anywhere. The segment usage table of the data tier (Sprite LFS's "segment usage
// table"): live bytes and age per segment, and the victim-selection policies that read it.
// Age is the time of the youngest data in the segment (Sprite LFS: "the most recent
// modified time of any block in the segment"); records carry their original write time,
// so data the cleaner copies forward keeps its age.

import type { SegmentId } from './segment-store';

export const CleaningPolicy = { greedy: 'greedy', costBenefit: 'cost-benefit' } as const;
export type CleaningPolicy = (typeof CleaningPolicy)[keyof typeof CleaningPolicy];

/**
 * What reading a victim costs, in segments, as a function of its utilisation u.
 * 'whole': the whole segment is read (LFS on a disk: one seek, one long transfer), cost 1.
 * 'live': only the live records are read, located by the segment's summary (OPFS and
 * IndexedDB read any byte range at no seek cost), cost u + `summary` (the summary's size
 * as a fraction of a segment).
 */
export type ReadCost = { readonly kind: 'whole' } | { readonly kind: 'live'; readonly summary: number };
export const READ_WHOLE: ReadCost = { kind: 'whole' };

/**
 * How much a policy wants to clean a segment with utilisation `u` (live/capacity, 0..1)
 * and data age `age`; higher is cleaned first. Greedy: least live data. Cost-benefit
 * (LFS): space freed × how long it is likely to stay free, per unit of cleaning cost —
 * (1 − u)·age / (read + u), the read being 1 (the paper's whole segment) or u + summary
 * when only live records are read; u is the cost of writing the live data back.
 */
export function victimScore(policy: CleaningPolicy, u: number, age: number, read: ReadCost = READ_WHOLE): number {
  if (policy === CleaningPolicy.greedy) return 1 - u;
  const readCost = read.kind === 'whole' ? 1 : u + read.summary;
  return ((1 - u) * age) / (readCost + u);
}

export interface SegmentUsage {
  readonly liveBytes: number;
  /** Write time of the youngest data in the segment. */
  readonly youngest: number;
}

export class SegmentUsageTable {
  readonly #rows = new Map<SegmentId, { liveBytes: number; youngest: number }>();

  constructor(readonly segmentBytes: number) {}

  /** A record of `bytes` whose data was written at `writtenAt` now lives in `segment`. */
  addLive(segment: SegmentId, bytes: number, writtenAt: number): void {
    const row = this.#rows.get(segment);
    if (row) {
      row.liveBytes += bytes;
      row.youngest = Math.max(row.youngest, writtenAt);
    } else {
      this.#rows.set(segment, { liveBytes: bytes, youngest: writtenAt });
    }
  }

  /** A record of `bytes` in `segment` is no longer referenced. */
  addDead(segment: SegmentId, bytes: number): void {
    const row = this.#rows.get(segment);
    if (row) row.liveBytes = Math.max(0, row.liveBytes - bytes);
  }

  /** The segment was cleaned (or deleted). */
  forget(segment: SegmentId): void {
    this.#rows.delete(segment);
  }

  get(segment: SegmentId): SegmentUsage | undefined {
    return this.#rows.get(segment);
  }

  utilisation(segment: SegmentId): number {
    return (this.#rows.get(segment)?.liveBytes ?? 0) / this.segmentBytes;
  }

  segments(): SegmentId[] {
    return [...this.#rows.keys()].sort((a, b) => a - b);
  }

  liveBytes(): number {
    let n = 0;
    for (const r of this.#rows.values()) n += r.liveBytes;
    return n;
  }

  /**
   * Up to `count` segments to clean, best first, skipping `exclude` (the open head).
   * A segment with no dead bytes is never chosen, however short: cleaning it frees
   * nothing. `sizeOf` gives a segment's bytes as written; without it only full segments
   * (u = 1) are known to hold nothing dead. Segments are files of their own size, so a
   * short sealed segment that is all live holds no free space either: judged by u alone
   * (live ÷ capacity) it looked like a good victim, and a cleaning with many victims
   * copied every live byte of the archive forward on every pass to free the few hundred
   * bytes of the previous catalogue.
   */
  selectVictims(
    policy: CleaningPolicy,
    now: number,
    count: number,
    exclude: ReadonlySet<SegmentId> = new Set(),
    read: ReadCost = READ_WHOLE,
    sizeOf?: (id: SegmentId) => number | undefined,
  ): SegmentId[] {
    const scored: { id: SegmentId; score: number }[] = [];
    for (const [id, row] of this.#rows) {
      if (exclude.has(id)) continue;
      const u = Math.min(1, row.liveBytes / this.segmentBytes);
      if (u >= 1) continue;
      const size = sizeOf?.(id);
      if (size !== undefined && size <= row.liveBytes) continue;
      scored.push({ id, score: victimScore(policy, u, Math.max(0, now - row.youngest), read) });
    }
    scored.sort((a, b) => b.score - a.score || a.id - b.id);
    return scored.slice(0, count).map((s) => s.id);
  }
}
