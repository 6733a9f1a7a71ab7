// Runs anywhere (types only). The pool's public data shapes: options, dataset info, block
// references and statistics. Kept apart from pool.ts so the dom0 side can import them
// without reading the implementation.
import type { CommitHooks, Durability } from './commit';
import type { PoolRegistry } from './registry';
import type { DatasetKind, MetaslabRecord } from './schema';
import type { WriteCounters } from './write-path';

export interface PoolOptions {
  /** Metaslab size in bytes, used only when the pool is formatted (first open). Default 256 MiB. */
  metaslabBytes?: number;
  /** THN: dedup only runs of at least this many consecutive matching blocks. Default 1; Infinity disables dedup. */
  dedupThreshold?: number;
  /** IndexedDB durability of commits. Default 'strict': an acknowledged commit survives an OS crash. */
  durability?: Durability;
  /**
   * Most bytes of chunks one IndexedDB record (an extent) holds when a commit writes chunks
   * back to back (and at most EXTENT_CHUNKS chunks). Default EXTENT_BYTES (256 KiB); 0 (or
   * anything under the block size) writes every chunk as a record of its own, as format 3
   * did. Only what this open writes follows it: every chunk records its extent, so records
   * of any size read back.
   */
  extentBytes?: number;
  /** Test hooks (failure injection). Never set in production. */
  hooks?: CommitHooks;
  /**
   * Open a pool the browser reported it had deleted (PoolLostError) as the empty pool it
   * now is, and clear the report. Only on the user's say-so: until then every open refuses.
   */
  acceptLoss?: boolean;
  /**
   * Where the names of existing pools are recorded outside IndexedDB, so that a pool whose
   * database the browser deleted without telling this pool is still reported (PoolLostError).
   * Default: this context's OPFS registry (`opfsRegistry()`), best effort. null: none (a pool
   * in memory, which nothing can delete behind its back and which must leave no trace).
   */
  registry?: PoolRegistry | null;
}

export interface CreateVolumeOptions {
  sizeBytes: number;
  /** Logical block size, power of two in [4 KiB, 1 MiB]. Default 64 KiB (docs/pool.md). */
  blockSize?: number;
  /** Trust group. Default: the volume's own name (its clones inherit it). */
  group?: string;
}

export interface CloneOptions {
  /** Trust group of the clone. Default: the snapshot's group. */
  group?: string;
}

/** A dataset: by name, or by the numeric id from DatasetInfo. */
export type DatasetRef = string | number;

export interface DatasetInfo {
  id: number;
  name: string;
  kind: DatasetKind;
  sizeBytes: number;
  blockSize: number;
  /** Logical blocks (the last may be partial). */
  blocks: number;
  group: string;
  /** Snapshot: the dataset it was taken of; clone: its snapshot. */
  origin: string | null;
  /** Id of `origin` (a name may be reused after the origin is destroyed; the id never is). */
  originId: number | null;
  createdTxg: number;
  /** Blocks that are not holes. */
  writtenBlocks: number;
}

/**
 * Where a block's bytes are. `chunkId` is the stable identity (the dom0 frame table keys
 * resident frames by (group, chunkId)); metaslab/offset is where it is now, and two refs
 * with equal metaslab+offset are the same physical block (seed 000's match). `group` is
 * the trust group of the dataset that resolved it.
 */
export interface BlockRef {
  chunkId: number;
  group: string;
  metaslab: number;
  offset: number;
  /** Offset of the data record (extent) that holds the bytes, at `offset - extent` in it (schema.ts, format 4). */
  extent: number;
  size: number;
  /**
   * SHA-256 of the bytes, 32 bytes (a copy); null when it was never computed: format 3
   * writes chunks without one; the archive computes it the first time it stores the chunk,
   * and the pool keeps it (`Pool.hashChunks`).
   */
  hash: Uint8Array | null;
}

export interface PoolStats {
  txg: number;
  datasets: number;
  chunks: number;
  /** Tree nodes (interior and leaf pages) of every dataset, shared ones once. */
  nodes: number;
  /** Bytes referenced by tree leaves (a block shared by snapshot/clone counts once; a dedup reference counts each time). */
  logicalBytes: number;
  /** Bytes of chunks stored. */
  storedBytes: number;
  /** logicalBytes / storedBytes (1 when nothing is stored). */
  dedupRatio: number;
  metaslabs: MetaslabRecord[];
  /** Counters since open. */
  counters: WriteCounters & {
    commits: number;
    chunksRead: number;
    bytesRead: number;
    /** SHA-256 hashes kept by `hashChunks` (chunks archived for the first time). */
    hashesKept: number;
    /** Data records (extents) fetched from IndexedDB by reads, fsck's aside. */
    recordsRead: number;
    /** Chunks served from a record read before (the record cache), not fetched again. */
    recordCacheHits: number;
  };
}
