// Runs wherever the pool runs. The write path, in three steps: `prepareBlocks` (sync,
// touches no pool state, so it runs ahead of the pool's serial queue) splits the bytes
// into blocks, spots all-zero blocks and takes each block's read checksum; inside the
// queue, `findDuplicates` (async) looks each checksum up in the dedup index and compares
// the bytes of every candidate with the block's own, and `stagePrepared` (sync) applies
// dedup and updates the tree. The read checksum (hash.ts chunkChecksum) is verified on
// every read and is the dedup key; it is not cryptographic, so a match is only a candidate
// until the bytes are compared (as ZFS's dedup=verify does): a crafted collision costs a
// read, never a wrong block. No SHA-256 on the write path (format 3, schema.ts): it cost a
// 64 MiB import about 45 ms of a core that IndexedDB wanted (docs/pool.md, "Checksums").
//
// Staged blocks are views. A caller's bytes are copied into one buffer per write (its
// buffer is then free to change at once); bytes lent until the commit (dom0's own copy of a
// guest's block) or the pool's own (an import's slice, copied or read from its source) are
// viewed in place. The commit copies each block
// through one reused buffer into IndexedDB (commit.ts): structured clone of a view would
// serialise the view's whole underlying buffer, and a fresh ArrayBuffer per block cost the
// import about a fifth of its time in page faults (docs/pool.md, "What limits the pool").
import { bytesEqual, chunkChecksum, isAllZero } from './hash';
import { isArrayBuffer } from '../../shared/buffer-kind';
import { setBlock } from './block-tree';
import { dedupKey, type PoolState } from './state';
import type { ChunkRecord, DatasetRecord } from './schema';

export interface PreparedBlocks {
  /** Block bytes (views), null for an all-zero block (a hole). */
  blocks: (Uint8Array | null)[];
  /** Read checksums, null for a hole. */
  checks: (Uint8Array | null)[];
  bytes: number;
  /**
   * Whether the blocks are views of bytes a caller lent (`owned` without `private`): the
   * commit then checks each against its checksum as it copies it out, because only the
   * caller's promise keeps them unchanged. Bytes the pool copied are its own and are not
   * checked again (a second checksum pass costs a 64 MiB import about 15 ms of the thread
   * that issues its puts: docs/pool.md, "Which staged bytes the commit checks again").
   */
  lent: boolean;
}

export interface WriteCounters {
  blocksWritten: number;
  blocksStored: number;
  blocksDeduped: number;
  zeroBlocks: number;
  /** Stored chunks whose bytes a write compared with a block of its own (a dedup candidate). */
  dedupCompares: number;
  /** Of those, chunks whose read checksum matched but whose bytes did not: a collision. */
  dedupCollisions: number;
  /** Of blocksStored, blocks stored from bytes a caller lent: each is checked again at its commit. */
  blocksLent: number;
}

/**
 * Split `bytes` into blocks of `blockSize` (the last one zero-padded) and checksum them.
 * Unless `owned`, the bytes are copied first, in one buffer, and the caller may change its
 * own at once. `owned`: the caller lends `bytes` until the commit that writes them and
 * promises not to change them, so blocks are views; a block changed all the same fails its
 * commit (commit.ts checks every lent block against its read checksum as it copies it
 * out). `private` (with `owned`): the pool itself filled `bytes` and nothing else holds
 * them (an import's slice), so nothing can change them and the commit does not check them
 * again. Bytes in a SharedArrayBuffer are always copied: another thread may change them.
 */
export function prepareBlocks(bytes: Uint8Array, blockSize: number, opts: { owned?: boolean; private?: boolean } = {}): PreparedBlocks {
  const n = Math.ceil(bytes.length / blockSize);
  let lent = opts.owned === true && opts.private !== true;
  if (!opts.owned || !isArrayBuffer(bytes.buffer)) {
    bytes = bytes.slice();
    lent = false;
  }
  const blocks: (Uint8Array | null)[] = new Array(n);
  const checks: (Uint8Array | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let block = bytes.subarray(i * blockSize, (i + 1) * blockSize);
    if (block.length < blockSize) {
      const padded = new Uint8Array(blockSize);
      padded.set(block);
      block = padded;
    }
    const zero = isAllZero(block);
    blocks[i] = zero ? null : block;
    checks[i] = zero ? null : chunkChecksum(block);
  }
  return { blocks, checks, bytes: bytes.length, lent };
}

/**
 * What each block of a write may reference instead of being stored, its bytes compared:
 * a chunk id (> 0), an earlier block `j` of the same write (stored as `-(j + 1)`), or 0.
 */
export type DuplicatePlan = number[];

/** Verified bytes of stored or staged chunks, in order (the pool's reader.ts). */
export type ReadChunks = (chunks: readonly ChunkRecord[]) => Promise<Uint8Array[]>;

/** Runs of at least `thn` consecutive true entries of `matches`, as a mask. */
function runsOfAtLeast(matches: readonly boolean[], thn: number): boolean[] {
  const out = new Array<boolean>(matches.length).fill(false);
  for (let i = 0; i < matches.length; ) {
    if (!matches[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < matches.length && matches[j]) j++;
    if (j - i >= thn) out.fill(true, i, j);
    i = j;
  }
  return out;
}

/**
 * The dedup candidates of `p`'s blocks in trust group `group`, each confirmed by comparing
 * bytes. A block's checksum may match a chunk of the group's index or an earlier block of
 * this write; only blocks inside a run of ≥ `thn` such matches can be deduped (seed 001's
 * THN rule, `stagePrepared`), so only those candidates are read (one batched `read`). A
 * candidate whose bytes differ (a checksum collision, crafted or not) or that cannot be
 * read (corrupt: the block is then stored afresh) is no match. Never throws for a
 * candidate: what it returns may only make the write store more.
 */
export async function findDuplicates(
  state: PoolState,
  group: string,
  p: PreparedBlocks,
  thn: number,
  read: ReadChunks,
  counters: Pick<WriteCounters, 'dedupCompares' | 'dedupCollisions'>,
): Promise<DuplicatePlan> {
  const n = p.blocks.length;
  const plan: DuplicatePlan = new Array<number>(n).fill(0);
  if (!(thn <= n)) return plan; // no run can be long enough (Infinity: dedup off)
  const stored = new Array<number>(n).fill(0);
  const earlier = new Array<number>(n).fill(-1);
  const firstOfKey = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const check = p.checks[i];
    if (!check) continue;
    const k = dedupKey(group, check);
    stored[i] = state.dedup.get(k) ?? 0;
    const j = firstOfKey.get(k);
    if (j === undefined) firstOfKey.set(k, i);
    else earlier[i] = j;
  }
  const wanted = runsOfAtLeast(
    stored.map((id, i) => id !== 0 || earlier[i]! >= 0),
    thn,
  );
  const toRead = new Map<number, ChunkRecord>();
  for (let i = 0; i < n; i++) {
    if (!wanted[i] || stored[i] === 0) continue;
    const c = state.chunks.get(stored[i]!);
    if (c) toRead.set(c.id, c);
  }
  const bytesOf = new Map<number, Uint8Array>();
  if (toRead.size > 0) {
    const chunks = [...toRead.values()];
    try {
      const got = await read(chunks);
      chunks.forEach((c, k) => bytesOf.set(c.id, got[k]!));
    } catch {
      // Unreadable candidates (a ChecksumError: the stored copy is damaged) dedup nothing;
      // the write stores its own bytes. One bad chunk fails the batch, so all go.
    }
  }
  const compared = new Map<number, boolean>();
  for (let i = 0; i < n; i++) {
    if (!wanted[i]) continue;
    const block = p.blocks[i]!;
    const id = stored[i]!;
    const theirs = id !== 0 ? bytesOf.get(id) : undefined;
    if (theirs) {
      if (!compared.has(id)) {
        counters.dedupCompares++;
        compared.set(id, false);
      }
      if (bytesEqual(block, theirs)) {
        compared.set(id, true);
        plan[i] = id;
        continue;
      }
    }
    const j = earlier[i]!;
    if (j >= 0 && bytesEqual(block, p.blocks[j]!)) plan[i] = -(j + 1);
  }
  for (const equal of compared.values()) if (!equal) counters.dedupCollisions++;
  return plan;
}

/**
 * Stage prepared blocks at `lba..` of a writable dataset, with the duplicates
 * `findDuplicates` confirmed for them against the state as it is now. Dedup follows seed
 * 001's THN rule: a block is referenced instead of stored only inside a run of ≥ `thn`
 * consecutive confirmed duplicates (a comparison that failed can split a run). A zero
 * block is a hole and ends a run. Synchronous: nothing else touches the state while it runs.
 */
export function stagePrepared(
  state: PoolState,
  ds: DatasetRecord,
  lba: number,
  p: PreparedBlocks,
  plan: DuplicatePlan,
  thn: number,
  counters: WriteCounters,
): void {
  const n = p.blocks.length;
  const dedup = runsOfAtLeast(
    plan.map((t) => t !== 0),
    thn,
  );
  const chunkOf = new Array<number>(n).fill(0);
  // The stored chunks this call references, held while it stages: an earlier block of the
  // same call may drop a chunk's last reference (a hole over it, or other bytes at the LBA
  // that held it) before a later block references it, e.g. a block written one LBA further
  // on. Without the hold the chunk was freed, and the later block failed half-way through
  // the call with "chunk missing" (found by the model-based test, 2026-12-02).
  const held = new Set<number>();
  for (let i = 0; i < n; i++) if (dedup[i] && plan[i]! > 0) held.add(plan[i]!);
  for (const id of held) state.increfChunk(id);
  for (let i = 0; i < n; i++) {
    const bytes = p.blocks[i];
    counters.blocksWritten++;
    if (!bytes) {
      counters.zeroBlocks++;
      setBlock(state, ds.id, lba + i, 0);
      continue;
    }
    const t = plan[i]!;
    if (dedup[i] && t !== 0) {
      chunkOf[i] = t > 0 ? t : chunkOf[-t - 1]!;
      counters.blocksDeduped++;
    } else {
      chunkOf[i] = state.newChunk(ds.group, p.checks[i]!, bytes, p.lent).id;
      counters.blocksStored++;
      if (p.lent) counters.blocksLent++;
    }
    setBlock(state, ds.id, lba + i, chunkOf[i]!);
  }
  for (const id of held) state.decrefChunk(id);
}
