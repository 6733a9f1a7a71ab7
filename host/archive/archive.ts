// Runs anywhere (page or worker; node tests use in-memory stores). The archive: the
// logical layer over the data tier (segment log) and the metadata tier (LSM).
//
//   archive a snapshot = append the chunks the archive lacks + a manifest (chunk list)
//                        + a new catalogue record, flush the log, then flush the LSM
//   restore            = catalogue → manifest → each chunk, verified by hash
//   delete             = drop the name; chunks no snapshot references any more become
//                        dead bytes in the usage table, for the cleaner to reclaim
//
// A commit is "log durable, then LSM durable": the LSM (and the catalogue it points to
// under CATALOGUE_KEY) never references a record that is not in the store. A crash
// mid-commit leaves the previous catalogue in force and the new records as garbage.
//
// Reference counts live in memory and are rebuilt on open from the manifests.

import { ArchiveUsageError, ChunkHashMismatchError, SnapshotNotFoundError, ChunkNotFoundError } from '../../shared/errors/archive-errors';
import { type ChunkHash, sha256Hex } from './chunk-hash';
import { MetadataLsm } from './lsm';
import { type ChunkLocation, Tier } from './lsm-run';
import type { RunStore } from './run-store';
import { RecordKind, type RecordHeader } from './segment-format';
import { type RecordAddress, SegmentLog, type TailRecovery } from './segment-log';
import type { SegmentId, SegmentStore } from './segment-store';
import { type CleaningPolicy, SegmentUsageTable } from './segment-usage';
import { type CleanReport, cleanSegments } from './cleaner';
import {
  type Catalogue,
  HOLE_HASH,
  type ManifestContent,
  type SnapshotMeta,
  type VolumeGeometry,
  decodeCatalogue,
  decodeManifest,
  encodeCatalogue,
  encodeManifest,
} from './snapshot-manifest';

/** Where chunks that are not warm are fetched from (the cold tier implements this). */
export interface ChunkSource {
  readChunk(location: ChunkLocation, hash: ChunkHash): Promise<Uint8Array>;
}

export interface ArchiveOptions {
  readonly segmentBytes: number;
  readonly mergeFanIn?: number;
  /** Monotonic time for record ages; default a counter (one tick per commit). */
  readonly clock?: () => number;
  readonly cold?: ChunkSource;
}

export interface ArchiveReport {
  readonly chunks: number;
  readonly chunksWritten: number;
  readonly logicalBytes: number;
  /** Bytes appended to the log for this snapshot (chunks + manifest + catalogue records). */
  readonly bytesWritten: number;
}

export interface ArchiveStats {
  readonly snapshots: number;
  readonly segments: number;
  readonly warmBytes: number; // bytes the warm log occupies
  readonly liveWarmBytes: number; // of which referenced
  readonly coldChunks: number;
  readonly liveColdBytes: number; // record bytes (compressed) of referenced cold chunks
}

/**
 * A snapshot being archived chunk by chunk (the pool wiring streams a volume through
 * this in bounded memory). Chunks put into it are in the log and the LSM but referenced
 * by no snapshot until `commitSnapshot`; `abortSnapshot` makes them dead again.
 */
export interface SnapshotSession {
  readonly now: number;
  readonly pending: Set<ChunkHash>;
  chunksWritten: number;
  bytesWritten: number;
}

export interface CommitSnapshotOptions {
  /** Volume geometry: writes a v2 (volume) manifest, whose HOLE_HASH slots are holes. */
  readonly volume?: VolumeGeometry;
  readonly lineage?: string | null;
}

// The LSM key the catalogue record is indexed under: a fixed name, not a content hash
// (the catalogue's content changes at every commit).
const CATALOGUE_KEY = 'c47a1090e0000000000000000000000000000000000000000000000000000001' as ChunkHash;

export class Archive {
  readonly log: SegmentLog;
  readonly lsm: MetadataLsm;
  readonly usage: SegmentUsageTable;
  readonly #cold: ChunkSource | undefined;
  readonly #snapshots = new Map<string, ChunkHash>();
  readonly #manifests = new Map<ChunkHash, ManifestContent>(); // cache of decoded manifests
  readonly #meta = new Map<string, SnapshotMeta>();
  readonly #refs = new Map<ChunkHash, number>(); // chunk or manifest → referencing snapshots
  readonly #clock: () => number;
  #time = 0;

  private constructor(log: SegmentLog, lsm: MetadataLsm, options: ArchiveOptions) {
    this.log = log;
    this.lsm = lsm;
    this.usage = new SegmentUsageTable(options.segmentBytes);
    this.#cold = options.cold;
    this.#clock = options.clock ?? (() => this.#time + 1);
  }

  static async open(segments: SegmentStore, runs: RunStore, options: ArchiveOptions): Promise<Archive> {
    const log = await SegmentLog.open(segments, { segmentBytes: options.segmentBytes });
    const lsm = await MetadataLsm.open(runs, options.mergeFanIn ? { mergeFanIn: options.mergeFanIn } : {});
    const a = new Archive(log, lsm, options);
    await a.#load();
    return a;
  }

  get recovery(): TailRecovery | null {
    return this.log.recovery;
  }

  snapshotNames(): string[] {
    return [...this.#snapshots.keys()].sort();
  }

  /** Archive (or replace) snapshot `name` as this list of chunks; writes only new chunks. */
  async archiveSnapshot(name: string, chunks: readonly Uint8Array[], options: CommitSnapshotOptions = {}): Promise<ArchiveReport> {
    const session = this.beginSnapshot();
    const hashes = await Promise.all(chunks.map(sha256Hex));
    let logicalBytes = 0;
    for (const [i, hash] of hashes.entries()) {
      logicalBytes += chunks[i]!.length;
      if (!this.has(hash) && !session.pending.has(hash)) this.#putVerified(session, hash, chunks[i]!);
    }
    await this.commitSnapshot(session, name, hashes, options);
    return { chunks: chunks.length, chunksWritten: session.chunksWritten, logicalBytes, bytesWritten: session.bytesWritten };
  }

  /** Whether content with this hash is archived (warm or cold). */
  has(hash: ChunkHash): boolean {
    return this.lsm.has(hash);
  }

  /** Start archiving a snapshot chunk by chunk (see SnapshotSession). */
  beginSnapshot(): SnapshotSession {
    return { now: this.#tick(), pending: new Set(), chunksWritten: 0, bytesWritten: 0 };
  }

  /**
   * Append one chunk the archive lacks to a session. Hashes `bytes` and refuses them if
   * they do not match `hash` (the address the caller will list in the manifest), so the
   * archive never stores content under a wrong address. Buffered; see `settle`.
   */
  async putChunk(session: SnapshotSession, hash: ChunkHash, bytes: Uint8Array): Promise<void> {
    if (this.has(hash) || session.pending.has(hash)) return;
    const actual = await sha256Hex(bytes);
    if (actual !== hash) throw new ChunkHashMismatchError(hash, actual, 'chunk offered for archiving');
    this.#putVerified(session, hash, bytes);
  }

  /**
   * Append `bytes` to a session unless the archive has content with their address, and
   * return the address: computed here, once, from these bytes (for a caller that does not
   * know it yet: a pool chunk archived for the first time, pool-archive.ts). `stored`:
   * whether this call appended them. Buffered; see `settle`.
   */
  async putContent(session: SnapshotSession, bytes: Uint8Array): Promise<{ hash: ChunkHash; stored: boolean }> {
    const hash = await sha256Hex(bytes);
    if (this.has(hash) || session.pending.has(hash)) return { hash, stored: false };
    this.#putVerified(session, hash, bytes);
    return { hash, stored: true };
  }

  /** Wait until the log's full segments are in the store (bounds memory while streaming). */
  async settle(): Promise<void> {
    await this.log.settle();
  }

  /**
   * Finish a session: write the manifest (block order; HOLE_HASH for holes when `volume`
   * is given), point `name` at it (replacing an older snapshot of that name), commit.
   * Every non-hole hash must be archived already or pending in the session.
   */
  async commitSnapshot(
    session: SnapshotSession,
    name: string,
    hashes: readonly ChunkHash[],
    options: CommitSnapshotOptions = {},
  ): Promise<void> {
    if (typeof name !== 'string' || name.length === 0) throw new ArchiveUsageError('a snapshot name must be a non-empty string');
    for (const h of hashes) {
      if (h === HOLE_HASH) {
        if (!options.volume) throw new ArchiveUsageError('holes need a volume manifest (options.volume)');
      } else if (!this.has(h)) throw new ChunkNotFoundError(h);
    }
    const { now } = session;
    const manifest = encodeManifest(hashes, options.volume);
    const manifestHash = await sha256Hex(manifest);
    if (!this.lsm.has(manifestHash)) {
      const at = this.log.append(RecordKind.manifest, manifestHash, now, manifest);
      this.#index(manifestHash, at, now);
      session.bytesWritten += at.length;
    }
    this.#manifests.set(manifestHash, { chunks: [...hashes], ...(options.volume ? { volume: options.volume } : {}) });
    // Reference the new version before releasing the old one, so shared chunks never
    // touch zero in between.
    this.#retain(manifestHash, hashes);
    const previous = this.#snapshots.get(name);
    this.#snapshots.set(name, manifestHash);
    this.#meta.set(name, { archivedAt: now, lineage: options.lineage ?? null });
    if (previous !== undefined) this.#release(previous);
    session.pending.clear();
    session.bytesWritten += await this.#commit(now);
  }

  /**
   * Give up a session: its pending chunks become dead (they were never referenced). The
   * records stay in the log as garbage for the cleaner; nothing is committed.
   */
  abortSnapshot(session: SnapshotSession): void {
    for (const h of session.pending) {
      if ((this.#refs.get(h) ?? 0) > 0) continue;
      const loc = this.lsm.get(h);
      if (loc?.tier === Tier.warm) this.usage.addDead(loc.segment, loc.length);
      this.lsm.delete(h);
    }
    session.pending.clear();
  }

  #putVerified(session: SnapshotSession, hash: ChunkHash, bytes: Uint8Array): void {
    const at = this.log.append(RecordKind.chunk, hash, session.now, bytes);
    this.#index(hash, at, session.now);
    session.pending.add(hash);
    session.chunksWritten++;
    session.bytesWritten += at.length;
  }

  /** Every chunk of the snapshot, in order, each verified against its hash. */
  async restoreSnapshot(name: string): Promise<Uint8Array[]> {
    const manifestHash = this.#snapshots.get(name);
    if (manifestHash === undefined) throw new SnapshotNotFoundError(name);
    const { chunks: hashes, volume } = await this.#manifest(manifestHash);
    const cache = new Map<ChunkHash, Uint8Array>(); // repeated chunks (zero blocks) read once
    const out: Uint8Array[] = [];
    for (const h of hashes) {
      if (h === HOLE_HASH) {
        out.push(new Uint8Array(volume?.blockBytes ?? 0));
        continue;
      }
      let bytes = cache.get(h);
      if (!bytes) {
        bytes = await this.readChunk(h);
        cache.set(h, bytes);
      }
      out.push(bytes);
    }
    return out;
  }

  async readChunk(hash: ChunkHash): Promise<Uint8Array> {
    const loc = this.lsm.get(hash);
    if (!loc) throw new ChunkNotFoundError(hash);
    if (loc.tier === Tier.cold) {
      if (!this.#cold) throw new ArchiveUsageError(`chunk ${hash} is in the cold tier, which is not attached`);
      return this.#cold.readChunk(loc, hash);
    }
    return (await this.log.read(loc, hash)).payload;
  }

  /** The chunk list of a snapshot (for tiering decisions and diffing), without holes. */
  async snapshotChunks(name: string): Promise<ChunkHash[]> {
    return (await this.snapshotManifest(name)).chunks.filter((h) => h !== HOLE_HASH);
  }

  /** A snapshot's manifest: block order with HOLE_HASH for holes, and its geometry. */
  async snapshotManifest(name: string): Promise<ManifestContent> {
    const m = this.#snapshots.get(name);
    if (m === undefined) throw new SnapshotNotFoundError(name);
    const content = await this.#manifest(m);
    return { chunks: [...content.chunks], ...(content.volume ? { volume: content.volume } : {}) };
  }

  /** When a snapshot was archived and its lineage (null for catalogues that predate it). */
  snapshotMeta(name: string): SnapshotMeta {
    if (!this.#snapshots.has(name)) throw new SnapshotNotFoundError(name);
    return this.#meta.get(name) ?? { archivedAt: 0, lineage: null };
  }

  async deleteSnapshot(name: string): Promise<void> {
    const m = this.#snapshots.get(name);
    if (m === undefined) throw new SnapshotNotFoundError(name);
    const now = this.#tick();
    this.#snapshots.delete(name);
    this.#meta.delete(name);
    this.#release(m);
    await this.#commit(now);
  }

  /** One cleaning pass; see cleaner.ts. Persists the new segment ages with a commit. */
  async clean(
    policy: CleaningPolicy,
    maxVictims: number,
    options: { readonly ageSort?: boolean; readonly read?: 'live' | 'whole' } = {},
  ): Promise<CleanReport> {
    const now = this.#tick();
    const report = await cleanSegments(
      { log: this.log, lsm: this.lsm, usage: this.usage, keyFor: catalogueAwareKey },
      { policy, now, maxVictims, ...options },
    );
    if (report.victims.length) await this.#commit(now);
    return report;
  }

  /** Repoint a chunk (used by the cold tier after it moved a chunk out of the warm log). */
  relocate(hash: ChunkHash, to: ChunkLocation): void {
    const from = this.lsm.get(hash);
    if (!from) throw new ChunkNotFoundError(hash);
    if (from.tier === Tier.warm) this.usage.addDead(from.segment, from.length);
    this.lsm.put(hash, to);
  }

  /** Make relocations durable. */
  async commit(): Promise<void> {
    await this.#commit(this.#tick());
  }

  stats(): ArchiveStats {
    let coldChunks = 0;
    let liveColdBytes = 0;
    for (const loc of this.lsm.live().values()) {
      if (loc.tier !== Tier.cold) continue;
      coldChunks++;
      liveColdBytes += loc.length;
    }
    return {
      snapshots: this.#snapshots.size,
      segments: this.log.segments().length,
      warmBytes: this.log.totalBytes(),
      liveWarmBytes: this.usage.liveBytes(),
      coldChunks,
      liveColdBytes,
    };
  }

  #tick(): number {
    this.#time = Math.max(this.#time + 1e-9, this.#clock());
    return this.#time;
  }

  #index(hash: ChunkHash, at: RecordAddress, writtenAt: number): void {
    this.lsm.put(hash, { tier: Tier.warm, ...at });
    this.usage.addLive(at.segment, at.length, writtenAt);
  }

  #retain(manifestHash: ChunkHash, hashes: readonly ChunkHash[]): void {
    this.#refs.set(manifestHash, (this.#refs.get(manifestHash) ?? 0) + 1);
    for (const h of new Set(hashes)) if (h !== HOLE_HASH) this.#refs.set(h, (this.#refs.get(h) ?? 0) + 1);
  }

  #release(manifestHash: ChunkHash): void {
    const hashes = this.#manifests.get(manifestHash)?.chunks;
    if (!hashes) throw new ArchiveUsageError(`manifest ${manifestHash} was never loaded`);
    for (const h of [manifestHash, ...new Set(hashes)]) {
      if (h === HOLE_HASH) continue;
      const n = (this.#refs.get(h) ?? 0) - 1;
      if (n > 0) {
        this.#refs.set(h, n);
        continue;
      }
      this.#refs.delete(h);
      const loc = this.lsm.get(h);
      if (loc?.tier === Tier.warm) this.usage.addDead(loc.segment, loc.length);
      this.lsm.delete(h);
    }
  }

  async #manifest(hash: ChunkHash): Promise<ManifestContent> {
    let m = this.#manifests.get(hash);
    if (!m) {
      const loc = this.lsm.get(hash);
      if (!loc) throw new ChunkNotFoundError(hash);
      m = decodeManifest(await this.readChunk(hash), loc);
      this.#manifests.set(hash, m);
    }
    return m;
  }

  /** Write the catalogue, make the log durable, then the LSM. Returns catalogue bytes. */
  async #commit(now: number): Promise<number> {
    const ages = new Map<number, number>();
    for (const s of this.usage.segments()) ages.set(s, this.usage.get(s)!.youngest);
    const payload = encodeCatalogue({ snapshots: this.#snapshots, segmentAges: ages, clock: this.#time, meta: this.#meta });
    const old = this.lsm.get(CATALOGUE_KEY);
    if (old?.tier === Tier.warm) this.usage.addDead(old.segment, old.length);
    const at = this.log.append(RecordKind.catalogue, await sha256Hex(payload), now, payload);
    this.lsm.put(CATALOGUE_KEY, { tier: Tier.warm, ...at });
    this.usage.addLive(at.segment, at.length, now);
    await this.log.flush();
    await this.lsm.flush();
    return at.length;
  }

  async #load(): Promise<void> {
    let catalogue: Catalogue = { snapshots: new Map(), segmentAges: new Map(), clock: 0 };
    const loc = this.lsm.get(CATALOGUE_KEY);
    if (loc) catalogue = decodeCatalogue((await this.log.read(loc)).payload, loc);
    this.#time = catalogue.clock;
    // Live bytes come from the LSM (the truth); ages from the last catalogue. Every log
    // segment gets a row, so segments holding only garbage (a crashed commit) get cleaned.
    for (const s of this.log.segments()) this.usage.addLive(s, 0, catalogue.segmentAges.get(s) ?? 0);
    for (const l of this.lsm.live().values()) {
      if (l.tier === Tier.warm) this.usage.addLive(l.segment, l.length, catalogue.segmentAges.get(l.segment) ?? 0);
    }
    for (const [name, m] of catalogue.snapshots) {
      this.#snapshots.set(name, m);
      const meta = catalogue.meta?.get(name);
      if (meta) this.#meta.set(name, meta);
      this.#retain(m, (await this.#manifest(m)).chunks);
    }
  }
}

function catalogueAwareKey(h: RecordHeader): ChunkHash {
  return h.kind === RecordKind.catalogue ? CATALOGUE_KEY : h.hash;
}

export type { SegmentId };
