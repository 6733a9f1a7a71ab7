// Runs wherever the pool runs (Blob/File slicing works in windows and workers). Streams
// a disk image into a new volume in bounded memory and back out as a Blob.
//
// Import pipeline: while slice k is being committed, slice k+1 is read from the source and
// checksummed, so IndexedDB and the Blob reader overlap. Memory in flight is about two
// slices (and the committing transaction's buffers). A Blob's slice is read with
// arrayBuffer(), a fresh buffer each (a byte stream's BYOB reader into two buffers used in
// turn was tried and taken out: docs/pool.md, "What limits the pool"); nothing else holds
// it, so its commit does not checksum it again. An ArrayBuffer's slice is viewed in place,
// lent by the caller, and checked again as its commit copies it out (write-path.ts
// prepareBlocks). A copy of our own would spare that check (about
// 4 ms per 16 MiB) but its buffer's first touch costs more (about 9 ms per 16 MiB of page
// faults here; an import of 64 MiB ran about 8 % slower with two such buffers used in
// turn, docs/pool.md). A caller that does not need its buffer back hands it over instead
// (`transfer`): the buffer is moved to the pool without a copy, and its slices are the
// pool's own like a Blob's.
import { InvalidArgumentError } from '../../shared/errors/pool-errors';
import { isArrayBuffer, isSharedArrayBuffer } from '../../shared/buffer-kind';
import type { CreateVolumeOptions, DatasetInfo, DatasetRef } from './types';
import { DEFAULT_BLOCK_BYTES } from './tree-math';
import { prepareBlocks, type PreparedBlocks } from './write-path';

/** What streaming needs of the pool (Pool implements it; declared here so the two files do not import each other). */
export interface VolumeStore {
  beginVolume(name: string, opts: CreateVolumeOptions): Promise<DatasetInfo>;
  /** Resolves to the group it is staged in (Pool.commit's `groups`). */
  completeVolume(id: number): Promise<number>;
  /** Resolves to the group they are staged in (Pool.commit's `groups`). */
  stagePreparedBlocks(id: number, firstLba: number, prepared: PreparedBlocks): Promise<number>;
  commit(opts?: { groups?: readonly number[] }): Promise<number>;
  info(ds: DatasetRef): DatasetInfo;
  list(): DatasetInfo[];
  /** Whether dataset `id` exists (complete or not). */
  has(id: number): boolean;
  destroy(ds: DatasetRef): Promise<unknown>;
  readBlocks(ds: DatasetRef, lbas: number[]): Promise<Uint8Array[]>;
}

export interface ImportOptions {
  /** Name of the new volume. */
  name: string;
  blockSize?: number;
  group?: string;
  /** Volume size; default the source's size. Must be ≥ the source's size. */
  sizeBytes?: number;
  /** Commit after about this many bytes (rounded to whole blocks). Default 16 MiB. */
  commitEveryBytes?: number;
  /**
   * Take an ArrayBuffer source over instead of borrowing it. It is transferred to the pool
   * (`ArrayBuffer.prototype.transfer`: no copy) once the import has created its volume, and
   * the caller's buffer is detached (byteLength 0) from then on, as after postMessage with a
   * transfer list. Nothing else can then change its bytes, and each block is checksummed
   * once instead of twice (a borrowed buffer's blocks are checked again at their commit).
   * An import refused before it starts (bad options, a name in use) leaves the caller its
   * buffer; one that fails later leaves nothing of it, so keep a copy or a Blob to retry.
   * Nothing to do for a Blob (immutable already); refused for a SharedArrayBuffer, which
   * cannot be transferred.
   */
  transfer?: boolean;
}
// An ArrayBuffer source that is not transferred is borrowed: read in place, not copied, so
// it must not change until the import resolves. A block changed after it was checksummed
// fails the commit of its slice (CommitError caused by InvalidArgumentError) and the import
// is undone. A SharedArrayBuffer is copied, a slice at a time as the import reaches it.

export interface ImportProgress {
  /** Bytes of the source committed so far. */
  bytesDone: number;
  bytesTotal: number;
  txg: number;
}

export const DEFAULT_COMMIT_EVERY_BYTES = 16 * 1024 * 1024;

/** Bytes [start, end) of a Blob, in a buffer of our own. */
async function readSlice(blob: Blob, start: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = new Uint8Array(await blob.slice(start, end).arrayBuffer());
  if (bytes.length !== end - start) throw new InvalidArgumentError(`the source ended after ${start + bytes.length} of ${end} bytes: it changed while it was read`);
  return bytes;
}

/** `buf`'s contents moved into a new ArrayBuffer, `buf` detached (no copy). */
function transferred(buf: ArrayBuffer): ArrayBuffer {
  // structuredClone with a transfer list does the same where transfer() is missing (Safari < 17.4).
  return typeof buf.transfer === 'function' ? buf.transfer() : structuredClone(buf, { transfer: [buf] });
}

function afterMacrotask<T>(f: () => Promise<T>): Promise<T> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0)).then(f);
}

export async function importVolume(
  pool: VolumeStore,
  source: Blob | ArrayBuffer,
  opts: ImportOptions,
  onProgress?: (p: ImportProgress) => void,
): Promise<DatasetInfo> {
  // Only a Blob or a whole ArrayBuffer. A typed array would pass `byteLength`, but
  // `new Uint8Array(view, start, n)` copies the whole view and ignores start and n, so
  // every slice would be the source's first bytes: a silently wrong volume.
  // By tag, not instanceof: a Blob or an ArrayBuffer made in another realm (a frame) is still one.
  const tag = Object.prototype.toString.call(source);
  const blob = source instanceof Blob || tag === '[object Blob]' || tag === '[object File]';
  if (!blob && !isArrayBuffer(source) && !isSharedArrayBuffer(source)) {
    const what = ArrayBuffer.isView(source) ? `a ${(source as ArrayBufferView).constructor.name} (wrap it: new Blob([view]))` : typeof source;
    throw new InvalidArgumentError(`an import source must be a Blob, a File or an ArrayBuffer, got ${what}`);
  }
  if (isArrayBuffer(source) && source.detached === true) {
    throw new InvalidArgumentError('the ArrayBuffer source is detached (transferred away already): it has no bytes to import');
  }
  if (opts.transfer === true && isSharedArrayBuffer(source)) {
    throw new InvalidArgumentError('a SharedArrayBuffer cannot be transferred: import it without `transfer` (it is then copied a slice at a time)');
  }
  const own = opts.transfer === true && isArrayBuffer(source);
  const total = blob ? (source as Blob).size : (source as ArrayBuffer).byteLength;
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_BYTES;
  const sizeBytes = opts.sizeBytes ?? total;
  if (total === 0) throw new InvalidArgumentError('cannot import an empty source: a volume has at least one byte');
  if (sizeBytes < total) throw new InvalidArgumentError(`sizeBytes ${sizeBytes} is smaller than the source (${total} bytes)`);
  if (opts.commitEveryBytes !== undefined && !(opts.commitEveryBytes > 0)) {
    // NaN would make every slice empty: refused here rather than as a puzzling 0-byte write.
    throw new InvalidArgumentError(`commitEveryBytes must be a positive number, got ${opts.commitEveryBytes}`);
  }
  const step = Math.max(blockSize, Math.floor((opts.commitEveryBytes ?? DEFAULT_COMMIT_EVERY_BYTES) / blockSize) * blockSize);
  // Incomplete until the commit of the last slice: a crash before it leaves no volume under
  // this name, and the next open frees what earlier slices committed.
  const info = await pool.beginVolume(opts.name, { sizeBytes, blockSize, ...(opts.group !== undefined ? { group: opts.group } : {}) });
  let data: Blob | ArrayBuffer = source;

  const prepare = async (start: number): Promise<PreparedBlocks> => {
    const end = Math.min(total, start + step);
    const bytes = blob ? await readSlice(data as Blob, start, end) : new Uint8Array(data as ArrayBuffer, start, end - start);
    // A Blob's slice is read into a buffer of our own, a transferred ArrayBuffer is ours; a
    // borrowed one is the caller's, and the import holds views of it until each slice
    // commits (see ImportOptions).
    const p = prepareBlocks(bytes, blockSize, { owned: true, private: blob || own });
    // A source that ends inside a block of a larger volume (sizeBytes > total): its last
    // block is zero-padded by prepareBlocks; stage it as the whole block (or up to the
    // volume's end), since the pool accepts a partial block only at the volume's end.
    if (end === total && total % blockSize !== 0) p.bytes = Math.min(p.blocks.length * blockSize, sizeBytes - start);
    return p;
  };

  try {
    if (own) {
      // Taken only now: an import refused before it started (a name in use, a bad block
      // size) leaves the caller its buffer. Checked again: the caller had it until now.
      const buf = source as ArrayBuffer;
      if (buf.detached === true || buf.byteLength !== total) {
        throw new InvalidArgumentError(`the ArrayBuffer source changed before the import took it over (${buf.detached === true ? 'detached' : `${buf.byteLength} bytes, not ${total}`})`);
      }
      data = transferred(buf);
    }
    let p: PreparedBlocks | null = await prepare(0);
    for (let start = 0; p; start += step) {
      // The groups the slice (and the end) were staged in: another caller's failed commit in
      // between drops them, and then this import must fail, not go on with a hole.
      const groups = [await pool.stagePreparedBlocks(info.id, start / blockSize, p)];
      if (start + step >= total) groups.push(await pool.completeVolume(info.id));
      const committed = pool.commit({ groups });
      // Prepare the next slice only once the commit's requests are issued: preparing has a
      // synchronous part (the read checksums) that would otherwise run on this thread before
      // the commit even starts. A macrotask comes after the microtasks in which the serial
      // queue runs the commit up to its first await.
      const next = start + step < total ? afterMacrotask(() => prepare(start + step)) : null;
      next?.catch(() => undefined); // observed below, unless the commit fails first
      const txg = await committed;
      onProgress?.({ bytesDone: Math.min(total, start + step), bytesTotal: total, txg });
      p = next ? await next : null;
    }
    return pool.info(info.id);
  } catch (e) {
    // Leave no half-imported volume behind. A failed commit has already dropped the staged
    // group; destroying the volume removes what earlier commits wrote. Other callers'
    // staged writes are left alone (no discard()).
    try {
      if (pool.has(info.id)) {
        await pool.destroy(info.id);
        await pool.commit();
      }
    } catch {
      // The original error is the one to report; the partial volume stays visible by name.
    }
    throw e;
  }
}

/** The volume's bytes as a Blob of exactly sizeBytes, read in verified batches. */
export async function exportVolume(pool: VolumeStore, ds: DatasetRef, batchBytes = 16 * 1024 * 1024): Promise<Blob> {
  const info = pool.info(ds);
  const perBatch = Math.max(1, Math.floor(batchBytes / info.blockSize));
  const parts: Blob[] = [];
  for (let lba = 0; lba < info.blocks; lba += perBatch) {
    const lbas = Array.from({ length: Math.min(perBatch, info.blocks - lba) }, (_, i) => lba + i);
    const blocks = await pool.readBlocks(info.id, lbas);
    const last = lbas[lbas.length - 1]! === info.blocks - 1;
    if (last) {
      const tail = info.sizeBytes - (info.blocks - 1) * info.blockSize;
      blocks[blocks.length - 1] = blocks[blocks.length - 1]!.subarray(0, tail);
    }
    // A Blob per batch lets the browser move the bytes out of the JS heap as we go.
    parts.push(new Blob(blocks as BlobPart[]));
  }
  return new Blob(parts, { type: 'application/octet-stream' });
}
