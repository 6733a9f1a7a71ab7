// Runs anywhere with WebCrypto (page, worker, node >= 20). Content addresses of chunks.

import { ArchiveUsageError } from '../../shared/errors/archive-errors';

/** A chunk's SHA-256 as 64 lowercase hex digits. Made only by `sha256Hex` or `chunkHash`. */
export type ChunkHash = string & { readonly __brand: 'ChunkHash' };

export const HASH_BYTES = 32; // SHA-256 digest length

const HEX = /^[0-9a-f]{64}$/;

export function chunkHash(hex: string): ChunkHash {
  if (!HEX.test(hex)) throw new ArchiveUsageError(`not a SHA-256 hex digest: "${hex}"`);
  return hex as ChunkHash;
}

export function hashToBytes(hash: ChunkHash): Uint8Array {
  const out = new Uint8Array(HASH_BYTES);
  for (let i = 0; i < HASH_BYTES; i++) out[i] = parseInt(hash.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHash(bytes: Uint8Array): ChunkHash {
  if (bytes.length !== HASH_BYTES) throw new ArchiveUsageError(`hash must be ${HASH_BYTES} bytes`);
  let s = '';
  for (let i = 0; i < HASH_BYTES; i++) s += BYTE_HEX[bytes[i]!];
  return s as ChunkHash;
}

export async function sha256Hex(payload: Uint8Array): Promise<ChunkHash> {
  // crypto.subtle wants a BufferSource backed by an ArrayBuffer; a view onto a
  // SharedArrayBuffer is rejected, so copy in that (rare) case.
  const view =
    payload.buffer instanceof ArrayBuffer ? (payload as Uint8Array<ArrayBuffer>) : payload.slice();
  const digest = await crypto.subtle.digest('SHA-256', view);
  return bytesToHash(new Uint8Array(digest));
}
