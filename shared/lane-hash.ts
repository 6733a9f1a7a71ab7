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
  mixLoop(lanes[0]!, lanes[1]!, lanes[2]!, lanes[3]!, words, n);
  lanes[0] = outA;
  lanes[1] = outB;
  lanes[2] = outC;
  lanes[3] = outD;
}

// The loop leaves its lanes in module variables, and mixLanes copies them into `lanes`,
// because of how V8 first optimizes the loop: by on-stack replacement in the middle of a
// long first call (a 64 KiB block is 16,384 words, 1 MiB 262,144), when whatever comes
// after the loop has never run. Stores into the typed array there had no type feedback,
// and the optimized loop deoptimized at `lanes[0] = a` call after call (dom0, Chromium
// 156, `--trace-deopt`: 9–139 times in one run of the benchmark's reads suite, each
// followed by another compile on V8's compiler threads). A module variable's store needs
// no feedback, and mixLanes, which has no loop, is optimized only once it has run.
let outA = 0;
let outB = 0;
let outC = 0;
let outD = 0;

function mixLoop(a0: number, b0: number, c0: number, d0: number, words: Int32Array, n: number): void {
  let a = a0 | 0;
  let b = b0 | 0;
  let c = c0 | 0;
  let d = d0 | 0;
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
  outA = a;
  outB = b;
  outC = c;
  outD = d;
}
