// Runs wherever the pool runs. Batched, verified reads of chunk bytes: one readonly
// IndexedDB transaction per call; chunks that sit back to back in one metaslab are read
// by one key-range getAll (read-ahead over a sequential run). Every record is verified
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
 * Records per getAll. Smaller runs let verification of the first runs overlap the
 * database reading the next ones. 64, 128, 256 and 1,024 were within the noise of the
 * shared 2-core test machine (docs/pool.md); 64 keeps the unverified tail of a call short.
 * Settable for experiments only.
 */
export let READ_RUN_RECORDS = 64;
export function setReadRunRecords(n: number): void {
  READ_RUN_RECORDS = n;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function verify(c: ChunkRecord, value: unknown, identity: boolean): Promise<Uint8Array> {
  // A chunk has a check, a hash or both (schema.ts ChunkRecord).
  const expected = (c.check ?? c.hash)!;
  if (!(value instanceof ArrayBuffer) || value.byteLength !== c.size) {
    throw new ChecksumError({ chunkId: c.id, metaslab: c.metaslab, offset: c.offset, expected: toHex(expected), actual: null });
  }
  const bytes = new Uint8Array(value);
  const mismatch = (exp: Uint8Array, actual: Uint8Array) =>
    new ChecksumError({ chunkId: c.id, metaslab: c.metaslab, offset: c.offset, expected: toHex(exp), actual: toHex(actual) });
  if (c.check) {
    const k = chunkChecksum(bytes);
    if (!bytesEqual(k, c.check)) throw mismatch(c.check, k);
  }
  if (c.hash && (!c.check || identity)) {
    const h = await sha256(value);
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
  opts: { identity?: boolean } = {},
): Promise<Uint8Array[]> {
  // identity: also check each chunk's SHA-256 where it has one (fsck), not only its read checksum.
  const identity = opts.identity ?? false;
  const byId = new Map<number, Promise<Uint8Array>>();
  const toRead: ChunkRecord[] = [];
  for (const c of chunks) {
    if (byId.has(c.id)) continue;
    const staged = state.data.get(physKeyString(c.metaslab, c.offset));
    // A copy, verified like a stored one: staged bytes are views (write-path.ts), and what
    // is handed out must be what the commit will write.
    if (staged?.bytes) byId.set(c.id, verify(c, staged.bytes.slice().buffer, identity));
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
      // A run: same metaslab, each chunk starting where the previous ends. Allocation is
      // append-only and chunks never overlap, so the key range holds exactly these records.
      let j = i + 1;
      while (
        j < toRead.length &&
        j - i < READ_RUN_RECORDS &&
        toRead[j]!.metaslab === toRead[j - 1]!.metaslab &&
        toRead[j]!.offset === toRead[j - 1]!.offset + toRead[j - 1]!.size
      ) {
        j++;
      }
      const run = toRead.slice(i, j);
      const first = run[0]!;
      const last = run[run.length - 1]!;
      const values: Promise<unknown[]> =
        run.length === 1
          ? request(store.get([first.metaslab, first.offset])).then((v) => [v])
          : request(store.getAll(IDBKeyRange.bound([first.metaslab, first.offset], [last.metaslab, last.offset])));
      run.forEach((c, k) => byId.set(c.id, values.then((vs) => verify(c, vs.length === run.length ? vs[k] : undefined, identity))));
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
