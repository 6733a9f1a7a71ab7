// Runs in the dom0 driver worker. The control plane's far end: the host page calls these
// methods over comlink (dom0-worker.ts). The page's main thread never touches IndexedDB or
// serves a ring; everything that can block or take long happens here.
import { transfer } from 'comlink';
import type { CompactOptions, CompactReport, DatasetInfo, FsckReport, ImportProgress, Pool, PoolStats } from '../pool';
import { openPool, type PoolStorage, type StorageChoice } from './pool-storage';
import { ArchiveService, type ArchiveServiceStats } from '../archive/archive-service';
import type { ArchivePoolOptions, PoolArchiveReport, PoolRestoreReport, RestoreOptions } from '../archive/pool-archive';
import type { CleanReport } from '../archive/cleaner';
import { CleaningPolicy } from '../archive/segment-usage';
import { domainLayout, stagingSlotsFor } from '../../shared/memory-layout';
import type { DomainGrant } from '../../shared/grant';
import type { TransportKind } from '../../shared/transport';
import { decodeFrame } from '../../shared/ids';
import { Dom0Driver, type DomainCounters, type DriverCounters } from './driver';
import { PoolBlockStore } from './pool-block-store';
import { RingPort } from './ring-port';
import { RingWorkerHost } from './ring-worker-host';
import { NAP_HOLD_MS, RingScheduler } from './ring-scheduler';
import { growableShared } from '../../shared/growable';
import { isArrayBuffer } from '../../shared/buffer-kind';
import { CopyPort } from './copy-port';
import { Dom0Reliability, type StartMirrorOptions } from './dom0-reliability';
import type { IntegrityCounters, ScrubReport } from './integrity';
import type { MirrorStats } from './mirror-source';
import { IdcBroker, idcResult, type ChannelOptions, type ChannelSummary, type GrantSummary, type IdcResult } from './idc-broker';
import { IdcError, type ChannelGrant, type MappedGrant, type RenewedBuffer } from '../../shared/idc-layout';

export interface Dom0Config {
  /** IndexedDB database of the pool. */
  poolName: string;
  /** Frames per trust-group arena. */
  arenaFrames: number;
  /** Frames of named groups' arenas instead of arenaFrames. */
  groupFrames?: Record<string, number>;
  /** Distinct domains mapping a frame before it is promoted. */
  promoteAt: number;
  /** Default per-domain limit on mapped frames. */
  quota: number;
  /** Private frames per domain (blocks only it may read); default 8 MiB of blocks, at least 16 (DriverOptions). */
  privateFrames?: number;
  /** The most one domain's held group may hold (atomic writes), in bytes; default 32 MiB (DriverOptions). */
  heldLimitBytes?: number;
  /** The most all domains' held groups together may hold, in bytes; default 256 MiB (DriverOptions). */
  heldTotalLimitBytes?: number;
  /** Whether arenas are SharedArrayBuffers (false where the page cannot have them). */
  shared: boolean;
  /** Dedup only runs of at least this many matching blocks (seed 001's THN). */
  dedupThreshold: number;
  /**
   * Most bytes of one IndexedDB record of the pool (an extent of blocks a commit wrote back
   * to back; PoolOptions.extentBytes, default 256 KiB). A record is fetched whole on a
   * miss: 0 stores a record per block, for guests whose cold reads are mostly scattered
   * single blocks, at the cost of writes (docs/pool.md, "Extents").
   */
  extentBytes?: number;
  /** Where the pool lives: IndexedDB, memory, or IndexedDB falling back to memory when refused. */
  storage?: StorageChoice;
  /** Open a pool the browser deleted (PoolLostError) as empty; only on the user's say-so. */
  acceptLoss?: boolean;
  /** Scrub resident frames against their checksums this often (0: only on request). */
  scrubEveryMs?: number;
  /**
   * Serve guests' rings from a ring worker of their own (ring-worker-host.ts), which
   * answers NOOPs and relays every other request to dom0, where a worker can start one.
   * Default false: measured in the product it did not raise the no-op rate and it added a
   * hop to every READ (docs/design.md, "The ring worker, first stage: built, measured, not taken").
   */
  ringWorker?: boolean;
}

/**
 * Any guest of a group can write any byte of its arena (a SharedArrayBuffer cannot be
 * read-only for one realm), so dom0 re-verifies resident frames in the background. A
 * scrub costs about 0.3 s per GiB of arena (docs/reliability.md), so every 5 s is cheap.
 */
const DEFAULT_SCRUB_EVERY_MS = 5000;

export interface DomainSummary {
  id: number;
  dataset: string;
  group: string;
  transport: TransportKind;
  /** Group frames it holds (mappings and pins kept for its views). */
  mapped: number;
  quota: number;
  /** Most group frames it may hold now: its quota capped at a fair share of the arena. */
  share: number;
  /** Group frames it maps that no other domain maps: what the share bounds. */
  sole: number;
  /** Private frames resident (blocks only this domain may read). */
  privateResident: number;
  /** Pins dom0 keeps on frames whose mapping went while the guest still held views. */
  kept: number;
  /** Bytes of the domain's shared control buffer (rings, page map, staging); 0 on copy. */
  controlBytes: number;
  fault: string | null;
  counters: DomainCounters;
}

export interface GroupSummary {
  id: string;
  frames: number;
  frameBytes: number;
  resident: number;
  mapped: number;
  promoted: number;
  evictions: number;
  fills: number;
  arenaBytes: number;
  /** Corrupt frames found in this group's arena and replaced under their readers. */
  incidents: number;
}

export interface Dom0Stats {
  driver: DriverCounters;
  /** The ring service loop: turns taken, times it slept, times it yielded to the event loop. */
  scheduler: {
    turns: number;
    sleeps: number;
    naps: number;
    missedWakes: number;
    yields: number;
    yieldMs: number;
    /** Entries the loop's turns served, and those turns' time in ms (RingScheduler.servingMs). */
    servedEntries: number;
    servingMs: number;
    /** Ring polls from inside pool commits (ring-scheduler.ts pollOnce) and the entries they served. */
    commitPolls: number;
    commitEntries: number;
  };
  groups: GroupSummary[];
  domains: DomainSummary[];
  pool: Omit<PoolStats, 'metaslabs'> & { metaslabCount: number };
  /** Whether a ring worker serves the guests' rings (Dom0Config.ringWorker). */
  ringWorker: boolean;
}

export interface FrameSummary {
  frame: number;
  state: 'free' | 'filling' | 'resident' | 'retired';
  key: string | null;
  generation: number;
  mappedBy: [number, number][];
  promoted: boolean;
}

export class Dom0Service {
  private pool: Pool | null = null;
  private driver: Dom0Driver | null = null;
  private readonly ports = new Map<number, RingPort | CopyPort>();
  /**
   * dom0 naps on this word between requests (ring-scheduler.ts). Without a ring worker every
   * guest's request ring rings it; with one, only the ring worker and the page do.
   */
  private readonly doorbell = typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(4) : null;
  private readonly scheduler = new RingScheduler(this.doorbell);
  /** The ring worker, once init has started it (null: dom0 serves the guests' rings). */
  private ringWorker: RingWorkerHost | null = null;
  private faultListener: ((id: number, reason: string) => void) | null = null;
  private config: Dom0Config | null = null;
  private storage: PoolStorage | null = null;

  /** The bell the page rings after each control-plane message it posts (ring-scheduler.ts); null without SharedArrayBuffer. */
  controlBell(): SharedArrayBuffer | null {
    return this.doorbell;
  }

  /**
   * Run one control-plane call with naps held off until it has settled (and NAP_HOLD_MS
   * after): its IndexedDB events and follow-up messages need the event loop, which a
   * napping dom0 would hold up to a millisecond each.
   */
  controlCall<T>(call: () => T): T {
    const s = this.scheduler;
    s.controlCalls++;
    let r: T;
    try {
      r = call();
    } catch (err) {
      s.controlCalls--;
      throw err;
    }
    // Only a call that went async has follow-up work on the event loop (its IndexedDB
    // events, then the reply); a synchronous one (a stats read) needs only the microtask
    // in which comlink posts its reply, which runs before dom0 returns to its rings.
    if (!(r instanceof Promise)) {
      s.controlCalls--;
      return r;
    }
    return r.finally(() => {
      s.controlCalls--;
      s.holdNaps(NAP_HOLD_MS);
    }) as T;
  }

  /** Where the pool lives, in plain words for the page. */
  storageInfo(): PoolStorage {
    if (!this.storage) throw new Error('dom0 is not initialised: call init() first');
    return this.storage;
  }
  private reliability: Dom0Reliability | null = null;
  private scrubTimer: ReturnType<typeof setTimeout> | null = null;
  private archiveService: Promise<ArchiveService> | null = null;
  private readonly idc = new IdcBroker();

  private startBackgroundScrub(everyMs: number): void {
    if (!(everyMs > 0)) return;
    const tick = (): void => {
      this.scrubTimer = setTimeout(() => {
        const r = this.reliability;
        if (!r) return;
        void r.scrub().catch(() => undefined).finally(tick);
      }, everyMs);
    };
    tick();
  }

  async init(config: Dom0Config): Promise<void> {
    if (this.pool) throw new Error('dom0 is already initialised');
    this.config = config;
    const opened = await openPool(
      config.poolName,
      { dedupThreshold: config.dedupThreshold, ...(config.extentBytes !== undefined ? { extentBytes: config.extentBytes } : {}), ...(config.acceptLoss ? { acceptLoss: true } : {}) },
      config.storage ?? 'auto',
    );
    this.pool = opened.pool;
    this.storage = opened.storage;
    // A commit's put() calls each wait on the browser; the guests' rings are polled between
    // them instead of after the whole commit (docs/pool.md, "What holds dom0's thread").
    this.pool.setCommitYield(() => void this.scheduler.pollOnce());
    this.driver = new Dom0Driver(new PoolBlockStore(this.pool), {
      arenaFrames: config.arenaFrames,
      ...(config.groupFrames ? { groupFrames: config.groupFrames } : {}),
      promoteAt: config.promoteAt,
      quota: config.quota,
      shared: config.shared,
      ...(config.privateFrames !== undefined ? { privateFrames: config.privateFrames } : {}),
      ...(config.heldLimitBytes !== undefined ? { heldLimitBytes: config.heldLimitBytes } : {}),
      ...(config.heldTotalLimitBytes !== undefined ? { heldTotalLimitBytes: config.heldTotalLimitBytes } : {}),
    });
    this.reliability = new Dom0Reliability(this.driver);
    this.startBackgroundScrub(config.scrubEveryMs ?? DEFAULT_SCRUB_EVERY_MS);
    this.driver.onFault = (d, reason) => {
      this.stopPort(d.id);
      this.faultListener?.(d.id, reason);
    };
    if (config.ringWorker === true && this.doorbell) {
      this.ringWorker = await RingWorkerHost.start(this.doorbell);
      if (this.ringWorker) {
        this.ringWorker.onFault = (id, message) => {
          const d = this.driver?.domains.get(id);
          if (d?.alive) this.driver!.fault(d, message);
        };
      }
    }
  }

  /** The host's callback for faulted domains (a comlink proxy). */
  onFault(listener: (id: number, reason: string) => void): void {
    this.faultListener = listener;
  }

  // ---- pool ------------------------------------------------------------------------------

  /**
   * Reached only over postMessage (dom0-worker.ts exposes this service), so an ArrayBuffer
   * here is this worker's own: the structured clone's copy of the page's, or the page's
   * buffer itself when it was transferred. Nothing else holds it, so the pool takes it over
   * (`transfer`) and does not checksum its blocks a second time at each commit (15–35 ms
   * per 64 MiB on this thread, which also serves the rings: docs/pool.md). A SharedArrayBuffer stays
   * shared and is copied a slice at a time, as always.
   */
  async importImage(name: string, source: Blob | ArrayBuffer, opts: { blockSize?: number; group?: string; transfer?: boolean }, onProgress?: (p: ImportProgress) => void): Promise<DatasetInfo> {
    const pool = this.mustPool();
    // The page's `transfer` for anything else (a SharedArrayBuffer) is passed on, so the
    // pool refuses it with its own error.
    return pool.importVolume(source, { name, ...opts, ...(isArrayBuffer(source) ? { transfer: true } : {}) }, onProgress);
  }

  async createVolume(name: string, sizeBytes: number, opts: { blockSize?: number; group?: string } = {}): Promise<DatasetInfo> {
    const pool = this.mustPool();
    return pool.createVolumeCommitted(name, { sizeBytes, ...opts });
  }

  async snapshot(dataset: string, name: string): Promise<DatasetInfo> {
    const pool = this.mustPool();
    return pool.snapshotCommitted(dataset, name);
  }

  async clone(snapshot: string, name: string, opts: { group?: string } = {}): Promise<DatasetInfo> {
    const pool = this.mustPool();
    return pool.cloneCommitted(snapshot, name, opts);
  }

  async destroyDataset(name: string): Promise<void> {
    const pool = this.mustPool();
    for (const d of this.mustDriver().domains.values()) {
      if (d.dataset === name) throw new Error(`dataset ${name} is in use by domain ${d.id}; destroy the domain first`);
    }
    await pool.destroyCommitted(name);
  }

  list(): DatasetInfo[] {
    return this.mustPool().list();
  }

  exportVolume(name: string): Promise<Blob> {
    return this.mustPool().exportVolume(name);
  }

  fsck(opts: { data?: boolean } = {}): Promise<FsckReport> {
    return this.mustPool().fsck(opts);
  }

  /** The extent cleaner (host/pool/compact.ts): `onProgress` after each of its commits. */
  compactPool(opts: Omit<CompactOptions, 'onProgress'> = {}, onProgress?: (p: CompactReport) => void): Promise<CompactReport> {
    return this.mustPool().compact({ ...opts, ...(onProgress ? { onProgress } : {}) });
  }

  /**
   * Per block of `dataset`: 0 a hole, 1 the same chunk as its origin (shared), 2 its own
   * (written since it was cloned, or a volume's own data). From the pool's block pointers,
   * so it is exact, whoever wrote the blocks. A dataset whose origin was destroyed (a
   * snapshot of a destroyed volume) shares with no one: every block it holds is its own.
   */
  blockOwnership(dataset: string): Uint8Array {
    const pool = this.mustPool();
    const info = pool.info(dataset);
    const lbas = Array.from({ length: info.blocks }, (_, i) => i);
    const mine = pool.resolveSync(info.id, lbas);
    const theirs = info.originId !== null && pool.has(info.originId) ? pool.resolveSync(info.originId, lbas) : null;
    const out = new Uint8Array(info.blocks);
    mine.forEach((ref, lba) => {
      if (ref) out[lba] = theirs?.[lba]?.chunkId === ref.chunkId ? 1 : 2;
    });
    return out;
  }

  // ---- domains ---------------------------------------------------------------------------

  /**
   * Create a domain on `dataset` (a writable clone) and return what its guest may see.
   * `id`: assume a dead domain's id (guest failover, host/page/failover.ts).
   */
  async createDomain(dataset: string, transportKind: TransportKind, quota?: number, id?: number, privateBytes?: number): Promise<DomainGrant> {
    const driver = this.mustDriver();
    const d = await driver.createDomain(dataset, quota, id, privateBytes);
    const g = d.group;
    const base = { domainId: d.id, blocks: d.volume.blocks, blockBytes: d.volume.blockBytes, group: g.id, quota: d.quota };
    // `typeof` first: where there is no SharedArrayBuffer at all (WebKitGTK), naming it throws.
    if (transportKind === 'zero-copy' && typeof SharedArrayBuffer === 'function' && g.buffer instanceof SharedArrayBuffer) {
      const layout = domainLayout(d.volume.blocks, d.volume.blockBytes, undefined, stagingSlotsFor(d.volume.blockBytes), d.priv.layout.frames);
      const control = growableShared(layout.eagerBytes, layout.totalBytes);
      const rw = this.ringWorker;
      const port = new RingPort(driver, d, control, layout, rw ? { rings: rw.attach(d.id, control, layout), bell: rw.bell } : null);
      this.ports.set(d.id, port);
      this.scheduler.add(port);
      return { ...base, kind: 'zero-copy', control, domainLayout: layout, arena: g.buffer, arenaLayout: g.layout, doorbell: rw ? rw.bell : this.doorbell! };
    }
    const channel = new MessageChannel();
    this.ports.set(d.id, new CopyPort(driver, d, channel.port1));
    const grant: DomainGrant = { ...base, kind: 'copy', port: channel.port2 };
    return transfer(grant, [channel.port2]);
  }

  destroyDomain(id: number): void {
    this.stopPort(id);
    this.mustDriver().destroyDomain(id);
  }

  // ---- inter-domain channels (host/dom0/idc-broker.ts) --------------------------------
  // The host page has checked its policy before it calls these; refusals come back as data
  // (IdcResult) because comlink keeps an error's name and message but not its code.

  /** Make a channel between two running zero-copy domains: side 0 is `a`, side 1 is `b`. */
  idcOpen(a: number, b: number, opts: ChannelOptions = {}): IdcResult<[ChannelGrant, ChannelGrant]> {
    return idcResult(() => {
      for (const id of [a, b]) {
        if (!(this.ports.get(id) instanceof RingPort)) {
          throw new IdcError('unknown-peer', `domain ${id} is not a running zero-copy domain (channels need SharedArrayBuffer)`);
        }
      }
      const domains = this.mustDriver().domains;
      return this.idc.createChannel(a, b, opts, domains.get(a)?.group === domains.get(b)?.group);
    });
  }

  idcGrant(from: number, channelId: number, buffer: number, toChannelId: number): IdcResult<number> {
    return idcResult(() => this.idc.grant(from, channelId, buffer, toChannelId));
  }

  idcMap(domain: number, ref: number): IdcResult<MappedGrant> {
    return idcResult(() => this.idc.map(domain, ref));
  }

  /** A new SharedArrayBuffer for a retired buffer of `domain`'s (IdcBroker.renew); the value says which peer to tell. */
  idcRenew(domain: number, channelId: number, buffer: number): IdcResult<{ renewed: RenewedBuffer; peer: number }> {
    return idcResult(() => this.idc.renew(domain, channelId, buffer));
  }

  /** End a grant `domain` made; the value is the grantee to tell. */
  idcEnd(domain: number, ref: number): IdcResult<number> {
    return idcResult(() => this.idc.end(domain, ref));
  }

  /** A domain is gone: close its channels; returns the grants that ended with them. */
  idcCloseDomain(domain: number): GrantSummary[] {
    return this.idc.closeDomain(domain);
  }

  idcList(): { channels: ChannelSummary[]; grants: GrantSummary[] } {
    return { channels: this.idc.channelList(), grants: this.idc.grantList() };
  }

  // ---- archive and cold tier (host/archive) ------------------------------------------

  /** The snapshot archive beside the pool (OPFS where there is one, else IndexedDB), opened on first use. */
  private archiveOf(): Promise<ArchiveService> {
    this.archiveService ??= ArchiveService.open(this.mustPool(), { name: this.config?.poolName ?? 'main' }).catch((err: unknown) => {
      this.archiveService = null;
      throw err;
    });
    return this.archiveService;
  }

  /** Archive a pool snapshot into the log-structured tier; writes only chunks the archive lacks. */
  async archiveSnapshot(snapshot: string, onProgress?: ArchivePoolOptions['onProgress']): Promise<PoolArchiveReport> {
    return (await this.archiveOf()).archive(snapshot, onProgress ? { onProgress } : {});
  }

  /** Restore an archived snapshot into a new volume, byte for byte (the seed's fail-over from an archive). */
  async restoreArchive(name: string, newVolume: string, onProgress?: RestoreOptions['onProgress']): Promise<PoolRestoreReport> {
    return (await this.archiveOf()).restore(name, newVolume, onProgress ? { onProgress } : {});
  }

  /** Clean archive segments with the LFS cost-benefit policy, or greedy for comparison. */
  async cleanArchive(policy: 'cost-benefit' | 'greedy' = 'cost-benefit'): Promise<CleanReport> {
    return (await this.archiveOf()).clean(policy === 'greedy' ? CleaningPolicy.greedy : CleaningPolicy.costBenefit);
  }

  /** Move chunks of archived snapshots older than `ageMs` that newer snapshots superseded to the cold tier. */
  async tierArchive(ageMs: number): Promise<{ chunksMoved: number; bytesIn: number; bytesOut: number; snapshots: string[] }> {
    return (await this.archiveOf()).tier(ageMs);
  }

  async archiveStats(): Promise<ArchiveServiceStats> {
    return (await this.archiveOf()).archiveStats();
  }

  /** Close and delete the archive beside the pool (the console's Reset). */
  async destroyArchive(): Promise<void> {
    const open = this.archiveService;
    this.archiveService = null;
    await open?.then((a) => a.close()).catch(() => undefined);
    await ArchiveService.destroy(this.config?.poolName ?? 'main');
  }

  // ---- reliability (host/dom0 (integrity), host/mirror) ------------------------------------

  /** Mirror dirty pages to a remote fault domain listening on BroadcastChannel `opts.channel`. */
  startMirror(opts: StartMirrorOptions): Promise<void> {
    return this.mustReliability().startMirror(opts);
  }

  stopMirror(): void {
    this.mustReliability().stopMirror();
  }

  mirrorStats(): MirrorStats | null {
    return this.mustReliability().mirrorStats();
  }

  mirrorDrained(): Promise<void> {
    return this.mustReliability().mirrorDrained();
  }

  /** Verify every resident frame's checksum; corrupted frames are reloaded from the pool. */
  scrub(): Promise<ScrubReport> {
    return this.mustReliability().scrub();
  }

  integrityStats(): IntegrityCounters {
    return this.mustReliability().integrityStats();
  }

  private mustReliability(): Dom0Reliability {
    if (!this.reliability) throw new Error('dom0 is not initialised: call init() first');
    return this.reliability;
  }

  // ---- observation -----------------------------------------------------------------------

  stats(): Dom0Stats {
    const driver = this.mustDriver();
    const { metaslabs, ...pool } = this.mustPool().stats();
    return {
      driver: { ...driver.counters },
      scheduler: {
        turns: this.scheduler.turns,
        sleeps: this.scheduler.sleeps,
        naps: this.scheduler.naps,
        missedWakes: this.scheduler.missedWakes,
        yields: this.scheduler.yields,
        yieldMs: this.scheduler.yieldMs,
        servedEntries: this.scheduler.servedEntries,
        servingMs: this.scheduler.servingMs,
        commitPolls: this.scheduler.outsidePolls,
        commitEntries: this.scheduler.outsideEntries,
      },
      groups: [...driver.groups.values()].map((g) => ({
        id: g.id,
        frameBytes: g.layout.frameBytes,
        arenaBytes: g.layout.totalBytes,
        ...g.table.stats(),
        incidents: this.reliability?.integrity.counters.incidents[g.id] ?? 0,
      })),
      domains: [...driver.domains.values()].map((d) => ({
        id: d.id,
        dataset: d.dataset,
        group: d.group.id,
        transport: this.ports.get(d.id) instanceof RingPort ? 'zero-copy' : 'copy',
        mapped: d.mapped,
        quota: d.quota,
        share: driver.share(d),
        sole: driver.soleFrames(d),
        privateResident: d.priv.stats().resident,
        kept: [...d.kept.values()].reduce((a, m) => a + [...m.values()].reduce((x, n) => x + n, 0), 0),
        controlBytes: (this.ports.get(d.id) as RingPort | CopyPort | undefined)?.controlBytes ?? 0,
        fault: d.fault,
        counters: { ...d.counters, requests: d.counters.requests + (this.ringWorker?.noops(d.id) ?? 0) },
      })),
      pool: { ...pool, metaslabCount: metaslabs.length },
      ringWorker: this.ringWorker !== null,
    };
  }

  /** Every frame of a group's arena, for the console's arena view. */
  frames(group: string): FrameSummary[] {
    const g = this.mustDriver().groups.get(group);
    if (!g) throw new RangeError(`unknown trust group ${group}`);
    const out: FrameSummary[] = [];
    for (let f = 0; f < g.layout.frames; f++) {
      const i = g.table.info(f);
      out.push({ frame: f, state: i.state, key: i.key, generation: i.generation, mappedBy: [...i.mappedBy], promoted: i.promoted });
    }
    return out;
  }

  /** A domain's page map (LBA → frame, -1 unmapped), from dom0's trusted shadow. */
  pageMap(id: number): Int32Array {
    const d = this.mustDriver().domains.get(id);
    if (!d) throw new RangeError(`unknown domain ${id}`);
    return d.shadow.map(decodeFrame);
  }

  close(): void {
    this.reliability?.stopMirror();
    void this.archiveService?.then((a) => a.close()).catch(() => undefined);
    this.archiveService = null;
    if (this.scrubTimer) clearTimeout(this.scrubTimer);
    this.scrubTimer = null;
    for (const id of [...this.ports.keys()]) this.stopPort(id);
    this.ringWorker?.terminate();
    this.ringWorker = null;
    this.pool?.close();
    this.pool = null;
  }

  private stopPort(id: number): void {
    const port = this.ports.get(id);
    if (port instanceof CopyPort) port.close();
    else if (port) this.scheduler.remove(port);
    this.ports.delete(id);
    const rw = this.ringWorker;
    if (rw && port instanceof RingPort) {
      // The NOOPs it answered count as the domain's requests, as they did when dom0 answered them.
      const d = this.driver?.domains.get(id);
      if (d) d.counters.requests += rw.noops(id);
      rw.detach(id);
    }
  }

  private mustPool(): Pool {
    if (!this.pool) throw new Error('dom0 is not initialised: call init() first');
    return this.pool;
  }

  private mustDriver(): Dom0Driver {
    if (!this.driver) throw new Error('dom0 is not initialised: call init() first');
    return this.driver;
  }
}
