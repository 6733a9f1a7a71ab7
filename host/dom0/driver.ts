// Runs in the dom0 driver worker. The control domain's block driver (seed 000, US
// 8,037,279): a domain asks for a block; the driver walks that domain's clone to the
// block's physical identity; if a frame of the domain's trust group already holds it, the
// frame is mapped into the domain's page map (no pool read, no copy); otherwise the pool is
// read (batched with other misses) into a free or evicted frame, then mapped.
//
// Transport-agnostic: ring-port.ts (zero-copy, shared memory) and message-port.ts (copy
// fallback) decode requests and deliver completions; both call the methods here.
// Every input is treated as hostile and validated here, not in the ports.
import { FrameTable } from './frame-table';
import { arenaLayout, type ArenaLayout } from '../../shared/memory-layout';
import { Status } from '../../shared/protocol';
import type { BlockStore, PhysicalBlock, VolumeInfo } from './block-store';
import { GroupCommit } from './group-commit';
import { soon } from './soon';

export interface DriverOptions {
  /** Frames per trust-group arena. */
  arenaFrames: number;
  /** Distinct domains mapping a frame before it is promoted. */
  promoteAt: number;
  /** Default per-domain limit on mapped frames. */
  quota: number;
  /** SharedArrayBuffer arenas (zero-copy) or plain ArrayBuffers (copy transport). */
  shared: boolean;
}

export interface Completion {
  status: Status;
  /** Frame number, or -1 for none (hole, write, error). */
  frame: number;
  generation: number;
}

export interface TrustGroup {
  readonly id: string;
  readonly layout: ArenaLayout;
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  readonly table: FrameTable;
  readonly filling: Map<string, Promise<number>>;
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
}

/** Called whenever a domain's page map changes, so ring-port can publish it to the guest. */
export type PageMapSink = (lba: number, frame: number, generation: number) => void;

export class Domain {
  readonly shadow: Int32Array; // trusted: frame + 1 per LBA, 0 = unmapped
  readonly orphans = new Map<number, number>(); // frame → pins kept after copy-on-write
  mapped = 0;
  fault: string | null = null;
  destroyed = false;
  readonly counters: DomainCounters = { requests: 0, hits: 0, misses: 0, holes: 0, writes: 0, refused: 0 };
  pageMapSink: PageMapSink | null = null;

  constructor(
    readonly id: number,
    readonly dataset: string,
    readonly volume: VolumeInfo,
    readonly group: TrustGroup,
    readonly quota: number,
  ) {
    this.shadow = new Int32Array(volume.blocks);
  }

  get alive(): boolean {
    return !this.destroyed && this.fault === null;
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
}

/**
 * Optional hooks for host/dom0 (integrity) and host/mirror (dirty bits, page locks, frame
 * checksums). Each is called only when set, so a driver without them behaves, and awaits,
 * exactly as before.
 */
export interface DriverHooks {
  /** Before a WRITE stages: may return a promise while the mirror routine holds `lba`'s page lock. */
  beforeWrite?(d: Domain, lba: number): Promise<void> | void;
  /** After a WRITE that passed beforeWrite, durable or not: releases the lock, sets the dirty bit; may delay the ack. */
  afterWrite?(d: Domain, lba: number, durable: boolean): Promise<void> | void;
  /** A frame was just filled with bytes the store verified: record its checksum. */
  frameFilled?(g: TrustGroup, frame: number, dataset: string, block: PhysicalBlock): void;
  /** Before a resident frame is handed to a domain: a promise while the frame is quarantined. */
  frameGate?(g: TrustGroup, frame: number): Promise<void> | null;
}

export class Dom0Driver {
  readonly groups = new Map<string, TrustGroup>();
  readonly domains = new Map<number, Domain>();
  readonly counters: DriverCounters = { poolReads: 0, poolReadBatches: 0, bytesCopied: 0, bytesShared: 0, commits: 0, faults: 0 };
  onFault: ((domain: Domain, reason: string) => void) | null = null;
  hooks: DriverHooks = {};
  private nextDomainId = 1;
  private readonly committer: GroupCommit;
  private pendingReads: { dataset: string; block: PhysicalBlock; resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }[] = [];

  constructor(
    readonly store: BlockStore,
    readonly options: DriverOptions,
  ) {
    this.committer = new GroupCommit(async () => {
      await store.commit();
      this.counters.commits++;
    });
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
    const layout = arenaLayout(this.options.arenaFrames, blockBytes);
    const buffer = this.options.shared ? new SharedArrayBuffer(layout.totalBytes) : new ArrayBuffer(layout.totalBytes);
    const table = new FrameTable(layout, buffer, { promoteAt: this.options.promoteAt });
    g = { id: groupId, layout, buffer, table, filling: new Map() };
    this.groups.set(groupId, g);
    return g;
  }

  /**
   * `id`: reuse a domain id that is no longer live (guest failover: the survivor assumes the
   * failed domain's identity). Default: a fresh id.
   */
  async createDomain(dataset: string, quota = this.options.quota, id?: number): Promise<Domain> {
    if (id !== undefined && (!Number.isInteger(id) || id < 1)) throw new RangeError(`domain id must be a positive integer, got ${id}`);
    const volume = await this.store.volume(dataset);
    if (volume.readOnly) throw new RangeError(`dataset ${dataset} is read-only (a snapshot): give each domain a clone`);
    if (!Number.isInteger(quota) || quota < 1) throw new RangeError(`quota must be a positive integer, got ${quota}`);
    // Checked after the await: another createDomain may have taken the id meanwhile.
    if (id !== undefined && this.domains.has(id)) throw new RangeError(`domain id ${id} is not free`);
    const newId = id ?? this.nextDomainId++;
    if (newId >= this.nextDomainId) this.nextDomainId = newId + 1;
    const d = new Domain(newId, dataset, volume, this.group(volume.group, volume.blockBytes), quota);
    this.domains.set(d.id, d);
    return d;
  }

  /** Drop every mapping of the domain; its frames become evictable unless others map them. */
  destroyDomain(id: number): void {
    const d = this.domains.get(id);
    if (!d) throw new RangeError(`unknown domain ${id}`);
    this.unmapAll(d);
    d.destroyed = true;
    this.domains.delete(id);
  }

  /** Stop serving a misbehaving domain; the host is told why and kills its worker. */
  fault(d: Domain, reason: string): void {
    if (d.fault !== null) return;
    d.fault = reason;
    this.counters.faults++;
    this.unmapAll(d);
    this.onFault?.(d, reason);
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
    const current = d.shadow[lba]!;
    if (current !== 0) {
      d.counters.hits++;
      return this.gated(d.group, current - 1);
    }
    if (d.mapped >= d.quota) return refuse(d, Status.QUOTA);
    if (this.store.resolveSync) {
      const [block] = this.store.resolveSync(d.dataset, [lba]);
      return this.mapResident(d, lba, block ?? null) ?? this.readMiss(d, lba, block!);
    }
    return this.store.resolve(d.dataset, [lba]).then(([block]) => this.mapResident(d, lba, block ?? null) ?? this.readMiss(d, lba, block!));
  }

  /** A hole, or a block some domain of the group already brought in: no pool read. */
  private mapResident(d: Domain, lba: number, block: PhysicalBlock | null): Completion | null {
    if (!block) {
      d.counters.holes++;
      return { status: Status.OK, frame: -1, generation: 0 };
    }
    const table = d.group.table;
    const frame = table.lookup(block.key);
    if (frame === null || table.info(frame).state !== 'resident') return null;
    const gate = this.hooks.frameGate?.(d.group, frame);
    if (gate) return null; // quarantined: take the slow path, which waits for the reload
    d.counters.hits++;
    this.mapInto(d, lba, frame);
    return { status: Status.OK, frame, generation: table.generation(frame) };
  }

  /** A mapped frame's completion, after any reload of a quarantined frame (host/dom0 (integrity)). */
  private gated(g: TrustGroup, frame: number): Completion | Promise<Completion> {
    const gate = this.hooks.frameGate?.(g, frame);
    if (!gate) return { status: Status.OK, frame, generation: g.table.generation(frame) };
    return gate.then(() => ({ status: Status.OK, frame, generation: g.table.generation(frame) }));
  }

  private async readMiss(d: Domain, lba: number, block: PhysicalBlock): Promise<Completion> {
    const table = d.group.table;
    // A frame can be taken by another fill between our await and our map: try again.
    for (let attempt = 0; attempt < 4; attempt++) {
      let frame = table.lookup(block.key);
      let missed = false;
      try {
        if (frame === null) {
          missed = true;
          frame = await this.fill(d.group, d.dataset, block);
        } else if (table.info(frame).state === 'filling') {
          frame = await d.group.filling.get(block.key)!;
        } else {
          const gate = this.hooks.frameGate?.(d.group, frame);
          if (gate) await gate;
        }
      } catch (err) {
        return refuse(d, statusOf(err));
      }
      if (!d.alive) return refuse(d, Status.BAD_REQUEST);
      if (d.shadow[lba] !== 0) return { status: Status.OK, frame: d.shadow[lba]! - 1, generation: table.generation(d.shadow[lba]! - 1) };
      if (table.lookup(block.key) !== frame || table.info(frame).state !== 'resident') continue;
      if (missed) d.counters.misses++;
      else d.counters.hits++;
      this.mapInto(d, lba, frame);
      return { status: Status.OK, frame, generation: table.generation(frame) };
    }
    return refuse(d, Status.ARENA_FULL);
  }

  /**
   * UNMAP: drop the domain's mapping of `lba`; or, with `frame` ≥ 0, drop a pin the domain
   * kept on an old frame after copy-on-write. A domain can only drop what it holds.
   */
  unmap(d: Domain, lba: number, frame: number): Completion {
    d.counters.requests++;
    if (frame >= 0) {
      const pins = d.orphans.get(frame);
      if (pins === undefined) return refuse(d, Status.BAD_REQUEST);
      if (pins <= 1) d.orphans.delete(frame);
      else d.orphans.set(frame, pins - 1);
      d.group.table.unmap(frame, d.id);
      d.mapped--;
      return ok();
    }
    if (!this.inRange(d, lba)) return refuse(d, Status.OUT_OF_RANGE);
    const current = d.shadow[lba]!;
    if (current === 0) return refuse(d, Status.BAD_REQUEST);
    this.clearMapping(d, lba, false);
    return ok();
  }

  /**
   * WRITE: copy-on-write `bytes` into the domain's clone at `lba`; resolves when durable.
   * The old mapping is dropped, or kept as a pin (`keepOldPin`) while the guest still holds
   * views of it: a frame a domain may be reading is never reused.
   */
  async write(d: Domain, lba: number, bytes: Uint8Array, keepOldPin: boolean): Promise<Completion> {
    d.counters.requests++;
    if (!this.inRange(d, lba)) return refuse(d, Status.OUT_OF_RANGE);
    if (bytes.byteLength !== d.volume.blockBytes) return refuse(d, Status.BAD_REQUEST);
    const locked = this.hooks.beforeWrite?.(d, lba);
    if (locked) await locked;
    let failed: Status | null = null;
    try {
      await this.committer.add(this.store.write(d.dataset, lba, bytes));
    } catch (err) {
      failed = statusOf(err);
    }
    const after = this.hooks.afterWrite?.(d, lba, failed === null);
    if (after) await after;
    if (failed !== null) return refuse(d, failed);
    d.counters.writes++;
    if (d.alive && d.shadow[lba] !== 0) this.clearMapping(d, lba, keepOldPin);
    return ok();
  }

  /** FLUSH: resolves when everything written before it is durable. */
  async flush(d: Domain): Promise<Completion> {
    d.counters.requests++;
    try {
      await this.committer.barrier();
    } catch (err) {
      return refuse(d, statusOf(err));
    }
    return ok();
  }

  // ---- internals -------------------------------------------------------------------------

  private inRange(d: Domain, lba: number): boolean {
    return Number.isInteger(lba) && lba >= 0 && lba < d.volume.blocks;
  }

  private mapInto(d: Domain, lba: number, frame: number): void {
    d.group.table.map(frame, d.id);
    d.shadow[lba] = frame + 1;
    d.mapped++;
    d.pageMapSink?.(lba, frame, d.group.table.generation(frame));
  }

  private clearMapping(d: Domain, lba: number, keepPin: boolean): void {
    const frame = d.shadow[lba]! - 1;
    d.shadow[lba] = 0;
    d.pageMapSink?.(lba, -1, 0);
    if (keepPin) {
      d.orphans.set(frame, (d.orphans.get(frame) ?? 0) + 1);
    } else {
      d.group.table.unmap(frame, d.id);
      d.mapped--;
    }
  }

  private unmapAll(d: Domain): void {
    const table = d.group.table;
    for (let lba = 0; lba < d.shadow.length; lba++) {
      const f = d.shadow[lba]!;
      if (f !== 0) table.unmap(f - 1, d.id);
    }
    d.shadow.fill(0);
    for (const [frame, pins] of d.orphans) for (let i = 0; i < pins; i++) table.unmap(frame, d.id);
    d.orphans.clear();
    d.mapped = 0;
  }

  /** Read `block` into a new frame of `g`; concurrent requests for it share this fill. */
  private fill(g: TrustGroup, dataset: string, block: PhysicalBlock): Promise<number> {
    const taken = g.table.allocate(block.key);
    if (!taken) return Promise.reject(new ArenaFullError(g.id));
    const { frame } = taken;
    const filled = this.readBatched(dataset, block).then(
      (bytes) => {
        if (bytes.byteLength > g.layout.frameBytes) throw new RangeError(`block ${block.key} has ${bytes.byteLength} bytes, frames hold ${g.layout.frameBytes}`);
        // The one copy of a block's life in memory: from the pool's record into its frame.
        const view = g.table.view(frame);
        view.set(bytes);
        // The volume's last block may be short; the rest of the frame reads as zeros.
        if (bytes.byteLength < view.byteLength) view.fill(0, bytes.byteLength);
        this.hooks.frameFilled?.(g, frame, dataset, block);
        g.table.fillDone(frame);
        g.filling.delete(block.key);
        return frame;
      },
      (err: unknown) => {
        g.table.fillFailed(frame);
        g.filling.delete(block.key);
        throw err;
      },
    );
    g.filling.set(block.key, filled);
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

export class ArenaFullError extends Error {
  override name = 'ArenaFullError';
  constructor(group: string) {
    super(`every frame of trust group ${group}'s arena is mapped or being filled; nothing can be evicted`);
  }
}

function ok(): Completion {
  return { status: Status.OK, frame: -1, generation: 0 };
}

function refuse(d: Domain, status: Status): Completion {
  d.counters.refused++;
  return { status, frame: -1, generation: 0 };
}

function statusOf(err: unknown): Status {
  const name = err instanceof Error ? err.name : '';
  if (name === 'ArenaFullError') return Status.ARENA_FULL;
  if (name === 'ChecksumError') return Status.CHECKSUM;
  if (name === 'ReadOnlyDatasetError') return Status.READ_ONLY;
  if (name === 'OutOfRangeError') return Status.OUT_OF_RANGE;
  return Status.IO;
}
