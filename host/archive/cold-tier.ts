// Runs in a page, a worker or node. The cold tier (US 11,288,129): chunks that a newer
// snapshot superseded move out of the warm log into a separate, compressed log on a
// SegmentStore of its own (its own OPFS directory / IndexedDB database), and are then
// dead in the warm tier for the cleaner to reclaim.
//
// A cold record is RecordKind.coldChunk whose header hash is the SHA-256 of the
// *uncompressed* chunk, and whose payload is CODEC_U8 then the encoded bytes. The CRC
// covers the compressed bytes; the hash is checked after decompression, so a chunk
// restored from the cold tier is verified exactly like a warm one.

import { ArchiveUsageError, ChunkHashMismatchError } from '../../shared/errors/archive-errors';
import { type ChunkHash, sha256Hex } from './chunk-hash';
import { type ChunkLocation, Tier } from './lsm-run';
import { RecordKind } from './segment-format';
import { SegmentLog } from './segment-log';
import type { SegmentStore } from './segment-store';
import type { Archive, ChunkSource } from './archive';

export const ColdCodec = { raw: 0, gzip: 1 } as const;
export type ColdCodec = (typeof ColdCodec)[keyof typeof ColdCodec];

export function gzipAvailable(): boolean {
  return typeof CompressionStream === 'function' && typeof DecompressionStream === 'function';
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const body = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
  return new Uint8Array(await new Response(new Blob([body]).stream().pipeThrough(stream)).arrayBuffer());
}

export interface ColdTierOptions {
  readonly segmentBytes: number;
  /** Default: gzip where CompressionStream exists, raw otherwise. */
  readonly codec?: ColdCodec;
}

export interface TierReport {
  readonly chunksMoved: number;
  readonly bytesIn: number; // uncompressed chunk bytes moved out of the warm tier
  readonly bytesOut: number; // record bytes written to the cold tier
}

export class ColdTier implements ChunkSource {
  readonly #codec: ColdCodec;

  private constructor(
    readonly log: SegmentLog,
    codec: ColdCodec,
  ) {
    this.#codec = codec;
  }

  static async open(store: SegmentStore, options: ColdTierOptions): Promise<ColdTier> {
    const codec = options.codec ?? (gzipAvailable() ? ColdCodec.gzip : ColdCodec.raw);
    if (codec === ColdCodec.gzip && !gzipAvailable()) throw new ArchiveUsageError('gzip needs CompressionStream');
    return new ColdTier(await SegmentLog.open(store, { segmentBytes: options.segmentBytes }), codec);
  }

  /** Append one chunk (buffered; durable after `flush`). */
  async put(hash: ChunkHash, chunk: Uint8Array, writtenAt: number): Promise<ChunkLocation> {
    const encoded = this.#codec === ColdCodec.gzip ? await pipe(chunk, new CompressionStream('gzip')) : chunk;
    const payload = new Uint8Array(1 + encoded.length);
    payload[0] = this.#codec;
    payload.set(encoded, 1);
    const at = this.log.append(RecordKind.coldChunk, hash, writtenAt, payload);
    return { tier: Tier.cold, ...at };
  }

  async flush(): Promise<void> {
    await this.log.flush();
  }

  async readChunk(location: ChunkLocation, hash: ChunkHash): Promise<Uint8Array> {
    const rec = await this.log.read(location, hash);
    const codec = rec.payload[0];
    const body = rec.payload.subarray(1);
    let chunk: Uint8Array;
    if (codec === ColdCodec.raw) chunk = body.slice();
    else if (codec === ColdCodec.gzip) chunk = await pipe(body, new DecompressionStream('gzip'));
    else throw new ChunkHashMismatchError(hash, `unknown codec ${codec}`, `cold segment ${location.segment}`);
    const actual = await sha256Hex(chunk);
    if (actual !== hash) throw new ChunkHashMismatchError(hash, actual, `cold segment ${location.segment} byte ${location.offset}`);
    return chunk;
  }

  bytes(): number {
    return this.log.totalBytes();
  }
}

/**
 * Chunks of `older` snapshots that `newer` no longer references: what tiering may move.
 * (Chunks still referenced by the newer snapshot stay warm: restoring it stays fast.)
 */
export async function supersededChunks(archive: Archive, older: readonly string[], newer: string): Promise<ChunkHash[]> {
  const keep = new Set(await archive.snapshotChunks(newer));
  const out = new Set<ChunkHash>();
  for (const name of older) for (const h of await archive.snapshotChunks(name)) if (!keep.has(h)) out.add(h);
  return [...out];
}

/**
 * Move warm chunks to the cold tier: copy (verified), make the cold log durable, repoint
 * the metadata tier and commit. Only after that commit is the warm copy dead, so a crash
 * at any point leaves every chunk readable from at least one tier.
 */
export async function moveToColdTier(archive: Archive, cold: ColdTier, hashes: readonly ChunkHash[]): Promise<TierReport> {
  let bytesIn = 0;
  let bytesOut = 0;
  const moved: [ChunkHash, ChunkLocation][] = [];
  for (const h of hashes) {
    const loc = archive.lsm.get(h);
    if (!loc || loc.tier !== Tier.warm) continue;
    const chunk = await archive.readChunk(h);
    const to = await cold.put(h, chunk, Date.now());
    moved.push([h, to]);
    bytesIn += chunk.length;
    bytesOut += to.length;
    if (moved.length % 64 === 0) await cold.log.settle(); // bound what waits in memory
  }
  await cold.flush();
  for (const [h, to] of moved) archive.relocate(h, to);
  if (moved.length) await archive.commit();
  return { chunksMoved: moved.length, bytesIn, bytesOut };
}
