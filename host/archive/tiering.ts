// Runs anywhere the archive runs. Which chunks go to the cold tier (US 11,288,129): the
// chunks of snapshots that are older than a set age *and* superseded by a newer archived
// snapshot of the same lineage (volume), except any chunk that some other snapshot —
// the newest of a lineage, a young one, or one of another lineage sharing content by
// dedup — still references. Those stay warm, so restoring the snapshots most likely to be
// needed never touches the cold tier.

import type { Archive } from './archive';
import type { ChunkHash } from './chunk-hash';
import { type ColdTier, type TierReport, moveToColdTier } from './cold-tier';
import { ArchiveUsageError } from '../../shared/errors/archive-errors';

export interface TierPlan {
  /** Snapshots old enough and superseded: their exclusive chunks move. */
  readonly snapshots: string[];
  /** Chunks to move (warm or already cold; moveToColdTier skips cold ones). */
  readonly chunks: ChunkHash[];
}

/**
 * Plan a tiering pass. `olderThan` and `now` are in the archive clock's unit (ms for the
 * ArchiveService, whose clock is Date.now). Snapshots without a lineage (archived as plain
 * chunk lists) are never superseded.
 */
export async function planColdTier(archive: Archive, olderThan: number, now: number): Promise<TierPlan> {
  if (!(olderThan >= 0)) throw new ArchiveUsageError(`tiering age must be ≥ 0, got ${olderThan}`);
  const names = archive.snapshotNames();
  const meta = new Map(names.map((n) => [n, archive.snapshotMeta(n)]));
  const newest = new Map<string, number>(); // lineage → newest archivedAt
  for (const m of meta.values()) {
    if (m.lineage !== null) newest.set(m.lineage, Math.max(newest.get(m.lineage) ?? -Infinity, m.archivedAt));
  }
  const old = names.filter((n) => {
    const m = meta.get(n)!;
    return m.lineage !== null && m.archivedAt <= now - olderThan && m.archivedAt < newest.get(m.lineage)!;
  });
  const oldSet = new Set(old);
  const keep = new Set<ChunkHash>();
  for (const n of names) if (!oldSet.has(n)) for (const h of await archive.snapshotChunks(n)) keep.add(h);
  const move = new Set<ChunkHash>();
  for (const n of old) for (const h of await archive.snapshotChunks(n)) if (!keep.has(h)) move.add(h);
  return { snapshots: old, chunks: [...move] };
}

/** Plan and move: superseded chunks of old snapshots to the cold tier, deleted from warm. */
export async function tierOldSnapshots(
  archive: Archive,
  cold: ColdTier,
  olderThan: number,
  now: number,
): Promise<TierReport & { readonly snapshots: string[] }> {
  const plan = await planColdTier(archive, olderThan, now);
  const report = await moveToColdTier(archive, cold, plan.chunks);
  return { ...report, snapshots: plan.snapshots };
}
