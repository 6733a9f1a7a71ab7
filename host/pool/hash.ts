// Runs wherever the pool runs (window or worker: crypto.subtle is in both). SHA-256 is
// the chunk's identity for dedup and its checksum for reads. Chromium runs WebCrypto
// digests off the calling thread, so issuing many at once overlaps them with IndexedDB.

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
