// Node: frame-table bookkeeping — reuse only at zero mappings, CLOCK, promotion, generations.
import { describe, expect, it } from 'vitest';
import { FrameTable } from '../../host/dom0/frame-table';
import { arenaLayout } from '../../shared/memory-layout';
import { ensureBytes, growablePlain, growableShared, maxBytes } from '../../shared/growable';

function table(frames = 4, promoteAt = 2) {
  const layout = arenaLayout(frames, 4096);
  return new FrameTable(layout, new SharedArrayBuffer(layout.totalBytes), { promoteAt });
}
function resident(t: FrameTable, key: string): number {
  const a = t.allocate(key);
  if (!a) throw new Error('arena full');
  t.fillDone(a.frame);
  return a.frame;
}

describe('frame table', () => {
  it('hands out free frames first and indexes them by key', () => {
    const t = table();
    expect(resident(t, 'a')).toBe(0);
    expect(resident(t, 'b')).toBe(1);
    expect(t.lookup('a')).toBe(0);
    expect(t.lookup('zz')).toBeNull();
    expect(() => t.allocate('a')).toThrow(/already resident/);
  });

  it('never reuses a mapped or filling frame; says so when nothing can be evicted', () => {
    const t = table(2);
    const a = resident(t, 'a');
    t.map(a, 1);
    const filling = t.allocate('b');
    expect(filling).not.toBeNull();
    expect(t.allocate('c')).toBeNull();
    t.fillDone(filling!.frame);
    expect(t.allocate('c')?.evictedKey).toBe('b'); // the unmapped one, never the mapped one
    expect(t.lookup('a')).toBe(a);
  });

  it('changes a frame\'s generation each time it is given to another block', () => {
    const t = table(1);
    const f = resident(t, 'a');
    const g1 = t.generation(f);
    const again = t.allocate('b');
    expect(again?.frame).toBe(f);
    expect(again?.evictedKey).toBe('a');
    expect(t.generation(f)).not.toBe(g1);
    expect(t.lookup('a')).toBeNull();
  });

  it('gives a recently used frame a second chance (CLOCK)', () => {
    const t = table(3);
    const [a, b] = ['a', 'b', 'c'].map((k) => resident(t, k));
    // Every frame starts referenced: the first sweep clears the bits and takes frame 0.
    expect(t.allocate('d')?.evictedKey).toBe('a');
    t.fillDone(a!);
    // The hand now points at b. Touch b: it is skipped once and c goes instead.
    t.map(b!, 1);
    t.unmap(b!, 1);
    expect(t.allocate('e')?.evictedKey).toBe('c');
  });

  it('promotes a frame once enough distinct domains map it, and evicts promoted frames last', () => {
    const t = table(2, 2);
    const hot = resident(t, 'hot');
    expect(t.map(hot, 1)).toBe(false);
    expect(t.map(hot, 1)).toBe(false); // same domain twice is still one domain
    expect(t.map(hot, 2)).toBe(true);
    expect(t.info(hot).promoted).toBe(true);
    expect(t.info(hot).mappedBy.get(1)).toBe(2);
    t.unmap(hot, 1); t.unmap(hot, 1); t.unmap(hot, 2);
    const cold = resident(t, 'cold');
    expect(t.stats()).toMatchObject({ resident: 2, mapped: 0, promoted: 1 });
    expect(t.allocate('x')?.evictedKey).toBe('cold');
    t.fillDone(cold);
    t.map(cold, 3); // now only the promoted frame is evictable
    expect(t.allocate('y')?.evictedKey).toBe('hot');
  });

  it('rejects unmapping what a domain does not map, and frame numbers outside the arena', () => {
    const t = table();
    const f = resident(t, 'a');
    expect(() => t.unmap(f, 9)).toThrow(/does not map/);
    expect(() => t.view(99)).toThrow(RangeError);
    expect(() => t.map(-1, 1)).toThrow(RangeError);
  });

  it('counts each domain\'s pins per frame and its frames, and forgets a domain that maps nothing', () => {
    const t = table(4, 99);
    const [x, y] = [resident(t, 'x'), resident(t, 'y')];
    t.map(x, 1);
    t.map(x, 1); // two LBAs of domain 1 hold the same block
    t.map(x, 2);
    t.map(y, 2);
    expect([t.pinsBy(x, 1), t.pinsBy(x, 2), t.pinsBy(y, 1), t.pinsBy(y, 2)]).toEqual([2, 1, 0, 1]);
    expect([t.mapperCountOf(x), t.mapperCountOf(y)]).toEqual([2, 1]);
    expect([t.framesMappedBy(1), t.framesMappedBy(2), t.framesMappedBy(3)]).toEqual([1, 2, 0]);
    expect([...t.mappers(x)].sort()).toEqual([[1, 2], [2, 1]]);
    expect(t.anyMapper(y)).toBe(2);
    t.unmap(x, 1);
    expect([t.pinsBy(x, 1), t.mapperCountOf(x), t.framesMappedBy(1)]).toEqual([1, 2, 1]);
    t.unmap(x, 1);
    expect([t.pinsBy(x, 1), t.mapperCountOf(x), t.framesMappedBy(1), t.anyMapper(x)]).toEqual([0, 1, 0, 2]);
    expect(() => t.unmap(x, 1)).toThrow(/does not map/);
    t.unmap(x, 2);
    t.unmap(y, 2);
    expect([t.mapperCountOf(x), t.mapperCountOf(y), t.framesMappedBy(2), t.anyMapper(x)]).toEqual([0, 0, 0, null]);
    expect(t.stats().mapped).toBe(0);
    expect(t.available()).toBe(4);
  });

  it('frees a frame whose fill failed, with a new generation', () => {
    const t = table(1);
    const a = t.allocate('bad')!;
    const g = t.generation(a.frame);
    t.fillFailed(a.frame);
    expect(t.lookup('bad')).toBeNull();
    expect(t.generation(a.frame)).not.toBe(g);
    expect(t.allocate('good')?.evictedKey).toBeNull();
  });
});

describe('frame table on a growable buffer (a domain’s private frames)', () => {
  it('grows the buffer one frame at a time, as frames are first used, and never past the layout', () => {
    const layout = arenaLayout(3, 4096, 1024);
    const buf = growableShared(1024, layout.totalBytes);
    expect(buf.byteLength).toBe(1024);
    const t = new FrameTable(layout, buf, { promoteAt: 2 });
    expect(buf.byteLength).toBe(1024); // nothing allocated for frames nobody used
    const f = resident(t, 'a');
    t.view(f).fill(7);
    expect(buf.byteLength).toBe(1024 + 4096);
    expect(new Uint8Array(buf, 1024, 4096).every((b) => b === 7)).toBe(true);
    t.view(2)[0] = 9;
    expect(buf.byteLength).toBe(layout.totalBytes);
    expect(t.view(f)[0]).toBe(7); // views made before the growth still see the same bytes
    expect(() => new FrameTable(arenaLayout(4, 4096, 1024), buf, { promoteAt: 2 })).toThrow(/needs/);
  });

  it('a copy-transport domain\'s private frames (dom0\'s plain buffer) take memory only as frames are used', () => {
    const layout = arenaLayout(2048, 4096); // a SQL tenant's 8 MiB
    const buf = growablePlain(layout.totalBytes);
    expect(buf.byteLength).toBe(0); // before 2026-12-01: all 8 MiB at the domain's creation
    expect(maxBytes(buf)).toBe(layout.totalBytes);
    const t = new FrameTable(layout, buf, { promoteAt: 2 });
    t.view(resident(t, 'a')).fill(5);
    expect(buf.byteLength).toBe(layout.framesByteOffset + 4096);
    expect(ensureBytes(buf, layout.totalBytes + 1)).toBe(false);
    t.close();
    expect(new Uint8Array(buf).every((b) => b === 0)).toBe(true);
  });

  it('ensureBytes: grows, never shrinks, refuses past the maximum and on a fixed buffer', () => {
    const g = growableShared(8, 64);
    expect(ensureBytes(g, 4)).toBe(true);
    expect(g.byteLength).toBe(8);
    expect(ensureBytes(g, 40)).toBe(true);
    expect(g.byteLength).toBe(40);
    expect(ensureBytes(g, 65)).toBe(false);
    expect(g.byteLength).toBe(40);
    expect(ensureBytes(new SharedArrayBuffer(16), 17)).toBe(false);
    expect(maxBytes(g)).toBe(64);
  });
});

describe('frame table zeroing on a growable buffer', () => {
  it('close zeroes what was used, does not grow the buffer, and takes no fill after', () => {
    const layout = arenaLayout(4, 4096, 512);
    const buf = growableShared(512, layout.totalBytes);
    const t = new FrameTable(layout, buf, { promoteAt: 2 });
    t.view(resident(t, 'a')).fill(0xaa);
    expect(buf.byteLength).toBe(512 + 4096);
    t.close();
    expect(buf.byteLength).toBe(512 + 4096);
    expect(new Uint8Array(buf, 512, 4096).every((b) => b === 0)).toBe(true);
    expect(t.closed).toBe(true);
    expect(() => t.allocate('b')).toThrow(/closed/);
  });
});
