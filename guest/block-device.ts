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
// is. dom0 may take back any mapping we hold no view of (overcommit); our lease word per
// LBA, in the same control buffer, tells it which (see fromPageMap for the handshake).
// Blocks only this domain may read (its own writes) come from private frames in the
// control buffer, which no other guest holds.
import '../shared/dispose-polyfill';
import { Op, Status, CPL_FRAME, CPL_STATUS, statusText } from '../shared/protocol';
import { LEASE_COUNT, LEASE_KEPT, PM_FRAME, PM_LEASE, PM_WORDS } from '../shared/memory-layout';
import type { DomainGrant, ZeroCopyGrant } from '../shared/grant';
import { BlockDeviceError } from '../shared/errors/device-errors';
import { decodeFrame, encodeFrame, isFrameNo, isLba, NO_FRAME, type Lba } from '../shared/ids';
import { CopyChannel, RingChannel, type Channel, type Reply } from './channel';
import { ensureBytes } from '../shared/growable';

export { BlockDeviceError };

export interface BlockView extends Disposable {
  readonly lba: number;
  /** The block's bytes. Zero-copy: a view onto shared memory; treat it as read-only. */
  readonly bytes: Uint8Array;
  /** True when `bytes` is a view onto the shared arena (no copy was made). */
  readonly shared: boolean;
  /** Give the lease back; the view must not be used afterwards. Idempotent. Call it as a method (`view.release()`). */
  release(): void;
}

export interface BlockDeviceStats {
  /** Reads answered from the mapping cache: no request, no copy. */
  cachedReads: number;
  /** Reads that took a round trip to dom0. */
  requestReads: number;
  holeReads: number;
  writes: number;
  /** Times a read was refused for quota and waited for this guest's other reads to settle. */
  quotaWaits: number;
  /** Blocks this domain currently maps. */
  mapped: number;
  leases: number;
  /**
   * Waits for dom0 that went straight to blocking because this guest's polls kept losing
   * the core (shared/spin-gauge.ts), and times polling stopped. Always 0 on the copy
   * transport.
   */
  pollsSkipped: number;
  pollStops: number;
}

export interface BlockWrite {
  readonly lba: number;
  /** One whole block. */
  readonly bytes: Uint8Array;
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
  /**
   * Blocking `write` of whole blocks, for synchronous code in workers (a SQLite VFS):
   * returns once every block is durable. The blocks go on the ring together and share
   * dom0's group commit. Zero-copy transport only; do not mix with `write` in flight.
   */
  writeSync(writes: readonly BlockWrite[]): void;
  /**
   * Write whole blocks atomically: when this resolves every block is durable, and after a
   * failure or a crash none of them is (dom0 holds them apart and stages them in one step:
   * docs/design.md, "Atomic groups"). A block given twice keeps its last bytes. Until it
   * resolves, reads of these blocks see them as they were. One group at a time per device:
   * a second call waits for the first. At most `HELD_LIMIT_BYTES` (32 MiB) per group, else
   * a BlockDeviceError with code 'held-limit' and nothing written.
   */
  writeAtomic(writes: readonly BlockWrite[]): Promise<void>;
  /** Blocking `writeAtomic`, for synchronous code in workers (a SQLite VFS). Zero-copy transport only. */
  writeAtomicSync(writes: readonly BlockWrite[]): void;
  /** Blocking `flush` (workers, zero-copy only). */
  flushSync(): void;
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
  protected readonly counters = { cachedReads: 0, requestReads: 0, holeReads: 0, writes: 0, quotaWaits: 0 };
  /** READs submitted and not answered; of them, those waiting after a QUOTA refusal. */
  private readsOut = 0;
  private readsWaiting = 0;
  private readonly settled: (() => void)[] = [];

  constructor(
    protected readonly channel: Channel,
    grant: { domainId: number; blocks: number; blockBytes: number; quota: number },
  ) {
    this.domainId = grant.domainId;
    this.blocks = grant.blocks;
    this.blockBytes = grant.blockBytes;
    this.quota = grant.quota;
  }

  protected checkLba(lba: number): asserts lba is Lba {
    // Once dom0 is gone or a ring broke, no call succeeds, not even a cache hit.
    this.channel.ensureOpen();
    if (!isLba(lba, this.blocks)) {
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

  /**
   * One READ round trip. QUOTA means this domain already holds its share of frames: if
   * other reads of ours are at dom0, their answers may free some (dom0 takes back mappings
   * no view holds), so wait for one and ask again; if none are, our caller holds views of
   * the whole share, and the refusal is the answer.
   */
  protected async submitRead(lba: number): Promise<Reply> {
    this.readsOut++;
    try {
      for (;;) {
        const reply = await this.channel.submit({ op: Op.READ, lba });
        if (reply.words[CPL_STATUS] !== Status.QUOTA || this.readsOut - this.readsWaiting <= 1) return reply;
        this.counters.quotaWaits++;
        this.readsWaiting++;
        await new Promise<void>((resolve) => this.settled.push(resolve));
        this.readsWaiting--;
      }
    } finally {
      this.readsOut--;
      for (const wake of this.settled.splice(0)) wake();
    }
  }

  protected zeros(lba: number): BlockView {
    this.counters.holeReads++;
    return plainView(lba, new Uint8Array(this.blockBytes));
  }

  /** The one atomic group this device may have open at dom0 (a queue of callers). */
  private atomicTail: Promise<void> = Promise.resolve();
  protected atomicOpen = 0;

  /** Last bytes per LBA, in first-seen order, after checking each write. */
  protected lastPerLba(writes: readonly BlockWrite[]): BlockWrite[] {
    const byLba = new Map<number, BlockWrite>();
    for (const w of writes) {
      this.checkLba(w.lba);
      this.checkBlock(w.bytes);
      byLba.set(w.lba, w);
    }
    return [...byLba.values()];
  }

  async writeAtomic(writes: readonly BlockWrite[]): Promise<void> {
    const group = this.lastPerLba(writes);
    const turn = this.atomicTail.then(() => this.runAtomic(group));
    this.atomicTail = turn.catch(() => undefined);
    return turn;
  }

  private async runAtomic(group: readonly BlockWrite[]): Promise<void> {
    this.atomicOpen++;
    try {
      const replies = await Promise.all(group.map((w) => this.sendHeld(w)));
      const bad = replies.findIndex((r) => r.words[CPL_STATUS] !== Status.OK);
      if (bad >= 0) {
        // dom0 dropped the group itself on HELD_LIMIT; for any other refusal, drop it here.
        await this.channel.submit({ op: Op.DISCARD_HELD, lba: 0 });
        throw this.fail(replies[bad]!, `atomic write of ${group.length} blocks (block ${group[bad]!.lba})`);
      }
      const reply = await this.channel.submit({ op: Op.COMMIT_HELD, lba: 0 });
      if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, `atomic write of ${group.length} blocks`);
      this.counters.writes += group.length;
      this.committedAtomic(group);
    } finally {
      this.atomicOpen--;
    }
  }

  /** One WRITE_HELD of the group, on this transport. */
  protected abstract sendHeld(w: BlockWrite): Promise<Reply>;
  /** After a group is durable: what the transport keeps of old blocks goes. */
  protected committedAtomic(_group: readonly BlockWrite[]): void {}

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

/**
 * Frame views a guest keeps for reuse (a power of two). 128 since 2026-12-01, 256 before:
 * the smaller cache saves each guest about 9.5 KB (bench, memory per added guest 707 → 698
 * KB), which pays for the spin gauge (shared/spin-gauge.ts); a guest cycling through more
 * than 128 hot frames makes some views again (a typed array each).
 */
const VIEW_CACHE = 128;

class ZeroCopyDevice extends DeviceBase implements BlockDevice {
  readonly transport = 'zero-copy' as const;
  private readonly pm: Int32Array;
  private readonly arena: SharedArrayBuffer;
  private readonly control: SharedArrayBuffer;
  private readonly arenaFrames: number;
  private readonly privateFrames: number;
  private readonly privateByteOffset: number;
  private readonly stagingByteOffset: number;
  private readonly freeSlots: number[];
  private readonly slotWaiters: (() => void)[] = [];
  private leaseCount = 0;
  /**
   * Uint8Arrays of recently read frames, reused by later views of them: making a typed
   * array on a SharedArrayBuffer is most of what a cached hit costs otherwise (bench:
   * read_hit_cached_sync_ns). A frame's window never moves, so sharing the object is safe;
   * the lease, not the array, says whether the bytes are ours. Direct-mapped and bounded
   * (VIEW_CACHE entries): one array per frame of the arena cost each guest about 55 bytes
   * per frame it had ever read (56 KiB for 1,024 frames, measured; 0.9 MiB for a 1 GiB
   * arena of 64 KiB frames), and every guest of a group pays it.
   */
  private readonly viewCache: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(VIEW_CACHE).fill(undefined);
  private readonly viewCacheRef = new Int32Array(VIEW_CACHE).fill(-1);

  constructor(grant: ZeroCopyGrant) {
    const channel = new RingChannel(grant.control, grant.domainLayout, grant.doorbell);
    super(channel, grant);
    const dl = grant.domainLayout;
    this.pm = new Int32Array(grant.control, dl.pageMapByteOffset, dl.blocks * PM_WORDS);
    this.arena = grant.arena;
    this.control = grant.control;
    this.arenaFrames = grant.arenaLayout.frames;
    this.privateFrames = dl.privateFrames.frames;
    this.privateByteOffset = dl.privateFrames.framesByteOffset;
    this.stagingByteOffset = dl.stagingByteOffset;
    this.freeSlots = Array.from({ length: dl.stagingSlots }, (_, i) => i);
  }

  read(lba: number): Promise<BlockView> {
    try {
      this.checkLba(lba);
      const cached = this.fromPageMap(lba);
      if (cached) return Promise.resolve(cached);
    } catch (err: unknown) {
      return Promise.reject(err);
    }
    return this.readThrough(lba);
  }

  readSync(lba: number): BlockView {
    this.checkLba(lba);
    const cached = this.fromPageMap(lba);
    if (cached) return cached;
    const submitSync = (this.channel as RingChannel).submitSync;
    // The lease is taken before the request: dom0 will not take back a mapping being read.
    this.leaseAdd(lba);
    let reply: Reply;
    try {
      reply = submitSync({ op: Op.READ, lba });
    } catch (err) {
      this.leaseSub(lba);
      throw err;
    }
    return this.afterRead(lba, reply);
  }

  private async readThrough(lba: number): Promise<BlockView> {
    this.leaseAdd(lba);
    let reply: Reply;
    try {
      reply = await this.submitRead(lba);
    } catch (err) {
      this.leaseSub(lba);
      throw err;
    }
    return this.afterRead(lba, reply);
  }

  /** The READ's answer, with the lease taken before it was asked. */
  private afterRead(lba: number, reply: Reply): BlockView {
    if (reply.words[CPL_STATUS] !== Status.OK) {
      this.leaseSub(lba);
      throw this.fail(reply, `read of block ${lba}`);
    }
    const ref = decodeFrame(reply.words[CPL_FRAME]!);
    if (ref < 0) {
      this.leaseSub(lba);
      return this.zeros(lba);
    }
    if (ref >= this.arenaFrames + this.privateFrames) {
      this.leaseSub(lba);
      throw new BlockDeviceError(`dom0 answered with frame ${ref}, outside the arena and this domain's private frames`, Status.BAD_REQUEST);
    }
    this.counters.requestReads++;
    return this.view(lba, ref);
  }

  /**
   * The mapping cache, in our own control buffer (no other guest can write it). dom0 takes
   * a mapping back by clearing FRAME and then reading LEASE; we add to LEASE and then read
   * FRAME. Both sequentially consistent, so whichever goes second sees the other: if FRAME
   * still names the frame after our lease, dom0 saw the lease and keeps that frame for us,
   * and the frame holds this LBA's block (dom0 publishes FRAME only after the fill).
   *
   * The first read of FRAME is a plain load: it only proposes a frame, and the Atomics.load
   * after the lease decides. Atomics calls are builtins of 7–11 ns each here (not inlined),
   * and a hit made ten of them before (docs/design.md, "Mappings can be taken back").
   */
  private fromPageMap(lba: number): BlockView | null {
    const at = lba * PM_WORDS + PM_FRAME;
    const f1 = this.pm[at]!;
    const ref = decodeFrame(f1);
    if (!isFrameNo(ref, this.arenaFrames + this.privateFrames)) return null;
    this.leaseAdd(lba);
    if (Atomics.load(this.pm, at) !== f1) {
      this.leaseSub(lba);
      return null;
    }
    this.counters.cachedReads++;
    return this.view(lba, ref);
  }

  private leaseAdd(lba: number): void {
    Atomics.add(this.pm, lba * PM_WORDS + PM_LEASE, 1);
    this.leaseCount++;
  }

  /**
   * If this was the LBA's last lease and dom0 kept frames pinned for its views (a mapping
   * went while we held them: our write, a revocation, a corrupt frame replaced), LEASE_KEPT
   * came back with the subtraction: clear it and ask for every pin kept so far. The bit is
   * read in the same atomic step as the count, so a pin dom0 keeps is never missed, and
   * dom0 leaves any pin it keeps after the clear (for a view taken since) until we ask
   * again. No view is live between the two steps, so dom0 keeps nothing there.
   */
  private leaseSub(lba: number): void {
    this.leaseCount--;
    const at = lba * PM_WORDS + PM_LEASE;
    const was = Atomics.sub(this.pm, at, 1);
    if ((was & LEASE_COUNT) !== 1 || (was & LEASE_KEPT) === 0) return;
    Atomics.and(this.pm, at, LEASE_COUNT);
    this.channel.submit({ op: Op.UNMAP, lba, arg1: 1 }).catch(() => undefined); // on a closed channel nothing is left to give back
  }

  /** A view of frame `ref` for `lba`; the lease is already counted. */
  private view(lba: number, ref: number): BlockView {
    const slot = ref & (VIEW_CACHE - 1);
    const cached = this.viewCache[slot];
    const bytes = cached !== undefined && this.viewCacheRef[slot] === ref ? cached : this.frameView(ref, slot);
    return new LeasedView(this, lba, bytes);
  }

  private frameView(ref: number, slot: number): Uint8Array {
    const bytes =
      ref < this.arenaFrames
        ? new Uint8Array(this.arena, ref * this.blockBytes, this.blockBytes)
        : new Uint8Array(this.control, this.privateByteOffset + (ref - this.arenaFrames) * this.blockBytes, this.blockBytes);
    this.viewCache[slot] = bytes;
    this.viewCacheRef[slot] = ref;
    return bytes;
  }

  /** @internal LeasedView's release: the view's lease goes. */
  unview(lba: number): void {
    this.leaseSub(lba);
  }

  async write(lba: number, bytes: Uint8Array): Promise<void> {
    this.checkLba(lba);
    this.checkBlock(bytes);
    const slot = await this.takeSlot();
    try {
      this.stage(slot, bytes);
      // Views of the old block stay valid: dom0 sees our lease on the LBA and keeps its frame.
      const reply = await this.channel.submit({ op: Op.WRITE, lba, arg0: slot, arg1: bytes.byteLength });
      if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, `write of block ${lba}`);
      this.counters.writes++;
    } finally {
      this.giveSlot(slot);
    }
  }

  writeSync(writes: readonly BlockWrite[]): void {
    for (const w of writes) {
      this.checkLba(w.lba);
      this.checkBlock(w.bytes);
    }
    this.withSlotsSync('writeSync', (slots) => {
      // Views of the old blocks stay valid: dom0 sees our leases and keeps their frames.
      const refused = this.burstsSync(slots, writes, Op.WRITE, true, () => this.counters.writes++);
      if (refused) throw this.fail(refused.reply, `write of block ${refused.w.lba}`);
    });
  }

  /**
   * Every free staging slot, for a blocking call: it cannot wait for an async write to give
   * one back. They are given back when `fn` returns or throws.
   */
  private withSlotsSync<T>(what: string, fn: (slots: readonly number[]) => T): T {
    const slots = this.freeSlots.splice(0).sort((a, b) => a - b);
    if (slots.length === 0) throw new BlockDeviceError(`${what}: every staging slot is held by an async write in flight`, Status.BAD_REQUEST);
    try {
      return fn(slots);
    } finally {
      for (const slot of slots) this.giveSlot(slot);
    }
  }

  /**
   * Blocking: `writes` as `op` requests, one burst per round of the slots, each burst on
   * the ring at once and answered before the next is staged. `ordered`: a block written
   * twice goes in a later burst, so the pool sees the writes of one block in order (held
   * writes need not: the last one of an LBA replaces the others). Returns the first
   * refusal, after its whole burst is answered; `onOk` runs for each write accepted.
   */
  private burstsSync(slots: readonly number[], writes: readonly BlockWrite[], op: Op, ordered: boolean, onOk: () => void): { reply: Reply; w: BlockWrite } | null {
    const submitAllSync = (this.channel as RingChannel).submitAllSync;
    for (let i = 0; i < writes.length; ) {
      const burst: BlockWrite[] = [];
      const lbas = new Set<number>();
      while (i < writes.length && burst.length < slots.length && !(ordered && lbas.has(writes[i]!.lba))) {
        const w = writes[i++]!;
        this.stage(slots[burst.length]!, w.bytes);
        lbas.add(w.lba);
        burst.push(w);
      }
      const replies = submitAllSync(burst.map((w, k) => ({ op, lba: w.lba, arg0: slots[k]!, arg1: this.blockBytes })));
      let refused: { reply: Reply; w: BlockWrite } | null = null;
      replies.forEach((reply, k) => {
        if (reply.words[CPL_STATUS] !== Status.OK) refused ??= { reply, w: burst[k]! };
        else onOk();
      });
      if (refused) return refused;
    }
    return null;
  }

  protected async sendHeld(w: BlockWrite): Promise<Reply> {
    const slot = await this.takeSlot();
    try {
      this.stage(slot, w.bytes);
      return await this.channel.submit({ op: Op.WRITE_HELD, lba: w.lba, arg0: slot, arg1: this.blockBytes });
    } finally {
      this.giveSlot(slot);
    }
  }

  writeAtomicSync(writes: readonly BlockWrite[]): void {
    const group = this.lastPerLba(writes);
    if (this.atomicOpen > 0) throw new BlockDeviceError('writeAtomicSync: an async writeAtomic of this device is in flight', Status.BAD_REQUEST);
    const submitSync = (this.channel as RingChannel).submitSync;
    this.withSlotsSync('writeAtomicSync', (slots) => {
      // Held writes are answered as soon as dom0 has its copy, so the slots go round in
      // bursts; nothing is durable until the COMMIT_HELD.
      const refused = this.burstsSync(slots, group, Op.WRITE_HELD, false, () => undefined);
      if (refused) {
        submitSync({ op: Op.DISCARD_HELD, lba: 0 });
        throw this.fail(refused.reply, `atomic write of ${group.length} blocks (block ${refused.w.lba})`);
      }
      const reply = submitSync({ op: Op.COMMIT_HELD, lba: 0 });
      if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, `atomic write of ${group.length} blocks`);
      this.counters.writes += group.length;
    });
  }

  flushSync(): void {
    const reply = (this.channel as RingChannel).submitSync({ op: Op.FLUSH, lba: 0 });
    if (reply.words[CPL_STATUS] !== Status.OK) throw this.fail(reply, 'flush');
  }

  private takeSlot(): Promise<number> {
    const slot = this.lowestFreeSlot();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.slotWaiters.push(() => resolve(this.lowestFreeSlot()!)));
  }

  /** Low slots first: a slot is memory only once used (stage), so a guest writing one block at a time keeps one. */
  private lowestFreeSlot(): number | undefined {
    const free = this.freeSlots;
    if (free.length === 0) return undefined;
    let k = 0;
    for (let i = 1; i < free.length; i++) if (free[i]! < free[k]!) k = i;
    return free.splice(k, 1)[0];
  }

  /** Copy a write's bytes into staging slot `slot`; the control buffer grows to hold the slot on its first use (shared/growable.ts). */
  private stage(slot: number, bytes: Uint8Array): void {
    const at = this.stagingByteOffset + slot * this.blockBytes;
    if (!ensureBytes(this.control, at + this.blockBytes)) {
      throw new BlockDeviceError(`staging slot ${slot} does not fit this domain's control buffer (${this.control.byteLength} bytes)`, Status.BAD_REQUEST);
    }
    new Uint8Array(this.control, at, this.blockBytes).set(bytes);
  }

  private giveSlot(slot: number): void {
    this.freeSlots.push(slot);
    this.slotWaiters.shift()?.();
  }

  stats(): BlockDeviceStats {
    let mapped = 0;
    for (let lba = 0; lba < this.blocks; lba++) if (Atomics.load(this.pm, lba * PM_WORDS + PM_FRAME) !== encodeFrame(NO_FRAME)) mapped++;
    const poll = (this.channel as RingChannel).poll.stats;
    return { ...this.counters, mapped, leases: this.leaseCount, pollsSkipped: poll.skipped, pollStops: poll.stops };
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
    const reply = await this.submitRead(lba);
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

  writeSync(): void {
    throw new BlockDeviceError('writeSync needs the zero-copy transport (SharedArrayBuffer and cross-origin isolation)', Status.BAD_REQUEST);
  }

  writeAtomicSync(): void {
    throw new BlockDeviceError('writeAtomicSync needs the zero-copy transport (SharedArrayBuffer and cross-origin isolation)', Status.BAD_REQUEST);
  }

  protected sendHeld(w: BlockWrite): Promise<Reply> {
    return this.channel.submit({ op: Op.WRITE_HELD, lba: w.lba, arg0: 0, arg1: w.bytes.byteLength, bytes: w.bytes.slice() });
  }

  protected override committedAtomic(group: readonly BlockWrite[]): void {
    for (const w of group) this.cache.delete(w.lba);
  }

  flushSync(): void {
    throw new BlockDeviceError('flushSync needs the zero-copy transport (SharedArrayBuffer and cross-origin isolation)', Status.BAD_REQUEST);
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
    return { ...this.counters, mapped: this.cache.size, leases: 0, pollsSkipped: 0, pollStops: 0 };
  }
}

/**
 * A zero-copy view and its lease. A class rather than an object literal with closures: a
 * cached read makes one per call, and one shape with prototype methods is what keeps that
 * call near its floor (bench: read_hit_cached_ns against raw_view_ns).
 */
class LeasedView implements BlockView {
  readonly shared = true;
  private live = true;

  constructor(
    private readonly dev: { unview(lba: number): void },
    readonly lba: number,
    readonly bytes: Uint8Array,
  ) {}

  release(): void {
    if (!this.live) return;
    this.live = false;
    this.dev.unview(this.lba);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

function plainView(lba: number, bytes: Uint8Array): BlockView {
  const release = (): void => {};
  return { lba, bytes, shared: false, release, [Symbol.dispose]: release };
}
