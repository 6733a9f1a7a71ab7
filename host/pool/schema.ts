// Runs wherever the pool runs. The on-disk format, declared once: record shapes, the
// idb DBSchema, the version and the upgrade steps. Nothing else in the pool names an
// object store by string literal without going through this type, so a store or field
// renamed here is a compile error everywhere it is used.
import type { DBSchema, IDBPDatabase } from 'idb';

/** IndexedDB version of the schema below. Bump it and add a step to `upgrade`. */
export const DB_VERSION = 1;
/**
 * Version of the record formats, kept in the superblock; refuse to open newer pools.
 * 2: chunk-map pages carry a 128-bit read checksum per chunk (`check`, `hasCheck`).
 *    A format-1 pool opens and is upgraded in place, lazily: its chunks have no read
 *    checksum and are verified by their SHA-256 until they are rewritten; chunks written
 *    from then on get one; the first commit records format 2 (code that knows only
 *    format 1 then refuses the pool).
 * 3: a chunk's SHA-256 is optional (`hasHash`): the dedup key is the read checksum, and a
 *    match is confirmed by comparing bytes (write-path.ts), so writes no longer hash. The
 *    SHA-256 is computed by the archive when it first stores the chunk, and the pool
 *    keeps it from then on (`Pool.hashChunks`). A format-2 pool opens as it is (all
 *    its chunks have both); the first commit records format 3, which format-2 code
 *    refuses.
 * 4: a data record is an extent: the bytes of one or more chunks that a commit allocated
 *    back to back, up to the pool's `extentBytes` (default EXTENT_BYTES) and EXTENT_CHUNKS
 *    chunks, keyed by the address of its first byte; each chunk records the extent that
 *    holds it (`extent`, the chunk-map column of that name). IndexedDB's cost is per record
 *    (a value of over 64 KiB is a file of its own in Chromium), so four 64 KiB blocks in one
 *    record put about 2.3× faster than four records (docs/pool.md, "Extents"). A
 *    record is deleted when its last live chunk goes. A format-3 pool opens as it is
 *    (every chunk its own record: `extent` absent means `offset`); the first commit
 *    records format 4, which format-3 code refuses.
 */
export const FORMAT_VERSION = 4;
/**
 * The most bytes of chunks one data record (an extent) holds unless the pool is opened with
 * another `extentBytes`. A record is read whole, so its size trades writes against cold
 * reads of one block. Raw IndexedDB on disk, 64 MiB in records of 64 KiB, 128, 256, 512 KiB
 * and 1 MiB (docs/pool.md, "Extents"): the puts took 753, 477, 324, 256 and 221 ms; one
 * record fetched for one block 0.92, 1.13, 1.53, 2.20 and 4.04 ms. 256 KiB: puts 2.3× faster
 * than a record per 64 KiB block, a lone block's cold read 1.7× slower; a sequential reader
 * is served the record's other blocks from the pool's record cache (reader.ts RecordCache).
 */
export const EXTENT_BYTES = 256 * 1024;
/**
 * The most chunks one extent holds, whatever their size: with 4 KiB blocks (a SQLite
 * volume) a record is at most 64 KiB, so a lone page's cold read fetches at most 64 KiB
 * (0.92 ms on raw IndexedDB; a 4 KiB record was not measured against it), while a commit
 * of sixty pages writes four records instead of sixty.
 */
export const EXTENT_CHUNKS = 16;
/** Bytes of a chunk's read checksum (hash.ts `chunkChecksum`). */
export const CHECK_BYTES = 16;

/** Physical address of a data record: metaslab id and byte offset inside that metaslab. */
export type PhysKey = [metaslab: number, offset: number];

/** The single superblock, key 'super' in store `meta`; rewritten by every commit. */
export interface SuperRecord {
  formatVersion: number;
  /** Last committed transaction group. 0 = a freshly formatted pool. */
  txg: number;
  nextChunkId: number;
  nextNodeId: number;
  nextDatasetId: number;
  /** Size of every metaslab in bytes (fixed when the pool is formatted). */
  metaslabBytes: number;
  /** Metaslab currently being appended to. */
  allocMetaslab: number;
}

/**
 * Key 'lost' in store `meta`: this database was created again after the pool's data was
 * deleted, and every open refuses until the user accepts the loss. Either the browser said
 * so (`source` absent or 'browser': Chromium's `dataLoss: 'total'` on the upgradeneeded
 * event, e.g. after finding the backing store damaged; written in that same upgrade), or
 * the pool registry (registry.ts) still recorded the pool when its database was found
 * created from nothing (`source: 'registry'`; written before the open refuses).
 */
export interface LossRecord {
  /** Who noticed: the browser's own report, or the pool registry. */
  source?: 'browser' | 'registry';
  dataLoss: string;
  message: string;
  /** Date.now() of the open that saw the report. */
  at: number;
}

export const DATASET_KINDS = { volume: 'volume', snapshot: 'snapshot', clone: 'clone' } as const;
export type DatasetKind = (typeof DATASET_KINDS)[keyof typeof DATASET_KINDS];

export interface DatasetRecord {
  id: number;
  name: string;
  kind: DatasetKind;
  sizeBytes: number;
  /** Logical block size in bytes, a power of two in [4 KiB, 1 MiB]. */
  blockSize: number;
  /** Trust group: dedup and frame sharing never cross it (ARCHITECTURE invariant 3). */
  group: string;
  /** Root tree node id, 0 = the whole volume is a hole. */
  root: number;
  /** Tree height: number of node levels (leaves are level 0, the root is level `levels - 1`). */
  levels: number;
  /** Snapshot: the dataset it was taken of. Clone: the snapshot it came from. */
  originId: number | null;
  originName: string | null;
  createdTxg: number;
  /**
   * Set while an import or restore is filling the volume: it has no name to anyone but
   * the importer (found only by id), and the next open of the pool destroys it. Cleared
   * in the commit that writes its last block, so a volume appears under its name only
   * when complete.
   */
  incomplete?: true;
}

/**
 * A copy-on-write tree node. Leaves (level 0) hold chunk ids, interior nodes hold child
 * node ids; 0 means hole. `refcount` counts parents: dataset roots plus interior slots.
 */
export interface NodeRecord {
  id: number;
  level: number;
  refcount: number;
  birthTxg: number;
  ptrs: Uint32Array;
}

/**
 * One entry of the chunk map (seed 004's hash map between chunk ids and hashes). Tree
 * leaves point at chunk ids, never at physical addresses, so a cleaner that moves the
 * bytes rewrites only this record.
 */
export interface ChunkRecord {
  id: number;
  /**
   * SHA-256 of the bytes, the archive's content address; null until first computed
   * (format 3 writes chunks without it; the archive computes it, Pool.hashChunks keeps
   * it). Never null when `check` is.
   */
  hash: Uint8Array | null;
  /**
   * The read checksum (hash.ts `chunkChecksum`, CHECK_BYTES), verified on every read and
   * the dedup key (with the group; a match is confirmed by comparing bytes); null for a
   * chunk written by format 1, which reads verify by `hash` instead and dedup never matches.
   */
  check: Uint8Array | null;
  metaslab: number;
  offset: number;
  size: number;
  /**
   * Offset (in the same metaslab) of the data record that holds the bytes, an extent: the
   * chunk's bytes are at `offset - extent` in it (format 4). Equal to `offset` for a chunk
   * that is a record of its own, as every chunk of a format ≤ 3 pool is.
   */
  extent: number;
  /** Number of leaf slots (across all tree nodes) that point at this chunk. */
  refcount: number;
  birthTxg: number;
  /** Trust group whose write stored it; dedup lookups are keyed by (group, check). */
  group: string;
}

/**
 * How the chunk map is stored: pages of CHUNK_PAGE_SLOTS consecutive chunk ids, columnar
 * (chunk-map-page.ts). One record per page instead of one per chunk: a 64 MiB import of
 * 64 KiB blocks writes 4 chunk-map records, not 1,024. A cleaner that relocates a chunk
 * still rewrites only the page that holds its entry, never a tree.
 */
export interface ChunkPageRecord {
  /** chunkId = page * CHUNK_PAGE_SLOTS + slot */
  page: number;
  /** Trust group per slot; null = free slot. */
  group: (string | null)[];
  /** SHA-256 per slot, 32 bytes each (zeros where `hasHash` is 0). */
  hash: Uint8Array;
  /** 1 where the slot's `hash` is set (format ≥ 3; absent in older pages, whose chunks all have one). */
  hasHash?: Uint8Array;
  /** Read checksum per slot, CHECK_BYTES each (format ≥ 2; absent in format-1 pages). */
  check?: Uint8Array;
  /** 1 where the slot's `check` is set, 0 for a chunk written by format 1 (format ≥ 2). */
  hasCheck?: Uint8Array;
  metaslab: Uint32Array;
  /** Float64: offsets may pass 2^32 in a large metaslab. */
  offset: Float64Array;
  /** The extent (data record) holding each slot's bytes (format ≥ 4; absent in older pages: every chunk is its own record). */
  extent?: Float64Array;
  size: Uint32Array;
  refcount: Uint32Array;
  birthTxg: Float64Array;
}

/** Per-metaslab accounting, read by a later segment cleaner. */
export interface MetaslabRecord {
  id: number;
  sizeBytes: number;
  /** Append cursor: bytes of address space handed out so far. */
  allocatedBytes: number;
  /** Bytes of chunks still referenced. allocatedBytes - liveBytes is garbage to clean. */
  liveBytes: number;
  liveChunks: number;
}

export interface PoolDB extends DBSchema {
  meta: { key: 'super' | 'lost'; value: SuperRecord | LossRecord };
  datasets: { key: number; value: DatasetRecord };
  nodes: { key: number; value: NodeRecord };
  /** The chunk map, in pages. The (group, check) dedup index is derived from it at open. */
  chunkmap: { key: number; value: ChunkPageRecord };
  metaslabs: { key: number; value: MetaslabRecord };
  /**
   * The block bytes in extents: one ArrayBuffer per extent (one or more chunks back to back),
   * keyed by the physical address of its first byte.
   */
  data: { key: PhysKey; value: ArrayBuffer };
}

export type PoolStoreName = 'meta' | 'datasets' | 'nodes' | 'chunkmap' | 'metaslabs' | 'data';

/** Versioned upgrade steps; each `if` brings a database from version n-1 to n. */
export function upgrade(db: IDBPDatabase<PoolDB>, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('meta');
    db.createObjectStore('datasets', { keyPath: 'id' });
    db.createObjectStore('nodes', { keyPath: 'id' });
    db.createObjectStore('chunkmap', { keyPath: 'page' });
    db.createObjectStore('metaslabs', { keyPath: 'id' });
    // Out-of-line array keys [metaslab, offset]: a key range over one metaslab is a
    // sequential run of the physical address space, read by one getAll (read-ahead).
    db.createObjectStore('data');
  }
}
