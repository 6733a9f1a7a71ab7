// Runs in the dom0 driver worker. The control domain's block driver (seed 000, US
// 8,037,279): a domain asks for a block; the driver walks that domain's clone to the
// block's physical identity; if a frame of the domain's trust group already holds it, the
// frame is mapped into the domain's page map (no pool read, no copy); otherwise the pool is
// read (batched with other misses) into a free or evicted frame, then mapped.
//
// Memory model (docs/design.md "Memory model"): a block only this domain's clone references
// goes into the domain's private frames, which no other guest holds; a block another
// domain of the group may read goes into the group's arena. Quotas count group frames,
// are reserved when a READ is accepted, and are capped at a fair share of the arena. A
// mapping no view holds (the guest's lease word is 0) can be taken back at any time.
//
// Transport-agnostic: ring-port.ts (zero-copy, shared memory) and message-port.ts (copy
// fallback) decode requests and deliver completions; both call the methods here.
// Every input is treated as hostile and validated here, not in the ports.
import { sharedArenaMemory } from './frame-hash-wasm';
import { FrameTable } from './frame-table';
import { growablePlain } from '../../shared/growable';
import { ChecksumError, GroupDroppedError, OutOfRangeError, PoolClosedError, ReadOnlyDatasetError, StaleBlockRefError } from '../pool';
import { arenaLayout, type ArenaLayout } from '../../shared/memory-layout';
import { Status } from '../../shared/protocol';
import { decodeFrame, encodeFrame, NO_FRAME } from '../../shared/ids';
import { ArenaFullError, DatasetInUseError } from '../../shared/errors/device-errors';
import type { BlockStore, PhysicalBlock, VolumeInfo } from './block-store';
import { GroupCommit } from './group-commit';
import { soon } from './soon';

export interface DriverOptions {
  /** Frames per trust-group arena. */
  arenaFrames: number;
  /** Frames of named groups' arenas instead of arenaFrames (a group of 4 KiB blocks needs more, smaller frames). */
  groupFrames?: Readonly<Record<string, number>>;
  /** Distinct domains mapping a frame before it is promoted. */
  promoteAt: number;
  /** Default per-domain limit on mapped group frames (lowered to a fair share of the arena). */
  quota: number;
  /** SharedArrayBuffer arenas (zero-copy) or plain ArrayBuffers (copy transport). */
  shared: boolean;
  /**
   * Private frames per domain: the blocks only that domain may read. Default: 8 MiB of its
   * blocks (128 of 64 KiB, 2,048 of 4 KiB), at least 16; grown one frame at a time as used.
   */
  privateFrames?: number;
  /** The most one domain's held group (WRITE_HELD) may hold, in bytes; default `HELD_LIMIT_BYTES`. */
  heldLimitBytes?: number;
  /** The most every domain's held groups together may hold, in bytes; default `HELD_TOTAL_LIMIT_BYTES`. */
  heldTotalLimitBytes?: number;
}

export interface Completion {
  status: Status;
  /** Frame ref (group frame, or arenaFrames + private frame), or -1 for none (hole, write, error). */
  frame: number;
  generation: number;
  /** Copy transport: the block's bytes, copied out while the frame was pinned. */
  bytes?: Uint8Array;
}

export interface TrustGroup {
  readonly id: string;
  readonly layout: ArenaLayout;
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** The arena as a shared WebAssembly.Memory (its buffer is `buffer`), so frame checks run in place in WASM; null where the platform has none. */
  readonly memory: WebAssembly.Memory | null;
  readonly table: FrameTable;
  readonly filling: Map<string, Promise<number>>;
  /** Live domains of the group: the arena is shared fairly between them. */
  readonly members: Set<Domain>;
}

export interface DomainCounters {
  requests: number;
  /** READs answered from a resident frame (no pool read). */
  hits: number;
  /** READs that needed a pool read. */
  misses: number;
  holes: number;
  writes: number;
  refused: number;
  /** Mappings dom0 took back (no view held them) to make room. */
  revoked: number;
  /** READs served from this domain's private frames. */
  privateReads: number;
}

/**
 * What the driver needs of a domain's transport: publish page-map entries, and take a
 * mapping back only when the guest holds no view of it. The copy transport has none (its
 * guest never keeps a mapping).
 */
export interface DomainPort {
  /** Write lba → frame ref into the guest's page map (clearLeased is what clears an entry). */
  publish(lba: number, ref: number): void;
  /**
   * Clear the LBA's page-map entry, then read the guest's lease word for it (in that
   * order, sequentially consistent: a guest that leases after the clear sees it). 'none'
   * if the guest holds no view of it and has no read of it in flight. With `keep` (dom0
   * will keep the frame pinned for those views), the same atomic step sets LEASE_KEPT, so
   * the guest's last release asks for the pins back; 'first' if the bit was clear (the
   * guest had asked for every pin kept before this one), else 'held'.
   */
  clearLeased(lba: number, keep: boolean): 'none' | 'held' | 'first';
  /** True if LEASE_KEPT is clear: the guest has asked for every pin kept for the LBA so far. */
  keptAsked(lba: number): boolean;
}

/** One more pin of `ref` kept for `lba`. */
function addPin(kept: Map<number, Map<number, number>>, lba: number, ref: number): void {
  let m = kept.get(lba);
  if (!m) kept.set(lba, (m = new Map()));
  m.set(ref, (m.get(ref) ?? 0) + 1);
}

/** One pin of `ref` fewer in `m` (which holds it). */
function dropPin(m: Map<number, number>, ref: number): void {
  const pins = m.get(ref)!;
  if (pins === 1) m.delete(ref);
  else m.set(ref, pins - 1);
}

export class Domain {
  readonly shadow: Int32Array; // trusted: encodeFrame(frame ref) per LBA (shared/ids.ts)
  /** LBAs whose shadow entry holds a frame. */
  mappedLbas = 0;
  /**
   * Where the next reclaim looks first: dom0 takes mappings back in CLOCK order over the
   * LBAs, from the shadow itself. (An insertion-ordered `Set` of mapped LBAs cost about
   * 16 KiB per guest mapping 1,024 blocks; for a guest streaming through its volume the
   * hand trails the stream as the oldest-first order did.)
   */
  reclaimHand = 0;
  /** lba → frame ref → pins kept after a mapping of that LBA went while the guest still held views of it. */
  readonly kept = new Map<number, Map<number, number>>();
  /**
   * The part of `kept` the guest has not asked for yet: pins kept since dom0 last found the
   * LBA's LEASE_KEPT clear. An UNMAP(all kept) leaves these while the bit is still set.
   */
  readonly keptUnasked = new Map<number, Map<number, number>>();
  /**
   * Group frames this domain maps and no other domain does: what its fair share bounds.
   * Kept by pin/unpin as mappings come and go, so admitting a read costs O(1).
   */
  sole = 0;
  /** READs accepted and not yet answered: each may take a frame. */
  reserved = 0;
  /** Readahead: the LBA of this domain's last pool miss, and how many blocks after it were read ahead. */
  lastMiss = -1;
  readAhead = 0;
  /**
   * The window read ahead last: [raMarker, raNext) is its second half. A READ there starts
   * the next window, so that window's pool read overlaps the guest's work on this one
   * (Linux's asynchronous readahead marker); -1: no window.
   */
  raMarker = -1;
  raNext = -1;
  fault: string | null = null;
  destroyed = false;
  readonly counters: DomainCounters = { requests: 0, hits: 0, misses: 0, holes: 0, writes: 0, refused: 0, revoked: 0, privateReads: 0 };
  port: DomainPort | null = null;
  /** Frames only this domain's guest may see; replaced by one in its control buffer on zero-copy. */
  priv: FrameTable;
  readonly privFilling = new Map<string, Promise<number>>();
  /**
   * LBA → sequence number of the last write of it handed to the pool and not yet finished.
   * Write-allocate keeps a write only if no later write of its LBA was handed over: the
   * block the LBA names then is the later write's, and keeping this write's bytes under
   * that block's key served bytes the pool did not hold (review of 2026-12-01).
   */
  readonly writing = new Map<number, number>();
  /**
   * Writes (WRITE, COMMIT_HELD) accepted and not yet answered: what a FLUSH waits for
   * before the pool's barrier. The barrier covers only writes already handed to the pool,
   * and a write can wait before that (for the mirror's page lock on its LBA, behind an
   * earlier write of the same block), so a FLUSH behind it was answered while it was not
   * durable (attack review of 2026-12-03).
   */
  readonly unanswered = new Set<Promise<Completion>>();
  /**
   * The held group (WRITE_HELD): dom0's own copies, by LBA, staged together by COMMIT_HELD
   * so a commit holds all of them or none; null when empty. Nothing reads it: until the
   * commit the domain's reads see the blocks as they were.
   */
  held: Map<number, Uint8Array> | null = null;
  /** Bytes in the held group: every held write is one whole block. */
  get heldBytes(): number {
    return (this.held?.size ?? 0) * this.volume.blockBytes;
  }
  /**
   * Why a held write of the open group was refused, if one was: the group is then dropped,
   * and every held write after it and its COMMIT_HELD answer this status until the guest
   * starts over (DISCARD_HELD, or the COMMIT_HELD that reports it). So a guest that
   * pipelines a group and commits without looking at each answer commits nothing, never a
   * group with a hole in it.
   */
  heldFailed: Status | null = null;
  /** Copy transport: answers carry bytes, and no mapping outlives its request. */
  copies = true;

  constructor(
    readonly id: number,
    readonly dataset: string,
    readonly volume: VolumeInfo,
    readonly group: TrustGroup,
    readonly quota: number,
    privateFrames: number,
  ) {
    this.shadow = new Int32Array(volume.blocks);
    const layout = arenaLayout(privateFrames, volume.blockBytes);
    // Replaced by frames in the guest's control buffer on the zero-copy transport; on the
    // copy transport dom0's own, grown as the domain reads or writes its own blocks.
    this.priv = new FrameTable(layout, growablePlain(layout.totalBytes), { promoteAt: Number.MAX_SAFE_INTEGER });
  }

  get alive(): boolean {
    return !this.destroyed && this.fault === null;
  }

  /**
   * Group frames this domain pins (by mappings or orphans): its quota use. The frame
   * table counts them with the pins themselves (a map of its own here cost dom0 about
   * 30 KiB per guest of a 1,024-frame arena).
   */
  get mapped(): number {
    return this.group.table.framesMappedBy(this.id);
  }
}

export interface DriverCounters {
  /** Blocks read from the pool into frames. */
  poolReads: number;
  /** Pool read batches (IndexedDB transactions). */
  poolReadBatches: number;
  /** Bytes copied across the isolation boundary (copy transport only). */
  bytesCopied: number;
  /** Bytes handed out as views without a copy (zero-copy transport). */
  bytesShared: number;
  commits: number;
  faults: number;
  /** Reads that found their chunk freed by a concurrent write and resolved again. */
  reresolved: number;
  /** Blocks filled ahead of a domain's near-sequential misses, in the same pool reads. */
  readAhead: number;
  /** Blocks a domain wrote that were kept in its private frames for reading back (write-allocate). */
  keptWrites: number;
}

/**
 * Optional hooks for host/dom0 (integrity) and host/mirror (dirty bits, page locks, frame
 * checksums). Each is called only when set, so a driver without them neither calls nor
 * awaits anything extra.
 */
export interface DriverHooks {
  /** Before a WRITE stages: may return a promise while the mirror routine holds `lba`'s page lock. */
  beforeWrite?(d: Domain, lba: number): Promise<void> | void;
  /** After a WRITE that passed beforeWrite, durable or not: releases the lock, sets the dirty bit; may delay the ack. */
  afterWrite?(d: Domain, lba: number, durable: boolean): Promise<void> | void;
  /**
   * A group frame is about to be filled with `bytes`, which the store just verified and no
   * guest can reach yet: record its checksum from them.
   */
  frameFilled?(g: TrustGroup, frame: number, dataset: string, block: PhysicalBlock, bytes: Uint8Array): void;
  /**
   * Before a resident group frame is mapped into a domain that does not map it yet: false
   * if it is corrupt (it is then retired and being replaced; the read takes the slow path).
   */
  frameCheck?(g: TrustGroup, frame: number): boolean;
}

/**
 * A domain's private frames by default, in bytes, so a tenant of 4 KiB pages gets as much
 * room for its own writes as one of 64 KiB blocks. Its own writes are what a guest reads
 * most: with 16 frames of 4 KiB a SQLite tenant re-read every page it had written from the
 * pool, one transaction each (integrity_check of 1,500 written pages: 1.3 s against 22 ms).
 * Memory only as used: the frames sit in the domain's growable control buffer.
 */
const DEFAULT_PRIVATE_BYTES = 8 << 20;

/**
 * The most a domain's held group (WRITE_HELD) may hold, in bytes: dom0 memory a guest can
 * make it keep. A SQLite tenant's atomic transaction is bounded by its page cache (a
 * transaction that outgrows the cache spills to its rollback journal instead), so 32 MiB
 * is room for a cache of 8,000 pages of 4 KiB; a larger group is refused (HELD_LIMIT) and
 * SQLite commits it through its journal.
 */
export const HELD_LIMIT_BYTES = 32 << 20;
/**
 * The most all domains' held groups together may hold, in bytes: without it, N guests
 * could each keep HELD_LIMIT_BYTES in dom0 (32 guests, 1 GiB). Eight groups at their
 * limit; the held write that would pass it is refused (HELD_LIMIT) like one past the
 * domain's own limit, so SQLite tenants fall back to their journal instead.
 */
export const HELD_TOTAL_LIMIT_BYTES = 256 << 20;
const MIN_PRIVATE_FRAMES = 16;
/**
 * Most bytes read ahead of one miss. A reader that misses block after block (a scan, a
 * SQLite query walking a table) would otherwise pay one pool transaction per block: with
 * 4 KiB pages, thousands of transactions of a few milliseconds each. The window starts at
 * 4 blocks and doubles while the misses stay near-sequential, like Linux's readahead.
 */
const READAHEAD_MAX_BYTES = 512 * 1024;
/** Mappings taken back per step when a fill finds no frame to evict. */
const RECLAIM_STEP = 8;
/**
 * How many page-map entries one search for a private frame to take back may visit. A
 * domain's private mappings are few (its private frames) and may lie anywhere in a large
 * volume among group mappings and holes; without a bound, a write with every private frame
 * leased walked the whole page map (O(volume blocks) per write). The hand stays where it
 * stopped, so the next search goes on from there; a search that finds nothing only means
 * a write is not kept in memory (it is durable all the same).
 */
const PRIVATE_RECLAIM_VISITS = 4096;
/**
 * How many leased mappings one search may pass over (each costs a take-back and a
 * republish of the page-map word, since the lease is only seen by trying), at the least:
 * twice the domain's share, when larger. Without a bound a guest that claimed views of
 * every LBA of a large volume, all mapping a few frames of its own, made each READ refused
 * at its share cost a walk of the whole page map: 131,072 take-backs per READ, 0.4 s of
 * dom0 for one ring batch (attack review of 2026-12-03). Holes and unleased mappings cost
 * a word read and are not counted. A search that stops at the bound may refuse a READ with
 * QUOTA while an unleased mapping lies further on; the hand stays where it stopped.
 */
const LEASED_RECLAIM_VISITS = 4096;
/** A shadow entry that maps no frame. */
const EMPTY = encodeFrame(NO_FRAME);

export class Dom0Driver {
  readonly groups = new Map<string, TrustGroup>();
  readonly domains = new Map<number, Domain>();
  readonly counters: DriverCounters = { poolReads: 0, poolReadBatches: 0, bytesCopied: 0, bytesShared: 0, commits: 0, faults: 0, reresolved: 0, readAhead: 0, keptWrites: 0 };
  onFault: ((domain: Domain, reason: string) => void) | null = null;
  hooks: DriverHooks = {};
  private nextDomainId = 1;
  /** Bytes in every domain's held group together (HELD_TOTAL_LIMIT_BYTES bounds it); a domain that ends drops its group. */
  get heldTotal(): number {
    let n = 0;
    for (const d of this.domains.values()) n += d.heldBytes;
    return n;
  }
  /** Orders the writes handed to the pool (Domain.writing). */
  private writeSeq = 0;
  private readonly committer: GroupCommit;
  private pendingReads: { dataset: string; block: PhysicalBlock; resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }[] = [];

  constructor(
    readonly store: BlockStore,
    readonly options: DriverOptions,
  ) {
    this.committer = new GroupCommit(
      async () => {
        await store.commit();
        this.counters.commits++;
      },
      (group) => store.droppedGroup(group),
    );
  }

  /**
   * Private frames for a domain on `volume`: `privateBytes` of its blocks if given, else the
   * driver's setting or 8 MiB; at least 16, and never more than the volume has blocks (no
   * more of its blocks can be its own at once, and each frame costs dom0 bookkeeping up front).
   */
  privateFramesFor(volume: { blocks: number; blockBytes: number }, privateBytes?: number): number {
    const want =
      privateBytes !== undefined
        ? Math.max(MIN_PRIVATE_FRAMES, Math.floor(privateBytes / volume.blockBytes))
        : (this.options.privateFrames ?? Math.max(MIN_PRIVATE_FRAMES, Math.floor(DEFAULT_PRIVATE_BYTES / volume.blockBytes)));
    return Math.max(1, Math.min(want, volume.blocks));
  }

  /** The arena of `groupId`, created on first use with the group's block size. */
  group(groupId: string, blockBytes: number): TrustGroup {
    let g = this.groups.get(groupId);
    if (g) {
      if (g.layout.frameBytes !== blockBytes) {
        throw new RangeError(`trust group ${groupId} uses ${g.layout.frameBytes}-byte blocks; this volume has ${blockBytes}-byte blocks`);
      }
      return g;
    }
    const layout = arenaLayout(this.options.groupFrames?.[groupId] ?? this.options.arenaFrames, blockBytes);
    const memory = this.options.shared ? sharedArenaMemory(layout.totalBytes) : null;
    const buffer = memory ? memory.buffer : this.options.shared ? new SharedArrayBuffer(layout.totalBytes) : new ArrayBuffer(layout.totalBytes);
    const table = new FrameTable(layout, buffer, { promoteAt: this.options.promoteAt });
    g = { id: groupId, layout, buffer, memory, table, filling: new Map(), members: new Set() };
    this.groups.set(groupId, g);
    return g;
  }

  /**
   * `id`: reuse a domain id that is no longer live (guest failover: the survivor assumes the
   * failed domain's identity). Default: a fresh id. One live domain per dataset: two guests
   * writing one clone would each keep serving the other's stale mappings.
   */
  async createDomain(dataset: string, quota = this.options.quota, id?: number, privateBytes?: number): Promise<Domain> {
    if (id !== undefined && (!Number.isInteger(id) || id < 1)) throw new RangeError(`domain id must be a positive integer, got ${id}`);
    if (privateBytes !== undefined && !(Number.isFinite(privateBytes) && privateBytes > 0)) {
      throw new RangeError(`privateBytes must be a positive number of bytes, got ${privateBytes}`);
    }
    const volume = await this.store.volume(dataset);
    if (volume.readOnly) throw new ReadOnlyDatasetError(dataset);
    if (!Number.isInteger(quota) || quota < 1) throw new RangeError(`quota must be a positive integer, got ${quota}`);
    // Checked after the await: another createDomain may have taken the id or dataset meanwhile.
    if (id !== undefined && this.domains.has(id)) throw new RangeError(`domain id ${id} is not free`);
    for (const other of this.domains.values()) if (other.alive && other.dataset === dataset) throw new DatasetInUseError(dataset, other.id);
    const newId = id ?? this.nextDomainId++;
    if (newId >= this.nextDomainId) this.nextDomainId = newId + 1;
    const d = new Domain(newId, dataset, volume, this.group(volume.group, volume.blockBytes), quota, this.privateFramesFor(volume, privateBytes));
    this.domains.set(d.id, d);
    d.group.members.add(d);
    return d;
  }

  /** Serve the domain zero-copy: its private frames live in `buffer` (its control buffer) at `layout`. */
  attachZeroCopy(d: Domain, port: DomainPort, buffer: SharedArrayBuffer, layout: ArenaLayout): void {
    d.priv = new FrameTable(layout, buffer, { promoteAt: Number.MAX_SAFE_INTEGER });
    d.privFilling.clear();
    d.port = port;
    d.copies = false;
  }

  /** Drop every mapping of the domain; its frames become evictable unless others map them. */
  destroyDomain(id: number): void {
    const d = this.domains.get(id);
    if (!d) throw new RangeError(`unknown domain ${id}`);
    this.release(d);
    d.destroyed = true;
    this.domains.delete(id);
  }

  /** Stop serving a misbehaving domain; the host is told why and kills its worker. */
  fault(d: Domain, reason: string): void {
    if (d.fault !== null) return;
    d.fault = reason;
    this.counters.faults++;
    this.release(d);
    this.onFault?.(d, reason);
  }

  /** The most group frames `d` may hold now: its quota, capped at its fair share of the arena. */
  share(d: Domain): number {
    const n = Math.max(1, d.group.members.size);
    return Math.min(d.quota, Math.max(1, Math.floor(d.group.layout.frames / n)));
  }

  // ---- requests --------------------------------------------------------------------------

  /**
   * READ: map the block at `lba` into the domain; the completion carries the frame. Answers
   * synchronously when the block is a hole or already resident (the common, shared case),
   * so the ring port can complete it in the same turn.
   */
  read(d: Domain, lba: number): Completion | Promise<Completion> {
    d.counters.requests++;
    if (!this.inRange(d, lba)) return refuse(d, Status.OUT_OF_RANGE);
    const current = decodeFrame(d.shadow[lba]!);
    if (current !== NO_FRAME) {
      d.counters.hits++;
      return this.answer(d, lba, current);
    }
    // The quota is reserved here, when the request is accepted, in frames.
    if (!this.admit(d)) return refuse(d, Status.QUOTA);
    // Only for a read that was admitted: a domain at its share reads nothing ahead either.
    if (d.raMarker >= 0 && lba >= d.raMarker && lba < d.raNext) this.readAheadOn(d);
    d.reserved++;
    const done = (c: Completion): Completion => {
      d.reserved--;
      return c;
    };
    const go = (block: PhysicalBlock | null): Completion | Promise<Completion> => {
      const hit = this.mapResident(d, lba, block);
      return hit ? done(hit) : this.readMiss(d, lba, block!).then(done, (err: unknown) => done(closedRead(d, err)));
    };
    if (this.store.resolveSync) {
      let block: PhysicalBlock | null;
      try {
        block = this.store.resolveSync(d.dataset, [lba])[0] ?? null;
      } catch (err) {
        return done(closedRead(d, err));
      }
      return go(block);
    }
    return this.store.resolve(d.dataset, [lba]).then(([block]) => go(block ?? null), (err: unknown) => done(refuse(d, statusOf(err))));
  }

  /**
   * Room for one more frame within the domain's share, taking back its own unleased
   * mappings if needed. What the share bounds is what the domain alone keeps resident: a
   * frame other domains map too costs the arena nothing extra for this one, so 32 guests
   * reading one image each keep every mapping (the share would otherwise be 1/32 of it).
   */
  private admit(d: Domain): boolean {
    const limit = this.share(d);
    if (d.mapped + d.reserved < limit) return true;
    const sole = this.soleFrames(d);
    if (sole + d.reserved < limit) return true;
    this.reclaim(d, sole + d.reserved - limit + 1, true, true);
    return this.soleFrames(d) + d.reserved < limit;
  }

  /** Group frames `d` pins that no other domain maps. */
  soleFrames(d: Domain): number {
    return d.sole;
  }

  /** The same count walked from the frame table: the reference the incremental count is tested against. */
  soleFramesWalked(d: Domain): number {
    const t = d.group.table;
    let n = 0;
    for (let f = 0; f < t.layout.frames; f++) {
      const m = t.mappers(f);
      if (m.has(d.id) && m.size <= 1) n++;
    }
    return n;
  }

  /** A hole, or a block already in one of the domain's private frames or its group's arena: no pool read. */
  private mapResident(d: Domain, lba: number, block: PhysicalBlock | null): Completion | null {
    if (!block) {
      d.counters.holes++;
      return { status: Status.OK, frame: -1, generation: 0 };
    }
    const pf = d.priv.lookup(block.key);
    if (pf !== null && d.priv.stateOf(pf) === 'resident') {
      d.counters.hits++;
      d.counters.privateReads++;
      return this.mapInto(d, lba, d.group.layout.frames + pf);
    }
    const table = d.group.table;
    const frame = table.lookup(block.key);
    if (frame === null || table.stateOf(frame) !== 'resident') return null;
    // Verified before it is mapped into a domain that does not hold it yet.
    if (table.pinsBy(frame, d.id) === 0 && this.hooks.frameCheck && !this.hooks.frameCheck(d.group, frame)) return null;
    d.counters.hits++;
    return this.mapInto(d, lba, frame);
  }

  private async readMiss(d: Domain, lba: number, first: PhysicalBlock): Promise<Completion> {
    let block: PhysicalBlock | null = first;
    // A frame can be taken by another fill between our await and our map, and the guest's
    // own write can replace (and free) the block meanwhile: look again.
    for (let attempt = 0; attempt < 6; attempt++) {
      if (!block) return this.mapResident(d, lba, null)!;
      const priv = block.exclusive;
      const table = priv ? d.priv : d.group.table;
      const filling = priv ? d.privFilling : d.group.filling;
      let frame = table.lookup(block.key);
      let missed = false;
      try {
        if (frame === null) {
          missed = true;
          const filled = this.fill(d, priv, block);
          this.readAheadAfter(d, lba);
          frame = await filled;
        } else if (table.info(frame).state === 'filling') {
          frame = await filling.get(block.key)!;
        }
      } catch (err) {
        if (!(err instanceof StaleBlockRefError) || !this.store.resolveSync) return refuse(d, statusOf(err));
        this.counters.reresolved++;
        block = this.store.resolveSync(d.dataset, [lba])[0] ?? null;
        continue;
      }
      if (!d.alive) return refuse(d, Status.BAD_REQUEST);
      if (decodeFrame(d.shadow[lba]!) !== NO_FRAME) return this.answer(d, lba, decodeFrame(d.shadow[lba]!));
      // The block the LBA names now: a write may have replaced it while we read.
      const now: PhysicalBlock | null = this.store.resolveSync ? (this.store.resolveSync(d.dataset, [lba])[0] ?? null) : block;
      if (now?.key !== block.key) {
        block = now;
        continue;
      }
      if (table.lookup(block.key) !== frame || table.info(frame).state !== 'resident') continue;
      if (missed) d.counters.misses++;
      else d.counters.hits++;
      if (priv) d.counters.privateReads++;
      return this.mapInto(d, lba, priv ? d.group.layout.frames + frame : frame);
    }
    return refuse(d, Status.ARENA_FULL);
  }

  /**
   * UNMAP: drop the domain's mapping of `lba`; or, with `ref` ≥ 0, drop a pin dom0 kept on
   * frame `ref` for `lba` after the mapping went while the guest held views of it; or, with
   * `allKept`, every pin kept for `lba`: what the guest runtime sends when the LBA's last
   * lease goes and LEASE_KEPT was set. A domain can only drop what it holds.
   */
  unmap(d: Domain, lba: number, ref: number, allKept = false): Completion {
    d.counters.requests++;
    if (allKept) {
      if (!this.inRange(d, lba)) return refuse(d, Status.BAD_REQUEST);
      // The guest asked when the LBA's last lease went, clearing LEASE_KEPT. If the bit is
      // set again, dom0 kept pins after that for views taken since (a page-map hit needs
      // no request): those stay, and the guest asks for them when their lease goes.
      const unasked = d.port && !d.port.keptAsked(lba) ? d.keptUnasked.get(lba) : undefined;
      const m = d.kept.get(lba);
      for (const [r, pins] of m ?? []) {
        const stay = unasked?.get(r) ?? 0;
        for (let i = stay; i < pins; i++) this.unpin(d, r);
        if (stay === 0) m!.delete(r);
        else m!.set(r, stay);
      }
      if (!unasked) d.keptUnasked.delete(lba);
      if (m?.size === 0) d.kept.delete(lba);
      return ok();
    }
    if (ref >= 0) {
      const m = d.kept.get(lba);
      if (!m || !m.has(ref)) return refuse(d, Status.BAD_REQUEST);
      dropPin(m, ref);
      const u = d.keptUnasked.get(lba);
      if (u?.has(ref) && (m.get(ref) ?? 0) < u.get(ref)!) {
        dropPin(u, ref);
        if (u.size === 0) d.keptUnasked.delete(lba);
      }
      this.unpin(d, ref);
      if (m.size === 0) d.kept.delete(lba);
      return ok();
    }
    if (!this.inRange(d, lba)) return refuse(d, Status.OUT_OF_RANGE);
    if (decodeFrame(d.shadow[lba]!) === NO_FRAME) return refuse(d, Status.BAD_REQUEST);
    this.dropMapping(d, lba, false);
    return ok();
  }

  /**
   * WRITE: copy-on-write `bytes` into the domain's clone at `lba`; resolves when durable.
   * The old mapping is dropped; its frame stays pinned while the guest holds views of it
   * (its lease word says so): a frame a domain may be reading is never reused.
   * Geometry: a block past the last is OUT_OF_RANGE; in a partial last block the bytes
   * past the end of the volume are truncated (stored and read back as zeros), as the pool
   * does for its own callers (docs/design.md, "Geometry").
   */
  async write(d: Domain, lba: number, bytes: Uint8Array): Promise<Completion> {
    d.counters.requests++;
    if (!this.inRange(d, lba)) return refuse(d, Status.OUT_OF_RANGE);
    if (bytes.byteLength !== d.volume.blockBytes) return refuse(d, Status.BAD_REQUEST);
    const own = this.ownCopy(d, lba, bytes);
    return this.stageDurably(d, [lba], [own], () => this.store.write(d.dataset, lba, own));
  }

  /**
   * dom0's own copy of a block written (the one copy a WRITE's data gets in dom0: the ports
   * hand over a view of the staging slot, or the message's bytes), so the guest can still
   * write its slot and the block kept for reading back (keepWritten) is the bytes the pool
   * stored; bytes past the end of the volume zeroed (docs/design.md, "Geometry").
   */
  private ownCopy(d: Domain, lba: number, bytes: Uint8Array): Uint8Array {
    const copy = bytes.slice();
    const inVolume = (d.volume.sizeBytes ?? d.volume.blocks * d.volume.blockBytes) - lba * d.volume.blockBytes;
    if (inVolume < copy.byteLength) copy.fill(0, inVolume);
    return copy;
  }

  /**
   * Hand blocks at `lbas` (ascending) to the pool through `stage` and answer when the group
   * commit holding them is durable; a WRITE is a group of one, COMMIT_HELD any number.
   * Each LBA passes the hooks (the mirror's page locks, taken in LBA order so two groups
   * cannot deadlock; its dirty bits); a block is kept for reading back (write-allocate)
   * only if no later write of its LBA was handed to the pool meanwhile.
   */
  private stageDurably(d: Domain, lbas: readonly number[], blocks: readonly Uint8Array[], stage: () => Promise<number>): Promise<Completion> {
    const p = this.stageDurablyNow(d, lbas, blocks, stage);
    d.unanswered.add(p);
    const forget = (): void => void d.unanswered.delete(p);
    p.then(forget, forget);
    return p;
  }

  private async stageDurablyNow(d: Domain, lbas: readonly number[], blocks: readonly Uint8Array[], stage: () => Promise<number>): Promise<Completion> {
    for (const lba of lbas) {
      const locked = this.hooks.beforeWrite?.(d, lba);
      if (locked) await locked;
    }
    let failed: Status | null = null;
    const seqs: number[] = [];
    if (!d.alive) {
      // Faulted or destroyed while it waited for the mirror's page lock: a fenced domain
      // writes nothing more (failover's promise). afterWrite still runs, to release the lock.
      failed = Status.IO;
    } else {
      // Numbered when handed to the pool: the store stages writes in call order.
      for (const lba of lbas) {
        const seq = ++this.writeSeq;
        d.writing.set(lba, seq);
        seqs.push(seq);
      }
      try {
        await this.committer.add(stage());
      } catch (err) {
        failed = statusOf(err);
      }
    }
    // Together: a sync mirror's afterWrite waits for the remote, one wait for the group.
    const afters: Promise<void>[] = [];
    for (const lba of lbas) {
      const after = this.hooks.afterWrite?.(d, lba, failed === null);
      if (after) afters.push(after);
    }
    if (afters.length > 0) await Promise.all(afters);
    // Whether each is still the last write of its LBA handed to the pool (checked after every
    // await: a later one may be staged, or done, by now).
    const last = lbas.map((lba, i) => {
      const isLast = seqs[i] !== undefined && d.writing.get(lba) === seqs[i];
      if (isLast) d.writing.delete(lba);
      return isLast;
    });
    if (failed !== null) return refuse(d, failed);
    d.counters.writes += lbas.length;
    lbas.forEach((lba, i) => {
      if (d.alive && decodeFrame(d.shadow[lba]!) !== NO_FRAME) this.dropMapping(d, lba, true);
      if (d.alive && last[i]) this.keepWritten(d, lba, blocks[i]!);
    });
    return ok();
  }

  /**
   * Write-allocate: a block the domain just wrote that is its alone goes into a free or
   * evictable private frame, so reading back its own writes (what a guest reads most: a
   * SQLite tenant's pages after its transaction) is a mapping, not a pool read. From
   * dom0's copy of the write, never the staging slot; never takes a mapping back for it.
   */
  private keepWritten(d: Domain, lba: number, bytes: Uint8Array): void {
    // The pool may have closed since the write was durable: then nothing is kept.
    const block = this.resolveOrClosed(d.dataset, [lba])?.[0];
    if (!block?.exclusive) return;
    const t = d.priv;
    if (t.closed || t.lookup(block.key) !== null || d.privFilling.has(block.key)) return;
    let taken = t.allocate(block.key);
    // Every private frame mapped: take back mappings of them no view holds, as a private
    // fill does.
    if (!taken && !d.copies && this.reclaim(d, RECLAIM_STEP, false) > 0) taken = t.allocate(block.key);
    // Only a cache: a frame that cannot be had (or grown) keeps nothing, and the write,
    // durable already, is acknowledged all the same.
    if (!taken || !t.fill(taken.frame, bytes)) return;
    this.counters.keptWrites++;
    // Mapped at once on zero-copy: what a guest reads most after a write is what it wrote
    // (a SQLite tenant's pages after its commit), and with the mapping that read is a
    // page-map hit instead of a ring round trip. A private frame counts against no share,
    // and dom0 takes the mapping back like any other when it needs the frame.
    if (!d.copies && d.alive && d.shadow[lba] === EMPTY) this.mapInto(d, lba, d.group.layout.frames + taken.frame);
  }

  /**
   * WRITE_HELD: dom0's own copy of the block goes into the domain's held group, answered
   * at once (the staging slot is free again); nothing is staged or durable until
   * COMMIT_HELD. A refused held write (out of range, read-only, past the held limit:
   * `HELD_LIMIT_BYTES` unless set, or past the limit for all domains' groups together,
   * `HELD_TOTAL_LIMIT_BYTES`) drops the whole group and refuses the rest of it: guests
   * cannot make dom0 hold more than the limits, and a group is never committed with a hole
   * in it.
   */
  writeHeld(d: Domain, lba: number, bytes: Uint8Array): Completion {
    d.counters.requests++;
    if (d.heldFailed !== null) return refuse(d, d.heldFailed);
    const held = (d.held ??= new Map());
    const added = held.has(lba) ? 0 : bytes.byteLength;
    const refused = !this.inRange(d, lba)
      ? Status.OUT_OF_RANGE
      : bytes.byteLength !== d.volume.blockBytes
        ? Status.BAD_REQUEST
        : d.volume.readOnly
          ? Status.READ_ONLY
          : d.heldBytes + added > (this.options.heldLimitBytes ?? HELD_LIMIT_BYTES) || this.heldTotal + added > (this.options.heldTotalLimitBytes ?? HELD_TOTAL_LIMIT_BYTES)
            ? Status.HELD_LIMIT
            : null;
    if (refused !== null) {
      this.dropHeld(d, refused);
      return refuse(d, refused);
    }
    held.set(lba, this.ownCopy(d, lba, bytes));
    return ok();
  }

  /** DISCARD_HELD: forget the held group (and a refusal in it). */
  discardHeld(d: Domain): Completion {
    d.counters.requests++;
    this.dropHeld(d, null);
    return ok();
  }

  private dropHeld(d: Domain, failed: Status | null): void {
    d.held = null;
    d.heldFailed = failed;
  }

  /**
   * COMMIT_HELD: stage the held group in one step (`BlockStore.writeAll`) and answer when
   * the commit that holds it is durable: every block of it or none, whatever else commits
   * meanwhile, through the same path as a WRITE (`stageDurably`). An empty group is a
   * FLUSH.
   */
  async commitHeld(d: Domain): Promise<Completion> {
    const held = d.held;
    const failed = d.heldFailed;
    this.dropHeld(d, null);
    if (failed !== null) {
      d.counters.requests++;
      return refuse(d, failed);
    }
    if (!held || held.size === 0) return this.flush(d);
    d.counters.requests++;
    const lbas = [...held.keys()].sort((a, b) => a - b);
    const blocks = lbas.map((lba) => held.get(lba)!);
    return this.stageDurably(d, lbas, blocks, () => this.store.writeAll(d.dataset, lbas.map((lba, i) => ({ lba, bytes: blocks[i]! }))));
  }

  /**
   * FLUSH: resolves when everything written before it is durable: every write of the
   * domain accepted before it has been answered (each is answered when its group commit is
   * durable, or with its failure), and then the pool's barrier, for what else is staged.
   */
  async flush(d: Domain): Promise<Completion> {
    d.counters.requests++;
    try {
      if (d.unanswered.size > 0) await Promise.allSettled([...d.unanswered]);
      await this.committer.barrier();
    } catch (err) {
      return refuse(d, statusOf(err));
    }
    return ok();
  }

  // ---- mappings ---------------------------------------------------------------------------

  /** Whether `ref` names a frame this domain may be handed (a group frame or one of its private ones). */
  validRef(d: Domain, ref: number): boolean {
    return Number.isInteger(ref) && ref >= 0 && ref < d.group.layout.frames + d.priv.layout.frames;
  }

  private tableOf(d: Domain, ref: number): [FrameTable, number] {
    const n = d.group.layout.frames;
    return ref < n ? [d.group.table, ref] : [d.priv, ref - n];
  }

  /** The bytes of frame `ref` as this domain sees them (a view; no copy). */
  frameView(d: Domain, ref: number): Uint8Array {
    const [t, f] = this.tableOf(d, ref);
    return t.view(f);
  }

  generation(d: Domain, ref: number): number {
    const [t, f] = this.tableOf(d, ref);
    return t.generation(f);
  }

  /** The completion for a mapped frame; on the copy transport, with its bytes and no mapping left behind. */
  private answer(d: Domain, lba: number, ref: number): Completion {
    const c: Completion = { status: Status.OK, frame: ref, generation: this.generation(d, ref) };
    if (d.copies) {
      c.bytes = this.frameView(d, ref).slice();
      this.dropMapping(d, lba, false);
    }
    return c;
  }

  private mapInto(d: Domain, lba: number, ref: number): Completion {
    this.pin(d, ref);
    if (d.shadow[lba] === EMPTY) d.mappedLbas++;
    d.shadow[lba] = encodeFrame(ref);
    d.port?.publish(lba, ref);
    return this.answer(d, lba, ref);
  }

  private pin(d: Domain, ref: number): void {
    const [t, f] = this.tableOf(d, ref);
    if (t !== d.group.table) {
      t.map(f, d.id);
      return;
    }
    if (t.pinsBy(f, d.id) === 0) {
      // d joins the frame: it was d's alone if nobody mapped it, and stops being the one
      // other mapper's alone if there was exactly one.
      const others = t.mapperCountOf(f);
      if (others === 0) d.sole++;
      else if (others === 1) {
        const alone = this.onlyMapper(t, f);
        if (alone) alone.sole--;
      }
    }
    t.map(f, d.id);
  }

  private unpin(d: Domain, ref: number): void {
    const [t, f] = this.tableOf(d, ref);
    t.unmap(f, d.id);
    if (t !== d.group.table) return;
    if (t.pinsBy(f, d.id) > 0) return;
    const left = t.mapperCountOf(f);
    if (left === 0) d.sole--;
    else if (left === 1) {
      const alone = this.onlyMapper(t, f);
      if (alone) alone.sole++;
    }
  }

  private onlyMapper(t: FrameTable, f: number): Domain | null {
    const id = t.anyMapper(f);
    return id === null ? null : (this.domains.get(id) ?? null);
  }

  /**
   * Drop `lba`'s mapping. With `keepIfLeased`, a frame the guest still holds views of stays
   * pinned (an orphan) until the guest's runtime gives it back.
   */
  private dropMapping(d: Domain, lba: number, keepIfLeased: boolean): void {
    const ref = decodeFrame(d.shadow[lba]!);
    if (ref === NO_FRAME) return;
    d.shadow[lba] = EMPTY;
    d.mappedLbas--;
    const leased = d.port ? d.port.clearLeased(lba, keepIfLeased) : 'none';
    if (keepIfLeased && leased !== 'none') {
      addPin(d.kept, lba, ref);
      if (leased === 'first') d.keptUnasked.delete(lba);
      addPin(d.keptUnasked, lba, ref);
    } else {
      this.unpin(d, ref);
    }
  }

  /**
   * Move `lba`'s mapping from frame `from` to `to` (the same block, freshly filled). Views
   * the guest holds of `from` keep it pinned until they go.
   */
  moveMapping(d: Domain, lba: number, from: number, to: number): void {
    if (!d.alive || d.shadow[lba] !== encodeFrame(from)) return;
    this.dropMapping(d, lba, true);
    this.mapInto(d, lba, to);
  }

  /** Drop every mapping of `frame` (group frame) of `g`: it could not be replaced. */
  dropFrame(g: TrustGroup, frame: number): void {
    for (const id of [...g.table.mappers(frame).keys()]) {
      const d = this.domains.get(id);
      if (!d || !d.alive) continue;
      const enc = encodeFrame(frame);
      for (let lba = 0; lba < d.shadow.length; lba++) if (d.shadow[lba] === enc) this.dropMapping(d, lba, true);
    }
  }

  /**
   * Take back up to `want` of the domain's mappings that no view holds, oldest first; a
   * guest that leases everything keeps everything, and only limits itself. `groupOnly`:
   * mappings of group frames, else of the domain's private frames. `soleOnly`: only
   * mappings of group frames no other domain maps. Returns how many.
   */
  private reclaim(d: Domain, want: number, groupOnly: boolean, soleOnly = false): number {
    let got = 0;
    const arena = d.group.layout.frames;
    const table = d.group.table;
    // One turn of the hand at most: each mapping is visited once, and a leased one is
    // passed over (the hand has moved on when it next looks). A search for private
    // mappings looks at PRIVATE_RECLAIM_VISITS entries at most, holes included; any search
    // passes over LEASED_RECLAIM_VISITS leased mappings at most (or twice the share).
    const n = d.shadow.length;
    const steps = groupOnly ? n : Math.min(n, PRIVATE_RECLAIM_VISITS);
    let leasedLeft = Math.max(LEASED_RECLAIM_VISITS, 2 * this.share(d));
    let toVisit = d.mappedLbas;
    for (let step = 0; step < steps && got < want && toVisit > 0 && leasedLeft > 0; step++) {
      const lba = d.reclaimHand;
      d.reclaimHand = lba + 1 === n ? 0 : lba + 1;
      const ref = decodeFrame(d.shadow[lba]!);
      if (ref === NO_FRAME) continue;
      toVisit--;
      if ((groupOnly && ref >= arena) || (!groupOnly && ref < arena)) continue;
      if (soleOnly && ref < arena && table.mapperCountOf(ref) > 1) continue;
      d.shadow[lba] = EMPTY;
      if (d.port && d.port.clearLeased(lba, false) !== 'none') {
        // A view holds it: put it back.
        d.shadow[lba] = encodeFrame(ref);
        d.port.publish(lba, ref);
        leasedLeft--;
        continue;
      }
      d.mappedLbas--;
      this.unpin(d, ref);
      d.counters.revoked++;
      got++;
    }
    return got;
  }

  private release(d: Domain): void {
    this.dropHeld(d, null);
    for (let lba = 0; lba < d.shadow.length; lba++) if (d.shadow[lba] !== EMPTY) this.unpin(d, decodeFrame(d.shadow[lba]!));
    d.shadow.fill(EMPTY);
    d.mappedLbas = 0;
    for (const m of d.kept.values()) for (const [ref, pins] of m) for (let i = 0; i < pins; i++) this.unpin(d, ref);
    d.kept.clear();
    d.keptUnasked.clear();
    d.group.members.delete(d);
    // Its private frames held blocks no one else may read: nothing of them outlives the
    // domain, not even a fill that is in flight now (fillInto checks `closed`).
    d.priv.close();
  }

  // ---- internals -------------------------------------------------------------------------

  private inRange(d: Domain, lba: number): boolean {
    return Number.isInteger(lba) && lba >= 0 && lba < d.volume.blocks;
  }

  /** Fill a group frame for `block` (as a reader of dataset `dataset`): concurrent readers share the fill. */
  refill(g: TrustGroup, dataset: string, block: PhysicalBlock): Promise<number> {
    const pending = g.filling.get(block.key);
    if (pending) return pending;
    return this.fillInto(g.table, g.filling, dataset, block, () => this.reclaimGroup(g), g);
  }

  /**
   * After a miss at `lba`: when it follows the domain's last miss closely, fill the next
   * blocks of its clone into free or evictable frames, joining the same batched pool read:
   * shared blocks into the group's arena, the domain's own into its private frames. Never
   * takes a mapping back for it, never counts against the domain's share (the frames stay
   * unmapped until read).
   */
  private readAheadMax(d: Domain): number {
    const g = d.group;
    return Math.min(Math.floor(READAHEAD_MAX_BYTES / g.layout.frameBytes), Math.floor(g.layout.frames / 8));
  }

  private readAheadAfter(d: Domain, lba: number): void {
    const near = d.lastMiss >= 0 && lba > d.lastMiss && lba - d.lastMiss <= d.readAhead + 2;
    d.readAhead = near ? Math.min(this.readAheadMax(d), Math.max(4, d.readAhead * 2)) : 0;
    d.lastMiss = lba;
    d.raMarker = -1;
    if (d.readAhead > 0) this.fetchAhead(d, lba + 1, d.readAhead);
  }

  /**
   * The guest reached the second half of the last window: read the next one now. Only
   * where both windows fit in the eighth of the arena readahead may use: fills in flight
   * cannot be evicted, and in a small arena under pressure they turned a guest's QUOTA
   * refusal into a fault for hoarding (memory-model.test.ts, the lease liar).
   */
  private readAheadOn(d: Domain): void {
    d.raMarker = -1;
    const next = Math.min(this.readAheadMax(d), Math.max(4, d.readAhead * 2));
    if (d.readAhead + next > Math.floor(d.group.layout.frames / 8)) return;
    d.readAhead = next;
    // The next miss past this window counts as sequential, as if it followed one here.
    d.lastMiss = d.raNext - 1;
    this.fetchAhead(d, d.raNext, d.readAhead);
  }

  /**
   * The store's lookup, or null when the pool closed under dom0 (PoolClosedError): for the
   * lookups only a cache depends on (readahead, write-allocate), which must not turn a
   * closed pool into dom0's own error and fault the domain that asked. Any other throw is
   * dom0 failing, and goes on up.
   */
  private resolveOrClosed(dataset: string, lbas: readonly number[]): (PhysicalBlock | null)[] | null {
    if (!this.store.resolveSync) return null;
    try {
      return this.store.resolveSync(dataset, lbas);
    } catch (err) {
      if (err instanceof PoolClosedError) return null;
      throw err;
    }
  }

  /** Fill blocks [from, from + n) that are not resident yet, in the same pool reads; mark its second half. */
  private fetchAhead(d: Domain, from: number, n: number): void {
    const g = d.group;
    if (!this.store.resolveSync) return;
    const to = Math.min(d.volume.blocks, from + n);
    d.raNext = to;
    d.raMarker = to < d.volume.blocks ? from + (n >> 1) : -1;
    const lbas: number[] = [];
    for (let l = from; l < to; l++) if (decodeFrame(d.shadow[l]!) === NO_FRAME) lbas.push(l);
    const blocks = this.resolveOrClosed(d.dataset, lbas);
    if (!blocks) return; // the pool closed under dom0: nothing to read ahead, the READ itself is refused
    // An eighth of each table at most: the private one is far smaller on a small volume.
    let privLeft = Math.floor(d.priv.layout.frames / 8);
    for (const block of blocks) {
      if (!block || (block.exclusive && privLeft-- <= 0)) continue;
      const [table, filling] = block.exclusive ? [d.priv, d.privFilling] : [g.table, g.filling];
      if (table.closed || table.lookup(block.key) !== null || filling.has(block.key)) continue;
      // A failed readahead costs nothing: the real read of that block retries.
      this.fillInto(table, filling, d.dataset, block, () => false, block.exclusive ? null : g).catch(() => undefined);
      if (!filling.has(block.key)) break; // no frame free or evictable: stop reading ahead
      this.counters.readAhead++;
    }
  }

  private fill(d: Domain, priv: boolean, block: PhysicalBlock): Promise<number> {
    if (priv) return this.fillInto(d.priv, d.privFilling, d.dataset, block, () => this.reclaim(d, RECLAIM_STEP, false) > 0, null);
    return this.refill(d.group, d.dataset, block);
  }

  /**
   * Take mappings no view holds from the group's domains, the one holding most frames
   * first, so a fill can evict; failing that, fault a domain over its share. False when
   * none could be taken and no domain is over its share (everything is leased fairly).
   */
  private reclaimGroup(g: TrustGroup): boolean {
    const byUse = [...g.members].filter((d) => d.alive).sort((a, b) => b.mapped - a.mapped);
    // A mapping of a frame no one else maps frees that frame; one of a shared frame does not.
    for (const d of byUse) if (this.reclaim(d, RECLAIM_STEP, true, true) > 0) return true;
    for (const d of byUse) if (this.reclaim(d, RECLAIM_STEP, true) > 0) return true;
    // Nothing can be taken back: every mapping is leased. Admission charges a domain only
    // for frames no one else maps, so a domain that joined others' frames and kept them
    // leased after the others moved on can hold more than its share. That one, not the
    // domain asking, goes: faulted, like an out-of-memory kill of the largest offender.
    const hoarder = byUse
      .map((d) => ({ d, over: this.soleFrames(d) - this.share(d) }))
      .filter((x) => x.over > 0)
      .sort((a, b) => b.over - a.over)[0];
    if (!hoarder) return false;
    const { d } = hoarder;
    this.fault(d, `holds ${this.soleFrames(d)} frames of the arena that no other domain maps, all leased, over its fair share of ${this.share(d)}, while the arena is exhausted`);
    return true;
  }

  /** Read `block` into a new frame of `table`; concurrent requests for it share this fill. */
  private fillInto(
    table: FrameTable,
    filling: Map<string, Promise<number>>,
    dataset: string,
    block: PhysicalBlock,
    makeRoom: () => boolean,
    g: TrustGroup | null,
  ): Promise<number> {
    if (table.closed) return Promise.reject(new DomainEndedError());
    let taken = table.allocate(block.key);
    while (!taken && makeRoom()) taken = table.allocate(block.key);
    if (!taken) return Promise.reject(new ArenaFullError(g?.id ?? 'private'));
    const { frame } = taken;
    const filled = (async () => {
      try {
        const bytes = await this.readBatched(dataset, block);
        // The domain ended while the pool read was in flight: its frames were zeroed.
        if (table.closed) throw new DomainEndedError();
        if (bytes.byteLength > table.layout.frameBytes) throw new RangeError(`block ${block.key} has ${bytes.byteLength} bytes, frames hold ${table.layout.frameBytes}`);
        // Checksummed from the verified private bytes, before any guest can reach them.
        if (g) this.hooks.frameFilled?.(g, frame, dataset, block, bytes);
        // The one copy of a block's life in memory: from the pool's record into its frame.
        if (!table.fill(frame, bytes)) throw new ArenaFullError(g?.id ?? 'private');
        return frame;
      } catch (err) {
        // Whatever failed, the frame goes back: one left 'filling' is lost for good.
        if (table.stateOf(frame) === 'filling') table.fillFailed(frame);
        throw err;
      } finally {
        filling.delete(block.key);
      }
    })();
    filling.set(block.key, filled);
    return filled;
  }

  /** Gather the misses of one burst of requests into one pool read. */
  private readBatched(dataset: string, block: PhysicalBlock): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.pendingReads.push({ dataset, block, resolve, reject });
      if (this.pendingReads.length === 1) void soon().then(() => this.flushReads());
    });
  }

  private async flushReads(): Promise<void> {
    const batch = this.pendingReads;
    this.pendingReads = [];
    const byDataset = new Map<string, typeof batch>();
    for (const r of batch) {
      const list = byDataset.get(r.dataset) ?? [];
      list.push(r);
      byDataset.set(r.dataset, list);
    }
    await Promise.all(
      [...byDataset].map(async ([dataset, reqs]) => {
        this.counters.poolReadBatches++;
        try {
          const out = await this.store.read(dataset, reqs.map((r) => r.block));
          this.counters.poolReads += reqs.length;
          reqs.forEach((r, i) => r.resolve(out[i]!));
        } catch (err) {
          // One bad block must not fail its neighbours: retry them one by one.
          if (reqs.length === 1) return reqs[0]!.reject(err);
          for (const r of reqs) {
            try {
              const [bytes] = await this.store.read(dataset, [r.block]);
              this.counters.poolReads++;
              r.resolve(bytes!);
            } catch (e) {
              r.reject(e);
            }
          }
        }
      }),
    );
  }
}

function ok(): Completion {
  return { status: Status.OK, frame: -1, generation: 0 };
}

/** A fill for a domain whose private frames were closed (the domain was faulted or destroyed). */
class DomainEndedError extends Error {
  constructor() {
    super('the domain ended while its block was being read');
    this.name = 'DomainEndedError';
  }
}

function refuse(d: Domain, status: Status): Completion {
  d.counters.refused++;
  return { status, frame: -1, generation: 0 };
}

/**
 * A READ that met a pool closed under dom0 (another tab deleted it, or the browser closed
 * it), wherever it met it (the lookup in read(), or one of readMiss's lookups after an
 * await): refused as such. Anything else is dom0's own error: rethrown, and the dispatcher
 * faults the domain.
 */
function closedRead(d: Domain, err: unknown): Completion {
  if (!(err instanceof PoolClosedError)) throw err;
  return refuse(d, Status.POOL_CLOSED);
}

// By class, never by name: a minified build renames classes.
function statusOf(err: unknown): Status {
  if (err instanceof ArenaFullError) return Status.ARENA_FULL;
  if (err instanceof ChecksumError) return Status.CHECKSUM;
  if (err instanceof ReadOnlyDatasetError) return Status.READ_ONLY;
  if (err instanceof OutOfRangeError) return Status.OUT_OF_RANGE;
  if (err instanceof PoolClosedError) return Status.POOL_CLOSED;
  // Dropped with another caller's failed commit: the guest is told what dropped it.
  if (err instanceof GroupDroppedError && err.cause !== undefined) return statusOf(err.cause);
  return Status.IO;
}
