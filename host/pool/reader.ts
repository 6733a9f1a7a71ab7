// Runs wherever the pool runs. Batched, verified reads of chunk bytes: one readonly
// IndexedDB transaction per call; each data record (an extent of one or more chunks,
// schema.ts) is read once however many of its chunks are asked for, and extents that sit
// back to back in one metaslab are read by one key-range getAll (read-ahead over a
// sequential run). A chunk of a record that holds others is a view of that record's
// buffer (no copy): it shares its ArrayBuffer with the other chunks of the record, in this
// call and, through the record cache, in later ones, so a caller that must own a buffer
// (to transfer it, or to write to it) copies. Every chunk is verified
// on the way in against the chunk map (ARCHITECTURE invariant 4): by its read checksum
// (hash.ts chunkChecksum, synchronous, here), or by SHA-256 for a chunk written by
// format 1, which has none (schema.ts FORMAT_VERSION).
//
// The raw IDB API is used here instead of idb's promise wrappers: one promise per request
// is measurable at 1,024+ requests per call, and a run's request needs only its success.
import type { IDBPDatabase } from 'idb';
import { unwrap } from 'idb';
import { ChecksumError } from '../../shared/errors/pool-errors';
import { bytesEqual, chunkChecksum, sha256, toHex } from './hash';
import type { ChunkRecord, PoolDB } from './schema';
import { physKeyString, type PoolState } from './state';

/**
 * Chunks per getAll (a run is cut only between extents). Smaller runs let verification of
 * the first runs overlap the database reading the next ones. 64, 128, 256 and 1,024 were
 * within the noise of the shared 2-core test machine (docs/pool.md); 64 keeps the
 * unverified tail of a call short. Settable for experiments only.
 */
export let READ_RUN_RECORDS = 64;
export function setReadRunRecords(n: number): void {
  READ_RUN_RECORDS = n;
}

/**
 * The data records a pool read last, up to `maxBytes`, least recently used out first. A
 * record is read whole, so a reader going through a volume block by block (a guest
 * streaming, dom0 filling frames one miss at a time) would fetch each record once per
 * block; with the cache it fetches it once. Safe without invalidation: a stored record
 * never changes (a commit writes new addresses only; a record is deleted with its last
 * live chunk, after which no chunk names it), and only committed records are cached.
 * Every chunk served from it is verified like one read from IndexedDB. `fsck` reads past it.
 */
export class RecordCache {
  /** Each record with its size when cached: a buffer transferred away reads 0 bytes long. */
  private readonly records = new Map<string, { rec: ArrayBuffer; size: number }>();
  private bytes = 0;
  /** Records fetched from IndexedDB, and chunks served from a cached record instead. */
  loads = 0;
  hits = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): ArrayBuffer | undefined {
    const r = this.records.get(key);
    if (r === undefined) return undefined;
    this.records.delete(key);
    this.records.set(key, r);
    return r.rec;
  }

  /**
   * Chunk `c`'s bytes from its cached record, verified by its read checksum, or null: not
   * cached, a chunk with no read checksum (format 1: read from IndexedDB, verified by
   * SHA-256), or a record that no longer matches. Chunks are views of the cached record,
   * and a caller could write to one or transfer its buffer away; such a record is dropped
   * here and the chunk read again from IndexedDB, so the cache never serves, nor reports as
   * damage, what a caller did to bytes it was handed.
   */
  serve(c: ChunkRecord): Uint8Array | null {
    if (!c.check) return null;
    const key = physKeyString(c.metaslab, c.extent);
    const rec = this.get(key);
    if (!rec) return null;
    const bytes = chunkIn(c, rec);
    if (!bytes || !bytesEqual(chunkChecksum(bytes), c.check)) {
      this.drop(key);
      return null;
    }
    this.hits++;
    return bytes;
  }

  private drop(key: string): void {
    const r = this.records.get(key);
    if (!r) return;
    this.records.delete(key);
    this.bytes -= r.size;
  }

  put(key: string, record: ArrayBuffer): void {
    if (record.byteLength > this.maxBytes) return;
    this.drop(key);
    this.records.set(key, { rec: record, size: record.byteLength });
    this.bytes += record.byteLength;
    for (const [k, r] of this.records) {
      if (this.bytes <= this.maxBytes) break;
      this.records.delete(k);
      this.bytes -= r.size;
    }
  }

  clear(): void {
    this.records.clear();
    this.bytes = 0;
  }
}

/** Bytes of records a pool keeps read (RecordCache): sixteen 256 KiB extents. */
export const RECORD_CACHE_BYTES = 4 * 1024 * 1024;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Chunk `c`'s bytes in `value`, the record of its extent (a view), or null when it cannot hold them. */
function chunkIn(c: ChunkRecord, value: unknown): Uint8Array | null {
  const at = c.offset - c.extent;
  if (!(value instanceof ArrayBuffer) || value.byteLength < at + c.size) return null;
  return at === 0 && value.byteLength === c.size ? new Uint8Array(value) : new Uint8Array(value, at, c.size);
}

/**
 * Chunk `c`'s bytes out of `value`, the record of its extent, verified. A record too short
 * to hold the chunk, or not an ArrayBuffer at all, is damage like a wrong checksum.
 */
async function verify(c: ChunkRecord, value: unknown, identity: boolean): Promise<Uint8Array> {
  // A chunk has a check, a hash or both (schema.ts ChunkRecord).
  const expected = (c.check ?? c.hash)!;
  const bytes = chunkIn(c, value);
  if (!bytes) throw new ChecksumError({ chunkId: c.id, metaslab: c.metaslab, offset: c.offset, expected: toHex(expected), actual: null });
  const mismatch = (exp: Uint8Array, actual: Uint8Array) =>
    new ChecksumError({ chunkId: c.id, metaslab: c.metaslab, offset: c.offset, expected: toHex(exp), actual: toHex(actual) });
  if (c.check) {
    const k = chunkChecksum(bytes);
    if (!bytesEqual(k, c.check)) throw mismatch(c.check, k);
  }
  if (c.hash && (!c.check || identity)) {
    const h = await sha256(bytes);
    if (!bytesEqual(h, c.hash)) throw mismatch(c.hash, h);
  }
  return bytes;
}

/**
 * Bytes of each chunk, verified, in the order given (a chunk asked for twice is read once
 * and both entries share the bytes). Staged (uncommitted) chunks come from memory.
 */
export async function readChunkRecords(
  db: IDBPDatabase<PoolDB>,
  state: PoolState,
  chunks: readonly ChunkRecord[],
  opts: { identity?: boolean; cache?: RecordCache } = {},
): Promise<Uint8Array[]> {
  // identity: also check each chunk's SHA-256 where it has one (fsck), not only its read checksum.
  const identity = opts.identity ?? false;
  const cache = opts.cache;
  const byId = new Map<number, Promise<Uint8Array>>();
  const toRead: ChunkRecord[] = [];
  for (const c of chunks) {
    if (byId.has(c.id)) continue;
    const staged = state.stagedBytes(c);
    // A copy, verified like a stored one: staged bytes are views (write-path.ts), and what
    // is handed out must be what the commit will write. The copy is the chunk alone.
    if (staged) {
      byId.set(c.id, verify({ ...c, extent: c.offset }, staged.slice().buffer, identity));
      continue;
    }
    const cached = cache && !identity ? cache.serve(c) : null;
    if (cached) byId.set(c.id, Promise.resolve(cached));
    else {
      toRead.push(c);
      byId.set(c.id, null as unknown as Promise<Uint8Array>); // filled below
    }
  }
  if (toRead.length > 0) {
    toRead.sort((a, b) => a.metaslab - b.metaslab || a.offset - b.offset);
    const store = unwrap(db).transaction('data', 'readonly').objectStore('data');
    let i = 0;
    while (i < toRead.length) {
      // A run: extents of one metaslab back to back, each read whole. The chunks asked of
      // one extent always join its run (the record is read once). The next extent joins
      // while the run is under READ_RUN_RECORDS chunks, if the run's last chunk ends where
      // that extent starts: allocation is append-only and records never overlap, so the
      // key range from the first extent to the last then holds exactly the run's records.
      const ms = toRead[i]!.metaslab;
      const extents = [toRead[i]!.extent];
      let j = i + 1;
      for (; j < toRead.length; j++) {
        const c = toRead[j]!;
        const prev = toRead[j - 1]!;
        if (c.metaslab !== ms) break;
        if (c.extent === prev.extent) continue;
        if (j - i >= READ_RUN_RECORDS || c.extent !== c.offset || c.offset !== prev.offset + prev.size) break;
        extents.push(c.extent);
      }
      const n = extents.length;
      const got: Promise<unknown[]> =
        n === 1
          ? request(store.get([ms, extents[0]!])).then((v) => [v])
          : request(store.getAll(IDBKeyRange.bound([ms, extents[0]!], [ms, extents[n - 1]!])));
      // Only a run that came back whole is cached: its records are then known to be these extents.
      const values = !cache
        ? got
        : got.then((vs) => {
            cache.loads += vs.length;
            if (vs.length === n) vs.forEach((v, k) => v instanceof ArrayBuffer && cache.put(physKeyString(ms, extents[k]!), v));
            return vs;
          });
      for (let k = i, e = -1; k < j; k++) {
        const c = toRead[k]!;
        if (k === i || c.extent !== toRead[k - 1]!.extent) e++;
        const at = e;
        byId.set(c.id, values.then((vs) => verify(c, vs.length === n ? vs[at] : undefined, identity)));
      }
      i = j;
    }
  }
  const out = chunks.map((c) => byId.get(c.id)!);
  // Settle everything before rejecting so no verification is left unobserved.
  const settled = await Promise.allSettled(out);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<Uint8Array>).value);
}
