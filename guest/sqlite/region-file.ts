// Runs in a guest worker, inside SQLite's synchronous VFS calls: a file that is a run of
// blocks of the guest's block device. Reads copy from the block's view straight into the
// caller's buffer (SQLite's page in the WASM heap: the one copy of a read). Writes collect
// in whole dirty blocks until `sync`, which writes them with `writeSync`: durable when it
// returns, all of them on the ring at once so they share one group commit in dom0.
import type { BlockDevice, BlockWrite } from '../block-device';

export class FileFullError extends Error {
  override name = 'FileFullError';
}

export interface RegionFileStats {
  /** Block reads served from the device (each one copy into the caller's buffer). */
  blockReads: number;
  /** Block reads served from this file's own dirty blocks. */
  dirtyHits: number;
  /** Blocks written to the device by `sync` (or to bound the dirty set). */
  blocksWritten: number;
  /** Blocks read to complete a partial-block write. */
  readModifyWrites: number;
  syncs: number;
  /** Batch-atomic commits (SQLite's BEGIN/COMMIT_ATOMIC_WRITE): each one atomic group of blocks. */
  atomicCommits: number;
  /** Atomic groups refused (SQLite then committed through its journal). */
  atomicFallbacks: number;
}

/** Bound on unsynced dirty blocks: past it they are written early (still in order of sync). */
const MAX_DIRTY_BLOCKS = 1024;

export class RegionFile {
  /** The file's logical size in bytes (what xFileSize answers). */
  size: number;
  private readonly dirty = new Map<number, Uint8Array>();
  readonly stats: RegionFileStats = { blockReads: 0, dirtyHits: 0, blocksWritten: 0, readModifyWrites: 0, syncs: 0, atomicCommits: 0, atomicFallbacks: 0 };
  /** Between beginAtomic and commit/rollback: the size to go back to; dirty blocks stay unwritten until the commit. */
  private atomicFrom: number | null = null;
  /**
   * While set, dirty blocks are never written early: the transaction they belong to is
   * committed whole (`commitAtomic`) or, after its journal is durable, by `sync`.
   */
  holdWrites = false;
  private readonly bs: number;

  constructor(
    private readonly dev: BlockDevice,
    /** First block of the region on the device. */
    readonly first: number,
    /** Blocks in the region: the file's capacity. */
    readonly blocks: number,
    size: number,
    /**
     * Block of the region written after all others in a sync, in a burst of its own: the
     * journal's header block, so a header that says "hot" never becomes durable before
     * the records it counts.
     */
    private readonly lastBlock: number | null = null,
  ) {
    this.bs = dev.blockBytes;
    this.size = size;
  }

  get capacity(): number {
    return this.blocks * this.bs;
  }

  /**
   * Copy `dst.length` bytes at `offset` into `dst`. Bytes past the logical size read as
   * zeros; returns how many bytes were inside the file.
   */
  read(dst: Uint8Array, offset: number): number {
    const inside = Math.max(0, Math.min(dst.length, this.size - offset));
    if (inside < dst.length) dst.fill(0, inside);
    let done = 0;
    while (done < inside) {
      const pos = offset + done;
      const b = Math.floor(pos / this.bs);
      const at = pos - b * this.bs;
      const n = Math.min(this.bs - at, inside - done);
      const own = this.dirty.get(b);
      if (own) {
        this.stats.dirtyHits++;
        dst.set(own.subarray(at, at + n), done);
      } else {
        this.stats.blockReads++;
        // try/finally, not `using`: the build lowers `using` to ES2022 for WebKit, and the
        // lowered form's helper costs more than the read itself on this, xRead's, path
        // (bench: read_hit_cached_using_ns against read_hit_cached_ns).
        const view = this.dev.readSync(this.first + b);
        try {
          dst.set(view.bytes.subarray(at, at + n), done);
        } finally {
          view.release();
        }
      }
      done += n;
    }
    return inside;
  }

  /** Write `src` at `offset`; the file grows to cover it. Throws FileFullError past the region. */
  write(src: Uint8Array, offset: number): void {
    if (offset + src.length > this.capacity) {
      throw new FileFullError(`write of ${src.length} bytes at ${offset} is past the region's ${this.capacity} bytes`);
    }
    let done = 0;
    while (done < src.length) {
      const pos = offset + done;
      const b = Math.floor(pos / this.bs);
      const at = pos - b * this.bs;
      const n = Math.min(this.bs - at, src.length - done);
      let block = this.dirty.get(b);
      if (!block) {
        block = new Uint8Array(this.bs);
        // A partial write keeps the rest of the block: what the file holds there, if anything.
        if (n < this.bs && b * this.bs < this.size) {
          this.stats.readModifyWrites++;
          using view = this.dev.readSync(this.first + b);
          block.set(view.bytes);
        }
        this.dirty.set(b, block);
      }
      block.set(src.subarray(done, done + n), at);
      done += n;
    }
    this.size = Math.max(this.size, offset + src.length);
    // Not inside an atomic group: writing part of it early would make that part durable alone.
    if (this.dirty.size > MAX_DIRTY_BLOCKS && this.atomicFrom === null && !this.holdWrites) this.sync();
  }

  /** Set the logical size. Dirty blocks wholly past it are dropped; a partial tail is zeroed. */
  truncate(size: number): void {
    for (const [b, block] of this.dirty) {
      if (b * this.bs >= size) this.dirty.delete(b);
      else if ((b + 1) * this.bs > size) block.fill(0, size - b * this.bs);
    }
    this.size = size;
  }

  /** Forget unsynced writes (the file was deleted). */
  discard(): void {
    this.dirty.clear();
  }

  /** Make every write so far durable. */
  sync(): void {
    this.stats.syncs++;
    const order = [...this.dirty.keys()].sort((a, b) => a - b);
    const last = this.lastBlock !== null && this.dirty.has(this.lastBlock) ? this.lastBlock : null;
    const writes: BlockWrite[] = [];
    for (const b of order) if (b !== last) writes.push({ lba: this.first + b, bytes: this.dirty.get(b)! });
    if (writes.length > 0) this.dev.writeSync(writes);
    if (last !== null) this.dev.writeSync([{ lba: this.first + last, bytes: this.dirty.get(last)! }]);
    this.stats.blocksWritten += writes.length + (last !== null ? 1 : 0);
    this.dirty.clear();
  }

  /** SQLite's BEGIN_ATOMIC_WRITE: the writes until the commit become one atomic group. */
  beginAtomic(): void {
    this.atomicFrom = this.size;
  }

  /**
   * SQLite's COMMIT_ATOMIC_WRITE: every dirty block durable at once, or none (on a throw
   * the dirty blocks stay, for `rollbackAtomic`).
   */
  commitAtomic(): void {
    const order = [...this.dirty.keys()].sort((a, b) => a - b);
    try {
      this.dev.writeAtomicSync(order.map((b) => ({ lba: this.first + b, bytes: this.dirty.get(b)! })));
    } catch (err) {
      this.stats.atomicFallbacks++;
      throw err;
    }
    this.stats.atomicCommits++;
    this.stats.blocksWritten += order.length;
    this.dirty.clear();
    this.atomicFrom = null;
  }

  /** SQLite's ROLLBACK_ATOMIC_WRITE: forget the group's writes and size. */
  rollbackAtomic(): void {
    if (this.atomicFrom === null) return;
    this.dirty.clear();
    this.size = this.atomicFrom;
    this.atomicFrom = null;
  }

  /** Durably zero block `b` of the region (a hole in the pool) and forget its dirty copy. */
  zeroBlock(b: number): void {
    this.dirty.delete(b);
    this.dev.writeSync([{ lba: this.first + b, bytes: new Uint8Array(this.bs) }]);
    this.stats.blocksWritten++;
  }

  get dirtyBlocks(): number {
    return this.dirty.size;
  }

  get dirtyBytes(): number {
    return this.dirty.size * this.bs;
  }
}
