// Runs anywhere. The logical layer's encodings: a snapshot manifest (the ordered chunk
// list of one volume snapshot) and the catalogue (snapshot name → manifest, plus the
// segment ages the usage table cannot rebuild from the LSM).
//
// Manifest layout v1 (a plain chunk list), little-endian: MAGIC_U32 'TVSN' @0,
// CHUNK_COUNT_U32 @4, then CHUNK_COUNT × 32-byte SHA-256 hashes in block order.
//
// Manifest layout v2 (a volume image, written by the pool wiring):
//   MAGIC_U32 'TVS2' @0, BLOCK_COUNT_U32 @4, BLOCK_BYTES_U32 @8, (reserved u32) @12,
//   SIZE_BYTES_F64 @16 (the volume's exact size; the last block may be partial),
//   then BLOCK_COUNT × 32-byte SHA-256 hashes in block order, where a hole (a block the
//   pool never wrote, read as zeros) is HOLE_HASH, 32 zero bytes. No chunk's SHA-256 is
//   all zeros (that would be a preimage of zero), so the marker cannot collide.
//
// Identical snapshots have identical manifests, so the manifest itself is
// content-addressed like a chunk.

import { CorruptRecordError } from '../../shared/errors/archive-errors';
import { type ChunkHash, HASH_BYTES, bytesToHash, chunkHash, hashToBytes } from './chunk-hash';

const MANIFEST_MAGIC = 0x4e535654; // 'TVSN'
const VOLUME_MANIFEST_MAGIC = 0x32535654; // 'TVS2'
const V1_HEADER_BYTES = 8;
const V2_HEADER_BYTES = 24;

/** The hash slot of a hole in a volume manifest. */
export const HOLE_HASH = '0'.repeat(64) as ChunkHash;

export interface VolumeGeometry {
  readonly sizeBytes: number;
  readonly blockBytes: number;
}

export interface ManifestContent {
  /** Block order; HOLE_HASH for a hole (v2 only). */
  readonly chunks: ChunkHash[];
  /** Present for v2 (volume) manifests. */
  readonly volume?: VolumeGeometry;
}

export function encodeManifest(chunks: readonly ChunkHash[], volume?: VolumeGeometry): Uint8Array {
  const header = volume ? V2_HEADER_BYTES : V1_HEADER_BYTES;
  const out = new Uint8Array(header + chunks.length * HASH_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, volume ? VOLUME_MANIFEST_MAGIC : MANIFEST_MAGIC, true);
  dv.setUint32(4, chunks.length, true);
  if (volume) {
    dv.setUint32(8, volume.blockBytes, true);
    dv.setFloat64(16, volume.sizeBytes, true);
  }
  // HOLE_HASH encodes as 32 zero bytes, which the fresh buffer already holds.
  chunks.forEach((h, i) => {
    if (h !== HOLE_HASH) out.set(hashToBytes(h), header + i * HASH_BYTES);
  });
  return out;
}

export function decodeManifest(bytes: Uint8Array, where: { segment: number; offset: number }): ManifestContent {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = bytes.length >= V1_HEADER_BYTES ? dv.getUint32(0, true) : 0;
  if (magic !== MANIFEST_MAGIC && magic !== VOLUME_MANIFEST_MAGIC) {
    throw new CorruptRecordError(where.segment, where.offset, 'not a snapshot manifest');
  }
  const v2 = magic === VOLUME_MANIFEST_MAGIC;
  const header = v2 ? V2_HEADER_BYTES : V1_HEADER_BYTES;
  const count = dv.getUint32(4, true);
  if (bytes.length !== header + count * HASH_BYTES) {
    throw new CorruptRecordError(where.segment, where.offset, 'manifest length does not match its chunk count');
  }
  const chunks = Array.from({ length: count }, (_, i) => bytesToHash(bytes.subarray(header + i * HASH_BYTES, header + (i + 1) * HASH_BYTES)));
  if (!v2) return { chunks };
  const volume = { blockBytes: dv.getUint32(8, true), sizeBytes: dv.getFloat64(16, true) };
  if (!(volume.blockBytes > 0) || !Number.isSafeInteger(volume.sizeBytes) || Math.ceil(volume.sizeBytes / volume.blockBytes) !== count) {
    throw new CorruptRecordError(where.segment, where.offset, 'volume manifest geometry does not match its block count');
  }
  return { chunks, volume };
}

export interface Catalogue {
  /** Snapshot name → manifest hash. */
  readonly snapshots: ReadonlyMap<string, ChunkHash>;
  /** Segment id → write time of its youngest data (the usage table's age column). */
  readonly segmentAges: ReadonlyMap<number, number>;
  /** Last time handed out by the archive's clock, so time never runs backwards on reopen. */
  readonly clock: number;
  /** Per snapshot: when it was archived and which volume lineage it belongs to. */
  readonly meta?: ReadonlyMap<string, SnapshotMeta>;
}

export interface SnapshotMeta {
  /** Archive clock time of the commit that archived it (ms when the clock is Date.now). */
  readonly archivedAt: number;
  /** Snapshots of one volume share a lineage; tiering compares snapshots within one. */
  readonly lineage: string | null;
}

// JSON is enough here: the catalogue is small (one entry per snapshot and per segment)
// and rewritten once per commit.
export function encodeCatalogue(c: Catalogue): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      v: 1,
      snapshots: [...c.snapshots],
      segmentAges: [...c.segmentAges],
      clock: c.clock,
      meta: [...(c.meta ?? new Map())],
    }),
  );
}

export function decodeCatalogue(bytes: Uint8Array, where: { segment: number; offset: number }): Catalogue {
  try {
    const raw: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const o = raw as { v?: unknown; snapshots?: unknown; segmentAges?: unknown; clock?: unknown; meta?: unknown };
    if (o.v !== 1 || !Array.isArray(o.snapshots) || !Array.isArray(o.segmentAges) || typeof o.clock !== 'number') {
      throw new Error('unexpected shape');
    }
    return {
      snapshots: new Map((o.snapshots as [string, string][]).map(([n, h]) => [String(n), chunkHash(h)])),
      segmentAges: new Map((o.segmentAges as [number, number][]).map(([s, t]) => [Number(s), Number(t)])),
      clock: o.clock,
      // Absent in catalogues written before snapshot metadata existed.
      meta: new Map(
        (Array.isArray(o.meta) ? (o.meta as [string, { archivedAt?: unknown; lineage?: unknown }][]) : []).map(([n, m]) => [
          String(n),
          { archivedAt: Number(m.archivedAt ?? 0), lineage: typeof m.lineage === 'string' ? m.lineage : null },
        ]),
      ),
    };
  } catch (err: unknown) {
    throw new CorruptRecordError(where.segment, where.offset, 'catalogue does not decode', { cause: err });
  }
}
