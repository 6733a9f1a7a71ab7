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

import { LANE_P1, LANE_P2, LANE_P3, mixLanes } from '../../shared/lane-hash';

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
  const l = Int32Array.from(key.lanes);
  mixLanes(l, words, words.length & ~3);
  const [a, b, c, d] = [l[0]!, l[1]!, l[2]!, l[3]!];
  let h = (((a << 1) | (a >>> 31)) + ((b << 7) | (b >>> 25)) + ((c << 12) | (c >>> 20)) + ((d << 18) | (d >>> 14))) | 0;
  h = Math.imul(h ^ (h >>> 15), LANE_P2);
  h = Math.imul(h ^ (h >>> 13), LANE_P3);
  return (h ^ (h >>> 16)) | 0;
}
