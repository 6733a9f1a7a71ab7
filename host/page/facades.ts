// Runs on the host page's main thread: the typed faces of the dom0 worker that the
// Hypervisor shows its callers (hv.pool, hv.archive, hv.mirror, hv.integrity, hv.memory).
// Each method is one call to dom0 over comlink; comlink stays in here: a progress callback
// is a plain function (wrapped in `proxy()` below), and a failure rejects with the
// project's own error class (shared/errors/error-transfer.ts), never synchronously.
//
//   await hv.pool.import('image', file, { blockSize: 65536, onProgress: (p) => show(p) });
//   await hv.pool.snapshot('image', 'image@base');
import { proxy, transfer, type Remote } from 'comlink';
import { isArrayBuffer } from '../../shared/buffer-kind';
import type { CompactOptions, CompactReport, DatasetInfo, FsckReport, ImportProgress } from '../pool';
import type { ArchiveServiceStats } from '../archive/archive-service';
import type { ArchiveProgress, PoolArchiveReport, PoolRestoreReport, RestoreProgress } from '../archive/pool-archive';
import type { CleanReport } from '../archive/cleaner';
import type { Dom0Service, Dom0Stats, FrameSummary } from '../dom0/dom0-service';
import type { StartMirrorOptions } from '../dom0/dom0-reliability';
import type { IntegrityCounters, ScrubReport } from '../dom0/integrity';
import type { MirrorStats } from '../dom0/mirror-source';

export interface VolumeOptions {
  /** Bytes per block, a power of two (default 64 KiB). */
  blockSize?: number;
  /** Trust group of the dataset: frames are shared only inside one. */
  group?: string;
}

export interface ImportVolumeOptions extends VolumeOptions {
  onProgress?: (p: ImportProgress) => void;
  /**
   * Hand an ArrayBuffer source to dom0 instead of copying it there: it is detached on this
   * page (byteLength 0) when `import` is called, as after postMessage with a transfer list,
   * and a failed import leaves nothing of it. Without it, dom0 gets a copy and the page
   * keeps its buffer. Nothing to do for a Blob or a File (dom0 reads those itself); refused
   * for a SharedArrayBuffer (InvalidArgumentError), which cannot move.
   */
  transfer?: boolean;
}

/** The storage pool (IndexedDB, in the dom0 worker): volumes, snapshots, clones. */
export interface PoolApi {
  /** Import an image file as a new volume; the image is split into blocks and deduplicated. */
  import(name: string, source: Blob | ArrayBuffer, opts?: ImportVolumeOptions): Promise<DatasetInfo>;
  /** Create an empty (all-zero) volume of `sizeBytes`. */
  create(name: string, sizeBytes: number, opts?: VolumeOptions): Promise<DatasetInfo>;
  /** The volume's bytes, every block verified against its checksum. */
  export(name: string): Promise<Blob>;
  /** A read-only snapshot `name` of `dataset` (names are usually `dataset@label`). */
  snapshot(dataset: string, name: string): Promise<DatasetInfo>;
  /** A writable clone of `snapshot`, sharing its blocks until they are written. */
  clone(snapshot: string, name: string, opts?: { group?: string }): Promise<DatasetInfo>;
  /** Destroy a dataset no domain runs on; a snapshot with clones is refused (HasClonesError). */
  destroy(name: string): Promise<void>;
  list(): Promise<DatasetInfo[]>;
  /** Pool, driver, trust-group and per-domain counters. */
  stats(): Promise<Dom0Stats>;
  /** Per block of `dataset`: 0 a hole, 1 shared with its origin, 2 its own. */
  ownership(dataset: string): Promise<Uint8Array>;
  /** Check the pool's metadata (and with `data`, every block's checksum); changes nothing. */
  fsck(opts?: { data?: boolean }): Promise<FsckReport>;
  /**
   * Rewrite the pool's data records that are under `liveBelow` (default half) live, so
   * blocks rewritten since they were written stop holding their neighbours' dead bytes
   * (docs/pool.md, "Extents"). Guests keep reading and writing meanwhile.
   */
  compact(opts?: CompactOptions): Promise<CompactReport>;
}

/** The snapshot archive beside the pool (log-structured, with a cold tier): docs/archive.md. */
export interface ArchiveApi {
  /** Archive a pool snapshot; writes only chunks the archive lacks. */
  save(snapshot: string, opts?: { onProgress?: (p: ArchiveProgress) => void }): Promise<PoolArchiveReport>;
  /** Restore an archived snapshot into a new volume, byte for byte, verified. */
  restore(snapshot: string, newVolume: string, opts?: { onProgress?: (p: RestoreProgress) => void }): Promise<PoolRestoreReport>;
  /** Clean segments: the LFS cost-benefit policy, or greedy for comparison. */
  clean(policy?: 'cost-benefit' | 'greedy'): Promise<CleanReport>;
  /** Move superseded chunks of archived snapshots older than `ageMs` to the cold tier. */
  tier(ageMs: number): Promise<{ chunksMoved: number; bytesIn: number; bytesOut: number; snapshots: string[] }>;
  stats(): Promise<ArchiveServiceStats>;
  /** Close and delete the archive. */
  destroy(): Promise<void>;
}

/** Dirty pages mirrored to a second tab: docs/reliability.md. */
export interface MirrorApi {
  start(opts: StartMirrorOptions): Promise<void>;
  stop(): Promise<void>;
  /** Null while no mirror runs. */
  stats(): Promise<MirrorStats | null>;
  /** Resolves when every write so far is durable in the mirror. */
  drained(): Promise<void>;
}

/** Frame checksums: a scrub also runs by itself (every 5 s by default). */
export interface IntegrityApi {
  /** Verify every resident frame; corrupt frames are reloaded from the pool. */
  scrub(): Promise<ScrubReport>;
  stats(): Promise<IntegrityCounters>;
}

/** What shared memory holds: the frames of a trust group's arena, a domain's page map. */
export interface MemoryApi {
  frames(group: string): Promise<FrameSummary[]>;
  /** LBA → frame (-1 unmapped) of a guest's domain, from dom0's trusted copy. */
  pageMap(domainId: number): Promise<Int32Array>;
}

/** A plain callback as a comlink proxy, or nothing. */
function callback<T>(fn: ((p: T) => void) | undefined): ((p: T) => void) | undefined {
  return fn ? proxy(fn) : undefined;
}

export function poolApi(dom0: Remote<Dom0Service>): PoolApi {
  return {
    import: async (name, source, opts = {}) => {
      // `transfer` goes on to dom0 too: for what cannot move (a SharedArrayBuffer) the pool says why.
      const { onProgress, ...volume } = opts;
      const moved = volume.transfer === true && isArrayBuffer(source);
      return dom0.importImage(name, moved ? transfer(source, [source]) : source, volume, callback(onProgress));
    },
    create: async (name, sizeBytes, opts = {}) => dom0.createVolume(name, sizeBytes, opts),
    export: async (name) => dom0.exportVolume(name),
    snapshot: async (dataset, name) => dom0.snapshot(dataset, name),
    clone: async (snapshot, name, opts = {}) => dom0.clone(snapshot, name, opts),
    destroy: async (name) => dom0.destroyDataset(name),
    list: async () => dom0.list(),
    stats: async () => dom0.stats(),
    ownership: async (dataset) => dom0.blockOwnership(dataset),
    fsck: async (opts = {}) => dom0.fsck(opts),
    compact: async (opts = {}) => {
      const { onProgress, ...rest } = opts;
      return dom0.compactPool(rest, callback(onProgress));
    },
  };
}

export function archiveApi(dom0: Remote<Dom0Service>): ArchiveApi {
  return {
    save: async (snapshot, opts = {}) => dom0.archiveSnapshot(snapshot, callback(opts.onProgress)),
    restore: async (snapshot, newVolume, opts = {}) => dom0.restoreArchive(snapshot, newVolume, callback(opts.onProgress)),
    clean: async (policy = 'cost-benefit') => dom0.cleanArchive(policy),
    tier: async (ageMs) => dom0.tierArchive(ageMs),
    stats: async () => dom0.archiveStats(),
    destroy: async () => dom0.destroyArchive(),
  };
}

export function mirrorApi(dom0: Remote<Dom0Service>): MirrorApi {
  return {
    start: async (opts) => dom0.startMirror(opts),
    stop: async () => dom0.stopMirror(),
    stats: async () => dom0.mirrorStats(),
    drained: async () => dom0.mirrorDrained(),
  };
}

export function integrityApi(dom0: Remote<Dom0Service>): IntegrityApi {
  return {
    scrub: async () => dom0.scrub(),
    stats: async () => dom0.integrityStats(),
  };
}

export function memoryApi(dom0: Remote<Dom0Service>): MemoryApi {
  return {
    frames: async (group) => dom0.frames(group),
    pageMap: async (domainId) => dom0.pageMap(domainId),
  };
}
