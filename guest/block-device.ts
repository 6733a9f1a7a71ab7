// Runs in a guest worker: the block-device API guest code programs against.
//
//   const dev = openBlockDevice(grant);
//   using view = await dev.read(7);      // a Uint8Array onto the shared arena: no copy
//   view.bytes[0];                       // read-only by contract (see below)
//   await dev.write(7, bytes);           // copy-on-write into this domain's clone; durable when it resolves
//   await dev.flush();
//
// On the zero-copy transport a view is a window onto a frame that other domains of the
// trust group may map too. A SharedArrayBuffer cannot be made read-only for one realm, so
// writing into a view is possible and is a bug: it corrupts the block for the whole group
// (dom0 detects it by checksum on a scrub). Write with `write()`.
//
// Leases: a view pins its frame until `release()` (or the end of a `using` block). The
// domain's mappings are its mapping cache (seed 003): reading a block it already maps takes
// no request at all — the page map dom0 keeps in our control buffer says where the block
// is, and the frame's generation says whether that is still true.
import '../shared/dispose-polyfill';
import { Op, Status, CPL_FRAME, CPL_STATUS, statusText } from '../shared/protocol';
import { PM_FRAME, PM_GEN, PM_WORDS } from '../shared/memory-layout';
import type { DomainGrant, ZeroCopyGrant } from '../shared/grant';
import { CopyChannel, RingChannel, type Channel, type Reply, type Request } from './channel';

export interface BlockView extends Disposable {
  readonly lba: number;
  /** The block's bytes. Zero-copy: a view onto shared memory; treat it as read-only. */
  readonly bytes: Uint8Array;
  /** True when `bytes` is a view onto the shared arena (no copy was made). */
  readonly shared: boolean;
  /** Give the lease back; the view must not be used afterwards. Idempotent. */
  release(): void;
}

export interface BlockDeviceStats {
  /** Reads answered from the mapping cache: no request, no copy. */
  cachedReads: number;
  /** Reads that took a round trip to dom0. */
  requestReads: number;
  holeReads: number;
  writes: number;
  /** Mappings dropped to stay under the quota. */
  trims: number;
  /** Blocks this domain currently maps. */
  mapped: number;
  leases: number;
}

export class BlockDeviceError extends Error {
  override name = 'BlockDeviceError';
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface BlockDevice {
  readonly transport: 'zero-copy' | 'copy';
  readonly domainId: number;
  readonly blocks: number;
  readonly blockBytes: number;
  read(lba: number): Promise<BlockView>;
  /** Blocking read, for synchronous code in workers (a SQLite VFS). Zero-copy transport only. */
  readSync(lba: number): BlockView;
  write(lba: number, bytes: Uint8Array): Promise<void>;
  flush(): Promise<void>;
  /** `count` requests that do nothing, as one batch: liveness checks, benchmarks. */
  nop(count?: number): Promise<void>;
  stats(): BlockDeviceStats;
}

export function openBlockDevice(grant: DomainGrant): BlockDevice {
  return grant.kind === 'zero-copy' ? new ZeroCopyDevice(grant) : new CopyDevice(grant.port, grant);
}

abstract class DeviceBase {
  readonly domainId: number;
  readonly blocks: number;
  readonly blockBytes: number;
  protected readonly quota: number;
  protected readonly counters = { cachedReads: 0, requestReads: 0, holeReads: 0, writes: 0, trims: 0 };

  constructor(
    protected readonly channel: Channel,
    grant: { domainId: number; blocks: number; blockBytes: number; quota: number },
  ) {
    this.domainId = grant.domainId;
    this.blocks = grant.blocks;
    this.blockBytes = grant.blockBytes;
    this.quota = grant.quota;
  }

  protected checkLba(lba: number): void {
    if (!Number.isInteger(lba) || lba < 0 || lba >= this.blocks) {
      throw new BlockDeviceError(`block ${lba} is outside this volume (0..${this.blocks - 1})`, Status.OUT_OF_RANGE);
    }
  }

  protected checkBlock(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== this.blockBytes) {
      throw new BlockDeviceError(`a write must be one whole block of ${this.blockBytes} bytes, got ${bytes?.byteLength}`, Status.BAD_REQUEST);
    }
  }

  protected fail(reply: Reply, what: string): BlockDeviceError {
    const status = reply.words[CPL_STATUS]!;
    return new BlockDeviceError(`${what}: ${statusText(status)}`, status);
  }

  protected zeros(lba: number): BlockView {
    this.counters.holeReads++;
    return plainView(lba, new Uint8Array(this.blockBytes));
  }

  async flush(): Promise<void> {
    const reply = await this.channel.submit({ op: Op.FLUSH, lba: 0 });
    if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, 'flush');
  }

  async nop(count = 1): Promise<void> {
    if (!Number.isInteger(count) || count < 1) throw new BlockDeviceError(`nop count must be a positive integer, got ${count}`, Status.BAD_REQUEST);
    const ok = await this.channel.submitBatch({ op: Op.NOOP, lba: 0 }, count);
    if (ok !== count) throw new BlockDeviceError(`${count - ok} of ${count} no-ops failed`, Status.IO);
  }
}

class ZeroCopyDevice extends DeviceBase implements BlockDevice {
  readonly transport = 'zero-copy' as const;
  private readonly pm: Int32Array;
  private readonly gen: Int32Array;
  private readonly arena: SharedArrayBuffer;
  private readonly framesByteOffset: number;
  private readonly frames: number;
  private readonly staging: Uint8Array;
  private readonly freeSlots: number[];
  private readonly slotWaiters: (() => void)[] = [];
  /** frame → live views of it held by guest code. */
  private readonly leases = new Map<number, number>();
  /** frames whose LBA was rewritten while views were live: dom0 keeps them pinned until we drop them. */
  private readonly orphanPins = new Map<number, number>();
  /** LBAs this domain maps, oldest first (the trim order). */
  private readonly mappedLbas = new Set<number>();

  constructor(grant: ZeroCopyGrant) {
    const channel = new RingChannel(grant.control, grant.domainLayout);
    super(channel, grant);
    const dl = grant.domainLayout;
    this.pm = new Int32Array(grant.control, dl.pageMapByteOffset, dl.blocks * PM_WORDS);
    this.gen = new Int32Array(grant.arena, grant.arenaLayout.genByteOffset, grant.arenaLayout.frames);
    this.arena = grant.arena;
    this.framesByteOffset = grant.arenaLayout.framesByteOffset;
    this.frames = grant.arenaLayout.frames;
    this.staging = new Uint8Array(grant.control, dl.stagingByteOffset, dl.stagingSlots * dl.blockBytes);
    this.freeSlots = Array.from({ length: dl.stagingSlots }, (_, i) => i);
  }

  read(lba: number): Promise<BlockView> {
    this.checkLba(lba);
    const cached = this.fromPageMap(lba);
    if (cached) return Promise.resolve(cached);
    return this.readThrough(lba);
  }

  readSync(lba: number): BlockView {
    this.checkLba(lba);
    const cached = this.fromPageMap(lba);
    if (cached) return cached;
    const submitSync = (this.channel as RingChannel).submitSync;
    let reply = submitSync({ op: Op.READ, lba });
    if (reply.words[CPL_STATUS] === Status.QUOTA && this.trimSync(submitSync)) reply = submitSync({ op: Op.READ, lba });
    return this.afterRead(lba, reply);
  }

  private async readThrough(lba: number): Promise<BlockView> {
    let reply = await this.channel.submit({ op: Op.READ, lba });
    if (reply.words[CPL_STATUS] === Status.QUOTA && (await this.trim())) reply = await this.channel.submit({ op: Op.READ, lba });
    return this.afterRead(lba, reply);
  }

  private afterRead(lba: number, reply: Reply): BlockView {
    if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, `read of block ${lba}`);
    const frame = reply.words[CPL_FRAME]! - 1;
    if (frame < 0) return this.zeros(lba);
    if (frame >= this.frames) throw new BlockDeviceError(`dom0 answered with frame ${frame}, outside the arena`, Status.BAD_REQUEST);
    this.counters.requestReads++;
    this.mappedLbas.add(lba);
    return this.lease(lba, frame);
  }

  /**
   * The mapping cache: (FRAME, GEN, FRAME) read with Atomics; trusted only when both FRAME
   * reads agree and the frame still has that generation (else it was remapped or reused).
   */
  private fromPageMap(lba: number): BlockView | null {
    const base = lba * PM_WORDS;
    const f1 = Atomics.load(this.pm, base + PM_FRAME);
    if (f1 === 0) return null;
    const g = Atomics.load(this.pm, base + PM_GEN);
    if (Atomics.load(this.pm, base + PM_FRAME) !== f1) return null;
    const frame = f1 - 1;
    if (frame < 0 || frame >= this.frames || Atomics.load(this.gen, frame) !== g) return null;
    this.counters.cachedReads++;
    return this.lease(lba, frame);
  }

  private lease(lba: number, frame: number): BlockView {
    this.leases.set(frame, (this.leases.get(frame) ?? 0) + 1);
    const bytes = new Uint8Array(this.arena, this.framesByteOffset + frame * this.blockBytes, this.blockBytes);
    let live = true;
    const release = (): void => {
      if (!live) return;
      live = false;
      this.unlease(frame);
    };
    return { lba, bytes, shared: true, release, [Symbol.dispose]: release };
  }

  private unlease(frame: number): void {
    const n = (this.leases.get(frame) ?? 1) - 1;
    if (n > 0) {
      this.leases.set(frame, n);
      return;
    }
    this.leases.delete(frame);
    // Last view of a block we rewrote: let dom0 drop the pins it kept for us.
    const pins = this.orphanPins.get(frame);
    if (pins) {
      this.orphanPins.delete(frame);
      for (let i = 0; i < pins; i++) this.dropPin(frame);
    }
  }

  private dropPin(frame: number): void {
    void this.channel.submit({ op: Op.UNMAP, lba: 0, arg0: frame + 1 });
  }

  async write(lba: number, bytes: Uint8Array): Promise<void> {
    this.checkLba(lba);
    this.checkBlock(bytes);
    const slot = await this.takeSlot();
    try {
      this.staging.set(bytes, slot * this.blockBytes);
      // A mapped block's old frame stays pinned through the write: a view of it may be
      // taken while the write is in flight. Whether to keep that pin is decided when the
      // write completes; dom0 has cleared the page-map entry by then, so no new view of
      // the old frame can appear after that check.
      const oldFrame = Atomics.load(this.pm, lba * PM_WORDS + PM_FRAME) - 1;
      const keepPin = oldFrame >= 0 && oldFrame < this.frames;
      const reply = await this.channel.submit({ op: Op.WRITE, lba, arg0: slot, arg1: bytes.byteLength, arg2: keepPin ? 1 : 0 });
      if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, `write of block ${lba}`);
      this.counters.writes++;
      this.mappedLbas.delete(lba);
      if (keepPin) {
        if ((this.leases.get(oldFrame) ?? 0) > 0) this.orphanPins.set(oldFrame, (this.orphanPins.get(oldFrame) ?? 0) + 1);
        else this.dropPin(oldFrame);
      }
    } finally {
      this.giveSlot(slot);
    }
  }

  private takeSlot(): Promise<number> {
    const slot = this.freeSlots.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.slotWaiters.push(() => resolve(this.freeSlots.pop()!)));
  }

  private giveSlot(slot: number): void {
    this.freeSlots.push(slot);
    this.slotWaiters.shift()?.();
  }

  /** Mappings with no live view, oldest first: the ones we may drop to make room. */
  private trimCandidates(): number[] {
    const out: number[] = [];
    const want = Math.max(1, this.quota >> 2);
    for (const lba of this.mappedLbas) {
      const f = Atomics.load(this.pm, lba * PM_WORDS + PM_FRAME) - 1;
      if (f < 0) {
        this.mappedLbas.delete(lba);
        continue;
      }
      if ((this.leases.get(f) ?? 0) === 0) out.push(lba);
      if (out.length >= want) break;
    }
    return out;
  }

  /** Drop a quarter of the quota's worth of unleased mappings. False if every mapping is leased. */
  private async trim(): Promise<boolean> {
    const lbas = this.trimCandidates();
    if (lbas.length === 0) return false;
    await Promise.all(lbas.map((lba) => this.channel.submit({ op: Op.UNMAP, lba })));
    for (const lba of lbas) this.mappedLbas.delete(lba);
    this.counters.trims += lbas.length;
    return true;
  }

  private trimSync(submitSync: (r: Request) => Reply): boolean {
    const lbas = this.trimCandidates();
    for (const lba of lbas) {
      submitSync({ op: Op.UNMAP, lba });
      this.mappedLbas.delete(lba);
    }
    this.counters.trims += lbas.length;
    return lbas.length > 0;
  }

  stats(): BlockDeviceStats {
    let leases = 0;
    for (const n of this.leases.values()) leases += n;
    return { ...this.counters, mapped: this.mappedLbas.size, leases };
  }
}

class CopyDevice extends DeviceBase implements BlockDevice {
  readonly transport = 'copy' as const;
  /** The guest's own copies, oldest first; bounded by the quota. */
  private readonly cache = new Map<number, Uint8Array>();

  constructor(port: MessagePort, grant: { domainId: number; blocks: number; blockBytes: number; quota: number }) {
    super(new CopyChannel(port), grant);
  }

  async read(lba: number): Promise<BlockView> {
    this.checkLba(lba);
    const cached = this.cache.get(lba);
    if (cached) {
      this.counters.cachedReads++;
      return plainView(lba, cached);
    }
    const reply = await this.channel.submit({ op: Op.READ, lba });
    if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, `read of block ${lba}`);
    if (!reply.bytes) return this.zeros(lba);
    this.counters.requestReads++;
    if (this.cache.size >= this.quota) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(lba, reply.bytes);
    return plainView(lba, reply.bytes);
  }

  readSync(): BlockView {
    throw new BlockDeviceError('readSync needs the zero-copy transport (SharedArrayBuffer and cross-origin isolation)', Status.BAD_REQUEST);
  }

  async write(lba: number, bytes: Uint8Array): Promise<void> {
    this.checkLba(lba);
    this.checkBlock(bytes);
    const reply = await this.channel.submit({ op: Op.WRITE, lba, arg0: 0, arg1: bytes.byteLength, bytes: bytes.slice() });
    if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, `write of block ${lba}`);
    this.counters.writes++;
    this.cache.delete(lba);
  }

  stats(): BlockDeviceStats {
    return { ...this.counters, mapped: this.cache.size, leases: 0 };
  }
}

function plainView(lba: number, bytes: Uint8Array): BlockView {
  const release = (): void => {};
  return { lba, bytes, shared: false, release, [Symbol.dispose]: release };
}
