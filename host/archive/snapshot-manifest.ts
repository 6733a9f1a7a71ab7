// Runs anywhere. The logical layer's encodings: a snapshot manifest (the ordered chunk
// list of one volume snapshot) and the catalogue (snapshot name → manifest, plus the
// segment ages the usage table cannot rebuild from the LSM).
//
// Manifest layout, little-endian: MAGIC_U32 'TVSN' @0, CHUNK_COUNT_U32 @4, then
// CHUNK_COUNT × 32-byte SHA-256 hashes in block order. Identical snapshots have identical
// manifests, so the manifest itself is content-addressed like a chunk.

import { CorruptRecordError } from './errors';
import { type ChunkHash, HASH_BYTES, bytesToHash, chunkHash, hashToBytes } from './chunk-hash';

const MANIFEST_MAGIC = 0x4e535654; // 'TVSN'

export function encodeManifest(chunks: readonly ChunkHash[]): Uint8Array {
  const out = new Uint8Array(8 + chunks.length * HASH_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MANIFEST_MAGIC, true);
  dv.setUint32(4, chunks.length, true);
  chunks.forEach((h, i) => out.set(hashToBytes(h), 8 + i * HASH_BYTES));
  return out;
}

export function decodeManifest(bytes: Uint8Array, where: { segment: number; offset: number }): ChunkHash[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 || dv.getUint32(0, true) !== MANIFEST_MAGIC) {
    throw new CorruptRecordError(where.segment, where.offset, 'not a snapshot manifest');
  }
  const count = dv.getUint32(4, true);
  if (bytes.length !== 8 + count * HASH_BYTES) {
    throw new CorruptRecordError(where.segment, where.offset, 'manifest length does not match its chunk count');
  }
  return Array.from({ length: count }, (_, i) => bytesToHash(bytes.subarray(8 + i * HASH_BYTES, 8 + (i + 1) * HASH_BYTES)));
}

export interface Catalogue {
  /** Snapshot name → manifest hash. */
  readonly snapshots: ReadonlyMap<string, ChunkHash>;
  /** Segment id → write time of its youngest data (the usage table's age column). */
  readonly segmentAges: ReadonlyMap<number, number>;
  /** Last time handed out by the archive's clock, so time never runs backwards on reopen. */
  readonly clock: number;
}

// JSON is enough here: the catalogue is small (one entry per snapshot and per segment)
// and rewritten once per commit.
export function encodeCatalogue(c: Catalogue): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ v: 1, snapshots: [...c.snapshots], segmentAges: [...c.segmentAges], clock: c.clock }),
  );
}

export function decodeCatalogue(bytes: Uint8Array, where: { segment: number; offset: number }): Catalogue {
  try {
    const raw: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const o = raw as { v?: unknown; snapshots?: unknown; segmentAges?: unknown; clock?: unknown };
    if (o.v !== 1 || !Array.isArray(o.snapshots) || !Array.isArray(o.segmentAges) || typeof o.clock !== 'number') {
      throw new Error('unexpected shape');
    }
    return {
      snapshots: new Map((o.snapshots as [string, string][]).map(([n, h]) => [String(n), chunkHash(h)])),
      segmentAges: new Map((o.segmentAges as [number, number][]).map(([s, t]) => [Number(s), Number(t)])),
      clock: o.clock,
    };
  } catch (err: unknown) {
    throw new CorruptRecordError(where.segment, where.offset, 'catalogue does not decode', { cause: err });
  }
}
