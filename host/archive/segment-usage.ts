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

  segments(): SegmentId[] {
    return [...this.#rows.keys()].sort((a, b) => a - b);
  }

  liveBytes(): number {
    let n = 0;
    for (const r of this.#rows.values()) n += r.liveBytes;
    return n;
  }

  /**
   * Up to `count` segments to clean, best first. u is a segment's live bytes ÷ its bytes
   * as written (`sizeOf`, from the log): segments are files of their own size, so a short
   * sealed segment that is all live has u = 1 and is never chosen, like a full one —
   * cleaning it frees nothing. (u was live ÷ capacity until 2026-11-30: every sealed
   * segment, a little under capacity, looked worth cleaning, and a cleaning with many
   * victims copied the whole archive forward on every pass to free one old catalogue.)
   */
  selectVictims(
    policy: CleaningPolicy,
    now: number,
    count: number,
    sizeOf: (id: SegmentId) => number | undefined,
    read: ReadCost = READ_WHOLE,
  ): SegmentId[] {
    const scored: { id: SegmentId; score: number }[] = [];
    for (const [id, row] of this.#rows) {
      const size = sizeOf(id) ?? this.segmentBytes;
      const u = size > 0 ? Math.min(1, row.liveBytes / size) : 0; // an empty file: deleting it is all gain
      if (u >= 1) continue;
      scored.push({ id, score: victimScore(policy, u, Math.max(0, now - row.youngest), read) });
    }
    scored.sort((a, b) => b.score - a.score || a.id - b.id);
    return scored.slice(0, count).map((s) => s.id);
  }
}
