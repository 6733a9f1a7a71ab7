// Runs wherever the pool runs. The write path, in two halves so hashing can run ahead of
// the pool's serial queue: `prepareBlocks` (async, touches no pool state) splits the bytes
// into blocks, spots all-zero blocks and hashes the rest; `stagePrepared` (sync, inside the
// queue) applies dedup and updates the tree. Each stored block gets two digests: SHA-256
// (its identity, for dedup; WebCrypto, which Chromium computes on the calling thread, so an
// import hands it to a worker: offthread-digests.ts) and the read checksum verified on
// every read (hash.ts chunkChecksum).
//
// Staged blocks are views. A caller's bytes are copied into one buffer per write (its
// buffer is then free to change at once); bytes the pool already owns until the commit (an
// import's slice, read from its source) are viewed in place. The commit copies each block
// through one reused buffer into IndexedDB (commit.ts): structured clone of a view would
// serialise the view's whole underlying buffer, and a fresh ArrayBuffer per block cost the
// import about a fifth of its time in page faults (docs/pool.md, "What limits the pool").
import { chunkChecksum, isAllZero, sha256 } from './hash';
import { setBlock } from './block-tree';
import { dedupKey, type PoolState } from './state';
import type { DatasetRecord } from './schema';
import type { OffThreadDigests } from './offthread-digests';

export interface PreparedBlocks {
  /** Block bytes (views), null for an all-zero block (a hole). */
  blocks: (Uint8Array | null)[];
  hashes: (Uint8Array | null)[];
  /** Read checksums, null for a hole. */
  checks: (Uint8Array | null)[];
  bytes: number;
  /** Whether the SHA-256 digests came from the digest worker (offthread-digests.ts). */
  hashedOffThread: boolean;
}

export interface WriteCounters {
  blocksWritten: number;
  blocksStored: number;
  blocksDeduped: number;
  zeroBlocks: number;
}

/**
 * Split `bytes` into blocks of `blockSize` (the last one zero-padded) and hash them.
 * `owned`: the pool owns `bytes` until the commit that writes them (nobody else changes
 * them), so blocks are views of them; otherwise they are copied first, in one buffer. A
 * block changed after it was hashed fails its commit (commit.ts checks every block's read
 * checksum as it copies it out). Bytes in a SharedArrayBuffer are always copied: another
 * thread may change them, and WebCrypto refuses shared views.
 */
export async function prepareBlocks(
  bytes: Uint8Array,
  blockSize: number,
  opts: { owned?: boolean; digests?: OffThreadDigests } = {},
): Promise<PreparedBlocks> {
  const n = Math.ceil(bytes.length / blockSize);
  // By tag: an ArrayBuffer made in another realm (a frame) is one too.
  if (!opts.owned || Object.prototype.toString.call(bytes.buffer) !== '[object ArrayBuffer]') bytes = bytes.slice();
  const blocks: (Uint8Array | null)[] = new Array(n);
  const checks: (Uint8Array | null)[] = new Array(n);
  const skip = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let block = bytes.subarray(i * blockSize, (i + 1) * blockSize);
    if (block.length < blockSize) {
      const padded = new Uint8Array(blockSize);
      padded.set(block);
      block = padded;
    }
    const zero = isAllZero(block);
    blocks[i] = zero ? null : block;
    skip[i] = zero ? 1 : 0;
    checks[i] = zero ? null : chunkChecksum(block);
  }
  // The digests are of the bytes as they are now, in this same task as the checksums: the
  // worker gets a copy made here, and WebCrypto copies its input before it returns.
  const offThread = opts.digests?.digest(bytes, blockSize, skip) ?? null;
  const inThread = (): Promise<Uint8Array[]> => Promise.all(blocks.map((b) => (b ? sha256(b) : Promise.resolve(new Uint8Array(0)))));
  // A worker that failed (it could not start, or stopped) answers null: hash here. Bytes
  // changed since the checksums were taken would fail the commit, which checks every block
  // against them.
  const fromWorker = offThread ? await offThread.catch(() => null) : null;
  const digests = fromWorker ?? (await inThread());
  return { blocks, hashes: digests.map((h, i) => (blocks[i] ? h : null)), checks, bytes: bytes.length, hashedOffThread: fromWorker !== null };
}

/**
 * Stage prepared blocks at `lba..` of a writable dataset. Dedup follows seed 001's THN
 * rule: a block is referenced instead of stored only inside a run of ≥ `thn` consecutive
 * blocks of this write that all match chunks of the dataset's trust group (a match may be
 * an earlier block of the same write). A zero block is a hole and ends a run.
 * Synchronous: nothing else touches the state while it runs.
 */
export function stagePrepared(
  state: PoolState,
  ds: DatasetRecord,
  lba: number,
  p: PreparedBlocks,
  thn: number,
  counters: WriteCounters,
): void {
  const n = p.blocks.length;
  // Pass 1: which blocks match existing content (or an earlier block of this write).
  const matches = new Array<boolean>(n).fill(false);
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const h = p.hashes[i];
    if (!h) continue;
    const k = dedupKey(ds.group, h);
    matches[i] = state.dedup.has(k) || seen.has(k);
    seen.add(k);
  }
  // Pass 2: runs of matches at least THN long are deduped.
  const dedup = new Array<boolean>(n).fill(false);
  for (let i = 0; i < n; ) {
    if (!matches[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && matches[j]) j++;
    if (j - i >= thn) dedup.fill(true, i, j);
    i = j;
  }
  // Pass 3: store or reference, then point the tree at it.
  for (let i = 0; i < n; i++) {
    const bytes = p.blocks[i];
    const h = p.hashes[i];
    counters.blocksWritten++;
    if (!bytes || !h) {
      counters.zeroBlocks++;
      setBlock(state, ds.id, lba + i, 0);
      continue;
    }
    const existing = dedup[i] ? state.dedup.get(dedupKey(ds.group, h)) : undefined;
    let chunkId: number;
    if (existing !== undefined) {
      chunkId = existing;
      counters.blocksDeduped++;
    } else {
      chunkId = state.newChunk(ds.group, h, p.checks[i]!, bytes).id;
      counters.blocksStored++;
    }
    setBlock(state, ds.id, lba + i, chunkId);
  }
}
