// Runs anywhere. One immutable sorted run of the metadata tier, kept in memory as its
// encoded bytes and binary-searched in place — the persisted form and the searched form
// are the same bytes, so loading a run is a CRC check, not a parse.
//
// Layout, little-endian:
//   header (16 bytes): MAGIC_U32 'TVRN' @0, VERSION_U16 @4, ENTRY_BYTES_U16 @6,
//                      COUNT_U32 @8, CRC_U32 @12 (CRC-32 of all entry bytes)
//   entries (48 bytes each, sorted by key, keys unique):
//     KEY_32B @0          chunk hash
//     FLAGS_U8 @32        bit 0: tombstone
//     TIER_U8 @33         Tier code (0 warm, 1 cold)
//     (2 bytes reserved)
//     SEGMENT_U32 @36     segment id in that tier's log
//     OFFSET_U32 @40      record offset in the segment, bytes
//     LENGTH_U32 @44      record length (header + payload), bytes

import { CorruptRunError } from '../../shared/errors/archive-errors';
import { type ChunkHash, HASH_BYTES, bytesToHash, hashToBytes } from './chunk-hash';
import { crc32 } from './crc32';
import { type SegmentId, segmentId } from './segment-store';

export const Tier = { warm: 'warm', cold: 'cold' } as const;
export type Tier = (typeof Tier)[keyof typeof Tier];

export interface ChunkLocation {
  readonly tier: Tier;
  readonly segment: SegmentId;
  readonly offset: number;
  readonly length: number;
}

/** What a level of the LSM says about a key: a location, or "deleted" (tombstone). */
export type LsmValue = ChunkLocation | typeof TOMBSTONE;
export const TOMBSTONE = 'tombstone' as const;

const RUN_MAGIC = 0x4e525654; // 'TVRN'
const RUN_VERSION = 1;
const HEADER_BYTES = 16;
export const ENTRY_BYTES = 48;
const FLAGS_U8 = 32;
const TIER_U8 = 33;
const SEGMENT_U32 = 36;
const OFFSET_U32 = 40;
const LENGTH_U32 = 44;
const FLAG_TOMBSTONE = 1;
const TIER_CODES: readonly Tier[] = [Tier.warm, Tier.cold];

export class SortedRun {
  readonly count: number;
  readonly #bytes: Uint8Array;
  readonly #dv: DataView;

  /** Wrap persisted bytes, checking framing and CRC. */
  constructor(
    readonly id: number,
    bytes: Uint8Array,
  ) {
    if (bytes.length < HEADER_BYTES) throw new CorruptRunError(`run ${id}: ${bytes.length} bytes is shorter than its header`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint32(0, true) !== RUN_MAGIC || dv.getUint16(4, true) !== RUN_VERSION || dv.getUint16(6, true) !== ENTRY_BYTES) {
      throw new CorruptRunError(`run ${id}: bad magic, version or entry size`);
    }
    this.count = dv.getUint32(8, true);
    if (bytes.length !== HEADER_BYTES + this.count * ENTRY_BYTES) {
      throw new CorruptRunError(`run ${id}: ${bytes.length} bytes does not hold ${this.count} entries`);
    }
    if (crc32(bytes.subarray(HEADER_BYTES)) !== dv.getUint32(12, true)) {
      throw new CorruptRunError(`run ${id}: CRC mismatch`);
    }
    this.#bytes = bytes;
    this.#dv = dv;
  }

  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** Encode entries that are already sorted by key with unique keys. */
  static encode(entries: ReadonlyArray<readonly [ChunkHash, LsmValue]>): Uint8Array {
    const out = new Uint8Array(HEADER_BYTES + entries.length * ENTRY_BYTES);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, RUN_MAGIC, true);
    dv.setUint16(4, RUN_VERSION, true);
    dv.setUint16(6, ENTRY_BYTES, true);
    dv.setUint32(8, entries.length, true);
    let at = HEADER_BYTES;
    for (const [key, value] of entries) {
      out.set(hashToBytes(key), at);
      if (value === TOMBSTONE) {
        out[at + FLAGS_U8] = FLAG_TOMBSTONE;
      } else {
        out[at + TIER_U8] = TIER_CODES.indexOf(value.tier);
        dv.setUint32(at + SEGMENT_U32, value.segment, true);
        dv.setUint32(at + OFFSET_U32, value.offset, true);
        dv.setUint32(at + LENGTH_U32, value.length, true);
      }
      at += ENTRY_BYTES;
    }
    dv.setUint32(12, crc32(out.subarray(HEADER_BYTES)), true);
    return out;
  }

  /** Binary search for a key given as its 32 raw bytes. */
  find(key: Uint8Array): LsmValue | undefined {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.#compareAt(mid, key);
      if (c === 0) return this.#valueAt(mid);
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  *entries(): Generator<[ChunkHash, LsmValue]> {
    for (let i = 0; i < this.count; i++) {
      const at = HEADER_BYTES + i * ENTRY_BYTES;
      yield [bytesToHash(this.#bytes.subarray(at, at + HASH_BYTES)), this.#valueAt(i)];
    }
  }

  #compareAt(i: number, key: Uint8Array): number {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    for (let k = 0; k < HASH_BYTES; k++) {
      const d = this.#bytes[at + k]! - key[k]!;
      if (d !== 0) return d;
    }
    return 0;
  }

  #valueAt(i: number): LsmValue {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    if (this.#bytes[at + FLAGS_U8]! & FLAG_TOMBSTONE) return TOMBSTONE;
    const tier = TIER_CODES[this.#bytes[at + TIER_U8]!];
    if (tier === undefined) throw new CorruptRunError(`run ${this.id}: entry ${i} has an unknown tier`);
    return {
      tier,
      segment: segmentId(this.#dv.getUint32(at + SEGMENT_U32, true)),
      offset: this.#dv.getUint32(at + OFFSET_U32, true),
      length: this.#dv.getUint32(at + LENGTH_U32, true),
    };
  }
}
