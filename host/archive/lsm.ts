// Runs anywhere (page, worker, node). The content-addressed metadata tier: chunk hash →
// where the chunk's record lives (tier, segment, offset, length), as a log-structured
// merge tree. Writes go to an in-memory memtable; `flush()` freezes it into an immutable
// sorted run and persists it; lookups go memtable → frozen memtables → runs, newest first,
// and the first answer wins (a tombstone answers "absent"). Merging replaces a contiguous
// range of runs by one run that keeps the newest value per key; tombstones are dropped
// only when the merge reaches the oldest run (nothing older can still hold the key).
//
// Every persistence step (run write, manifest swap, run delete) is serialised through one
// queue; lookups stay synchronous and see the old runs until a new set is installed, so a
// merge running "in the background" never blocks or changes a read.
//
// The memtable is not logged: entries not yet flushed are lost in a crash. The archive
// flushes the LSM as part of each commit (after the data log is durable), so a crash loses
// only an uncommitted snapshot, whose records are then unreferenced garbage for the cleaner.

import { ArchiveUsageError, CorruptRunError } from '../../shared/errors/archive-errors';
import { type ChunkHash, hashToBytes } from './chunk-hash';
import { crc32 } from './crc32';
import { type ChunkLocation, type LsmValue, SortedRun, TOMBSTONE } from './lsm-run';
import type { RunStore } from './run-store';

export interface LsmOptions {
  /** Start a background merge when this many runs exist (size-agnostic tiering). */
  readonly mergeFanIn?: number;
}

export interface LsmStats {
  readonly memtableEntries: number;
  readonly runs: number;
  readonly runEntries: number;
  readonly merges: number;
  readonly flushes: number;
}

// Manifest body: MAGIC_U32 'TVMF' @0, NEXT_RUN_ID_U32 @4, COUNT_U32 @8, run ids (u32,
// oldest first) @12, CRC_U32 of everything before it.
const MANIFEST_MAGIC = 0x464d5654;

export class MetadataLsm {
  readonly #store: RunStore;
  readonly #fanIn: number;
  #memtable = new Map<ChunkHash, LsmValue>();
  #frozen: Map<ChunkHash, LsmValue>[] = []; // being flushed, oldest first
  #runs: SortedRun[]; // oldest first
  #nextRunId: number;
  #queue: Promise<void> = Promise.resolve();
  #backgroundError: unknown = undefined;
  #merges = 0;
  #flushes = 0;

  private constructor(store: RunStore, runs: SortedRun[], nextRunId: number, options: LsmOptions) {
    this.#store = store;
    this.#runs = runs;
    this.#nextRunId = nextRunId;
    this.#fanIn = options.mergeFanIn ?? 4;
    if (this.#fanIn < 2) throw new ArchiveUsageError('mergeFanIn must be at least 2');
  }

  static async open(store: RunStore, options: LsmOptions = {}): Promise<MetadataLsm> {
    const manifest = await store.getManifest();
    const { ids, nextRunId } = manifest ? decodeManifest(manifest) : { ids: [], nextRunId: 1 };
    const runs: SortedRun[] = [];
    for (const id of ids) runs.push(new SortedRun(id, await store.getRun(id)));
    // Runs not in the manifest are leftovers of a flush or merge that crashed before its
    // manifest swap (or after it, before deleting its inputs): garbage either way.
    const live = new Set(ids);
    for (const id of await store.listRuns()) if (!live.has(id)) await store.deleteRun(id);
    return new MetadataLsm(store, runs, nextRunId, options);
  }

  get(hash: ChunkHash): ChunkLocation | undefined {
    const v = this.#lookup(hash);
    return v === undefined || v === TOMBSTONE ? undefined : v;
  }

  has(hash: ChunkHash): boolean {
    return this.get(hash) !== undefined;
  }

  put(hash: ChunkHash, location: ChunkLocation): void {
    this.#memtable.set(hash, location);
  }

  delete(hash: ChunkHash): void {
    this.#memtable.set(hash, TOMBSTONE);
  }

  /** Freeze the memtable into a sorted run and persist it; resolves when installed. */
  async flush(): Promise<void> {
    this.#throwBackgroundError();
    if (this.#memtable.size) {
      const frozen = this.#memtable;
      this.#memtable = new Map();
      this.#frozen.push(frozen);
      await this.#serial(async () => {
        const id = this.#nextRunId++;
        const bytes = SortedRun.encode([...frozen].sort(byKey));
        await this.#store.putRun(id, bytes);
        const runs = [...this.#runs, new SortedRun(id, bytes)];
        await this.#store.putManifest(encodeManifest(runs, this.#nextRunId));
        this.#runs = runs;
        this.#frozen.splice(this.#frozen.indexOf(frozen), 1);
        this.#flushes++;
      });
    } else {
      await this.#queue;
    }
    if (this.#runs.length >= this.#fanIn) this.#mergeInBackground();
  }

  /**
   * Merge runs[from..to) (oldest-first indices; default all) into one. Newest value per
   * key wins; tombstones are dropped when `from` is 0.
   */
  async merge(range?: { from: number; to: number }): Promise<void> {
    await this.#serial(async () => {
      const from = range?.from ?? 0;
      const to = range?.to ?? this.#runs.length;
      if (from < 0 || to > this.#runs.length || to - from < 2) return;
      const inputs = this.#runs.slice(from, to);
      const merged = new Map<ChunkHash, LsmValue>();
      for (const run of inputs) for (const [k, v] of run.entries()) merged.set(k, v); // newer overwrite
      const entries = [...merged].filter(([, v]) => from > 0 || v !== TOMBSTONE).sort(byKey);
      const id = this.#nextRunId++;
      const bytes = SortedRun.encode(entries);
      await this.#store.putRun(id, bytes);
      const current = this.#runs; // flushes cannot interleave (same queue), but be explicit
      const start = current.indexOf(inputs[0]!);
      const runs = [...current.slice(0, start), new SortedRun(id, bytes), ...current.slice(start + inputs.length)];
      await this.#store.putManifest(encodeManifest(runs, this.#nextRunId));
      this.#runs = runs;
      for (const r of inputs) await this.#store.deleteRun(r.id);
      this.#merges++;
    });
  }

  /** Resolve when no flush or merge is pending; rethrow a failed background merge. */
  async idle(): Promise<void> {
    await this.#queue;
    this.#throwBackgroundError();
  }

  /** Every live entry (newest value per key, tombstones removed). O(entries) memory. */
  live(): Map<ChunkHash, ChunkLocation> {
    const all = new Map<ChunkHash, LsmValue>();
    for (const run of this.#runs) for (const [k, v] of run.entries()) all.set(k, v);
    for (const m of [...this.#frozen, this.#memtable]) for (const [k, v] of m) all.set(k, v);
    const out = new Map<ChunkHash, ChunkLocation>();
    for (const [k, v] of all) if (v !== TOMBSTONE) out.set(k, v);
    return out;
  }

  stats(): LsmStats {
    return {
      memtableEntries: this.#memtable.size,
      runs: this.#runs.length,
      runEntries: this.#runs.reduce((n, r) => n + r.count, 0),
      merges: this.#merges,
      flushes: this.#flushes,
    };
  }

  #lookup(hash: ChunkHash): LsmValue | undefined {
    const m = this.#memtable.get(hash);
    if (m !== undefined) return m;
    for (let i = this.#frozen.length - 1; i >= 0; i--) {
      const v = this.#frozen[i]!.get(hash);
      if (v !== undefined) return v;
    }
    if (!this.#runs.length) return undefined;
    const key = hashToBytes(hash);
    for (let i = this.#runs.length - 1; i >= 0; i--) {
      const v = this.#runs[i]!.find(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  #mergeInBackground(): void {
    // Not awaited by the caller: the error is kept and rethrown by the next flush/idle,
    // so there is never an unhandled rejection.
    this.merge().catch((err: unknown) => {
      this.#backgroundError ??= err;
    });
  }

  #serial(op: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(op);
    this.#queue = next.catch(() => undefined); // one failure must not wedge the queue
    return next;
  }

  #throwBackgroundError(): void {
    const err = this.#backgroundError;
    if (err !== undefined) {
      this.#backgroundError = undefined;
      throw new CorruptRunError('a background merge of the metadata tier failed', { cause: err });
    }
  }
}

function byKey(a: readonly [ChunkHash, LsmValue], b: readonly [ChunkHash, LsmValue]): number {
  // Lowercase hex of equal length sorts like the raw bytes it encodes.
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function encodeManifest(runs: readonly SortedRun[], nextRunId: number): Uint8Array {
  const out = new Uint8Array(12 + runs.length * 4 + 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MANIFEST_MAGIC, true);
  dv.setUint32(4, nextRunId, true);
  dv.setUint32(8, runs.length, true);
  runs.forEach((r, i) => dv.setUint32(12 + 4 * i, r.id, true));
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

function decodeManifest(bytes: Uint8Array): { ids: number[]; nextRunId: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 16 || dv.getUint32(0, true) !== MANIFEST_MAGIC) {
    throw new CorruptRunError('LSM manifest: bad magic or length');
  }
  const count = dv.getUint32(8, true);
  if (bytes.length !== 16 + 4 * count || crc32(bytes.subarray(0, bytes.length - 4)) !== dv.getUint32(bytes.length - 4, true)) {
    throw new CorruptRunError('LSM manifest: length or CRC mismatch');
  }
  const ids = Array.from({ length: count }, (_, i) => dv.getUint32(12 + 4 * i, true));
  return { ids, nextRunId: dv.getUint32(4, true) };
}
