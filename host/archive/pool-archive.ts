// Runs wherever the pool runs (the dom0 worker in production, a test page in tests):
// IndexedDB for the pool, crypto.subtle, and the archive's segment store (OPFS or
// IndexedDB). The wiring between the pool (host/pool) and the archive: archive a pool
// snapshot into the log-structured archive, and restore an archived snapshot into a new
// pool volume — the seed's fail-over, which needs nothing of the source volume.
//
// Archive: the chunk list comes from pool.resolve (metadata only). The pool's BlockRef
// hash is the SHA-256 of the chunk, the same content address the archive uses, so the
// archive decides *before reading* which chunks it lacks; only those are read from the
// pool (readChunks, one transaction per batch) and appended. A chunk archived for the
// first time may have no hash yet (the pool's writes do not compute one: schema.ts format
// 3): it is read, the archive computes its address once as it takes it (putContent), and
// the pool keeps that address (hashChunks: the pool reads the chunk and pairs the address
// with it itself), so a second snapshot of a volume reads and writes only the chunks that changed. Holes are
// recorded as holes (HOLE_HASH in a volume manifest), never as zero chunks.
//
// Restore: manifest → batches of blocks → each distinct chunk read once per batch and
// verified (CRC, SHA-256 against its address) → contiguous non-hole blocks written as
// one pool write → commit every `commitEveryBytes`. A chunk that fails verification is
// never written: by default the restore stops, the partial volume is destroyed and a
// RestoreCorruptionError lists the bad blocks; with onCorruptChunk 'hole' the block is
// left a hole and reported in the result.
//
// Memory: one batch of chunk bytes (batchBytes, default 16 MiB) plus the log's open
// segment; the log is settled between batches so written segments do not queue up.

import type { DatasetInfo, Pool } from '../pool';
import type { Archive } from './archive';
import { type ChunkHash, bytesToHash, hashToBytes } from './chunk-hash';
import {
  ArchiveUsageError,
  ChunkHashMismatchError,
  type CorruptBlock,
  CorruptRecordError,
  RestoreCorruptionError,
  SegmentRangeError,
} from '../../shared/errors/archive-errors';
import { HOLE_HASH } from './snapshot-manifest';
import { concatBytes } from './bytes';

export const DEFAULT_BATCH_BYTES = 16 * 1024 * 1024;
export const DEFAULT_RESTORE_COMMIT_BYTES = 16 * 1024 * 1024;

export interface ArchivePoolOptions {
  /** Name in the archive; default the pool snapshot's name. Replaces an archived snapshot of that name. */
  readonly as?: string;
  /** Snapshots of one lineage are compared by tiering; default the snapshot's origin volume. */
  readonly lineage?: string;
  /** Bytes of chunks read from the pool per batch (rounded to whole blocks). */
  readonly batchBytes?: number;
  readonly onProgress?: (p: ArchiveProgress) => void;
}

export interface ArchiveProgress {
  readonly blocksDone: number;
  readonly blocksTotal: number;
  readonly chunksWritten: number;
}

export interface PoolArchiveReport {
  readonly name: string;
  readonly blocks: number;
  readonly holes: number;
  /** Chunks appended to the archive (content it did not have). */
  readonly chunksWritten: number;
  /** Non-hole blocks whose content the archive already had (or that repeat within the snapshot). */
  readonly chunksReused: number;
  readonly bytesReadFromPool: number;
  /** Bytes appended to the archive log: chunk records, manifest and catalogue records. */
  readonly bytesWritten: number;
  /** The volume's size. */
  readonly logicalBytes: number;
}

/** Archive pool snapshot `snapshot` (a read-only dataset, so nothing changes under us). */
export async function archivePoolSnapshot(
  pool: Pool,
  archive: Archive,
  snapshot: string,
  options: ArchivePoolOptions = {},
): Promise<PoolArchiveReport> {
  const info = pool.info(snapshot);
  if (info.kind !== 'snapshot') {
    throw new ArchiveUsageError(`"${snapshot}" is a ${info.kind}; archive a snapshot (pool.snapshot) so it cannot change mid-copy`);
  }
  const name = options.as ?? info.name;
  const perBatch = blocksPerBatch(options.batchBytes ?? DEFAULT_BATCH_BYTES, info.blockSize);
  const hashes: ChunkHash[] = new Array<ChunkHash>(info.blocks);
  const session = archive.beginSnapshot();
  let holes = 0;
  let reused = 0;
  let bytesRead = 0;
  try {
    for (let lba = 0; lba < info.blocks; lba += perBatch) {
      const lbas = range(lba, Math.min(info.blocks, lba + perBatch));
      const refs = await pool.resolve(info.id, lbas);
      const wanted = new Map<ChunkHash, (typeof refs)[number] & object>();
      const unhashed = new Map<number, number[]>(); // chunk id → offsets in this batch
      refs.forEach((ref, i) => {
        if (!ref) {
          hashes[lba + i] = HOLE_HASH;
          holes++;
          return;
        }
        if (!ref.hash) {
          unhashed.set(ref.chunkId, [...(unhashed.get(ref.chunkId) ?? []), i]);
          return;
        }
        const h = bytesToHash(ref.hash);
        hashes[lba + i] = h;
        if (archive.has(h) || session.pending.has(h) || wanted.has(h)) reused++;
        else wanted.set(h, ref);
      });
      const toPut = new Map<ChunkHash, Uint8Array>();
      if (wanted.size) {
        const bytes = await pool.readChunks([...wanted.values()]);
        let k = 0;
        for (const h of wanted.keys()) toPut.set(h, bytes[k++]!);
      }
      let appended = toPut.size;
      for (const [h, b] of toPut) {
        bytesRead += b.byteLength;
        await archive.putChunk(session, h, b); // re-hashes: stored only under its true address
      }
      if (unhashed.size) {
        // Only with the bytes hashed can the archive tell whether it has them: it hashes
        // them as it takes them (once), and the pool keeps what it computed.
        await pool.hashChunks([...unhashed.keys()], async (b, chunkId) => {
          bytesRead += b.byteLength;
          const { hash: h, stored } = await archive.putContent(session, b);
          if (stored) appended++;
          unhashed.get(chunkId)!.forEach((i, n) => {
            hashes[lba + i] = h;
            if (n > 0 || !stored) reused++;
          });
          return hashToBytes(h);
        });
      }
      if (appended) await archive.settle();
      options.onProgress?.({ blocksDone: lba + lbas.length, blocksTotal: info.blocks, chunksWritten: session.chunksWritten });
    }
    await archive.commitSnapshot(session, name, hashes, {
      volume: { sizeBytes: info.sizeBytes, blockBytes: info.blockSize },
      lineage: options.lineage ?? info.origin ?? info.name,
    });
  } catch (err: unknown) {
    archive.abortSnapshot(session);
    throw err;
  }
  return {
    name,
    blocks: info.blocks,
    holes,
    chunksWritten: session.chunksWritten,
    chunksReused: reused,
    bytesReadFromPool: bytesRead,
    bytesWritten: session.bytesWritten,
    logicalBytes: info.sizeBytes,
  };
}

export interface RestoreOptions {
  /** Trust group of the new volume; default its own name (pool default). */
  readonly group?: string;
  /** Commit after about this many bytes written. Default 16 MiB. */
  readonly commitEveryBytes?: number;
  /** Bytes of blocks per read batch. Default 16 MiB. */
  readonly batchBytes?: number;
  /** 'abort' (default): stop, destroy the partial volume, throw RestoreCorruptionError. 'hole': leave the block a hole and report it. */
  readonly onCorruptChunk?: 'abort' | 'hole';
  readonly onProgress?: (p: RestoreProgress) => void;
}

export interface RestoreProgress {
  readonly blocksDone: number;
  readonly blocksTotal: number;
  readonly bytesWritten: number;
  /** Pool txg of the last commit. */
  readonly txg: number;
}

export interface PoolRestoreReport {
  readonly volume: DatasetInfo;
  readonly blocks: number;
  readonly holes: number;
  /** Distinct chunk reads from the archive (a chunk repeated within a batch is read once). */
  readonly chunksRead: number;
  readonly bytesWritten: number;
  readonly commits: number;
  /** Blocks left as holes because their chunk failed verification (onCorruptChunk 'hole'). */
  readonly corrupt: readonly CorruptBlock[];
}

/** Restore archived snapshot `name` into new pool volume `volume`, byte for byte. */
export async function restoreToPool(
  pool: Pool,
  archive: Archive,
  name: string,
  volume: string,
  options: RestoreOptions = {},
): Promise<PoolRestoreReport> {
  const manifest = await archive.snapshotManifest(name);
  const geometry = manifest.volume;
  if (!geometry) throw new ArchiveUsageError(`"${name}" was archived as a chunk list, not a volume; it has no geometry to restore`);
  const blocks = manifest.chunks.length;
  // Incomplete (nameless to everyone else) until the last commit: a crash mid-restore leaves
  // no volume under this name, and the next open of the pool frees what was written.
  const info = await pool.beginVolume(volume, {
    sizeBytes: geometry.sizeBytes,
    blockSize: geometry.blockBytes,
    ...(options.group !== undefined ? { group: options.group } : {}),
  });
  const perBatch = blocksPerBatch(options.batchBytes ?? DEFAULT_BATCH_BYTES, geometry.blockBytes);
  const commitEvery = options.commitEveryBytes ?? DEFAULT_RESTORE_COMMIT_BYTES;
  const corrupt = new Map<ChunkHash, { lbas: number[]; error: Damage }>();
  let holes = 0;
  let chunksRead = 0;
  let bytesWritten = 0;
  let sinceCommit = 0;
  let commits = 0;
  /** The pool groups the writes since the last commit were staged in (Pool.commit's `groups`). */
  const groups = new Set<number>();
  try {
    for (let lba = 0; lba < blocks; lba += perBatch) {
      const end = Math.min(blocks, lba + perBatch);
      // The batch's distinct chunks are read concurrently: store reads and SHA-256
      // verification (off-thread in Chromium) overlap instead of alternating.
      const distinct = [...new Set(manifest.chunks.slice(lba, end))].filter((h) => h !== HOLE_HASH);
      const got = await Promise.all(distinct.map((h) => readVerified(archive, h, geometry.blockBytes)));
      chunksRead += distinct.length;
      const bytes = new Map<ChunkHash, Uint8Array | null>(); // null: failed verification
      distinct.forEach((h, k) => {
        const g = got[k]!;
        bytes.set(h, g instanceof Uint8Array ? g : null);
        if (!(g instanceof Uint8Array) && !corrupt.has(h)) corrupt.set(h, { lbas: [], error: g });
      });
      for (let i = lba; i < end; i++) corrupt.get(manifest.chunks[i]!)?.lbas.push(i);
      if (corrupt.size && (options.onCorruptChunk ?? 'abort') === 'abort') throw new RestoreCorruptionError(name, report(corrupt));
      // Write runs of consecutive present blocks as one pool write each.
      for (let i = lba; i < end; ) {
        const b = bytesAt(manifest.chunks[i]!, bytes);
        if (!b) {
          if (manifest.chunks[i] === HOLE_HASH) holes++;
          i++;
          continue;
        }
        let j = i + 1;
        while (j < end && bytesAt(manifest.chunks[j]!, bytes)) j++;
        const run = concatBytes(range(i, j).map((k) => bytesAt(manifest.chunks[k]!, bytes)!));
        groups.add(await pool.write(info.id, i, run));
        bytesWritten += run.length;
        sinceCommit += run.length;
        i = j;
      }
      if (sinceCommit >= commitEvery || end === blocks) {
        if (end === blocks) groups.add(await pool.completeVolume(info.id));
        // Fails if another caller's failed commit dropped any of these writes meanwhile.
        await pool.commit({ groups: [...groups] });
        groups.clear();
        commits++;
        sinceCommit = 0;
      }
      options.onProgress?.({ blocksDone: end, blocksTotal: blocks, bytesWritten, txg: pool.txg });
    }
  } catch (err: unknown) {
    // Leave no half-restored volume behind (as the pool's import does). Other callers'
    // staged writes are left alone.
    try {
      if (pool.has(info.id)) {
        await pool.destroy(info.id);
        await pool.commit();
      }
    } catch {
      // The original error is the one to report.
    }
    throw err;
  }
  return { volume: pool.info(info.id), blocks, holes, chunksRead, bytesWritten, commits, corrupt: report(corrupt) };
}

// --- helpers ---------------------------------------------------------------------------

type Damage = CorruptRecordError | ChunkHashMismatchError | SegmentRangeError;

/**
 * Read one chunk, verified; damage comes back as the error, never as bytes: CRC, framing,
 * hash, a record the store no longer holds (a truncated or missing segment), or a chunk
 * that is not one whole block of the manifest's geometry. The pool writes runs of chunks
 * by position, so a chunk of another size would shift its bytes into the blocks after it
 * (a hole there would read back another block's data) although its hash is right.
 */
async function readVerified(archive: Archive, h: ChunkHash, blockBytes: number): Promise<Uint8Array | Damage> {
  let bytes: Uint8Array;
  try {
    bytes = await archive.readChunk(h);
  } catch (err: unknown) {
    if (err instanceof CorruptRecordError || err instanceof ChunkHashMismatchError || err instanceof SegmentRangeError) return err;
    throw err;
  }
  if (bytes.length === blockBytes) return bytes;
  const loc = archive.lsm.get(h);
  return new CorruptRecordError(loc?.segment ?? -1, loc?.offset ?? -1, `chunk ${h} is ${bytes.length} bytes, but the manifest's blocks are ${blockBytes}`);
}

function report(corrupt: ReadonlyMap<ChunkHash, { lbas: number[]; error: Damage }>): CorruptBlock[] {
  return [...corrupt].map(([hash, { lbas, error }]) => ({ hash, lbas: [...lbas], error }));
}

function bytesAt(h: ChunkHash, bytes: ReadonlyMap<ChunkHash, Uint8Array | null>): Uint8Array | null {
  return h === HOLE_HASH ? null : (bytes.get(h) ?? null);
}

function blocksPerBatch(batchBytes: number, blockSize: number): number {
  if (!(batchBytes > 0)) throw new ArchiveUsageError(`batchBytes must be positive, got ${batchBytes}`);
  return Math.max(1, Math.floor(batchBytes / blockSize));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

