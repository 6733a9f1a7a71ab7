// Runs wherever the pool runs. The extent cleaner (seed 004's segment cleaning, for the
// pool's data records). A data record is an extent of chunks written together, and it is
// deleted only with its last live chunk (schema.ts, format 4), so a volume rewritten block
// by block keeps the dead chunks of every extent that still holds a live one: up to 4× its
// live bytes with 64 KiB blocks, 16× with 4 KiB ones. The cleaner reads the sparsest
// records, moves their live chunks into new extents of the open group (state.ts
// moveChunk: same chunk id, new address) and so deletes the old records. A chunk's id is
// all that trees, the dedup index and dom0's frames know of it, so a move changes only
// chunk-map pages and records.
import { ChecksumError, InvalidArgumentError } from '../../shared/errors/pool-errors';
import type { ChunkRecord } from './schema';
import { physKeyString, type PoolState } from './state';

export interface CompactOptions {
  /**
   * Rewrite an extent whose live chunks fill less than this fraction of its record; after
   * a full pass no record holds more than 1 ÷ `liveBelow` of its live bytes. Default 0.5,
   * in (0, 1].
   */
  liveBelow?: number;
  /** Stop once about this many bytes of records were read. Default: no limit. */
  maxBytes?: number;
  /**
   * Bytes of records read per step (each step commits its moves): writes wait for the
   * pool's queue one step at most. Default 8 MiB.
   */
  stepBytes?: number;
  onProgress?: (p: CompactReport) => void;
}

export interface CompactReport {
  /** Records read to look at, and of those rewritten (their live chunks moved, the record deleted). */
  extentsRead: number;
  extentsRewritten: number;
  chunksMoved: number;
  /** Live bytes written again into new extents. */
  bytesMoved: number;
  /** Bytes of the records deleted: less `bytesMoved`, what the pool's store shrank by. */
  recordBytesFreed: number;
  /** Bytes of records read. */
  bytesRead: number;
  commits: number;
  /**
   * Extents left alone because a chunk of theirs failed verification: the extent's key,
   * the chunk and the ChecksumError's message (plain data: a report crosses to the page).
   */
  damaged: { extent: string; chunkId: number; message: string }[];
}

export const DEFAULT_LIVE_BELOW = 0.5;
export const DEFAULT_STEP_BYTES = 8 * 1024 * 1024;

export function emptyCompactReport(): CompactReport {
  return { extentsRead: 0, extentsRewritten: 0, chunksMoved: 0, bytesMoved: 0, recordBytesFreed: 0, bytesRead: 0, commits: 0, damaged: [] };
}

export function checkCompactOptions(opts: CompactOptions): void {
  const { liveBelow, maxBytes, stepBytes } = opts;
  if (liveBelow !== undefined && !(liveBelow > 0 && liveBelow <= 1)) throw new InvalidArgumentError(`liveBelow must be in (0, 1], got ${liveBelow}`);
  if (maxBytes !== undefined && !(maxBytes >= 0)) throw new InvalidArgumentError(`maxBytes must be ≥ 0, got ${maxBytes}`);
  if (stepBytes !== undefined && !(stepBytes > 0)) throw new InvalidArgumentError(`stepBytes must be > 0, got ${stepBytes}`);
}

/** A committed extent the cleaner may rewrite. */
export interface SparseExtent {
  key: string;
  chunks: ChunkRecord[];
  live: number;
  /** Bytes of its record: exact when read before (`known`), else an upper bound. */
  span: number;
}

/**
 * Committed extents whose live bytes are under `liveBelow` of their record, sparsest
 * first (for a fixed record size the most space freed per byte moved, LFS's cost-benefit
 * order). A record's length is not kept: until the cleaner has read it (`known`), it is
 * bounded by the start of the next live extent of its metaslab, or the metaslab's end of
 * allocation (allocation is append-only, records never overlap). An extent after a deleted
 * one can look sparser than it is; reading it settles that, and `known` keeps the length
 * (a record never changes, its key is never used again).
 */
export function sparseExtents(state: PoolState, liveBelow: number, known: ReadonlyMap<string, number>, skip: ReadonlySet<string>): SparseExtent[] {
  const byKey = new Map<string, { metaslab: number; start: number; chunks: ChunkRecord[]; live: number }>();
  for (const c of state.chunks.values()) {
    const key = physKeyString(c.metaslab, c.extent);
    let e = byKey.get(key);
    if (!e) byKey.set(key, (e = { metaslab: c.metaslab, start: c.extent, chunks: [], live: 0 }));
    e.chunks.push(c);
    e.live += c.size;
  }
  const starts = new Map<number, number[]>();
  for (const e of byKey.values()) {
    const s = starts.get(e.metaslab);
    if (s) s.push(e.start);
    else starts.set(e.metaslab, [e.start]);
  }
  for (const s of starts.values()) s.sort((a, b) => a - b);
  const out: SparseExtent[] = [];
  for (const [key, e] of byKey) {
    // Written or freed in the open group: not on disk as the chunk map says yet.
    if (state.data.has(key) || skip.has(key)) continue;
    let span = known.get(key);
    if (span === undefined) {
      const s = starts.get(e.metaslab)!;
      const next = s[lowerBound(s, e.start + 1)];
      span = (next ?? state.metaslabs.get(e.metaslab)?.allocatedBytes ?? Infinity) - e.start;
    }
    if (e.live < liveBelow * span) out.push({ key, chunks: e.chunks, live: e.live, span });
  }
  return out.sort((a, b) => a.live / a.span - b.live / b.span);
}

function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `e` as the chunk map has it now: the chunks of it still there (an extent only loses
 * chunks once committed: writes and frees between two steps of a pass can empty it, and
 * its record then goes with its last chunk). Null when none is left, or when the open
 * group touches its record.
 */
function asNow(state: PoolState, e: SparseExtent): SparseExtent | null {
  if (state.data.has(e.key)) return null;
  const chunks: ChunkRecord[] = [];
  for (const c of e.chunks) {
    const now = state.chunks.get(c.id);
    if (now && now.metaslab === c.metaslab && now.extent === c.extent) chunks.push(now);
  }
  if (chunks.length === 0) return null;
  return { ...e, chunks, live: chunks.reduce((a, c) => a + c.size, 0) };
}

/** The next step's extents off the front of `queue`, up to `stepBytes` of records (at least one). */
function takeStep(state: PoolState, queue: SparseExtent[], stepBytes: number): SparseExtent[] {
  const step: SparseExtent[] = [];
  let budget = stepBytes;
  while (queue.length > 0) {
    const e = asNow(state, queue[0]!);
    if (!e) {
      queue.shift();
      continue;
    }
    if (step.length > 0 && e.span > budget) break;
    queue.shift();
    step.push(e);
    budget -= e.span;
  }
  return step;
}

/**
 * One step of a pass: read up to `stepBytes` of the sparsest records (at least one) and
 * stage the moves of those that are sparse indeed; the caller commits. `queue` is the
 * pass's: the sparse extents found by one walk of the chunk map, sparsest first, taken a
 * step at a time and checked again against the chunk map as they are taken; only when it
 * runs dry is the chunk map walked again (for extents that went sparse meanwhile, or
 * whose length a read settled), so a pass of many steps walks it about twice, not once a
 * step. `read` returns verified views of each chunk in its record (reader.ts
 * readChunkRecords), so a view's buffer is the record and its length the record's.
 * Returns false when there was nothing left to look at.
 */
export async function compactStep(
  state: PoolState,
  read: (chunks: readonly ChunkRecord[]) => Promise<Uint8Array[]>,
  opts: { liveBelow: number; stepBytes: number },
  known: Map<string, number>,
  skip: Set<string>,
  report: CompactReport,
  queue: SparseExtent[],
): Promise<boolean> {
  let step = takeStep(state, queue, opts.stepBytes);
  if (step.length === 0) {
    queue.push(...sparseExtents(state, opts.liveBelow, known, skip));
    step = takeStep(state, queue, opts.stepBytes);
  }
  if (step.length === 0) return false;
  let views: (Uint8Array[] | null)[];
  try {
    const all = await read(step.flatMap((e) => e.chunks));
    let k = 0;
    views = step.map((e) => all.slice(k, (k += e.chunks.length)));
  } catch (e) {
    if (!(e instanceof ChecksumError)) throw e;
    // One record is damaged: find which, one by one, and leave those where they are.
    views = [];
    for (const e of step) {
      try {
        views.push(await read(e.chunks));
      } catch (err) {
        if (!(err instanceof ChecksumError)) throw err;
        views.push(null);
        skip.add(e.key);
        report.damaged.push({ extent: e.key, chunkId: err.detail.chunkId, message: err.message });
      }
    }
  }
  step.forEach((e, i) => {
    const got = views[i];
    if (!got) return;
    const recordBytes = got[0]!.buffer.byteLength;
    report.extentsRead++;
    report.bytesRead += recordBytes;
    if (e.live >= opts.liveBelow * recordBytes) {
      known.set(e.key, recordBytes);
      return;
    }
    e.chunks.forEach((c, j) => state.moveChunk(c.id, got[j]!));
    report.extentsRewritten++;
    report.chunksMoved += e.chunks.length;
    report.bytesMoved += e.live;
    report.recordBytesFreed += recordBytes;
  });
  return true;
}
