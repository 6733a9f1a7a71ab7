// Runs in the dom0 driver worker. Integrity of resident frames (issue 7, item 6): every
// frame's checksum is taken when it is filled from the pool (whose SHA-256 the bytes just
// passed); a scrub recomputes them all, and the mirror routine recomputes one before it
// copies the frame out. A mismatch means someone wrote into shared memory — any guest of
// the trust group can write any byte of its arena (ARCHITECTURE.md section 1) — so the
// frame is quarantined and reloaded from the pool in place:
//   1. gate it: the driver hands it to no domain until the reload is done (DriverHooks.frameGate);
//   2. unpublish it from every mapping guest's page map, so their mapping caches miss;
//   3. bump its generation, so a (frame, generation) pair a guest kept is seen as stale;
//   4. reread the block from the pool (verified by SHA-256) into the same frame;
//   5. republish the mappings with the new generation and lift the gate.
// Reloading in place rather than into a new frame keeps invariant 2 in spirit: the frame
// still holds the same block, we restore the bytes every mapper is entitled to. Views a
// guest holds see the corruption until step 4, then the right bytes.
import type { Dom0Driver, Domain, TrustGroup } from './driver';
import type { PhysicalBlock } from './block-store';
import { checksumKey, frameChecksum, type ChecksumKey } from './checksum';

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
  /** Corrupted frames reloaded from the pool and verified again. */
  repaired: number;
}

export interface IntegrityCounters {
  /** Frames whose checksum was recomputed and compared. */
  verified: number;
  corrupt: number;
  repaired: number;
  /** Reloads that failed (pool error or checksum still wrong): the frame is dropped instead. */
  repairFailed: number;
  scrubs: number;
  lastScrub: ScrubReport | null;
}

/** Longest a scrub runs without yielding, so dom0 keeps serving rings and the control plane. */
const SCRUB_SLICE_MS = 4;

export class FrameIntegrity {
  readonly key: ChecksumKey = checksumKey();
  readonly counters: IntegrityCounters = { verified: 0, corrupt: 0, repaired: 0, repairFailed: 0, scrubs: 0, lastScrub: null };
  private readonly records = new Map<TrustGroup, (FrameRecord | undefined)[]>();
  private readonly quarantine = new Map<TrustGroup, Map<number, Promise<void>>>();

  constructor(private readonly driver: Dom0Driver) {
    driver.hooks.frameFilled = (g, frame, dataset, block) => this.recordFill(g, frame, dataset, block);
    driver.hooks.frameGate = (g, frame) => this.quarantine.get(g)?.get(frame) ?? null;
  }

  private recordFill(g: TrustGroup, frame: number, dataset: string, block: PhysicalBlock): void {
    let list = this.records.get(g);
    if (!list) this.records.set(g, (list = new Array(g.layout.frames)));
    list[frame] = { key: block.key, dataset, block, sum: this.sum(g, frame) };
  }

  private sum(g: TrustGroup, frame: number): number {
    const v = g.table.view(frame);
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
   * Check one frame. True if it holds its block's bytes; false if it was corrupt (it is
   * then repaired before this resolves, or dropped if the reload failed).
   */
  async verify(g: TrustGroup, frame: number): Promise<boolean> {
    const pending = this.quarantine.get(g)?.get(frame);
    if (pending) {
      await pending;
      return false;
    }
    const r = this.current(g, frame);
    if (!r) return true; // nothing resident to check
    this.counters.verified++;
    if (this.sum(g, frame) === r.sum) return true;
    this.counters.corrupt++;
    await this.repair(g, frame, r);
    return false;
  }

  /** Recompute every resident frame's checksum; repair what fails. Yields every few ms. */
  async scrub(): Promise<ScrubReport> {
    const t0 = performance.now();
    let frames = 0;
    let bytes = 0;
    const bad: [TrustGroup, number, FrameRecord][] = [];
    let slice = t0;
    for (const g of this.driver.groups.values()) {
      const list = this.records.get(g);
      if (!list) continue;
      for (let f = 0; f < g.layout.frames; f++) {
        const r = this.current(g, f);
        if (!r || this.quarantine.get(g)?.has(f)) continue;
        frames++;
        bytes += g.layout.frameBytes;
        this.counters.verified++;
        if (this.sum(g, f) !== r.sum) bad.push([g, f, r]);
        if (performance.now() - slice > SCRUB_SLICE_MS) {
          await new Promise((res) => setTimeout(res, 0));
          slice = performance.now();
        }
      }
    }
    const ms = performance.now() - t0;
    this.counters.corrupt += bad.length;
    const before = this.counters.repaired;
    await Promise.all(bad.map(([g, f, r]) => this.repair(g, f, r)));
    const report: ScrubReport = { frames, bytes, ms, corrupt: bad.length, repaired: this.counters.repaired - before };
    this.counters.scrubs++;
    this.counters.lastScrub = report;
    return report;
  }

  private repair(g: TrustGroup, frame: number, r: FrameRecord): Promise<void> {
    let q = this.quarantine.get(g);
    if (!q) this.quarantine.set(g, (q = new Map()));
    const existing = q.get(frame);
    if (existing) return existing;
    const done = this.reload(g, frame, r).finally(() => q.delete(frame));
    q.set(frame, done);
    return done;
  }

  private async reload(g: TrustGroup, frame: number, r: FrameRecord): Promise<void> {
    const mappers = this.mappings(g, frame);
    for (const [d, lba] of mappers) d.pageMapSink?.(lba, -1, 0);
    const gen = new Int32Array(g.buffer, g.layout.genByteOffset, g.layout.frames);
    Atomics.add(gen, frame, 1);
    try {
      const [bytes] = await this.driver.store.read(r.dataset, [r.block]);
      const view = g.table.view(frame);
      view.set(bytes!);
      if (bytes!.byteLength < view.byteLength) view.fill(0, bytes!.byteLength);
      if (this.sum(g, frame) !== r.sum) throw new Error(`frame ${frame} of group ${g.id} still fails its checksum after a reload`);
      this.counters.repaired++;
      const newGen = g.table.generation(frame);
      for (const [d, lba] of mappers) if (d.alive && d.shadow[lba] === frame + 1) d.pageMapSink?.(lba, frame, newGen);
    } catch (err) {
      // The pool could not give the block back: fault every domain mapping this frame
      // rather than let it read bytes nobody can vouch for.
      this.counters.repairFailed++;
      for (const d of new Set(mappers.map(([dom]) => dom))) {
        this.driver.fault(d, `frame ${frame} was corrupted in shared memory and could not be reloaded: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** (domain, lba) pairs whose trusted shadow maps `frame`. */
  private mappings(g: TrustGroup, frame: number): [Domain, number][] {
    const out: [Domain, number][] = [];
    for (const id of g.table.info(frame).mappedBy.keys()) {
      const d = this.driver.domains.get(id);
      if (!d || d.group !== g) continue;
      for (let lba = 0; lba < d.shadow.length; lba++) if (d.shadow[lba] === frame + 1) out.push([d, lba]);
    }
    return out;
  }
}
