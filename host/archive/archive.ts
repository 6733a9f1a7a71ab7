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

import { ArchiveUsageError, SnapshotNotFoundError, ChunkNotFoundError } from './errors';
import { type ChunkHash, sha256Hex } from './chunk-hash';
import { MetadataLsm } from './lsm';
import { type ChunkLocation, Tier } from './lsm-run';
import type { RunStore } from './run-store';
import { RecordKind, type RecordHeader } from './segment-format';
import { type RecordAddress, SegmentLog, type TailRecovery } from './segment-log';
import type { SegmentId, SegmentStore } from './segment-store';
import { type CleaningPolicy, SegmentUsageTable } from './segment-usage';
import { type CleanReport, cleanSegments } from './cleaner';
import { type Catalogue, decodeCatalogue, decodeManifest, encodeCatalogue, encodeManifest } from './snapshot-manifest';

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
  readonly #manifests = new Map<ChunkHash, ChunkHash[]>(); // cache of decoded manifests
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
  async archiveSnapshot(name: string, chunks: readonly Uint8Array[]): Promise<ArchiveReport> {
    const now = this.#tick();
    const hashes = await Promise.all(chunks.map(sha256Hex));
    let chunksWritten = 0;
    let bytesWritten = 0;
    let logicalBytes = 0;
    for (const [i, hash] of hashes.entries()) {
      logicalBytes += chunks[i]!.length;
      if (this.lsm.has(hash)) continue; // content already archived (warm or cold)
      const at = this.log.append(RecordKind.chunk, hash, now, chunks[i]!);
      this.#index(hash, at, now);
      chunksWritten++;
      bytesWritten += at.length;
    }
    const manifest = encodeManifest(hashes);
    const manifestHash = await sha256Hex(manifest);
    if (!this.lsm.has(manifestHash)) {
      const at = this.log.append(RecordKind.manifest, manifestHash, now, manifest);
      this.#index(manifestHash, at, now);
      bytesWritten += at.length;
    }
    this.#manifests.set(manifestHash, hashes);
    // Reference the new version before releasing the old one, so shared chunks never
    // touch zero in between.
    this.#retain(manifestHash, hashes);
    const previous = this.#snapshots.get(name);
    this.#snapshots.set(name, manifestHash);
    if (previous !== undefined) this.#release(previous);
    bytesWritten += await this.#commit(now);
    return { chunks: chunks.length, chunksWritten, logicalBytes, bytesWritten };
  }

  /** Every chunk of the snapshot, in order, each verified against its hash. */
  async restoreSnapshot(name: string): Promise<Uint8Array[]> {
    const manifestHash = this.#snapshots.get(name);
    if (manifestHash === undefined) throw new SnapshotNotFoundError(name);
    const hashes = await this.#manifest(manifestHash);
    const cache = new Map<ChunkHash, Uint8Array>(); // repeated chunks (zero blocks) read once
    const out: Uint8Array[] = [];
    for (const h of hashes) {
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

  /** The chunk list of a snapshot (for tiering decisions and diffing). */
  async snapshotChunks(name: string): Promise<ChunkHash[]> {
    const m = this.#snapshots.get(name);
    if (m === undefined) throw new SnapshotNotFoundError(name);
    return [...(await this.#manifest(m))];
  }

  async deleteSnapshot(name: string): Promise<void> {
    const m = this.#snapshots.get(name);
    if (m === undefined) throw new SnapshotNotFoundError(name);
    const now = this.#tick();
    this.#snapshots.delete(name);
    this.#release(m);
    await this.#commit(now);
  }

  /** One cleaning pass; see cleaner.ts. Persists the new segment ages with a commit. */
  async clean(policy: CleaningPolicy, maxVictims: number, ageSort?: boolean): Promise<CleanReport> {
    const now = this.#tick();
    const report = await cleanSegments(
      { log: this.log, lsm: this.lsm, usage: this.usage, keyFor: catalogueAwareKey },
      { policy, now, maxVictims, ...(ageSort === undefined ? {} : { ageSort }) },
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
    for (const loc of this.lsm.live().values()) if (loc.tier === Tier.cold) coldChunks++;
    return {
      snapshots: this.#snapshots.size,
      segments: this.log.segments().length,
      warmBytes: this.log.totalBytes(),
      liveWarmBytes: this.usage.liveBytes(),
      coldChunks,
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
    for (const h of new Set(hashes)) this.#refs.set(h, (this.#refs.get(h) ?? 0) + 1);
  }

  #release(manifestHash: ChunkHash): void {
    const hashes = this.#manifests.get(manifestHash);
    if (!hashes) throw new ArchiveUsageError(`manifest ${manifestHash} was never loaded`);
    for (const h of [manifestHash, ...new Set(hashes)]) {
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

  async #manifest(hash: ChunkHash): Promise<ChunkHash[]> {
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
    const payload = encodeCatalogue({ snapshots: this.#snapshots, segmentAges: ages, clock: this.#time });
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
      this.#retain(m, await this.#manifest(m));
    }
  }
}

function catalogueAwareKey(h: RecordHeader): ChunkHash {
  return h.kind === RecordKind.catalogue ? CATALOGUE_KEY : h.hash;
}

export type { SegmentId };
