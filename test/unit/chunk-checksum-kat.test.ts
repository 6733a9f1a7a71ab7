// Node: the pool's read checksum is part of its on-disk format (every chunk record stores
// it and every read checks it), so its value for fixed inputs must never change. The
// answers were computed by the implementation of 2026-12-01 before its loop was restructured
// for V8 (shared/lane-hash.ts).
import { describe, expect, it } from 'vitest';
import { chunkChecksum, toHex } from '../../host/pool/hash';

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const ANSWERS: [number, number, string][] = [
  [0, 1, '886a3f24d308a3852e8a191344737003'],
  [1, 2, '9d4df584d408a3852e8a191344737003'],
  [15, 3, 'baaf0a3ee208a3852e8a191344737003'],
  [16, 4, '37e8f5187f83ad805d50417275b2c014'],
  [4096, 5, '249811e45879cda4c418ff3565546792'],
  [65536, 6, 'd8ca9a5fa67e9644d643529c209796d6'],
  [65539, 7, '80c475c1d3f51f03115588397f97690d'],
  [1048576, 8, 'a07e5ba738edccc62863761f5c7bb5ee'],
];

describe('chunk checksum known answers', () => {
  it.each(ANSWERS)('%i bytes, seed %i', (n, seed, hex) => {
    expect(toHex(chunkChecksum(pattern(n, seed)))).toBe(hex);
  });
  it('a view at an odd offset checksums its own bytes', () => {
    const big = pattern(70_000, 9);
    expect(toHex(chunkChecksum(big.subarray(3, 3 + 65536)))).toBe(toHex(chunkChecksum(big.slice(3, 3 + 65536))));
  });
});
