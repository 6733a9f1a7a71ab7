// Runs wherever the pool runs. A consistency check of the pool as committed-plus-staged:
// recounts every reference from the trees and compares with the stored refcounts, checks
// metaslab accounting and the dedup index, and (optionally) reads and verifies every
// chunk. Used by tests and by the crash test after reopening; a scrub for operators.
import { walkNodes } from './block-tree';
import { readChunkRecords } from './reader';
import type { IDBPDatabase } from 'idb';
import type { ChunkRecord, PoolDB } from './schema';
import { dedupKey, physKeyString, type PoolState } from './state';

export interface FsckReport {
  ok: boolean;
  txg: number;
  problems: string[];
  nodes: number;
  chunks: number;
  /** Chunks whose bytes were read and verified (0 unless data: true). */
  verified: number;
}

/** The metadata half of fsck, pure (no IndexedDB): recount references and accounting. */
export function checkMetadata(state: PoolState): { problems: string[]; nodes: number; chunks: ChunkRecord[] } {
  const problems: string[] = [];
  const nodeRefs = new Map<number, number>();
  const chunkRefs = new Map<number, number>();
  const seen = new Set<number>();
  for (const d of state.datasets.values()) {
    if (d.root !== 0) nodeRefs.set(d.root, (nodeRefs.get(d.root) ?? 0) + 1);
    walkNodes(
      state,
      d.root,
      (n) => {
        for (const p of n.ptrs) {
          if (p === 0) continue;
          const m = n.level === 0 ? chunkRefs : nodeRefs;
          m.set(p, (m.get(p) ?? 0) + 1);
        }
      },
      seen,
    );
  }
  let nodes = 0;
  for (const n of state.nodes.values()) {
    nodes++;
    const want = nodeRefs.get(n.id) ?? 0;
    if (n.refcount !== want) problems.push(`node ${n.id}: refcount ${n.refcount}, referenced ${want} times`);
  }
  for (const id of nodeRefs.keys()) if (!state.nodes.has(id)) problems.push(`node ${id} referenced but missing`);
  const live = new Map<number, { bytes: number; chunks: number }>();
  const all: ChunkRecord[] = [];
  for (const c of state.chunks.values()) {
    all.push(c);
    const want = chunkRefs.get(c.id) ?? 0;
    if (c.refcount !== want) problems.push(`chunk ${c.id}: refcount ${c.refcount}, referenced ${want} times`);
    const l = live.get(c.metaslab) ?? { bytes: 0, chunks: 0 };
    l.bytes += c.size;
    l.chunks++;
    live.set(c.metaslab, l);
  }
  // Every index entry must name a live chunk of that (group, check). A chunk may be absent
  // from the index: with THN > 1, or after a checksum collision, the same key can belong to
  // several chunks, and only one is indexed.
  for (const [k, id] of state.dedup.entries()) {
    const c = state.chunks.get(id);
    if (!c || !c.check || dedupKey(c.group, c.check) !== k) problems.push(`dedup index entry for chunk ${id} is stale`);
  }
  for (const c of all) if (!c.check && !c.hash) problems.push(`chunk ${c.id} has neither a read checksum nor a hash`);
  for (const id of chunkRefs.keys()) if (!state.chunks.has(id)) problems.push(`chunk ${id} referenced but missing`);
  // Each extent's live count (what decides when its record is deleted) against a recount.
  const perExtent = new Map<string, number>();
  for (const c of all) {
    if (c.extent > c.offset) problems.push(`chunk ${c.id}: its extent starts at ${c.extent}, after the chunk (${c.offset})`);
    const k = physKeyString(c.metaslab, c.extent);
    perExtent.set(k, (perExtent.get(k) ?? 0) + 1);
  }
  for (const [k, n] of state.extents.entries()) {
    if (perExtent.get(k) !== n) problems.push(`extent ${k}: counts ${n} live chunks, holds ${perExtent.get(k) ?? 0}`);
  }
  for (const [k, n] of perExtent) if (!state.extents.has(k)) problems.push(`extent ${k}: holds ${n} live chunks, counted none`);
  for (const m of state.metaslabs.values()) {
    const l = live.get(m.id) ?? { bytes: 0, chunks: 0 };
    if (m.liveBytes !== l.bytes || m.liveChunks !== l.chunks) {
      problems.push(`metaslab ${m.id}: accounts ${m.liveBytes} B in ${m.liveChunks} chunks, holds ${l.bytes} B in ${l.chunks}`);
    }
    if (m.allocatedBytes > m.sizeBytes) problems.push(`metaslab ${m.id}: allocated past its end`);
  }
  return { problems, nodes, chunks: all };
}

export async function fsck(state: PoolState, db: IDBPDatabase<PoolDB>, txg: number, opts: { data?: boolean } = {}): Promise<FsckReport> {
  const { problems, nodes, chunks: all } = checkMetadata(state);
  let verified = 0;
  if (opts.data) {
    // Every stored record must be an extent that holds a live chunk: one left behind is
    // space lost for good (a free that never deleted it).
    const stored = await db.transaction('data', 'readonly').store.getAllKeys();
    for (const [ms, off] of stored) {
      const k = physKeyString(ms, off);
      if (!state.extents.has(k) && !state.data.has(k)) problems.push(`data record ${k} holds no live chunk (leaked)`);
    }
    for (let i = 0; i < all.length; i += 1024) {
      try {
        // Both digests: the read checksum, and the SHA-256 that dedup trusts as identity.
        verified += (await readChunkRecords(db, state, all.slice(i, i + 1024), { identity: true })).length;
      } catch (e) {
        problems.push(e instanceof Error ? e.message : String(e));
      }
    }
  }
  return { ok: problems.length === 0, txg, problems, nodes, chunks: all.length, verified };
}
