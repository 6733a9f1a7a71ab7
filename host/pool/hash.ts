// Runs wherever the pool runs (window or worker: crypto.subtle is in both). SHA-256 is a
// chunk's address in the archive: the archive computes it the first time it stores the
// chunk (Archive.putContent) and the pool keeps it (Pool.hashChunks); no write
// computes it since format 3, because Chromium computes a WebCrypto digest on the calling
// thread before it returns the promise (measured: 43–48 ms to issue 1,024 digests of
// 64 KiB). chunkChecksum is the read checksum: verified on every read, and the dedup key
// (a match confirmed by comparing bytes, write-path.ts).

import { LANE_P1, LANE_P2, mixLanes } from '../../shared/lane-hash';

export const HASH_BYTES = 32;

export async function sha256(bytes: ArrayBuffer | Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether every byte is zero. Word-wise when aligned (blocks always are). */
export function isAllZero(bytes: Uint8Array): boolean {
  if (bytes.byteOffset % 4 === 0 && bytes.byteLength % 4 === 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}


const S = [0x243f6a88 | 0, 0x85a308d3 | 0, 0x13198a2e | 0, 0x03707344 | 0];

/**
 * The checksum verified on every read of a chunk, and the dedup key since format 3 (before
 * it SHA-256 was, as ZFS pairs fletcher4 with SHA-256): four independent xxHash32-style
 * lanes over the 32-bit words, not folded together, so 128 bits. Each lane step
 * `rotl(lane + word·P2, 13)·P1` is a bijection of the lane and of the word, so any change
 * confined to one word is always detected, and wider damage escapes with odds of about
 * 2^-128 for random errors. Not cryptographic: it guards against storage corruption, not
 * against someone who can write the database (who could rewrite the chunk map as well).
 * Synchronous JavaScript at memory speed (docs/pool.md, "Checksums": faster here than
 * WebCrypto's SHA-256, than the WebAssembly hashes measured, and than these same lanes in
 * WebAssembly SIMD behind the copy into WebAssembly memory, bench/suites/lane-hash-wasm.ts).
 */
export function chunkChecksum(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteLength & ~15;
  const l = Int32Array.from(S);
  const words =
    bytes.byteOffset % 4 === 0
      ? new Int32Array(bytes.buffer, bytes.byteOffset, whole >>> 2)
      : new Int32Array(bytes.slice(0, whole).buffer);
  mixLanes(l, words, words.length);
  let a = l[0]!;
  let b = l[1]!;
  const c = l[2]!;
  const d = l[3]!;
  // The tail (a chunk whose size is not a multiple of 16; blocks never are) and the length.
  for (let i = whole; i < bytes.byteLength; i++) {
    a = (a + Math.imul(bytes[i]! + 1, LANE_P2)) | 0;
    a = Math.imul((a << 13) | (a >>> 19), LANE_P1);
  }
  b = (b + bytes.byteLength) | 0;
  return new Uint8Array(new Uint32Array([a, b, c, d]).buffer);
}
