// Runs anywhere. The on-disk layout of one record in a log segment, described once.
//
// A segment is a concatenation of records; a record is a fixed 56-byte header then the
// payload. All integers little-endian.
//
//   offset  size  field
//   0       4     MAGIC_U32          'TVAR' — framing check, and what a tail scan looks for
//   4       1     KIND_U8            RecordKind (chunk, snapshot manifest, cold chunk)
//   5       3     (reserved, zero)
//   8       4     PAYLOAD_BYTES_U32  payload length in bytes (the header is not counted)
//   12      4     CRC_U32            CRC-32 of header (with this field zero) + payload
//   16      8     WRITTEN_AT_F64     when the data was first written (ms, or logical time);
//                                    kept when the cleaner copies a record forward, so the
//                                    segment usage table knows the age of the *data*
//   24      32    HASH_32B           SHA-256 of the logical chunk (the content address)
//   56      …     payload

import { CorruptRecordError, ChunkHashMismatchError } from '../../shared/errors/archive-errors';
import { crc32 } from './crc32';
import { type ChunkHash, HASH_BYTES, bytesToHash, hashToBytes, sha256Hex } from './chunk-hash';

export const RECORD_MAGIC = 0x52415654; // bytes 'T','V','A','R' read little-endian
export const MAGIC_U32 = 0;
export const KIND_U8 = 4;
export const PAYLOAD_BYTES_U32 = 8;
export const CRC_U32 = 12;
export const WRITTEN_AT_F64 = 16;
export const HASH_32B = 24;
export const RECORD_HEADER_BYTES = 56;

export const RecordKind = {
  /** Payload is the chunk itself; hash = SHA-256(payload). */
  chunk: 1,
  /** Payload is a snapshot manifest (encoded chunk list); hash = SHA-256(payload). */
  manifest: 2,
  /** Payload is gzip(chunk) in the cold tier; hash = SHA-256 of the *uncompressed* chunk. */
  coldChunk: 3,
  /** Payload is the archive's catalogue (snapshot names → manifests); hash = SHA-256(payload). */
  catalogue: 4,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

const KINDS: ReadonlySet<number> = new Set(Object.values(RecordKind));

export interface RecordHeader {
  readonly kind: RecordKind;
  readonly payloadBytes: number;
  readonly crc: number;
  readonly writtenAt: number;
  readonly hash: ChunkHash;
}

export interface LogRecord extends RecordHeader {
  readonly payload: Uint8Array;
}

export function recordBytes(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

export function encodeRecord(
  kind: RecordKind,
  hash: ChunkHash,
  writtenAt: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(MAGIC_U32, RECORD_MAGIC, true);
  dv.setUint8(KIND_U8, kind);
  dv.setUint32(PAYLOAD_BYTES_U32, payload.length, true);
  dv.setFloat64(WRITTEN_AT_F64, writtenAt, true);
  out.set(hashToBytes(hash), HASH_32B);
  out.set(payload, RECORD_HEADER_BYTES);
  // CRC field is still zero here, which is the defined input of the checksum.
  dv.setUint32(CRC_U32, crc32(out), true);
  return out;
}

/** Outcome of parsing one header: tagged by `state` so a tail scan can tell torn from bad. */
export type HeaderParse =
  | { readonly state: 'ok'; readonly header: RecordHeader }
  | { readonly state: 'incomplete' } // fewer than RECORD_HEADER_BYTES bytes remain
  | { readonly state: 'bad-magic' }
  | { readonly state: 'bad-kind' }
  | { readonly state: 'overruns'; readonly header: RecordHeader }; // payload runs past `limit`

/** Parse the header at `at`; `limit` is where the readable bytes (the segment) end. */
export function parseHeader(bytes: Uint8Array, at: number, limit = bytes.length): HeaderParse {
  if (limit - at < RECORD_HEADER_BYTES) return { state: 'incomplete' };
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, RECORD_HEADER_BYTES);
  if (dv.getUint32(MAGIC_U32, true) !== RECORD_MAGIC) return { state: 'bad-magic' };
  const kind = dv.getUint8(KIND_U8);
  if (!KINDS.has(kind)) return { state: 'bad-kind' };
  const header: RecordHeader = {
    kind: kind as RecordKind,
    payloadBytes: dv.getUint32(PAYLOAD_BYTES_U32, true),
    crc: dv.getUint32(CRC_U32, true),
    writtenAt: dv.getFloat64(WRITTEN_AT_F64, true),
    hash: bytesToHash(bytes.subarray(at + HASH_32B, at + HASH_32B + HASH_BYTES)),
  };
  if (at + RECORD_HEADER_BYTES + header.payloadBytes > limit) return { state: 'overruns', header };
  return { state: 'ok', header };
}

/** CRC check of a whole record (header + payload) lying at `at` in `bytes`. */
export function crcMatches(bytes: Uint8Array, at: number, header: RecordHeader): boolean {
  const end = at + RECORD_HEADER_BYTES + header.payloadBytes;
  const head = bytes.slice(at, at + RECORD_HEADER_BYTES);
  new DataView(head.buffer).setUint32(CRC_U32, 0, true);
  const crc = crc32(bytes.subarray(at + RECORD_HEADER_BYTES, end), crc32(head));
  return crc === header.crc;
}

/**
 * Decode and fully verify the record at `at` (framing, CRC, and — for plain chunks and
 * manifests — SHA-256 of the payload against the stored hash, and against `expected`
 * when the caller looked it up by hash). Throws a typed error; never returns bad bytes.
 * Cold chunks are hashed after decompression by the cold tier, not here.
 */
export async function decodeVerified(
  bytes: Uint8Array,
  at: number,
  where: { segment: number; offset: number },
  expected?: ChunkHash,
): Promise<LogRecord> {
  const parsed = parseHeader(bytes, at);
  if (parsed.state !== 'ok') throw new CorruptRecordError(where.segment, where.offset, parsed.state);
  const { header } = parsed;
  if (!crcMatches(bytes, at, header)) {
    throw new CorruptRecordError(where.segment, where.offset, 'CRC mismatch');
  }
  const loc = `segment ${where.segment} byte ${where.offset}`;
  if (expected !== undefined && header.hash !== expected) {
    throw new ChunkHashMismatchError(expected, header.hash, loc);
  }
  const payload = bytes.slice(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + header.payloadBytes);
  if (header.kind !== RecordKind.coldChunk) {
    const actual = await sha256Hex(payload);
    if (actual !== header.hash) throw new ChunkHashMismatchError(header.hash, actual, loc);
  }
  return { ...header, payload };
}
