// Runs in Node. A model of the pool's data store for tests of the metadata engine without
// IndexedDB: committed records (extents) by key, as commit.ts would write them, and the
// extent cleaner's full pass over it, as Pool.compact runs it.
import { expect } from 'vitest';
import { compactStep, emptyCompactReport, type SparseExtent } from '../../host/pool/compact';
import type { ChunkRecord } from '../../host/pool/schema';
import { physKeyString, type PoolState } from '../../host/pool/state';

export type ModelDisk = Map<string, Uint8Array>;

/**
 * Commit the open group to `disk`: records written and freed as commit.ts does, then the
 * state's commit. A record freed that is not on disk, or written over one that is, throws;
 * afterwards the records on disk must be exactly the live extents.
 */
export function commitToDisk(state: PoolState, disk: ModelDisk): void {
  for (const [k, d] of state.data) {
    if (!d.parts) {
      if (!disk.delete(k)) throw new Error(`freed record ${k} is not on disk`);
      continue;
    }
    if (disk.has(k)) throw new Error(`record ${k} written over one on disk`);
    const rec = new Uint8Array(d.bytes);
    for (const p of d.parts) rec.set(p.bytes, p.offset - d.key[1]);
    disk.set(k, rec);
  }
  state.applyCommitted(state.openTxg);
  expect([...disk.keys()].sort()).toEqual([...state.extents.entries()].map(([k]) => k).sort());
}

/** Chunk `c`'s bytes as the pool's reader hands them out: a view of its record on `disk`. */
export function viewOnDisk(disk: ModelDisk, c: ChunkRecord): Uint8Array {
  const rec = disk.get(physKeyString(c.metaslab, c.extent));
  if (!rec) throw new Error(`chunk ${c.id}: its record ${c.metaslab}:${c.extent} is not on disk`);
  return rec.subarray(c.offset - c.extent, c.offset - c.extent + c.size);
}

/**
 * A full pass of the cleaner, each step committed to `disk`, as Pool.compact runs it (the
 * caller commits what is staged first). Throws if a pass does not end, or leaves a record
 * under `liveBelow` live. Returns the chunks it moved.
 */
export async function compactPass(state: PoolState, disk: ModelDisk, opts: { liveBelow: number; stepBytes: number }, known: Map<string, number>): Promise<number> {
  const report = emptyCompactReport();
  const queue: SparseExtent[] = [];
  for (let steps = 0; await compactStep(state, diskReader(disk), opts, known, new Set(), report, queue); steps++) {
    // Each step moves or learns something, so a pass ends; a cleaner that does not would hang here.
    if (steps > 1000) throw new Error('the cleaner does not finish its pass');
    commitToDisk(state, disk);
  }
  checkNoRecordUnder(state, disk, opts.liveBelow);
  return report.chunksMoved;
}

/** The cleaner's `read` over `disk`: each chunk a view of its record, as the pool's reader hands it out. */
export function diskReader(disk: ModelDisk): (cs: readonly ChunkRecord[]) => Promise<Uint8Array[]> {
  return (cs) => Promise.resolve(cs.map((c) => viewOnDisk(disk, c)));
}

/** What a pass that ended leaves: no record on `disk` under `liveBelow` live. */
export function checkNoRecordUnder(state: PoolState, disk: ModelDisk, liveBelow: number): void {
  const live = new Map<string, number>();
  for (const c of state.chunks.values()) {
    const k = physKeyString(c.metaslab, c.extent);
    live.set(k, (live.get(k) ?? 0) + c.size);
  }
  for (const [k, rec] of disk) {
    if ((live.get(k) ?? 0) < liveBelow * rec.length) throw new Error(`record ${k}: ${live.get(k)} of ${rec.length} bytes live after a pass at ${liveBelow}`);
  }
}
