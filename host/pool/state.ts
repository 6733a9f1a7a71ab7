// Runs wherever the pool runs. The pool's whole metadata in memory: superblock, datasets,
// tree nodes, chunk map, metaslab accounting and the dedup index, each a StagedMap (base
// = last commit, overlay = the open transaction group), plus the data records the open
// group has written. Loaded wholly at open: the chunk map and the trees are small next to
// the data (a 64 MiB volume of 64 KiB blocks is 1,024 chunks and 4 leaf nodes).
import { StagedMap } from './staged-map';
import { toHex } from './hash';
import { EXTENT_BYTES, EXTENT_CHUNKS, type ChunkRecord, type DatasetRecord, type MetaslabRecord, type NodeRecord, type PhysKey, type SuperRecord } from './schema';

/** One chunk's bytes in a staged extent. */
export interface StagedPart {
  /** The chunk's address in the extent's metaslab. */
  offset: number;
  /** A view: see write-path.ts. */
  bytes: Uint8Array;
  /**
   * Set for lent bytes (write-path.ts prepareBlocks): the read checksum they were staged
   * with, which the commit checks them against. The pool's own bytes have none here.
   */
  check?: Uint8Array;
}

/**
 * A data record (an extent, schema.ts) written or freed in the open transaction group.
 * Written: the chunks it holds, back to back from the key's offset (a chunk freed in the
 * same group keeps its place; its bytes are written, dead). Freed: `parts` null.
 */
export interface StagedData {
  key: PhysKey;
  parts: StagedPart[] | null;
  /** Bytes of the record: from its first byte to the end of its last part. */
  bytes: number;
}

export function physKeyString(metaslab: number, offset: number): string {
  return `${metaslab}:${offset}`;
}

/** The dedup index's key of content with read checksum `check` in trust group `group`. */
export function dedupKey(group: string, check: Uint8Array): string {
  return `${group}\u0000${toHex(check)}`;
}

const copyNode = (n: NodeRecord): NodeRecord => ({ ...n, ptrs: n.ptrs.slice() });
const copyChunk = (c: ChunkRecord): ChunkRecord => ({ ...c });
const copyMetaslab = (m: MetaslabRecord): MetaslabRecord => ({ ...m });
const copyDataset = (d: DatasetRecord): DatasetRecord => ({ ...d });

export class PoolState {
  private superCommitted: SuperRecord;
  private superStaged: SuperRecord | null = null;
  readonly datasets = new StagedMap<number, DatasetRecord>();
  readonly nodes = new StagedMap<number, NodeRecord>();
  readonly chunks = new StagedMap<number, ChunkRecord>();
  readonly metaslabs = new StagedMap<number, MetaslabRecord>();
  /**
   * (group, read checksum) → chunk id: a candidate, whose bytes a write compares with its
   * own before referencing it (write-path.ts). Derived from the chunk map, never stored.
   */
  readonly dedup = new StagedMap<string, number>();
  /** Data records of the open group, by physKeyString of the extent's key. */
  readonly data = new Map<string, StagedData>();
  /**
   * Live chunks per extent (data record), by physKeyString of its key. Derived from the
   * chunk map at open (`loadChunk`), never stored: the record goes when its count does.
   */
  readonly extents = new StagedMap<string, number>();
  /**
   * The extent the open group appends new chunks to while they are allocated back to back
   * (one metaslab, contiguous addresses, under `extentBytes` and EXTENT_CHUNKS). Never spans groups.
   */
  private openExtent: { key: string; staged: StagedData } | null = null;
  /** Most bytes of one extent (Pool.open's `extentBytes`); a chunk larger than it is an extent alone. */
  extentBytes = EXTENT_BYTES;
  /**
   * Name → the dataset id it last resolved to (findDataset): a hint, re-checked on every use
   * against the live record, so it needs no upkeep when datasets change or a group rolls back.
   */
  readonly nameHints = new Map<string, number>();
  /**
   * The lowest chunk id this process may hand out: ids of a discarded group are not handed
   * out again. dom0 keys its frames by chunk id and may have read a staged chunk (a guest
   * reading its write while the commit runs); after a failed commit the next chunk got the
   * same id, and the frame served the discarded bytes for it (review of 2026-12-01). Memory
   * only: frames do not outlive the process, and on disk the ids simply skip.
   */
  private chunkIdFloor = 0;
  /**
   * The same for dataset ids: an import or a restore holds its volume by id across awaits
   * and completes or undoes it by that id; after another caller's failed commit dropped
   * the group that made the volume, the next new dataset got the same id, and the import
   * wrote its blocks into that dataset or, undone, destroyed it (attack review of
   * 2026-12-03).
   */
  private datasetIdFloor = 0;

  /** The next dataset id: never one of a discarded group's. */
  newDatasetId(): number {
    const sup = this.mutSup();
    const id = Math.max(sup.nextDatasetId, this.datasetIdFloor);
    sup.nextDatasetId = id + 1;
    return id;
  }

  constructor(sup: SuperRecord) {
    this.superCommitted = sup;
  }

  get sup(): Readonly<SuperRecord> {
    return this.superStaged ?? this.superCommitted;
  }

  mutSup(): SuperRecord {
    this.superStaged ??= { ...this.superCommitted };
    return this.superStaged;
  }

  /** Txg the open group will get when committed. */
  get openTxg(): number {
    return this.superCommitted.txg + 1;
  }

  get committedTxg(): number {
    return this.superCommitted.txg;
  }

  get isDirty(): boolean {
    return (
      this.superStaged !== null ||
      this.datasets.dirtyCount > 0 ||
      this.nodes.dirtyCount > 0 ||
      this.chunks.dirtyCount > 0 ||
      this.metaslabs.dirtyCount > 0 ||
      this.data.size > 0
    );
  }

  mutNode(id: number): NodeRecord {
    const n = this.nodes.mut(id, copyNode);
    if (!n) throw new Error(`pool invariant broken: tree node ${id} missing`);
    return n;
  }

  mutChunk(id: number): ChunkRecord {
    const c = this.chunks.mut(id, copyChunk);
    if (!c) throw new Error(`pool invariant broken: chunk ${id} missing`);
    return c;
  }

  mutDataset(id: number): DatasetRecord {
    const d = this.datasets.mut(id, copyDataset);
    if (!d) throw new Error(`pool invariant broken: dataset ${id} missing`);
    return d;
  }

  // --- allocation (metaslabs) ----------------------------------------------------------

  /**
   * Hand out `size` bytes of physical address space. Append-only inside the current
   * metaslab, moving to a fresh one when it is full. Freed addresses are never reused: the
   * record is deleted, so only key space is spent (docs/pool.md, "Metaslabs").
   */
  allocate(size: number): { metaslab: number; offset: number } {
    const sup = this.mutSup();
    let ms = this.metaslabs.mut(sup.allocMetaslab, copyMetaslab);
    if (ms && ms.allocatedBytes + size > ms.sizeBytes) {
      sup.allocMetaslab++;
      ms = undefined;
    }
    if (!ms) {
      ms = { id: sup.allocMetaslab, sizeBytes: sup.metaslabBytes, allocatedBytes: 0, liveBytes: 0, liveChunks: 0 };
      this.metaslabs.set(ms.id, ms);
    }
    const offset = ms.allocatedBytes;
    ms.allocatedBytes += size;
    ms.liveBytes += size;
    ms.liveChunks++;
    return { metaslab: ms.id, offset };
  }

  private release(metaslab: number, size: number): void {
    const ms = this.metaslabs.mut(metaslab, copyMetaslab);
    if (!ms) throw new Error(`pool invariant broken: metaslab ${metaslab} missing`);
    ms.liveBytes -= size;
    ms.liveChunks--;
  }

  // --- chunk map -------------------------------------------------------------------------

  /**
   * Store new bytes as a chunk with refcount 0 (the caller increfs from a leaf slot).
   * `lent`: the bytes are a caller's, to be checked against `check` at the commit.
   */
  newChunk(group: string, check: Uint8Array, bytes: Uint8Array, lent: boolean): ChunkRecord {
    const sup = this.mutSup();
    const id = Math.max(sup.nextChunkId, this.chunkIdFloor);
    sup.nextChunkId = id + 1;
    const { metaslab, offset, extent } = this.place(bytes, lent ? check : undefined);
    const c: ChunkRecord = { id, hash: null, check, metaslab, offset, extent, size: bytes.byteLength, refcount: 0, birthTxg: this.openTxg, group };
    this.chunks.set(id, c);
    const dk = dedupKey(group, check);
    if (!this.dedup.has(dk)) this.dedup.set(dk, id);
    return c;
  }

  /**
   * Allocate an address for `bytes` and stage them in the open group's extent: the open
   * extent takes them if it is still staged (every chunk of it may have been freed again),
   * they follow its last byte, and the record stays in bounds; else they start a new one.
   * `check`: lent bytes, checked against it at the commit (StagedPart).
   */
  private place(bytes: Uint8Array, check: Uint8Array | undefined): { metaslab: number; offset: number; extent: number } {
    const size = bytes.byteLength;
    const { metaslab, offset } = this.allocate(size);
    let ext = this.openExtent;
    if (
      !ext ||
      this.data.get(ext.key) !== ext.staged ||
      ext.staged.key[0] !== metaslab ||
      ext.staged.key[1] + ext.staged.bytes !== offset ||
      ext.staged.bytes + size > this.extentBytes ||
      ext.staged.parts!.length >= EXTENT_CHUNKS
    ) {
      ext = { key: physKeyString(metaslab, offset), staged: { key: [metaslab, offset], parts: [], bytes: 0 } };
      this.data.set(ext.key, ext.staged);
      this.openExtent = ext;
    }
    ext.staged.parts!.push({ offset, bytes, ...(check ? { check } : {}) });
    ext.staged.bytes += size;
    this.extents.set(ext.key, (this.extents.get(ext.key) ?? 0) + 1);
    return { metaslab, offset, extent: ext.staged.key[1] };
  }

  /**
   * The cleaner's move (compact.ts): committed chunk `id` gets a new address in the open
   * group's extents, holding `bytes`, its verified bytes. Everything else about it stays:
   * its id (so no tree node, dedup entry or dom0 frame changes), refcount, checksums and
   * birth txg (its content's age). Its old extent loses a live chunk, and its record goes
   * with the last one. Only the chunk-map page changes on disk besides the records.
   */
  moveChunk(id: number, bytes: Uint8Array): void {
    const old = this.chunks.get(id);
    if (!old) throw new Error(`pool invariant broken: chunk ${id} to move is missing`);
    if (bytes.byteLength !== old.size) throw new Error(`pool invariant broken: chunk ${id} is ${old.size} bytes, moved with ${bytes.byteLength}`);
    // Checked again at the commit against its read checksum: `bytes` are a view of a record
    // buffer that a reader was handed too.
    const at = this.place(bytes, old.check ?? undefined);
    this.release(old.metaslab, old.size);
    this.leaveExtent(old.metaslab, old.extent);
    Object.assign(this.mutChunk(id), at);
  }

  /** One live chunk fewer in an extent: at none its record goes. */
  private leaveExtent(metaslab: number, extent: number): void {
    const ek = physKeyString(metaslab, extent);
    const live = (this.extents.get(ek) ?? 0) - 1;
    if (live > 0) {
      this.extents.set(ek, live);
      return;
    }
    this.extents.delete(ek);
    // A record staged with its bytes in this group never reached the disk (extents never
    // span groups, and a record's key is never used again): it is just not written.
    if (this.data.get(ek)?.parts) this.data.delete(ek);
    else this.data.set(ek, { key: [metaslab, extent], parts: null, bytes: 0 });
  }

  /** Fill the committed chunk map at open, counting each chunk in its extent. */
  loadChunk(c: ChunkRecord): void {
    this.chunks.load(c.id, c);
    const ek = physKeyString(c.metaslab, c.extent);
    this.extents.load(ek, (this.extents.get(ek) ?? 0) + 1);
  }

  /** The staged bytes of chunk `c`, if the open group wrote it (a view). */
  stagedBytes(c: ChunkRecord): Uint8Array | undefined {
    return this.data.get(physKeyString(c.metaslab, c.extent))?.parts?.find((p) => p.offset === c.offset)?.bytes;
  }

  /**
   * Record the SHA-256 of a chunk that has none (computed from its verified bytes). False
   * when the chunk is gone or already has one: a chunk's bytes never change, so neither
   * does its hash.
   */
  noteChunkHash(id: number, hash: Uint8Array): boolean {
    const c = this.chunks.get(id);
    if (!c || c.hash) return false;
    this.mutChunk(id).hash = hash;
    return true;
  }

  increfChunk(id: number): void {
    this.mutChunk(id).refcount++;
  }

  /** Drop one reference; at zero the chunk, its data record and its dedup entry go. */
  decrefChunk(id: number): void {
    const c = this.mutChunk(id);
    if (--c.refcount > 0) return;
    this.chunks.delete(id);
    this.release(c.metaslab, c.size);
    this.leaveExtent(c.metaslab, c.extent);
    if (!c.check) return; // format 1: never indexed
    const dk = dedupKey(c.group, c.check);
    if (this.dedup.get(dk) === id) this.dedup.delete(dk);
  }

  // --- tree nodes ------------------------------------------------------------------------

  newNode(level: number): NodeRecord {
    const sup = this.mutSup();
    const n: NodeRecord = { id: sup.nextNodeId++, level, refcount: 1, birthTxg: this.openTxg, ptrs: new Uint32Array(256) };
    this.nodes.set(n.id, n);
    return n;
  }

  increfNode(id: number): void {
    this.mutNode(id).refcount++;
  }

  /** Drop one reference; at zero the node goes and drops its references to its children. */
  decrefNode(id: number): void {
    const n = this.mutNode(id);
    if (--n.refcount > 0) return;
    this.nodes.delete(id);
    for (const child of n.ptrs) {
      if (child === 0) continue;
      if (n.level === 0) this.decrefChunk(child);
      else this.decrefNode(child);
    }
  }

  // --- transaction group boundaries ---------------------------------------------------

  /** After a successful commit of the open group as `txg`. */
  applyCommitted(txg: number): void {
    const sup = this.mutSup();
    sup.txg = txg;
    this.superCommitted = sup;
    this.superStaged = null;
    this.datasets.apply();
    this.nodes.apply();
    this.chunks.apply();
    this.metaslabs.apply();
    this.dedup.apply();
    this.extents.apply();
    this.data.clear();
    this.openExtent = null;
  }

  /** Back to the last commit. */
  discard(): void {
    this.chunkIdFloor = Math.max(this.chunkIdFloor, this.sup.nextChunkId);
    this.datasetIdFloor = Math.max(this.datasetIdFloor, this.sup.nextDatasetId);
    this.superStaged = null;
    this.datasets.discard();
    this.nodes.discard();
    this.chunks.discard();
    this.metaslabs.discard();
    this.dedup.discard();
    this.extents.discard();
    this.data.clear();
    this.openExtent = null;
  }
}
