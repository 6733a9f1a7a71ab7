// Runs wherever the pool runs (pure). Encodes the in-memory chunk map (one ChunkRecord per
// chunk) to and from its stored form, pages of CHUNK_PAGE_SLOTS consecutive ids in
// columnar typed arrays. Chunk ids are handed out consecutively, so pages fill densely.
import { CHECK_BYTES, type ChunkPageRecord, type ChunkRecord } from './schema';

export const CHUNK_PAGE_SLOTS = 256;

export function pageOf(chunkId: number): number {
  return Math.floor(chunkId / CHUNK_PAGE_SLOTS);
}

/** The stored page `page` built from the current chunk map, or null when every slot is free. */
export function encodePage(page: number, get: (id: number) => ChunkRecord | undefined): ChunkPageRecord | null {
  const rec: ChunkPageRecord = {
    page,
    group: new Array<string | null>(CHUNK_PAGE_SLOTS).fill(null),
    hash: new Uint8Array(CHUNK_PAGE_SLOTS * 32),
    hasHash: new Uint8Array(CHUNK_PAGE_SLOTS),
    check: new Uint8Array(CHUNK_PAGE_SLOTS * CHECK_BYTES),
    hasCheck: new Uint8Array(CHUNK_PAGE_SLOTS),
    metaslab: new Uint32Array(CHUNK_PAGE_SLOTS),
    offset: new Float64Array(CHUNK_PAGE_SLOTS),
    extent: new Float64Array(CHUNK_PAGE_SLOTS),
    size: new Uint32Array(CHUNK_PAGE_SLOTS),
    refcount: new Uint32Array(CHUNK_PAGE_SLOTS),
    birthTxg: new Float64Array(CHUNK_PAGE_SLOTS),
  };
  let used = 0;
  for (let s = 0; s < CHUNK_PAGE_SLOTS; s++) {
    const c = get(page * CHUNK_PAGE_SLOTS + s);
    if (!c) continue;
    used++;
    rec.group[s] = c.group;
    if (c.hash) {
      rec.hash.set(c.hash, s * 32);
      rec.hasHash![s] = 1;
    }
    if (c.check) {
      rec.check!.set(c.check, s * CHECK_BYTES);
      rec.hasCheck![s] = 1;
    }
    rec.metaslab[s] = c.metaslab;
    rec.offset[s] = c.offset;
    rec.extent![s] = c.extent;
    rec.size[s] = c.size;
    rec.refcount[s] = c.refcount;
    rec.birthTxg[s] = c.birthTxg;
  }
  return used > 0 ? rec : null;
}

export function decodePage(rec: ChunkPageRecord): ChunkRecord[] {
  const out: ChunkRecord[] = [];
  for (let s = 0; s < CHUNK_PAGE_SLOTS; s++) {
    const group = rec.group[s];
    if (group === null || group === undefined) continue;
    out.push({
      id: rec.page * CHUNK_PAGE_SLOTS + s,
      group,
      // A page older than format 3 has no hasHash column: every chunk on it has a hash.
      hash: !rec.hasHash || rec.hasHash[s] === 1 ? rec.hash.slice(s * 32, s * 32 + 32) : null,
      // A format-1 page has neither column: its chunks are verified by SHA-256.
      check: rec.check && rec.hasCheck?.[s] === 1 ? rec.check.slice(s * CHECK_BYTES, (s + 1) * CHECK_BYTES) : null,
      metaslab: rec.metaslab[s]!,
      offset: rec.offset[s]!,
      // A page older than format 4 has no extent column: every chunk on it is its own record.
      extent: rec.extent ? rec.extent[s]! : rec.offset[s]!,
      size: rec.size[s]!,
      refcount: rec.refcount[s]!,
      birthTxg: rec.birthTxg[s]!,
    });
  }
  return out;
}
