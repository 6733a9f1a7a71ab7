// Runs on any thread. The inner loop of the project's two fast checksums: the pool's
// per-chunk integrity checksum (host/pool/hash.ts) and dom0's keyed frame checksum
// (host/dom0/checksum.ts). Four xxHash32-style lanes over 32-bit words; each step
// `rotl(lane + word·P2, 13)·P1` is a bijection of the lane and of the word, so a change
// confined to one word always changes its lane.

export const LANE_P1 = 0x9e3779b1 | 0;
export const LANE_P2 = 0x85ebca77 | 0;
export const LANE_P3 = 0xc2b2ae3d | 0;

/** Runs the four lanes (read from and written back to `lanes`) over `words[0..n)`, n a multiple of 4. */
export function mixLanes(lanes: Int32Array, words: Int32Array, n: number): void {
  let a = lanes[0]!;
  let b = lanes[1]!;
  let c = lanes[2]!;
  let d = lanes[3]!;
  for (let i = 0; i < n; i += 4) {
    a = (a + Math.imul(words[i]!, LANE_P2)) | 0;
    a = Math.imul((a << 13) | (a >>> 19), LANE_P1);
    b = (b + Math.imul(words[i + 1]!, LANE_P2)) | 0;
    b = Math.imul((b << 13) | (b >>> 19), LANE_P1);
    c = (c + Math.imul(words[i + 2]!, LANE_P2)) | 0;
    c = Math.imul((c << 13) | (c >>> 19), LANE_P1);
    d = (d + Math.imul(words[i + 3]!, LANE_P2)) | 0;
    d = Math.imul((d << 13) | (d >>> 19), LANE_P1);
  }
  lanes[0] = a;
  lanes[1] = b;
  lanes[2] = c;
  lanes[3] = d;
}
