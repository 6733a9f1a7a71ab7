// Runs in the dom0 driver worker. Integrity of the trust groups' shared frames. Any guest
// of a group can write any byte of its arena (ARCHITECTURE.md section 1), so nothing here
// trusts what a frame holds:
//   - a frame's checksum is taken from the verified private bytes the pool returned, before
//     they are copied into the shared frame (a guest scribbling during the fill cannot get
//     its bytes certified);
//   - a resident frame is checked before it is mapped into a domain that does not map it
//     yet (DriverHooks.frameCheck) unless it was filled or checked in the last
//     CHECK_FRESH_MS, and every resident frame on a scrub;
//   - a frame that fails is retired (no new mapping finds it), its block is filled afresh
//     from the pool into another frame, and every mapping of the old frame moves to the new
//     one: the readers go on, never faulted. The old frame is zeroed and freed when the last
//     view of it goes. Incidents are counted per trust group.
// Private frames need none of this: only their own domain's guest can write them.
import type { Dom0Driver, Domain, TrustGroup } from './driver';
import type { PhysicalBlock } from './block-store';
import { checksumKey, frameChecksum, type ChecksumKey } from './checksum';
import { checksumKernel, sharedArenaMemory, wasmFrameHasher, type FrameHasher } from './frame-hash-wasm';
import { encodeFrame } from '../../shared/ids';
import { perf } from '../../shared/clock';

interface FrameRecord {
  key: string;
  dataset: string;
  block: PhysicalBlock;
  sum: number;
}

export interface ScrubReport {
  frames: number;
  bytes: number;
  ms: number;
  corrupt: number;
  /** Corrupted frames whose readers were moved to a freshly filled frame. */
  repaired: number;
}

export interface IntegrityCounters {
  /** Frames whose checksum was recomputed and compared. */
  verified: number;
  corrupt: number;
  repaired: number;
  /** Replacements that failed (pool error, no frame free): the mappings were dropped instead, so the next read refills. */
  repairFailed: number;
  scrubs: number;
  lastScrub: ScrubReport | null;
  /** Corrupt frames found, per trust group. */
  incidents: Record<string, number>;
  /** What computes frame checksums here: WebAssembly SIMD in place over the arena, or the JS reference. */
  kernel: 'wasm-simd' | 'js';
}

/** Longest a scrub runs without yielding, so dom0 keeps serving rings and the control plane. */
const SCRUB_SLICE_MS = 4;
/**
 * A frame filled or verified this recently is mapped into another domain without being
 * checked again. A check costs about as much as a whole ring round trip (64 KiB hashed),
 * and a scribble can land right after any check anyway: this bounds how long planted bytes
 * can wait for a new reader unchecked (docs/isolation.md, "Trust groups").
 */
export const CHECK_FRESH_MS = 1000;

export class FrameIntegrity {
  readonly key: ChecksumKey = checksumKey();
  readonly counters: IntegrityCounters = { verified: 0, corrupt: 0, repaired: 0, repairFailed: 0, scrubs: 0, lastScrub: null, incidents: {}, kernel: checksumKernel() };
  private readonly records = new Map<TrustGroup, (FrameRecord | undefined)[]>();
  /** When each frame's bytes were last known good (filled, or verified). */
  private readonly checkedAt = new Map<TrustGroup, Float64Array>();
  private readonly replacing = new Map<TrustGroup, Map<number, Promise<void>>>();
  /** Per group: the checksum computed in place in WASM over its arena, or null (JS reference). */
  private readonly hashers = new Map<TrustGroup, FrameHasher | null>();
  /** Private scratch memory for fill-time checksums in WASM (only dom0 holds it). */
  private scratch: { memory: WebAssembly.Memory; bytes: Uint8Array; hash: FrameHasher } | null | undefined;

  constructor(private readonly driver: Dom0Driver) {
    driver.hooks.frameFilled = (g, frame, dataset, block, bytes) => this.recordFill(g, frame, dataset, block, bytes);
    driver.hooks.frameCheck = (g, frame) => this.check(g, frame);
  }

  private recordFill(g: TrustGroup, frame: number, dataset: string, block: PhysicalBlock, bytes: Uint8Array): void {
    let list = this.records.get(g);
    if (!list) this.records.set(g, (list = new Array(g.layout.frames)));
    this.stamps(g)[frame] = perf.now();
    list[frame] = { key: block.key, dataset, block, sum: this.privateSum(bytes, g.layout.frameBytes) };
  }

  /** The checksum of a frame that will hold `bytes` then zeros, computed from private memory. */
  private privateSum(bytes: Uint8Array, frameBytes: number): number {
    const s = this.scratchFor(frameBytes);
    if (s) {
      s.bytes.set(bytes);
      s.bytes.fill(0, bytes.byteLength, frameBytes);
      return s.hash(0, frameBytes, this.key);
    }
    let whole = bytes;
    if (bytes.byteLength !== frameBytes || bytes.byteOffset % 4 !== 0) {
      whole = new Uint8Array(frameBytes);
      whole.set(bytes);
    }
    return frameChecksum(this.key, new Int32Array(whole.buffer, whole.byteOffset, whole.byteLength >> 2));
  }

  private scratchFor(frameBytes: number): { bytes: Uint8Array; hash: FrameHasher } | null {
    if (this.scratch === undefined || (this.scratch && this.scratch.memory.buffer.byteLength < frameBytes)) {
      const memory = sharedArenaMemory(frameBytes);
      const hash = memory && wasmFrameHasher(memory);
      this.scratch = memory && hash ? { memory, bytes: new Uint8Array(memory.buffer), hash } : null;
    }
    return this.scratch;
  }

  private stamps(g: TrustGroup): Float64Array {
    let t = this.checkedAt.get(g);
    if (!t) this.checkedAt.set(g, (t = new Float64Array(g.layout.frames)));
    return t;
  }

  private sum(g: TrustGroup, frame: number): number {
    let hash = this.hashers.get(g);
    if (hash === undefined) this.hashers.set(g, (hash = g.memory ? wasmFrameHasher(g.memory) : null));
    const v = g.table.view(frame);
    if (hash) return hash(v.byteOffset, v.byteLength, this.key);
    return frameChecksum(this.key, new Int32Array(v.buffer, v.byteOffset, v.byteLength >> 2));
  }

  /** The frame's record if it is resident and still holds the block we recorded. */
  private current(g: TrustGroup, frame: number): FrameRecord | null {
    const r = this.records.get(g)?.[frame];
    if (!r) return null;
    const info = g.table.info(frame);
    return info.state === 'resident' && info.key === r.key ? r : null;
  }

  /**
   * Before a frame is mapped into another domain: true if it holds its block's bytes (or
   * was filled or verified in the last CHECK_FRESH_MS); false if it was corrupt: it is
   * retired at once and its replacement is under way.
   */
  check(g: TrustGroup, frame: number): boolean {
    const now = perf.now();
    if (now - this.stamps(g)[frame]! < CHECK_FRESH_MS) return true;
    return this.checkNow(g, frame, now);
  }

  private checkNow(g: TrustGroup, frame: number, now = perf.now()): boolean {
    const r = this.current(g, frame);
    if (!r) return true;
    this.counters.verified++;
    if (this.sum(g, frame) === r.sum) {
      this.stamps(g)[frame] = now;
      return true;
    }
    this.found(g, frame, r);
    return false;
  }

  /** Check one frame now, however recently it was; resolves once a corrupt one has been replaced. */
  async verify(g: TrustGroup, frame: number): Promise<boolean> {
    if (this.checkNow(g, frame)) return true;
    await this.replacing.get(g)?.get(frame);
    return false;
  }

  /** Recompute every resident frame's checksum; replace what fails. Yields every few ms. */
  async scrub(): Promise<ScrubReport> {
    const t0 = perf.now();
    let frames = 0;
    let bytes = 0;
    let corrupt = 0;
    const before = this.counters.repaired;
    const waits: Promise<void>[] = [];
    let slice = t0;
    for (const g of this.driver.groups.values()) {
      const list = this.records.get(g);
      if (!list) continue;
      for (let f = 0; f < g.layout.frames; f++) {
        const r = this.current(g, f);
        if (!r) continue;
        frames++;
        bytes += g.layout.frameBytes;
        this.counters.verified++;
        if (this.sum(g, f) !== r.sum) {
          corrupt++;
          waits.push(this.found(g, f, r));
        } else {
          this.stamps(g)[f] = perf.now();
        }
        if (perf.now() - slice > SCRUB_SLICE_MS) {
          await new Promise((res) => setTimeout(res, 0));
          slice = perf.now();
        }
      }
    }
    // Frames an earlier check found corrupt (the periodic scrub, a check before a mapping)
    // may still be refilling: this pass skipped them, retired, so wait for them too. Once
    // scrub() resolves, every reader is on genuine bytes (found by CI, 2026-11-30: a reader
    // still on a retired frame right after an explicit scrub).
    for (const q of this.replacing.values()) waits.push(...q.values());
    await Promise.all(waits);
    const report: ScrubReport = { frames, bytes, ms: perf.now() - t0, corrupt, repaired: this.counters.repaired - before };
    this.counters.scrubs++;
    this.counters.lastScrub = report;
    return report;
  }

  /** A corrupt frame: count it, retire it, replace it under its readers. */
  private found(g: TrustGroup, frame: number, r: FrameRecord): Promise<void> {
    this.counters.corrupt++;
    this.counters.incidents[g.id] = (this.counters.incidents[g.id] ?? 0) + 1;
    let q = this.replacing.get(g);
    if (!q) this.replacing.set(g, (q = new Map()));
    const mappers = this.mappings(g, frame);
    g.table.retire(frame);
    this.records.get(g)![frame] = undefined;
    const done = this.replace(g, frame, r, mappers).finally(() => q.delete(frame));
    q.set(frame, done);
    return done;
  }

  private async replace(g: TrustGroup, frame: number, r: FrameRecord, mappers: [Domain, number][]): Promise<void> {
    try {
      const fresh = await this.driver.refill(g, r.dataset, r.block);
      for (const [d, lba] of mappers) this.driver.moveMapping(d, lba, frame, fresh);
      this.counters.repaired++;
    } catch {
      // No fresh copy now (the pool failed, or every frame is held): drop the mappings so
      // the readers' next read fills the block again. Nobody is faulted for it.
      this.counters.repairFailed++;
      this.driver.dropFrame(g, frame);
    }
  }

  /** (domain, lba) pairs whose trusted shadow maps `frame`. */
  private mappings(g: TrustGroup, frame: number): [Domain, number][] {
    const out: [Domain, number][] = [];
    for (const id of g.table.info(frame).mappedBy.keys()) {
      const d = this.driver.domains.get(id);
      if (!d || d.group !== g) continue;
      for (let lba = 0; lba < d.shadow.length; lba++) if (d.shadow[lba] === encodeFrame(frame)) out.push([d, lba]);
    }
    return out;
  }
}
