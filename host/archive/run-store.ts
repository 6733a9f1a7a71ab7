// Runs anywhere. Where the metadata tier persists its sorted runs and its manifest (the
// ordered list of live runs). Two implementations: in memory (tests), and on top of any
// SegmentStore (so runs live in OPFS or IndexedDB next to, but apart from, the data tier).

import { CorruptRunError } from '../../shared/errors/archive-errors';
import { crc32 } from './crc32';
import { type SegmentId, type SegmentStore, segmentId } from './segment-store';

export interface RunStore {
  putRun(id: number, bytes: Uint8Array): Promise<void>;
  getRun(id: number): Promise<Uint8Array>;
  deleteRun(id: number): Promise<void>;
  listRuns(): Promise<number[]>;
  /** Replace the manifest atomically: after a crash, getManifest returns old or new, whole. */
  putManifest(bytes: Uint8Array): Promise<void>;
  getManifest(): Promise<Uint8Array | null>;
}

export class MemoryRunStore implements RunStore {
  readonly #runs = new Map<number, Uint8Array>();
  #manifest: Uint8Array | null = null;

  async putRun(id: number, bytes: Uint8Array): Promise<void> {
    this.#runs.set(id, bytes.slice());
  }
  async getRun(id: number): Promise<Uint8Array> {
    const r = this.#runs.get(id);
    if (!r) throw new CorruptRunError(`run ${id} is missing from the run store`);
    return r.slice();
  }
  async deleteRun(id: number): Promise<void> {
    this.#runs.delete(id);
  }
  async listRuns(): Promise<number[]> {
    return [...this.#runs.keys()].sort((a, b) => a - b);
  }
  async putManifest(bytes: Uint8Array): Promise<void> {
    this.#manifest = bytes.slice();
  }
  async getManifest(): Promise<Uint8Array | null> {
    return this.#manifest?.slice() ?? null;
  }
}

// Manifest slots are segments 0 and 1, written alternately, each framed as
// SEQ_U32 @0, LENGTH_U32 @4, CRC_U32 @8 (of the body), body @12. A store append is not
// atomic, so a torn write can only damage the slot being written; the other slot still
// holds the previous manifest. Runs are segments RUN_BASE + run id.
const SLOT_IDS: readonly [SegmentId, SegmentId] = [segmentId(0), segmentId(1)];
const SLOT_HEADER_BYTES = 12;
const RUN_BASE = 2;

export class SegmentRunStore implements RunStore {
  #seq = 0;
  #slot = 0; // slot the current manifest lives in

  constructor(readonly store: SegmentStore) {}

  async putRun(id: number, bytes: Uint8Array): Promise<void> {
    const seg = segmentId(RUN_BASE + id);
    await this.store.delete(seg); // a run id is written once; a leftover is a crashed attempt
    await this.store.append(seg, bytes);
  }

  async getRun(id: number): Promise<Uint8Array> {
    const seg = segmentId(RUN_BASE + id);
    const size = (await this.store.sizes()).get(seg);
    if (size === undefined) throw new CorruptRunError(`run ${id} is missing from the run store`);
    return this.store.read(seg, 0, size);
  }

  async deleteRun(id: number): Promise<void> {
    await this.store.delete(segmentId(RUN_BASE + id));
  }

  async listRuns(): Promise<number[]> {
    return (await this.store.list()).filter((s) => s >= RUN_BASE).map((s) => s - RUN_BASE);
  }

  async putManifest(bytes: Uint8Array): Promise<void> {
    if (this.#seq === 0) await this.getManifest(); // learn which slot is current
    const slot = 1 - this.#slot;
    const framed = new Uint8Array(SLOT_HEADER_BYTES + bytes.length);
    const dv = new DataView(framed.buffer);
    dv.setUint32(0, this.#seq + 1, true);
    dv.setUint32(4, bytes.length, true);
    dv.setUint32(8, crc32(bytes), true);
    framed.set(bytes, SLOT_HEADER_BYTES);
    await this.store.delete(SLOT_IDS[slot]!);
    await this.store.append(SLOT_IDS[slot]!, framed);
    this.#seq += 1;
    this.#slot = slot;
  }

  async getManifest(): Promise<Uint8Array | null> {
    const sizes = await this.store.sizes();
    let best: { seq: number; slot: number; body: Uint8Array } | null = null;
    for (const slot of [0, 1]) {
      const size = sizes.get(SLOT_IDS[slot]!);
      if (size === undefined || size < SLOT_HEADER_BYTES) continue;
      const framed = await this.store.read(SLOT_IDS[slot]!, 0, size);
      const dv = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
      const seq = dv.getUint32(0, true);
      const len = dv.getUint32(4, true);
      if (SLOT_HEADER_BYTES + len !== size) continue; // torn
      const body = framed.slice(SLOT_HEADER_BYTES);
      if (crc32(body) !== dv.getUint32(8, true)) continue; // torn or damaged
      if (!best || seq > best.seq) best = { seq, slot, body };
    }
    if (!best) return null;
    this.#seq = best.seq;
    this.#slot = best.slot;
    return best.body;
  }
}
