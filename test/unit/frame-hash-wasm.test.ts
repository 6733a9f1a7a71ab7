// Node: the in-place WebAssembly frame checksum equals the JS reference on random frames,
// keys and offsets, and changes when any one word of the frame does.
import { describe, expect, it } from 'vitest';
import { frameChecksum, type ChecksumKey } from '../../host/dom0/checksum';
import { sharedArenaMemory, wasmFrameHasher } from '../../host/dom0/frame-hash-wasm';
import { propertySeed, seededRandom } from '../helpers/seed';

describe('frame checksum in WebAssembly', () => {
  it('equals the JS reference, in place over a shared memory', () => {
    const seed = propertySeed();
    const rnd = seededRandom(seed);
    const mem = sharedArenaMemory(4 * 65536)!;
    expect(mem).not.toBeNull();
    expect(mem.buffer).toBeInstanceOf(SharedArrayBuffer);
    const hash = wasmFrameHasher(mem)!;
    const words = new Int32Array(mem.buffer);
    for (let i = 0; i < words.length; i++) words[i] = (rnd() * 2 ** 32) | 0;
    for (let t = 0; t < 200; t++) {
      const key: ChecksumKey = { lanes: Int32Array.from({ length: 4 }, () => (rnd() * 2 ** 32) | 0) };
      const bytes = 64 * (1 + Math.floor(rnd() * 2048));
      const at = 16 * Math.floor((rnd() * (mem.buffer.byteLength - bytes)) / 16);
      const want = frameChecksum(key, new Int32Array(mem.buffer, at, bytes / 4));
      if (hash(at, bytes, key) !== want) expect.fail(`seed ${seed}, case ${t}: ${bytes} bytes at ${at}`);
    }
  });

  it('changes when any single word changes (both implementations)', () => {
    const mem = sharedArenaMemory(65536)!;
    const hash = wasmFrameHasher(mem)!;
    const key: ChecksumKey = { lanes: Int32Array.of(1, 2, 3, 4) };
    const words = new Int32Array(mem.buffer, 0, 1024);
    words.fill(7);
    const base = hash(0, 4096, key);
    for (let i = 0; i < 1024; i++) {
      words[i] = 8;
      expect(hash(0, 4096, key)).not.toBe(base);
      expect(frameChecksum(key, words)).not.toBe(base);
      words[i] = 7;
    }
    expect(hash(0, 4096, { lanes: Int32Array.of(1, 2, 3, 5) })).not.toBe(base);
  });

  it('refuses a length that is not whole stripes', () => {
    const mem = sharedArenaMemory(65536)!;
    const hash = wasmFrameHasher(mem)!;
    expect(() => hash(0, 100, { lanes: new Int32Array(4) })).toThrow(RangeError);
    expect(() => frameChecksum({ lanes: new Int32Array(4) }, new Int32Array(25))).toThrow(RangeError);
  });
});
