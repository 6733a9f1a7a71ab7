// Runs in the dom0 driver worker (and Node tests). A fast keyed checksum of a frame, taken
// when the frame is filled with bytes the pool has just verified by SHA-256, and compared
// on a scrub and before a frame's bytes are mirrored.
//
// Why not SHA-256 again: crypto.subtle refuses views onto a SharedArrayBuffer (every frame
// is one), so each check would copy the frame first, and it is async, which would split a
// scrub into thousands of tasks. Four xxHash32-style lanes over 32-bit words run at memory
// speed in one synchronous loop. The lanes start from a per-dom0 random key: a guest (which
// can write any byte of its arena) does not know the key, so it cannot craft a change that
// keeps the checksum — short of a 2^-32 guess. It detects scribbles; the pool's SHA-256
// remains the authority on what a block's bytes are.

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;

export interface ChecksumKey {
  readonly lanes: Int32Array; // 4 random seeds
}

export function checksumKey(): ChecksumKey {
  const lanes = new Int32Array(4);
  crypto.getRandomValues(lanes);
  return { lanes };
}

/** Checksum of `words` (a frame's bytes as 32-bit words; length a multiple of 4). */
export function frameChecksum(key: ChecksumKey, words: Int32Array): number {
  let a = key.lanes[0]!;
  let b = key.lanes[1]!;
  let c = key.lanes[2]!;
  let d = key.lanes[3]!;
  const n = words.length & ~3;
  for (let i = 0; i < n; i += 4) {
    a = (a + Math.imul(words[i]!, P2)) | 0;
    a = Math.imul((a << 13) | (a >>> 19), P1);
    b = (b + Math.imul(words[i + 1]!, P2)) | 0;
    b = Math.imul((b << 13) | (b >>> 19), P1);
    c = (c + Math.imul(words[i + 2]!, P2)) | 0;
    c = Math.imul((c << 13) | (c >>> 19), P1);
    d = (d + Math.imul(words[i + 3]!, P2)) | 0;
    d = Math.imul((d << 13) | (d >>> 19), P1);
  }
  let h = (((a << 1) | (a >>> 31)) + ((b << 7) | (b >>> 25)) + ((c << 12) | (c >>> 20)) + ((d << 18) | (d >>> 14))) | 0;
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) | 0;
}
