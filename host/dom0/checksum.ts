// Runs in the dom0 driver worker (and Node tests). A fast keyed checksum of a frame, taken
// when the frame is filled with bytes the pool has just verified by SHA-256, and compared
// on a scrub, before a resident frame is mapped into another domain, and before a frame's
// bytes are mirrored.
//
// Why not SHA-256 again: crypto.subtle refuses views onto a SharedArrayBuffer (every frame
// is one), so each check would copy the frame first, and it is async, which would split a
// scrub into thousands of tasks. Sixteen xxHash32-style lanes (four vectors of four) over
// 32-bit words, 64 bytes per step: each step `rotl(lane + word·P2, 13)·P1` is a bijection of
// the lane and of the word, so a change confined to one word always changes its lane, and
// four independent vectors let the CPU overlap the multiplies (one vector of four lanes is
// bound by the multiply latency: measured 9.8 µs per 64 KiB in WASM SIMD against about
// 3 µs with four). The lanes start from a per-dom0 random key: a guest (which can write any
// byte of its arena) does not know the key, so it cannot craft a change that keeps the
// checksum — short of a 2^-32 guess. It detects scribbles; the pool's SHA-256 remains the
// authority on what a block's bytes are.
//
// frameChecksum is the reference (plain JS, any memory); frame-hash-wasm.ts computes the
// same function in place over an arena that is a shared WebAssembly.Memory.

import { LANE_P1, LANE_P2, LANE_P3 } from '../../shared/lane-hash';

export interface ChecksumKey {
  readonly lanes: Int32Array; // 4 random seeds
}

export function checksumKey(): ChecksumKey {
  const lanes = new Int32Array(4);
  crypto.getRandomValues(lanes);
  return { lanes };
}

/** Bytes per step: four vectors of four 32-bit lanes. A frame's length must be a multiple. */
export const CHECKSUM_STRIPE = 64;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** The final avalanche over the folded lanes (shared with the WASM kernel, which stops before it). */
export function finishChecksum(h: number): number {
  h = Math.imul(h ^ (h >>> 15), LANE_P2);
  h = Math.imul(h ^ (h >>> 13), LANE_P3);
  return (h ^ (h >>> 16)) | 0;
}

/** Checksum of `words` (a frame's bytes as 32-bit words; length a multiple of 16 words). */
export function frameChecksum(key: ChecksumKey, words: Int32Array): number {
  const n = words.length;
  if (n === 0 || n % 16 !== 0) throw new RangeError(`frame checksum needs a multiple of ${CHECKSUM_STRIPE} bytes, got ${n * 4}`);
  const acc = new Int32Array(16);
  for (let l = 0; l < 4; l++) {
    const k = key.lanes[l]!;
    acc[l] = k;
    acc[4 + l] = (k + LANE_P1) | 0;
    acc[8 + l] = (k + LANE_P2) | 0;
    acc[12 + l] = (k - LANE_P1) | 0;
  }
  for (let i = 0; i < n; i += 16) {
    for (let j = 0; j < 16; j++) {
      const a = (acc[j]! + Math.imul(words[i + j]!, LANE_P2)) | 0;
      acc[j] = Math.imul((a << 13) | (a >>> 19), LANE_P1);
    }
  }
  let h = 0;
  const spin = [1, 7, 12, 18];
  for (let l = 0; l < 4; l++) {
    const v = acc[l]! ^ rotl(acc[4 + l]!, 7) ^ rotl(acc[8 + l]!, 12) ^ rotl(acc[12 + l]!, 18);
    h = (h + rotl(v, spin[l]!)) | 0;
  }
  return finishChecksum(h);
}
