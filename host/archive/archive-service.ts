// Runs where the pool runs: the dom0 Web Worker in production (OPFS and IndexedDB both
// exist in dedicated workers), a test page in tests. The archive's control-plane surface:
// one object that owns an Archive (warm log + LSM) and its ColdTier on OPFS (IndexedDB
// where OPFS is missing), takes a Pool, and exposes exactly what the demo's buttons need.
// dom0-service.ts only has to delegate; every argument and result is structured-clonable
// (plain objects, numbers, strings) so it crosses comlink unchanged, except the progress
// callbacks, which a comlink caller passes through Comlink.proxy.
//
//   const svc = await ArchiveService.open(pool);            // name 'main', backend 'auto'
//   await svc.archive('disk@1');                           // a pool snapshot
//   await svc.restore('disk@1', 'disk-restored');          // a new pool volume
//   await svc.clean('cost-benefit');  await svc.tier(7 * 24 * 3600e3);
//   const stats = await svc.archiveStats();                // bytes per tier, counters
//
// Operations run one at a time (a queue): the archive's commit protocol assumes a single
// writer, and cleaning must not move records under a running archive or restore. Across
// tabs, a Web Lock per archive name refuses a second opener instead of letting two
// writers corrupt the log.

import type { Pool } from '../pool';
import { Archive, type ArchiveStats } from './archive';
import type { CleanReport } from './cleaner';
import { ColdTier, type TierReport } from './cold-tier';
import { ArchiveUsageError } from '../../shared/errors/archive-errors';
import { IdbSegmentStore } from './idb-segment-store';
import { MemorySegmentStore } from './memory-segment-store';
import { OpfsSegmentStore } from './opfs-segment-store';
import {
  type ArchivePoolOptions,
  type PoolArchiveReport,
  type PoolRestoreReport,
  type RestoreOptions,
  archivePoolSnapshot,
  restoreToPool,
} from './pool-archive';
import { SegmentRunStore } from './run-store';
import type { TailRecovery } from './segment-log';
import type { SegmentBackend, SegmentStore } from './segment-store';
import { type CleaningPolicy, CleaningPolicy as Policies } from './segment-usage';
import { tierOldSnapshots } from './tiering';

export type ArchiveBackendChoice = 'auto' | SegmentBackend;

export interface ArchiveServiceOptions {
  /** Stores are `<name>-data`, `<name>-runs`, `<name>-cold` (OPFS directories / IDB databases). Default 'main'. */
  readonly name?: string;
  /** 'auto': OPFS where the browser has it, IndexedDB otherwise; 'memory' for tests. */
  readonly backend?: ArchiveBackendChoice;
  /** Warm segment size. Default 4 MiB: a manifest (32 B per block) of a 7 GiB volume of 64 KiB blocks fits one. */
  readonly segmentBytes?: number;
  readonly coldSegmentBytes?: number;
  /** Time for record ages and tiering; default Date.now, so tier(age) takes milliseconds. */
  readonly clock?: () => number;
}

export const DEFAULT_ARCHIVE_SEGMENT_BYTES = 4 * 1024 * 1024;

export interface ArchivedSnapshotInfo {
  readonly name: string;
  readonly archivedAt: number;
  readonly lineage: string | null;
  readonly sizeBytes: number | null; // null: archived as a plain chunk list
  readonly blocks: number;
  readonly holes: number;
  /** Distinct chunks it references, and how many of them are in the cold tier. */
  readonly chunks: number;
  readonly coldChunks: number;
}

export interface ArchiveServiceStats {
  readonly name: string;
  readonly backend: SegmentBackend;
  readonly snapshots: ArchivedSnapshotInfo[];
  readonly tiers: {
    /** bytes: the warm log's footprint; liveBytes: of which referenced (the rest is for the cleaner). */
    readonly warm: { readonly bytes: number; readonly liveBytes: number; readonly segments: number };
    /** bytes: the cold log's footprint (compressed); liveBytes: referenced cold records. */
    readonly cold: { readonly bytes: number; readonly liveBytes: number; readonly chunks: number };
  };
  /** Totals since open. */
  readonly counters: ArchiveCounters;
  /** What the warm log dropped as a torn tail when it was opened (a crash mid-append), if anything. */
  readonly recovery: TailRecovery | null;
}

export interface ArchiveCounters {
  archives: number;
  chunksWritten: number;
  bytesWritten: number;
  restores: number;
  bytesRestored: number;
  cleanings: number;
  cleanBytesRead: number;
  cleanBytesCopied: number;
  cleanBytesFreed: number;
  tierings: number;
  chunksTiered: number;
  bytesTieredIn: number;
  bytesTieredOut: number;
}

export interface CleanOptions {
  /** Victim segments per pass (default 16). */
  readonly maxVictims?: number;
  /** Repeat passes while they free space, up to this many (default 1). */
  readonly passes?: number;
}

interface Stores {
  readonly data: SegmentStore;
  readonly runs: SegmentStore;
  readonly cold: SegmentStore;
}

export class ArchiveService {
  readonly #counters: ArchiveCounters = {
    archives: 0,
    chunksWritten: 0,
    bytesWritten: 0,
    restores: 0,
    bytesRestored: 0,
    cleanings: 0,
    cleanBytesRead: 0,
    cleanBytesCopied: 0,
    cleanBytesFreed: 0,
    tierings: 0,
    chunksTiered: 0,
    bytesTieredIn: 0,
    bytesTieredOut: 0,
  };
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    readonly pool: Pool,
    readonly name: string,
    /** The archive itself (tests and diagnostics). */
    readonly core: Archive,
    readonly cold: ColdTier,
    readonly stores: Stores,
    readonly clock: () => number,
    readonly releaseLock: () => void,
  ) {}

  static async open(pool: Pool, options: ArchiveServiceOptions = {}): Promise<ArchiveService> {
    const name = options.name ?? 'main';
    const release = await acquireLock(name);
    try {
      const backend = pickBackend(options.backend ?? 'auto');
      const stores: Stores = {
        data: await openStore(backend, `${name}-data`),
        runs: await openStore(backend, `${name}-runs`),
        cold: await openStore(backend, `${name}-cold`),
      };
      const segmentBytes = options.segmentBytes ?? DEFAULT_ARCHIVE_SEGMENT_BYTES;
      const clock = options.clock ?? Date.now;
      const cold = await ColdTier.open(stores.cold, { segmentBytes: options.coldSegmentBytes ?? segmentBytes });
      const archive = await Archive.open(stores.data, new SegmentRunStore(stores.runs), { segmentBytes, clock, cold });
      return new ArchiveService(pool, name, archive, cold, stores, clock, release);
    } catch (err: unknown) {
      release();
      throw err;
    }
  }

  /** Delete every store of archive `name` (it must not be open). */
  static async destroy(name: string, backend: ArchiveBackendChoice = 'auto'): Promise<void> {
    const b = pickBackend(backend);
    for (const part of ['data', 'runs', 'cold']) {
      if (b === 'opfs') await OpfsSegmentStore.destroy(`${name}-${part}`);
      else if (b === 'indexeddb') await IdbSegmentStore.destroy(`${name}-${part}`);
    }
  }

  get backend(): SegmentBackend {
    return this.stores.data.backend;
  }

  /** Archive pool snapshot `snapshot` (writes only chunks the archive lacks). */
  archive(snapshot: string, options: ArchivePoolOptions = {}): Promise<PoolArchiveReport> {
    return this.#run(async () => {
      const r = await archivePoolSnapshot(this.pool, this.core, snapshot, options);
      this.#counters.archives++;
      this.#counters.chunksWritten += r.chunksWritten;
      this.#counters.bytesWritten += r.bytesWritten;
      return r;
    });
  }

  /** Restore archived snapshot `name` into new pool volume `newVolume` (hash-verified). */
  restore(name: string, newVolume: string, options: RestoreOptions = {}): Promise<PoolRestoreReport> {
    return this.#run(async () => {
      const r = await restoreToPool(this.pool, this.core, name, newVolume, options);
      this.#counters.restores++;
      this.#counters.bytesRestored += r.bytesWritten;
      return r;
    });
  }

  /** Segment cleaning of the warm tier with the given policy. */
  clean(policy: CleaningPolicy = Policies.costBenefit, options: CleanOptions = {}): Promise<CleanReport> {
    if (policy !== Policies.costBenefit && policy !== Policies.greedy) {
      return Promise.reject(new ArchiveUsageError(`unknown cleaning policy "${String(policy)}"`));
    }
    return this.#run(async () => {
      const total = { victims: [] as CleanReport['victims'], recordsCopied: 0, bytesRead: 0, bytesCopied: 0, bytesFreed: 0 };
      for (let pass = 0; pass < (options.passes ?? 1); pass++) {
        const r = await this.core.clean(policy, options.maxVictims ?? 16);
        total.victims.push(...r.victims);
        total.recordsCopied += r.recordsCopied;
        total.bytesRead += r.bytesRead;
        total.bytesCopied += r.bytesCopied;
        total.bytesFreed += r.bytesFreed;
        if (r.bytesFreed <= 0) break;
      }
      this.#counters.cleanings++;
      this.#counters.cleanBytesRead += total.bytesRead;
      this.#counters.cleanBytesCopied += total.bytesCopied;
      this.#counters.cleanBytesFreed += total.bytesFreed;
      return total;
    });
  }

  /**
   * Move to the cold tier the chunks of snapshots archived more than `ageMs` ago that a
   * newer archived snapshot of the same volume superseded (tiering.ts says exactly which).
   * The warm copies become dead; `clean` reclaims them.
   */
  tier(ageMs: number): Promise<TierReport & { readonly snapshots: string[] }> {
    return this.#run(async () => {
      const r = await tierOldSnapshots(this.core, this.cold, ageMs, this.clock());
      this.#counters.tierings++;
      this.#counters.chunksTiered += r.chunksMoved;
      this.#counters.bytesTieredIn += r.bytesIn;
      this.#counters.bytesTieredOut += r.bytesOut;
      return r;
    });
  }

  /** Drop an archived snapshot; chunks nothing else references become garbage. */
  delete(name: string): Promise<void> {
    return this.#run(() => this.core.deleteSnapshot(name));
  }

  list(): string[] {
    return this.core.snapshotNames();
  }

  /** Bytes per tier, per-snapshot summary, counters. */
  archiveStats(): Promise<ArchiveServiceStats> {
    return this.#run(async () => {
      const s: ArchiveStats = this.core.stats();
      const coldLive = new Set<string>();
      for (const [h, loc] of this.core.lsm.live()) if (loc.tier === 'cold') coldLive.add(h);
      const snapshots: ArchivedSnapshotInfo[] = [];
      for (const name of this.core.snapshotNames()) {
        const m = await this.core.snapshotManifest(name);
        const meta = this.core.snapshotMeta(name);
        const distinct = new Set(await this.core.snapshotChunks(name));
        let cold = 0;
        for (const h of distinct) if (coldLive.has(h)) cold++;
        snapshots.push({
          name,
          archivedAt: meta.archivedAt,
          lineage: meta.lineage,
          sizeBytes: m.volume?.sizeBytes ?? null,
          blocks: m.chunks.length,
          holes: m.chunks.length - (await this.core.snapshotChunks(name)).length,
          chunks: distinct.size,
          coldChunks: cold,
        });
      }
      return {
        name: this.name,
        backend: this.backend,
        snapshots,
        tiers: {
          warm: { bytes: s.warmBytes, liveBytes: s.liveWarmBytes, segments: s.segments },
          cold: { bytes: this.cold.bytes(), liveBytes: s.liveColdBytes, chunks: s.coldChunks },
        },
        counters: { ...this.#counters },
        recovery: this.core.recovery,
      };
    });
  }

  /** Finish pending work, persist, close the stores and release the lock. */
  close(): Promise<void> {
    return this.#run(async () => {
      this.#closed = true;
      await this.core.lsm.idle();
      await this.core.log.flush();
      await this.cold.flush();
      for (const s of [this.stores.data, this.stores.runs, this.stores.cold]) await s.close();
      this.releaseLock();
    });
  }

  #run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(() => {
      if (this.#closed) throw new ArchiveUsageError(`archive "${this.name}" is closed`);
      return op();
    });
    this.#queue = next.catch(() => undefined); // one failed operation must not wedge the rest
    return next;
  }
}

function pickBackend(choice: ArchiveBackendChoice): SegmentBackend {
  if (choice !== 'auto') return choice;
  if (OpfsSegmentStore.isAvailable()) return 'opfs';
  if (IdbSegmentStore.isAvailable()) return 'indexeddb';
  throw new ArchiveUsageError('neither OPFS nor IndexedDB is available for the archive');
}

// In-memory stores live as long as the page, keyed by name, so a 'memory' archive can be
// closed and reopened within a test like a persistent one.
const memoryStores = new Map<string, MemorySegmentStore>();

async function openStore(backend: SegmentBackend, name: string): Promise<SegmentStore> {
  if (backend === 'opfs') return OpfsSegmentStore.open(name);
  if (backend === 'indexeddb') return IdbSegmentStore.open(name);
  let s = memoryStores.get(name);
  if (!s) memoryStores.set(name, (s = new MemorySegmentStore()));
  return s;
}

/**
 * Hold a Web Lock named after the archive for as long as it is open. Without Web Locks
 * (node tests) there is one context anyway. Refuses at once when another tab holds it.
 */
async function acquireLock(name: string): Promise<() => void> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return () => undefined;
  return new Promise((resolve, reject) => {
    locks
      .request(`tabvisor-archive:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          reject(new ArchiveUsageError(`archive "${name}" is open in another tab or worker`));
          return undefined;
        }
        return new Promise<void>((release) => resolve(release));
      })
      .catch(reject);
  });
}
