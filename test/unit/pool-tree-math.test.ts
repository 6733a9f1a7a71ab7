// Runs in Node: the pure parts of the pool — tree geometry and the staged overlay map.
import { describe, expect, it } from 'vitest';
import { blockCount, FANOUT, isValidBlockSize, levelsFor, slotAt, slotSpan } from '../../host/pool/tree-math';
import { StagedMap } from '../../host/pool/staged-map';

describe('pool tree math', () => {
  it('accepts only powers of two from 4 KiB to 1 MiB', () => {
    for (let s = 4096; s <= 1 << 20; s *= 2) expect(isValidBlockSize(s)).toBe(true);
    for (const s of [0, 2048, 3000, 4097, 2 << 20, 65536.5, NaN]) expect(isValidBlockSize(s)).toBe(false);
  });

  it('sizes the tree to the volume', () => {
    expect(levelsFor(1)).toBe(1);
    expect(levelsFor(FANOUT)).toBe(1);
    expect(levelsFor(FANOUT + 1)).toBe(2);
    expect(levelsFor(FANOUT ** 2)).toBe(2);
    expect(levelsFor(FANOUT ** 2 + 1)).toBe(3);
    expect(blockCount(65536 * 3 + 1, 65536)).toBe(4);
  });

  it('maps an lba to one slot per level and back', () => {
    for (const lba of [0, 1, 255, 256, 65535, 65536, 2 ** 33 + 12345]) {
      let back = 0;
      for (let level = 0; level < 5; level++) back += slotAt(lba, level) * slotSpan(level);
      expect(back).toBe(lba);
    }
  });
});

describe('pool staged map', () => {
  it('stages over a base, applies and discards', () => {
    const m = new StagedMap<number, { v: number }>();
    m.load(1, { v: 1 });
    m.load(2, { v: 2 });
    m.mut(1, (x) => ({ ...x }))!.v = 10;
    m.delete(2);
    m.set(3, { v: 3 });
    expect([...m.values()].map((x) => x.v).sort()).toEqual([10, 3]);
    m.discard();
    expect([...m.entries()]).toEqual([[1, { v: 1 }], [2, { v: 2 }]]); // base untouched by mut
    m.mut(1, (x) => ({ ...x }))!.v = 11;
    m.delete(2);
    m.apply();
    expect([...m.entries()]).toEqual([[1, { v: 11 }]]);
    expect(m.dirtyCount).toBe(0);
  });
});

describe('pool chunk-map pages', () => {
  it('round-trips chunk records through the columnar page form', async () => {
    const { encodePage, decodePage, CHUNK_PAGE_SLOTS } = await import('../../host/pool/chunk-map-page');
    const recs = [3, 7, CHUNK_PAGE_SLOTS - 1].map((slot) => ({
      id: CHUNK_PAGE_SLOTS * 2 + slot,
      group: `g${slot}`,
      hash: new Uint8Array(32).fill(slot),
      // One chunk from format 1 (no read checksum) among format-2 ones.
      check: slot === 7 ? null : new Uint8Array(16).fill(slot + 100),
      metaslab: slot,
      offset: 2 ** 33 + slot,
      // In an extent that starts before it (format 4), or a record of its own.
      extent: slot === 3 ? 2 ** 33 + slot : 2 ** 33 - 65536 * slot,
      size: 65536,
      refcount: slot + 1,
      birthTxg: 9,
    }));
    const byId = new Map(recs.map((r) => [r.id, r]));
    const page = encodePage(2, (id) => byId.get(id));
    expect(page).not.toBeNull();
    expect(decodePage(page!)).toEqual(recs);
    expect(encodePage(5, () => undefined)).toBeNull();
  });

  it('decodes a format-1 page (no checksum columns) to chunks without read checksums', async () => {
    const { encodePage, decodePage } = await import('../../host/pool/chunk-map-page');
    const rec = { id: 1, group: 'g', hash: new Uint8Array(32).fill(1), check: new Uint8Array(16).fill(2), metaslab: 0, offset: 0, extent: 0, size: 4096, refcount: 1, birthTxg: 1 };
    const { check: _c, hasCheck: _h, extent: _e, ...v1 } = encodePage(0, (id) => (id === 1 ? rec : undefined))!;
    expect(decodePage(v1)).toEqual([{ ...rec, check: null }]);
  });

  it('decodes a page older than format 4 (no extent column) to chunks that are records of their own', async () => {
    const { encodePage, decodePage } = await import('../../host/pool/chunk-map-page');
    const rec = { id: 1, group: 'g', hash: null, check: new Uint8Array(16).fill(2), metaslab: 2, offset: 131072, extent: 65536, size: 65536, refcount: 1, birthTxg: 1 };
    const { extent: _e, ...v3 } = encodePage(0, (id) => (id === 1 ? rec : undefined))!;
    expect(decodePage(v3)).toEqual([{ ...rec, extent: 131072 }]);
  });
});
