// A second block with the same read checksum (host/pool/hash.ts chunkChecksum) as a given
// one: what a guest attacking the dedup index would write. The checksum's lanes are not
// cryptographic: each step `rotl(lane + word·P2, 13)·P1` can be undone, so changing word 0
// and then choosing word 4 (the next word of the same lane) to bring the lane back to
// where it was leaves all four lanes, and so the checksum, unchanged.
import { LANE_P1, LANE_P2 } from '../../shared/lane-hash';

/** chunkChecksum's first lane seed (hash.ts `S[0]`). */
const S0 = 0x243f6a88 | 0;

function inverse(odd: number): number {
  let x = odd;
  for (let i = 0; i < 5; i++) x = Math.imul(x, (2 - Math.imul(odd, x)) | 0); // Newton, mod 2^32
  return x;
}

const step = (lane: number, word: number): number => {
  const v = (lane + Math.imul(word, LANE_P2)) | 0;
  return Math.imul((v << 13) | (v >>> 19), LANE_P1);
};

/** `block` (4-byte aligned, ≥ 20 bytes) with words 0 and 4 changed so its read checksum stays the same. */
export function collidingBlock(block: Uint8Array, flip = 0x5a5a5a5a): Uint8Array {
  const out = block.slice();
  const w = new Int32Array(out.buffer, 0, out.byteLength >>> 2);
  const before = step(S0, w[0]!);
  w[0] = w[0]! ^ flip;
  const after = step(S0, w[0]!);
  w[4] = (w[4]! + Math.imul((before - after) | 0, inverse(LANE_P2))) | 0;
  return out;
}
