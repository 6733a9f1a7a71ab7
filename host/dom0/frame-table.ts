// Runs in the dom0 driver worker (and in Node unit tests). Trusted bookkeeping of one
// set of frames (a trust group's arena, or one domain's private frames): which block each
// frame holds, which domains map it, which frames may be reused, and each frame's
// generation. The generations live here, in dom0's memory: a word in the arena could be
// rewritten by any guest of the group.
//
// Invariants (ARCHITECTURE.md section 4):
//  - a frame that any domain maps, or that is being filled, is never reused;
//  - a frame's generation changes every time it is given to another block, so a stale
//    (frame, generation) pair can be detected;
//  - a frame that is freed (a failed fill, a retired frame whose last mapping went) is
//    zeroed first: nothing of the block it held outlives it;
//  - frames mapped by at least `promoteAt` distinct domains are promoted (seed 001: blocks
//    referenced often move to low-latency memory) and are evicted only when no
//    unpromoted frame can be.
// Eviction is CLOCK (second chance) over frames nobody maps.
// Who maps a frame is kept as one Int32Array of pin counts per domain that maps anything
// here (4 bytes per frame of the table) and a count of distinct mappers per frame: a `Map`
// per frame cost dom0 about 20 KiB per guest reading a 1,024-frame arena, in every guest
// of the group (bench: scale_guests_32_per_added_bytes), and typed arrays are the form a
// ring worker sharing these tables would need (docs/design.md).
import type { ArenaLayout } from '../../shared/memory-layout';
import { ensureBytes, maxBytes } from '../../shared/growable';

/** retired: taken out of service (found corrupt); no new mapping, freed at its last unmap. */
export type FrameState = 'free' | 'filling' | 'resident' | 'retired';

export interface FrameInfo {
  readonly frame: number;
  readonly state: FrameState;
  readonly key: string | null;
  readonly generation: number;
  /** domain id → number of that domain's LBAs mapped to this frame. */
  readonly mappedBy: ReadonlyMap<number, number>;
  readonly promoted: boolean;
}

export interface FrameTableStats {
  frames: number;
  resident: number;
  mapped: number;
  promoted: number;
  evictions: number;
  fills: number;
}

export interface FrameTableOptions {
  /** Distinct domains that must map a frame before it is promoted. */
  promoteAt: number;
}

export class FrameTable {
  readonly layout: ArenaLayout;
  private readonly gen: Int32Array;
  private readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** The frames grown so far (a domain's private frames are added on first use: shared/growable.ts). */
  private bytes: Uint8Array;
  private readonly state: FrameState[];
  private readonly keys: (string | null)[];
  /** domain id → pins it holds on each frame (its LBAs mapping it), and on how many frames. */
  private readonly pinsOf = new Map<number, { pins: Int32Array; frames: number }>();
  /** Distinct domains mapping each frame. */
  private readonly mapperCount: Int32Array;
  private readonly refBit: Uint8Array;
  private readonly promotedBit: Uint8Array;
  private readonly index = new Map<string, number>();
  private readonly free: number[] = [];
  private hand = 0;
  private readonly promoteAt: number;
  private evictions = 0;
  private fills = 0;
  private isClosed = false;

  constructor(layout: ArenaLayout, buffer: SharedArrayBuffer | ArrayBuffer, options: FrameTableOptions) {
    if (maxBytes(buffer) < layout.totalBytes) throw new RangeError(`arena buffer has ${maxBytes(buffer)} bytes, layout needs ${layout.totalBytes}`);
    if (!Number.isInteger(options.promoteAt) || options.promoteAt < 1) throw new RangeError(`promoteAt must be ≥ 1, got ${options.promoteAt}`);
    this.layout = layout;
    this.gen = new Int32Array(layout.frames);
    this.buffer = buffer;
    this.bytes = this.grownFrames();
    this.state = new Array<FrameState>(layout.frames).fill('free');
    this.keys = new Array<string | null>(layout.frames).fill(null);
    this.mapperCount = new Int32Array(layout.frames);
    this.refBit = new Uint8Array(layout.frames);
    this.promotedBit = new Uint8Array(layout.frames);
    this.promoteAt = options.promoteAt;
    // Hand out low frame numbers first: it makes arena pictures and tests easy to read.
    for (let f = layout.frames - 1; f >= 0; f--) this.free.push(f);
  }

  /** The resident (or filling) frame holding `key`, if any. */
  lookup(key: string): number | null {
    return this.index.get(key) ?? null;
  }

  /**
   * Take a frame for `key`: a free one, else evict by CLOCK. The frame is 'filling' (not
   * evictable, not yet usable) until `fillDone`. Its generation changes now, so any guest
   * still holding the previous (frame, generation) sees it as stale. Returns null when
   * every frame is mapped or filling.
   */
  allocate(key: string): { frame: number; evictedKey: string | null } | null {
    if (this.isClosed) throw new Error('frame table: closed (its domain ended)');
    if (this.index.has(key)) throw new Error(`frame table: ${key} is already resident`);
    let frame = this.free.pop();
    let evictedKey: string | null = null;
    if (frame === undefined) {
      const victim = this.pickVictim();
      if (victim === null) return null;
      frame = victim;
      evictedKey = this.keys[frame] ?? null;
      if (evictedKey !== null) this.index.delete(evictedKey);
      this.promotedBit[frame] = 0;
      this.evictions++;
    }
    this.state[frame] = 'filling';
    this.keys[frame] = key;
    this.index.set(key, frame);
    this.gen[frame] = (this.gen[frame]! + 1) | 0;
    return { frame, evictedKey };
  }

  /**
   * Write a block into a frame taken by `allocate` (zeros past a short last block) and make
   * it mappable. False, with the frame given back, when the buffer could not grow to hold
   * it (out of memory): a frame left 'filling' would be lost, and its block never readable.
   */
  fill(frame: number, bytes: Uint8Array): boolean {
    let view: Uint8Array;
    try {
      view = this.view(frame);
    } catch {
      this.fillFailed(frame);
      return false;
    }
    view.set(bytes.subarray(0, view.byteLength));
    if (bytes.byteLength < view.byteLength) view.fill(0, bytes.byteLength);
    this.fillDone(frame);
    return true;
  }

  /** The frame's bytes are written; it may now be mapped. */
  fillDone(frame: number): void {
    this.assertFrame(frame);
    if (this.state[frame] !== 'filling') throw new Error(`frame ${frame} is not being filled`);
    this.state[frame] = 'resident';
    this.refBit[frame] = 1;
    this.fills++;
  }

  /** Give up a frame whose fill failed (e.g. checksum mismatch): it holds nothing. */
  fillFailed(frame: number): void {
    this.assertFrame(frame);
    const key = this.keys[frame];
    if (key != null && this.index.get(key) === frame) this.index.delete(key);
    this.release(frame);
  }

  /**
   * Take a resident frame out of service (its bytes were found corrupt): no new mapping
   * finds it, its key may be filled into another frame at once, and it is zeroed and freed
   * when its last mapping goes (now, if nobody maps it).
   */
  retire(frame: number): void {
    this.assertFrame(frame);
    if (this.state[frame] !== 'resident') throw new Error(`frame ${frame} is ${this.state[frame]}, cannot be retired`);
    const key = this.keys[frame];
    if (key != null && this.index.get(key) === frame) this.index.delete(key);
    this.state[frame] = 'retired';
    this.promotedBit[frame] = 0;
    if (this.mapperCount[frame] === 0) this.release(frame);
  }

  private release(frame: number): void {
    // Zeroed where dom0 could have written it: every frame it wrote is within `bytes` (view
    // grows it first). One beyond never held a block, and growing the buffer just to zero
    // it could fail for lack of memory, leaving the frame lost (review of 2026-12-01).
    const fb = this.layout.frameBytes;
    if (this.bytes.length >= (frame + 1) * fb) this.bytes.subarray(frame * fb, (frame + 1) * fb).fill(0);
    this.keys[frame] = null;
    this.state[frame] = 'free';
    this.gen[frame] = (this.gen[frame]! + 1) | 0;
    this.free.push(frame);
  }

  /** Record that `domain` maps `frame` (once per LBA). Returns true if this promoted it. */
  map(frame: number, domain: number): boolean {
    this.assertFrame(frame);
    if (this.state[frame] !== 'resident') throw new Error(`frame ${frame} is ${this.state[frame]}, cannot be mapped`);
    let of = this.pinsOf.get(domain);
    if (!of) this.pinsOf.set(domain, (of = { pins: new Int32Array(this.layout.frames), frames: 0 }));
    if (of.pins[frame]!++ === 0) {
      of.frames++;
      this.mapperCount[frame]!++;
    }
    this.refBit[frame] = 1;
    if (!this.promotedBit[frame] && this.mapperCount[frame]! >= this.promoteAt) {
      this.promotedBit[frame] = 1;
      return true;
    }
    return false;
  }

  /** Drop one mapping of `frame` by `domain`. A frame nobody maps becomes evictable (not freed). */
  unmap(frame: number, domain: number): void {
    this.assertFrame(frame);
    const of = this.pinsOf.get(domain);
    if (!of || of.pins[frame] === 0) throw new Error(`domain ${domain} does not map frame ${frame}`);
    if (--of.pins[frame]! === 0) {
      this.mapperCount[frame]!--;
      // A domain that maps nothing here holds no array: a guest that comes and goes leaves nothing.
      if (--of.frames === 0) this.pinsOf.delete(domain);
    }
    if (this.mapperCount[frame] === 0 && this.state[frame] === 'retired') this.release(frame);
  }

  /** How many distinct domains map `frame`. */
  mapperCountOf(frame: number): number {
    this.assertFrame(frame);
    return this.mapperCount[frame]!;
  }

  /** How many of `domain`'s LBAs map `frame` (0: it does not map it). */
  pinsBy(frame: number, domain: number): number {
    this.assertFrame(frame);
    return this.pinsOf.get(domain)?.pins[frame] ?? 0;
  }

  /** Distinct domains mapping `frame`, with how many of their LBAs map it (a walk over the domains mapping anything here). */
  mappers(frame: number): ReadonlyMap<number, number> {
    this.assertFrame(frame);
    const out = new Map<number, number>();
    if (this.mapperCount[frame] === 0) return out;
    for (const [domain, of] of this.pinsOf) if (of.pins[frame]! > 0) out.set(domain, of.pins[frame]!);
    return out;
  }

  /** The first domain found mapping `frame`, or null: with one mapper, the one. */
  anyMapper(frame: number): number | null {
    this.assertFrame(frame);
    if (this.mapperCount[frame] === 0) return null;
    for (const [domain, of] of this.pinsOf) if (of.pins[frame]! > 0) return domain;
    return null;
  }

  /** How many frames `domain` maps here. */
  framesMappedBy(domain: number): number {
    return this.pinsOf.get(domain)?.frames ?? 0;
  }

  isMapped(frame: number): boolean {
    return Number.isInteger(frame) && frame >= 0 && frame < this.layout.frames && this.mapperCount[frame]! > 0;
  }

  /** The frame's state, without building its `info`. */
  stateOf(frame: number): FrameState {
    this.assertFrame(frame);
    return this.state[frame]!;
  }

  generation(frame: number): number {
    this.assertFrame(frame);
    return this.gen[frame]!;
  }

  /** Frames nobody maps, free or resident: what a fill could take without reclaiming a mapping. */
  available(): number {
    let n = 0;
    for (let f = 0; f < this.layout.frames; f++) if (this.state[f] !== 'filling' && this.state[f] !== 'retired' && this.mapperCount[f] === 0) n++;
    return n;
  }

  /** The frame's bytes, a view onto the arena (no copy); the buffer grows to hold it if it must. */
  view(frame: number): Uint8Array {
    this.assertFrame(frame);
    const fb = this.layout.frameBytes;
    if (this.bytes.length < (frame + 1) * fb) {
      const end = this.layout.framesByteOffset + (frame + 1) * fb;
      if (!ensureBytes(this.buffer, end)) throw new RangeError(`frame ${frame} does not fit its buffer (${this.buffer.byteLength} bytes)`);
      this.bytes = this.grownFrames();
    }
    return this.bytes.subarray(frame * fb, (frame + 1) * fb);
  }

  /** Whether `close` was called: the table's frames are zeroed and take no fill. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Zero every frame the buffer holds (a frame it never grew to hold never held anything)
   * and take no fill from now on: a domain's private frames when it ends. A fill already in
   * flight must not land after this; `allocate` refuses, and the filler checks `closed`.
   */
  close(): void {
    this.isClosed = true;
    this.bytes = this.grownFrames();
    this.bytes.fill(0);
  }

  /** A view of every whole frame the buffer holds now. */
  private grownFrames(): Uint8Array {
    const { framesByteOffset: at, frames, frameBytes: fb } = this.layout;
    const whole = Math.min(frames, Math.floor(Math.max(0, this.buffer.byteLength - at) / fb));
    return new Uint8Array(this.buffer, Math.min(at, this.buffer.byteLength), whole * fb);
  }

  info(frame: number): FrameInfo {
    this.assertFrame(frame);
    return {
      frame,
      state: this.state[frame]!,
      key: this.keys[frame] ?? null,
      generation: this.generation(frame),
      mappedBy: this.mappers(frame),
      promoted: this.promotedBit[frame] === 1,
    };
  }

  stats(): FrameTableStats {
    let resident = 0;
    let mapped = 0;
    let promoted = 0;
    for (let f = 0; f < this.layout.frames; f++) {
      if (this.state[f] === 'resident') resident++;
      if (this.mapperCount[f]! > 0) mapped++;
      if (this.promotedBit[f]) promoted++;
    }
    return { frames: this.layout.frames, resident, mapped, promoted, evictions: this.evictions, fills: this.fills };
  }

  /**
   * CLOCK with second chance, in two passes: first only unpromoted frames, then any.
   * Mapped and filling frames are never candidates.
   */
  private pickVictim(): number | null {
    const n = this.layout.frames;
    for (const allowPromoted of [false, true]) {
      // Two sweeps: the first may only clear reference bits.
      for (let step = 0; step < 2 * n; step++) {
        const f = this.hand;
        this.hand = (this.hand + 1) % n;
        if (this.state[f] !== 'resident' || this.mapperCount[f]! > 0) continue;
        if (this.promotedBit[f] && !allowPromoted) continue;
        if (this.refBit[f]) {
          this.refBit[f] = 0;
          continue;
        }
        return f;
      }
    }
    return null;
  }

  private assertFrame(frame: number): void {
    if (!Number.isInteger(frame) || frame < 0 || frame >= this.layout.frames) {
      throw new RangeError(`frame ${frame} is outside the arena (0..${this.layout.frames - 1})`);
    }
  }
}
