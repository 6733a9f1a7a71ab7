// Node: the pool's read-checksum lanes in WebAssembly (a measured alternative in bench/) equal the JavaScript reference
// (shared/lane-hash.ts mixLanes) on random chunks of many sizes and offsets, including
// chunks bigger than the kernel's first memory (it grows).
import { describe, expect, it } from 'vitest';
import { mixLanes } from '../../shared/lane-hash';
import { laneKernelAvailable, mixLanesWasm } from '../../bench/suites/lane-hash-wasm';
import { chunkChecksum, toHex } from '../../host/pool/hash';
import { propertySeed, seededRandom } from '../helpers/seed';

describe('pool checksum lanes in WebAssembly', () => {
  it('equal mixLanes', () => {
    expect(laneKernelAvailable()).toBe(true);
    const seed = propertySeed();
    const rnd = seededRandom(seed);
    const buf = new Uint8Array(2 * 2 ** 20 + 64);
    for (let i = 0; i < buf.length; i++) buf[i] = (rnd() * 256) | 0;
    const sizes = [16, 64, 4096, 65536, 65536 + 48, 2 ** 20, 2 * 2 ** 20];
    for (let t = 0; t < 60; t++) {
      const bytes = t < sizes.length ? sizes[t]! : 16 * (1 + Math.floor(rnd() * 8192));
      const at = 4 * Math.floor(rnd() * 16);
      const seedLanes = Int32Array.from({ length: 4 }, () => (rnd() * 2 ** 32) | 0);
      const js = Int32Array.from(seedLanes);
      mixLanes(js, new Int32Array(buf.buffer, at, bytes / 4), bytes / 4);
      const wasm = Int32Array.from(seedLanes);
      expect(mixLanesWasm(wasm, buf.subarray(at), bytes / 4)).toBe(true);
      if (!js.every((v, i) => v === wasm[i])) expect.fail(`seed ${seed}, case ${t}: ${bytes} bytes at ${at}`);
    }
  });

  it('declines what it cannot do, leaving the lanes alone', () => {
    const lanes = Int32Array.of(1, 2, 3, 4);
    expect(mixLanesWasm(lanes, new Uint8Array(64), 0)).toBe(false);
    expect(mixLanesWasm(lanes, new Uint8Array(64), 6)).toBe(false);
    expect(Array.from(lanes)).toEqual([1, 2, 3, 4]);
  });

  it('leaves chunkChecksum (a stored format) unchanged: known answers', () => {
    // Computed by the JavaScript lanes before the kernel existed; every pool stores these.
    const chunk = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    expect(toHex(chunkChecksum(chunk(65536)))).toBe(KNOWN_64K);
    expect(toHex(chunkChecksum(chunk(4096 + 5)))).toBe(KNOWN_4K5);
    expect(toHex(chunkChecksum(chunk(3)))).toBe(KNOWN_3);
  });
});


const KNOWN_64K = 'aa5d3097c2c7608a37818a96f8aabe8f';
const KNOWN_4K5 = '8dc2717682429af46813bc2ab34a8804';
const KNOWN_3 = '0b1632c3d608a3852e8a191344737003';
