// Runs in whatever context calls it: the dom0 Web Worker in production, a test page in
// tests. Uses the global `indexedDB` (through idb) and crypto.subtle; no DOM.
//
// The Pool: datasets (volumes, snapshots, clones) as copy-on-write block trees over a
// chunk map over metaslabs (see docs/pool.md). All mutations are staged in memory as the
// open transaction group; commit() writes the group in one IndexedDB transaction.
import { openDB, type IDBPDatabase } from 'idb';
import { countBlocks, lookup, lookupOwned } from './block-tree';
import { writeTxg } from './commit';
import { ChecksumError, GroupDroppedError, InvalidArgumentError, OutOfRangeError, PoolClosedError, PoolFormatError, PoolLostError, StaleBlockRefError } from '../../shared/errors/pool-errors';
import { decodePage } from './chunk-map-page';
import * as datasets from './datasets';
import { fsck, type FsckReport } from './fsck';
import { exportVolume, importVolume, type ImportOptions, type ImportProgress } from './import-export';
import { readChunkRecords, RECORD_CACHE_BYTES, RecordCache } from './reader';
import { checkCompactOptions, compactStep, DEFAULT_LIVE_BELOW, DEFAULT_STEP_BYTES, emptyCompactReport, type CompactOptions, type CompactReport, type SparseExtent } from './compact';
import { DB_VERSION, EXTENT_BYTES, FORMAT_VERSION, upgrade, type ChunkRecord, type DatasetRecord, type LossRecord, type PoolDB, type SuperRecord } from './schema';
import { Serial } from './serial';
import { opfsRegistry, registryVerdict } from './registry';
import { dedupKey, PoolState } from './state';
import { blockCount } from './tree-math';
import type { BlockRef, CloneOptions, CreateVolumeOptions, DatasetInfo, DatasetRef, PoolOptions, PoolStats } from './types';
import type { Durability } from './commit';
import { findDuplicates, prepareBlocks, stagePrepared, type PreparedBlocks } from './write-path';
import { HASH_BYTES } from './hash';

function checkLba(d: DatasetRecord, lba: number, blocks: number): void {
  if (!Number.isInteger(lba) || lba < 0 || lba >= blocks) throw new OutOfRangeError(d.name, lba, blocks);
}

export const DEFAULT_METASLAB_BYTES = 256 * 1024 * 1024;

/**
 * Chromium reports on the upgradeneeded event whether it had to delete the origin's data
 * before this open (non-standard `dataLoss` / `dataLossMessage`, 'total' when it deleted
 * a backing store it found damaged). Other browsers have no such field: undefined.
 */
function reportedLoss(event: Event): LossRecord | undefined {
  const e = event as Event & { dataLoss?: unknown; dataLossMessage?: unknown };
  if (typeof e.dataLoss !== 'string' || e.dataLoss === 'none') return undefined;
  return { source: 'browser', dataLoss: e.dataLoss, message: typeof e.dataLossMessage === 'string' ? e.dataLossMessage : '', at: Date.now() };
}

function lossMessage(name: string, lost: LossRecord): string {
  const when = new Date(lost.at).toISOString();
  const what =
    lost.source === 'registry'
      ? `its database was found created from nothing on ${when} (${lost.message})`
      : `when its database was opened on ${when}, the browser reported it had deleted this site's earlier data (${lost.dataLoss}: ${lost.message || 'no reason given'})`;
  return `pool ${name} is gone: ${what}. Open it with acceptLoss to start again from an empty pool.`;
}

export class Pool {
  private closed = false;
  /** Why the pool closed when it was not close(): said in every PoolClosedError after it. */
  private closedBecause: string | null = null;
  /**
   * Whether the pool registry (OPFS) holds this pool, so that a later deletion of its
   * database by the browser is reported even if the browser does not report it to this
   * pool. False where OPFS is unavailable or refused, and for pools opened without one.
   */
  get registered(): boolean {
    return this.inRegistry;
  }
  private inRegistry = false;
  private commitYield: (() => void) | null = null;
  private readonly serial = new Serial();
  /**
   * The open transaction group's number, counted from 0 in this process: a change staged
   * now is committed with that group or dropped with it. Writes resolve to it, and
   * `commit({ groups })` tells their caller which of the two happened, since every caller's
   * changes share the open group and any caller's failed commit drops all of them.
   */
  private openGroup = 0;
  /**
   * Groups dropped in this process, with what dropped them (a failed commit, discard(),
   * close()). An entry per failure, kept while the pool is open: a writer may ask about its
   * group after any number of later groups committed.
   */
  private readonly droppedGroups = new Map<number, unknown>();
  /** Record lengths the cleaner has read (compact.ts `known`): exact for good, a record never changes. */
  private readonly recordLengths = new Map<string, number>();
  /** Records read last, for a reader going block by block through an extent (reader.ts). */
  private readonly records = new RecordCache(RECORD_CACHE_BYTES);
  private readonly counters = { blocksWritten: 0, blocksStored: 0, blocksDeduped: 0, zeroBlocks: 0, dedupCompares: 0, dedupCollisions: 0, blocksLent: 0, commits: 0, chunksRead: 0, bytesRead: 0, hashesKept: 0 };

  private constructor(
    readonly name: string,
    private readonly db: IDBPDatabase<PoolDB>,
    private readonly state: PoolState,
    private readonly opts: PoolOptions,
  ) {}

  /** Open (formatting on first use) the pool stored in IndexedDB database `name`. */
  static async open(name: string, opts: PoolOptions = {}): Promise<Pool> {
    const metaslabBytes = opts.metaslabBytes ?? DEFAULT_METASLAB_BYTES;
    if (!Number.isInteger(metaslabBytes) || metaslabBytes < (1 << 20)) {
      throw new InvalidArgumentError(`metaslabBytes must be an integer ≥ 1 MiB, got ${metaslabBytes}`);
    }
    const extentBytes = opts.extentBytes ?? EXTENT_BYTES;
    if (!Number.isInteger(extentBytes) || extentBytes < 0) {
      throw new InvalidArgumentError(`extentBytes must be a whole number of bytes (0: every chunk a record of its own), got ${extentBytes}`);
    }
    const thn = opts.dedupThreshold ?? 1;
    if (!(thn >= 1)) throw new InvalidArgumentError(`dedupThreshold must be ≥ 1 (Infinity disables dedup), got ${thn}`);
    let pool: Pool | undefined;
    let db: IDBPDatabase<PoolDB>;
    try {
      db = await openDB<PoolDB>(name, DB_VERSION, {
        upgrade: (udb, oldVersion, _newVersion, tx, event) => {
          upgrade(udb, oldVersion);
          const loss = reportedLoss(event);
          if (loss) void tx.objectStore('meta').put(loss, 'lost');
        },
        // Another connection wants a newer schema: step aside rather than block it.
        blocking: () => {
          if (pool) {
            pool.closed = true;
            pool.closedBecause = 'another tab deleted it, or opened it with a newer schema';
          }
          db.close();
        },
        // The browser closed the connection itself: the site's data cleared (settings,
        // DevTools), or its storage failed. Nothing more can be done on it.
        terminated: () => {
          if (!pool) return;
          pool.closed = true;
          pool.closedBecause = "the browser closed its database (the site's data was cleared, or its storage failed)";
        },
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'VersionError') {
        throw new PoolFormatError(`pool ${name} has a newer IndexedDB schema than version ${DB_VERSION}`, { cause: e });
      }
      throw e;
    }
    try {
      const tx = db.transaction(['meta', 'datasets', 'nodes', 'chunkmap', 'metaslabs'], 'readonly');
      const [supRec, lostRec, datasets, nodes, pages, metaslabs] = await Promise.all([
        tx.objectStore('meta').get('super'),
        tx.objectStore('meta').get('lost'),
        tx.objectStore('datasets').getAll(),
        tx.objectStore('nodes').getAll(),
        tx.objectStore('chunkmap').getAll(),
        tx.objectStore('metaslabs').getAll(),
      ]);
      const sup = supRec as SuperRecord | undefined;
      let lost = lostRec as LossRecord | undefined;
      const registry = opts.registry === undefined ? opfsRegistry() : opts.registry;
      // Neither superblock nor loss record: this database was created from nothing, by this
      // open or by one a crash cut short before it wrote the superblock. If the registry
      // (outside IndexedDB) says the pool existed, its database was deleted under it.
      if (!sup && !lost && registry && registryVerdict(true, await registry.has(name), opts.acceptLoss === true) === 'refuse') {
        lost = {
          source: 'registry',
          dataLoss: 'total',
          message: 'the database is gone while the pool registry (OPFS) says this pool existed: it was deleted outside the pool API, by the browser (e.g. after finding its files damaged) or by hand',
          at: Date.now(),
        };
        await db.put('meta', lost, 'lost');
      }
      if (lost) {
        if (!opts.acceptLoss) throw new PoolLostError(lossMessage(name, lost));
        await db.delete('meta', 'lost');
      }
      let superRec: SuperRecord;
      if (!sup) {
        superRec = { formatVersion: FORMAT_VERSION, txg: 0, nextChunkId: 1, nextNodeId: 1, nextDatasetId: 1, metaslabBytes, allocMetaslab: 0 };
        await db.put('meta', superRec, 'super');
      } else if (sup.formatVersion > FORMAT_VERSION) {
        throw new PoolFormatError(`pool ${name} has format ${sup.formatVersion}; this code reads up to ${FORMAT_VERSION}`);
      } else superRec = sup;
      const state = new PoolState(superRec);
      state.extentBytes = extentBytes;
      for (const d of datasets) state.datasets.load(d.id, d);
      for (const n of nodes) state.nodes.load(n.id, n);
      for (const m of metaslabs) state.metaslabs.load(m.id, m);
      // Pages come back in key order, so chunks in id order: the oldest live chunk of a
      // (group, check) is the one indexed. Format-1 chunks have no check and are not.
      for (const c of pages.flatMap(decodePage)) {
        state.loadChunk(c);
        if (!c.check) continue;
        const k = dedupKey(c.group, c.check);
        if (!state.dedup.has(k)) state.dedup.load(k, c.id);
      }
      pool = new Pool(name, db, state, opts);
      await pool.dropIncomplete();
      // Recorded before the open returns, so before anything can be acknowledged; on every
      // open, so an entry a crash kept from being written after the database was created is
      // written now. Best effort: an unreachable registry only costs the report.
      pool.inRegistry = registry ? await registry.add(name) : false;
      return pool;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Names of incomplete volumes (imports or restores cut off by a crash) this open destroyed. */
  readonly droppedAtOpen: string[] = [];

  /** An import or restore that never finished left its volume marked incomplete: free it. */
  private async dropIncomplete(): Promise<void> {
    const left = [...this.state.datasets.values()].filter((d) => d.incomplete);
    if (left.length === 0) return;
    for (const d of left) {
      await this.destroy(d.id);
      this.droppedAtOpen.push(d.name);
    }
    await this.commit();
  }

  /** Close the database. Staged, uncommitted changes are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropGroup(new PoolClosedError(`pool ${this.name} was closed before the group was committed`));
    this.records.clear();
    this.db.close();
  }

  // --- datasets ----------------------------------------------------------------------

  createVolume(name: string, opts: CreateVolumeOptions): Promise<DatasetInfo> {
    return this.mutate(() => this.info(datasets.createVolume(this.state, name, opts)));
  }

  /**
   * `createVolume` and commit in one step of the pool's queue, so no other caller's failed
   * commit can drop the volume between the two (the control plane's calls use these).
   */
  createVolumeCommitted(name: string, opts: CreateVolumeOptions): Promise<DatasetInfo> {
    return this.stageAndCommit(() => this.info(datasets.createVolume(this.state, name, opts)));
  }

  /** `snapshot` and commit in one step of the pool's queue (see createVolumeCommitted). */
  snapshotCommitted(ds: DatasetRef, name: string): Promise<DatasetInfo> {
    return this.stageAndCommit(() => this.info(datasets.snapshot(this.state, ds, name)));
  }

  /** `destroy` and commit in one step of the pool's queue (see createVolumeCommitted). */
  destroyCommitted(ds: DatasetRef): Promise<void> {
    return this.stageAndCommit(() => datasets.destroy(this.state, ds));
  }

  /**
   * @internal A volume for an import or restore to fill: marked incomplete, reachable only
   * by the returned id (not by name, not in list()) until completeVolume() is committed;
   * destroyed by the next open if that never happens. Its name is taken meanwhile.
   */
  beginVolume(name: string, opts: CreateVolumeOptions): Promise<DatasetInfo> {
    return this.mutate(() => this.info(datasets.createVolume(this.state, name, opts, true)));
  }

  /**
   * @internal Stage the end of an import: the next commit makes volume `id` visible under
   * its name. Resolves to the group it is staged in (see `commit`).
   */
  completeVolume(id: number): Promise<number> {
    return this.mutate(() => {
      datasets.complete(this.state, id);
      return this.openGroup;
    });
  }

  /** O(1): the snapshot shares the dataset's root. Read-only. */
  snapshot(ds: DatasetRef, name: string): Promise<DatasetInfo> {
    return this.mutate(() => this.info(datasets.snapshot(this.state, ds, name)));
  }

  /** O(1): a writable dataset sharing the snapshot's root. */
  clone(snapshot: DatasetRef, name: string, opts: CloneOptions = {}): Promise<DatasetInfo> {
    return this.mutate(() => this.info(datasets.clone(this.state, snapshot, name, opts.group)));
  }

  /**
   * `clone` and commit, in one step of the pool's queue. When nothing else was staged the
   * commit is IndexedDB's `relaxed` (handed to the operating system without waiting for
   * the disk): a clone holds no data of its own, only a pointer to a snapshot that is
   * already durable, so all a crash of the OS (not of the browser) before the next strict
   * commit can lose is a clone nothing was yet written to durably, while the disk flush a
   * `strict` commit waits for was most of what adding a tenant cost (bench:sqlite,
   * 2026-11-30: medians 3.5 against 5.4 ms, up to 10). When other changes are staged, the
   * commit has the pool's durability, since writes acknowledged with it must be durable.
   * A later strict commit flushes the clone with it.
   */
  cloneCommitted(snapshot: DatasetRef, name: string, opts: CloneOptions = {}): Promise<DatasetInfo> {
    return this.stageAndCommit(() => this.info(datasets.clone(this.state, snapshot, name, opts.group)), 'relaxed');
  }

  /** Stage and commit in one step of the queue; `alone`: the durability when nothing else was staged. */
  private stageAndCommit<T>(stage: () => T, alone?: Durability): Promise<T> {
    return this.serial.run(async () => {
      this.checkOpen();
      const durability = this.state.isDirty ? undefined : alone;
      const out = stage();
      await this.commitStaged(durability);
      return out;
    });
  }

  /** Drop a dataset; blocks and nodes no other dataset references are freed. */
  destroy(ds: DatasetRef): Promise<void> {
    return this.mutate(() => datasets.destroy(this.state, ds));
  }

  list(): DatasetInfo[] {
    this.checkOpen();
    return [...this.state.datasets.values()].filter((d) => !d.incomplete).sort((a, b) => a.id - b.id).map((d) => this.info(d));
  }

  /** Whether dataset `id` exists, complete or not. */
  has(id: number): boolean {
    this.checkOpen();
    return this.state.datasets.get(id) !== undefined;
  }

  info(ds: DatasetRef | DatasetRecord): DatasetInfo {
    const d = typeof ds === 'object' ? ds : this.dataset(ds);
    return {
      id: d.id,
      name: d.name,
      kind: d.kind,
      sizeBytes: d.sizeBytes,
      blockSize: d.blockSize,
      blocks: blockCount(d.sizeBytes, d.blockSize),
      group: d.group,
      origin: d.originName,
      originId: d.originId,
      createdTxg: d.createdTxg,
      writtenBlocks: countBlocks(this.state, d),
    };
  }

  // --- reads ---------------------------------------------------------------------------

  /** Block pointers of `lbas` (null = hole). Metadata only; no data is read. */
  async resolve(ds: DatasetRef, lbas: readonly number[]): Promise<(BlockRef | null)[]> {
    return this.resolveSync(ds, lbas);
  }

  /**
   * The same, synchronously: all metadata is in memory. dom0 uses it to serve a read of a
   * resident block within one turn of its ring service loop.
   */
  resolveSync(ds: DatasetRef, lbas: readonly number[]): (BlockRef | null)[] {
    const d = this.dataset(ds);
    return this.resolveChunks(d, lbas).map((c) =>
      c ? { chunkId: c.id, group: d.group, metaslab: c.metaslab, offset: c.offset, extent: c.extent, size: c.size, hash: c.hash ? c.hash.slice() : null } : null,
    );
  }

  /**
   * dom0's serving path: per LBA (null = hole) the chunk id and size, and whether the block
   * is this dataset's alone (no snapshot, clone or deduplicated block shares its chunk, so
   * no other dataset's reader may see it), in one walk of the tree per LBA and with no
   * copy of the chunk's hash.
   */
  servingSync(ds: DatasetRef, lbas: readonly number[]): ({ chunkId: number; size: number; exclusive: boolean } | null)[] {
    const d = this.dataset(ds);
    const blocks = blockCount(d.sizeBytes, d.blockSize);
    return lbas.map((lba) => {
      checkLba(d, lba, blocks);
      const owned = lookupOwned(this.state, d, lba);
      if (owned === 0) return null;
      const chunkId = Math.abs(owned);
      const c = this.state.chunks.get(chunkId);
      if (!c) throw new Error(`pool invariant broken: chunk ${chunkId} of ${d.name} block ${lba} missing`);
      return { chunkId, size: c.size, exclusive: owned > 0 };
    });
  }

  /**
   * Verified bytes of each ref, in order, in one IndexedDB transaction. Looks the chunk
   * up again by id, so a ref stays valid if a cleaner moved the chunk; throws
   * StaleBlockRefError if the chunk was freed, ChecksumError on corruption.
   */
  async readChunks(refs: readonly Pick<BlockRef, 'chunkId'>[]): Promise<Uint8Array[]> {
    this.checkOpen();
    const chunks = refs.map((r) => {
      const c = this.state.chunks.get(r.chunkId);
      if (!c) throw new StaleBlockRefError(r.chunkId);
      return c;
    });
    return this.readRecords(chunks);
  }

  /**
   * @internal Give chunks that have no SHA-256 one (format 3 writes chunks without it): read
   * each chunk's verified bytes, hand them to `hash` (the archive: it stores them unless it
   * has that content, and returns their SHA-256, its address for them), and keep what it
   * returns under that chunk, so a later snapshot of the volume knows the address without
   * reading the chunk. The pool pairs bytes and chunk itself: a chunk id names one content
   * for good (ids are never handed out again), so nothing needs checking afterwards.
   * `hash` runs outside the pool's queue, one chunk at a time, in order. A result that is
   * not 32 bytes refuses the call with InvalidArgumentError before anything is kept. A
   * chunk that is gone, or has a hash, by then is skipped. A cache of what the bytes say:
   * committed at once when nothing else is staged, else with the next commit; if that
   * commit fails (it dropped only these), the next archive computes them again. Returns
   * how many it kept.
   */
  async hashChunks(chunkIds: readonly number[], hash: (bytes: Uint8Array, chunkId: number) => Promise<Uint8Array>): Promise<number> {
    const bytes = await this.readChunks(chunkIds.map((chunkId) => ({ chunkId })));
    const hashes: Uint8Array[] = [];
    for (const [k, chunkId] of chunkIds.entries()) {
      const h = await hash(bytes[k]!, chunkId);
      if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) {
        throw new InvalidArgumentError(`chunk ${chunkId}: a SHA-256 is ${HASH_BYTES} bytes, got ${h instanceof Uint8Array ? h.length : typeof h}`);
      }
      hashes.push(h.slice());
    }
    return this.serial.run(async () => {
      if (this.closed) return 0; // the hashes are only lost; the next archive computes them again
      const clean = !this.state.isDirty;
      let kept = 0;
      for (const [k, chunkId] of chunkIds.entries()) if (this.state.noteChunkHash(chunkId, hashes[k]!)) kept++;
      this.counters.hashesKept += kept;
      if (clean && kept > 0) await this.commitStaged().catch(() => undefined);
      return kept;
    });
  }

  /** Verified bytes of blocks `lbas` of a dataset (holes read as zeros), one transaction. */
  async readBlocks(ds: DatasetRef, lbas: readonly number[]): Promise<Uint8Array[]> {
    const d = this.dataset(ds);
    const chunks = this.resolveChunks(d, lbas);
    const present = chunks.filter((c): c is ChunkRecord => c !== null);
    let bytes: Uint8Array[];
    try {
      bytes = await this.readRecords(present);
    } catch (e) {
      if (e instanceof ChecksumError && e.detail.dataset === undefined) {
        const lba = lbas[chunks.findIndex((c) => c?.id === e.detail.chunkId)];
        throw new ChecksumError({ ...e.detail, dataset: d.name, ...(lba !== undefined ? { lba } : {}) });
      }
      throw e;
    }
    let k = 0;
    return chunks.map((c) => (c ? bytes[k++]! : new Uint8Array(d.blockSize)));
  }

  // --- writes --------------------------------------------------------------------------

  /**
   * Stage `bytes` at block `lba` (in blocks of the dataset's block size). The length must
   * be a multiple of the block size, except a write that ends exactly at the end of the
   * volume. A write reaching into a block past the last is refused (OutOfRangeError); one
   * that ends inside the partial last block but past the end of the volume (a whole-block
   * write there) is truncated at the end: those bytes do not exist and read back as zeros.
   * Zero blocks punch holes. Durable only after commit(). The bytes are copied when this is
   * called, so the caller may reuse its buffer at once; `owned` (internal) skips that copy
   * for a caller that never changes them before the commit (dom0's driver, which has its own).
   * Resolves to the transaction group the write is staged in: pass it to
   * `commit({ groups })` to learn whether the write was committed or dropped with its group
   * (by another caller's failed commit, say) before a commit of yours.
   */
  async write(ds: DatasetRef, lba: number, bytes: Uint8Array, opts: { dedupThreshold?: number; owned?: boolean } = {}): Promise<number> {
    return this.writeBlocks(ds, [{ lba, bytes }], opts);
  }

  /**
   * `write` at several LBAs of one dataset as one step: a commit holds all of them or none
   * (no commit can run between the first and the last). Each entry is checked as `write`
   * checks it before anything is staged, so a bad entry stages nothing. Checksums are
   * taken now, in the caller's turn; staging keeps call order. An entry whose blocks have
   * dedup candidates reads them before it is staged (write-path.ts findDuplicates), so a
   * reader of the dataset (dom0's `servingSync`) can meanwhile see earlier entries staged
   * and later ones not yet; the commit still holds all of them or none. Resolves to the
   * group they are staged in, as `write` does.
   */
  async writeBlocks(ds: DatasetRef, writes: readonly { lba: number; bytes: Uint8Array }[], opts: { dedupThreshold?: number; owned?: boolean } = {}): Promise<number> {
    if (opts.dedupThreshold !== undefined && !(opts.dedupThreshold >= 1)) {
      throw new InvalidArgumentError(`dedupThreshold must be ≥ 1 (Infinity disables dedup), got ${opts.dedupThreshold}`);
    }
    const trimmed = writes.map(({ lba, bytes }) => {
      const d = this.writable(ds, lba, bytes.length);
      // A block past the volume's end is cut at it: what is left ends at the end, which
      // `writable` accepts for the last block.
      const inVolume = d.sizeBytes - lba * d.blockSize;
      return { lba, bytes: bytes.length > inVolume ? bytes.subarray(0, inVolume) : bytes, blockSize: d.blockSize };
    });
    const ps = trimmed.map((w) => prepareBlocks(w.bytes, w.blockSize, { owned: opts.owned ?? false }));
    return this.mutate(async () => {
      // Checked again inside the queue (a dataset may have been destroyed meanwhile), all
      // before the first is staged: staging itself cannot fail part-way (findDuplicates
      // never throws, and nothing else runs in the queue between the writes).
      for (let i = 0; i < ps.length; i++) this.writable(ds, trimmed[i]!.lba, ps[i]!.bytes);
      for (let i = 0; i < ps.length; i++) await this.stage(ds, trimmed[i]!.lba, ps[i]!, opts.dedupThreshold);
      return this.openGroup;
    });
  }

  /**
   * @internal Stage already prepared blocks (the import prepares the next slice while one
   * commits). Resolves to the group they are staged in, as `write` does.
   */
  stagePreparedBlocks(ds: DatasetRef, lba: number, p: PreparedBlocks): Promise<number> {
    return this.mutate(async () => {
      await this.stage(ds, lba, p, undefined);
      return this.openGroup;
    });
  }

  private async stage(ds: DatasetRef, lba: number, p: PreparedBlocks, thn: number | undefined): Promise<void> {
    const d = this.writable(ds, lba, p.bytes);
    const t = thn ?? this.opts.dedupThreshold ?? 1;
    // Nothing changes the dataset during the await: this runs in the pool's queue.
    const plan = await findDuplicates(this.state, d.group, p, t, (chunks) => readChunkRecords(this.db, this.state, chunks, { cache: this.records }), this.counters);
    stagePrepared(this.state, d, lba, p, plan, t, this.counters);
  }

  /**
   * Write the open transaction group in one IndexedDB transaction and return its txg
   * (the current txg when nothing is staged). On failure (PoolFullError, CommitError) the
   * staged group is dropped: memory and disk both stay at the last commit. `groups`: the
   * groups the caller's writes resolved to; if any of them was dropped before this call
   * (every caller's staged changes share one group, so another caller's failed commit drops
   * them too), the call rejects with GroupDroppedError after committing what is staged,
   * instead of resolving as if those writes were durable.
   */
  commit(opts: { groups?: readonly number[] } = {}): Promise<number> {
    return this.serial.run(async () => {
      this.checkOpen();
      const txg = await this.commitStaged();
      for (const g of opts.groups ?? []) {
        if (this.droppedGroups.has(g)) throw new GroupDroppedError(g, this.droppedGroups.get(g));
      }
      return txg;
    });
  }

  /** The body of `commit`, inside the pool's queue; `durability` overrides the pool's. */
  private async commitStaged(durability?: Durability): Promise<number> {
    if (!this.state.isDirty) return this.state.committedTxg;
    try {
      const txg = await writeTxg(this.db, this.state, durability ?? this.opts.durability ?? 'strict', this.opts.hooks, this.commitYield ?? undefined);
      this.state.applyCommitted(txg);
      this.openGroup++;
      this.counters.commits++;
      return txg;
    } catch (e) {
      this.dropGroup(e);
      throw e;
    }
  }

  /**
   * Why group `group` (what a write resolved to) was dropped before it was committed, or
   * undefined: committed, or still open. What `commit({ groups })` reports, asked per group.
   */
  droppedGroup(group: number): unknown {
    return this.droppedGroups.get(group);
  }

  /** Back to the last commit; the writers of the open group learn why from `commit({ groups })`. */
  private dropGroup(why: unknown): void {
    if (this.state.isDirty) this.droppedGroups.set(this.openGroup, why);
    this.openGroup++;
    this.state.discard();
  }

  /**
   * @internal Code to run after every `REQUESTS_BETWEEN_YIELDS` data requests (commit.ts)
   * while a commit issues them (dom0: one poll of the guests' rings). Each `put()` of a block can wait about a millisecond on the
   * browser, so a 16 MiB commit would otherwise hold the thread for a quarter of a second
   * (docs/pool.md, "What holds dom0's thread during an import"). It runs inside the
   * commit's synchronous loop: it must not change the pool synchronously (every mutation
   * goes through the pool's queue, so none can), and an error it throws is reported on the
   * thread, not as the commit's.
   */
  setCommitYield(fn: (() => void) | null): void {
    this.commitYield = fn
      ? () => {
          try {
            fn();
          } catch (e) {
            setTimeout(() => {
              throw e;
            });
          }
        }
      : null;
  }

  /** Drop the staged group without writing it. */
  discard(): Promise<void> {
    return this.serial.run(() => this.dropGroup(new Error('the staged group was discarded (Pool.discard())')));
  }

  get txg(): number {
    return this.state.committedTxg;
  }

  stats(): PoolStats {
    let logical = 0;
    let stored = 0;
    let chunks = 0;
    for (const c of this.state.chunks.values()) {
      chunks++;
      stored += c.size;
      logical += c.size * c.refcount;
    }
    return {
      txg: this.state.committedTxg,
      datasets: [...this.state.datasets.values()].length,
      chunks,
      nodes: [...this.state.nodes.values()].length,
      logicalBytes: logical,
      storedBytes: stored,
      dedupRatio: stored === 0 ? 1 : logical / stored,
      metaslabs: [...this.state.metaslabs.values()].sort((a, b) => a.id - b.id).map((m) => ({ ...m })),
      counters: { ...this.counters, recordsRead: this.records.loads, recordCacheHits: this.records.hits },
    };
  }

  /**
   * Create volume `opts.name` from a Blob/File/ArrayBuffer, streamed: slices are checksummed
   * ahead and committed every `commitEveryBytes` (default 16 MiB); `onProgress` after each
   * commit. On failure the partial volume is destroyed and the error rethrown.
   */
  importVolume(source: Blob | ArrayBuffer, opts: ImportOptions, onProgress?: (p: ImportProgress) => void): Promise<DatasetInfo> {
    return importVolume(this, source, opts, onProgress);
  }

  /** The dataset's bytes (exactly sizeBytes) as a Blob; every block verified. */
  exportVolume(ds: DatasetRef): Promise<Blob> {
    return exportVolume(this, ds);
  }

  /**
   * Recount references, check accounting, optionally verify every chunk's bytes. Runs in the
   * pool's queue, so no write or commit changes the pool while it looks: one that did could
   * free a chunk fsck had listed, or delete a record it had counted, and fsck would report
   * damage that is not there (it did, in CI, with a guest writing during an fsck). Writes
   * wait for it meanwhile.
   */
  fsck(opts: { data?: boolean } = {}): Promise<FsckReport> {
    return this.serial.run(() => fsck(this.state, this.db, this.txg, opts));
  }

  /**
   * Rewrite sparse data records (compact.ts): the live chunks of every extent filled less
   * than `liveBelow` (default half) by them move into new extents and the old records are
   * deleted, in steps of `stepBytes` read, each its own commit in the pool's queue, so
   * writes wait one step at most. Staged changes of other callers are committed first, on
   * their own (the cleaner's commit failing then drops only its moves). Reads go on
   * meanwhile: a chunk keeps its id when it moves. A record with a damaged chunk is left
   * where it is and reported. `onProgress` after each step.
   */
  async compact(opts: CompactOptions = {}): Promise<CompactReport> {
    checkCompactOptions(opts);
    this.checkOpen();
    const step = { liveBelow: opts.liveBelow ?? DEFAULT_LIVE_BELOW, stepBytes: opts.stepBytes ?? DEFAULT_STEP_BYTES };
    const maxBytes = opts.maxBytes ?? Infinity;
    const report = emptyCompactReport();
    const skip = new Set<string>();
    const queue: SparseExtent[] = [];
    for (const k of this.recordLengths.keys()) if (!this.state.extents.has(k)) this.recordLengths.delete(k);
    // Past the record cache: what the cleaner reads once should not push out what guests read.
    const read = (chunks: readonly ChunkRecord[]) => readChunkRecords(this.db, this.state, chunks);
    while (report.bytesRead < maxBytes) {
      const more = await this.serial.run(async () => {
        this.checkOpen();
        if (this.state.isDirty) await this.commitStaged();
        const found = await compactStep(this.state, read, step, this.recordLengths, skip, report, queue);
        if (this.state.isDirty) {
          await this.commitStaged();
          report.commits++;
        }
        return found;
      });
      if (!more) break;
      opts.onProgress?.({ ...report, damaged: [...report.damaged] });
    }
    return report;
  }

  // --- helpers -------------------------------------------------------------------------

  private async readRecords(chunks: ChunkRecord[]): Promise<Uint8Array[]> {
    const out = await readChunkRecords(this.db, this.state, chunks, { cache: this.records });
    this.counters.chunksRead += out.length;
    for (const b of out) this.counters.bytesRead += b.byteLength;
    return out;
  }

  private resolveChunks(d: DatasetRecord, lbas: readonly number[]): (ChunkRecord | null)[] {
    const blocks = blockCount(d.sizeBytes, d.blockSize);
    return lbas.map((lba) => {
      checkLba(d, lba, blocks);
      const id = lookup(this.state, d, lba);
      if (id === 0) return null;
      const c = this.state.chunks.get(id);
      if (!c) throw new Error(`pool invariant broken: chunk ${id} of ${d.name} block ${lba} missing`);
      return c;
    });
  }

  private writable(ds: DatasetRef, lba: number, length: number): DatasetRecord {
    this.checkOpen();
    return datasets.writable(this.state, ds, lba, length);
  }

  private dataset(ref: DatasetRef): DatasetRecord {
    this.checkOpen();
    return datasets.findDataset(this.state, ref);
  }

  private checkOpen(): void {
    if (this.closed) throw new PoolClosedError(`pool ${this.name} is closed${this.closedBecause ? `: ${this.closedBecause}` : ''}`);
  }

  /** Run a mutation in the serial queue; it must throw before changing anything. */
  private mutate<T>(step: () => T | Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      this.checkOpen();
      return step();
    });
  }
}
