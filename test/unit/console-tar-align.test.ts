// Runs in Node (vitest unit): the console's tar re-packing and its embedding diagnosis.
// A plain tar (as `tar cf` writes it) of identical files is re-packed so each file starts
// on a 64 KiB boundary and its blocks are byte-identical; the re-packed archive lists the
// same files with the same bytes (checked by a reference reader here, not the writer's
// own); damaged and unsupported archives are refused with a reason; the built-in image is
// big, aligned and dedups.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { realignTar } from '../../host/console/tar-align';
import { diagnose, type EmbeddingFacts } from '../../host/console/embed-diagnosis';
import { logicalBytes } from '../../host/console/counters-view';
import { buildTar } from '../../host/console/tar-writer';
import { builtinImageMembers } from '../../scripts/builtin-image';
import type { DatasetInfo } from '../../host/pool';
import { fcParams } from '../helpers/seed.ts';

const BLOCK = 65536;
const enc = new TextEncoder();

/** A plain ustar archive, no alignment, as `tar cf` writes it. */
function plainTar(files: { path: string; bytes: Uint8Array; type?: string }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of files) {
    const h = new Uint8Array(512);
    h.set(enc.encode(f.path), 0);
    h.set(enc.encode('0000644\0'), 100);
    h.set(enc.encode(f.bytes.length.toString(8).padStart(11, '0') + '\0'), 124);
    h.set(enc.encode('00000000000\0'), 136);
    h.fill(0x20, 148, 156);
    h[156] = (f.type ?? '0').charCodeAt(0);
    h.set(enc.encode('ustar\0'), 257);
    h.set(enc.encode('00'), 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(enc.encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
    parts.push(h);
    const data = new Uint8Array(Math.ceil(f.bytes.length / 512) * 512);
    data.set(f.bytes);
    parts.push(data);
  }
  parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reference reader: (path, data offset, bytes) of every regular file; pax path records honoured. */
function readTar(tar: Uint8Array): { path: string; offset: number; bytes: Uint8Array }[] {
  const out: { path: string; offset: number; bytes: Uint8Array }[] = [];
  const dec = new TextDecoder();
  const str = (o: number, n: number) => dec.decode(tar.subarray(o, o + n)).replace(/\0.*$/s, '');
  let off = 0;
  let pax: string | null = null;
  while (off + 512 <= tar.length && tar[off] !== 0) {
    const size = parseInt(str(off + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(tar[off + 156]!);
    const data = off + 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(dec.decode(tar.subarray(data, data + size)));
      pax = m ? m[1]! : null;
    } else if (type === '0') {
      const prefix = str(off + 345, 155);
      out.push({ path: pax ?? (prefix ? `${prefix}/${str(off, 100)}` : str(off, 100)), offset: data, bytes: tar.subarray(data, data + size) });
      pax = null;
    }
    off = data + Math.ceil(size / 512) * 512;
  }
  return out;
}

function distinctBlocks(tar: Uint8Array): number {
  const seen = new Set<string>();
  for (let o = 0; o < tar.length; o += BLOCK) seen.add(createHash('sha256').update(tar.subarray(o, o + BLOCK)).digest('hex'));
  return seen.size;
}

describe('realignTar', () => {
  test('four identical 1 MiB files: a plain tar shares no block, the re-packed one stores the file once', () => {
    const file = new Uint8Array(1 << 20);
    for (let i = 0; i < file.length; i++) file[i] = (i * 2654435761) >>> 24; // no repeating block inside
    const files = [0, 1, 2, 3].map((i) => ({ path: `copy-${i}.bin`, bytes: file }));
    const plain = plainTar(files);
    const blocksPerFile = file.length / BLOCK;
    expect(distinctBlocks(plain)).toBeGreaterThanOrEqual(4 * blocksPerFile);
    const r = realignTar(plain, BLOCK);
    expect(r.kind).toBe('realigned');
    if (r.kind !== 'realigned') return;
    expect(r.moved).toBe(4);
    const members = readTar(r.bytes);
    expect(members.map((m) => m.path)).toEqual(files.map((f) => f.path));
    for (const m of members) {
      expect(m.offset % BLOCK).toBe(0);
      expect(Buffer.from(m.bytes).equals(Buffer.from(file))).toBe(true);
    }
    // One set of file blocks plus a few blocks of headers and padding.
    expect(distinctBlocks(r.bytes)).toBeLessThanOrEqual(blocksPerFile + 5);
  }, 30_000);

  test('random archives keep every path and byte (seeded)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.stringMatching(/^[a-z]{1,12}$/), size: fc.integer({ min: 0, max: 200_000 }), seed: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
        (specs) => {
          const files = specs.map((s, i) => {
            const bytes = new Uint8Array(s.size);
            for (let j = 0; j < s.size; j++) bytes[j] = (j * 31 + s.seed) & 0xff;
            return { path: `d/${i}-${s.name}`, bytes };
          });
          const r = realignTar(plainTar(files), BLOCK);
          const out = r.kind === 'realigned' ? r.bytes : plainTar(files);
          const members = readTar(out);
          expect(members.map((m) => m.path)).toEqual(files.map((f) => f.path));
          members.forEach((m, i) => expect(Buffer.from(m.bytes).equals(Buffer.from(files[i]!.bytes))).toBe(true));
          for (const m of members) if (m.bytes.length >= BLOCK) expect(m.offset % BLOCK).toBe(0);
        },
      ),
      fcParams({ numRuns: 25 }),
    );
  }, 60_000);

  test('an aligned archive is left alone; not a tar, damaged, or links are refused with a reason', () => {
    const aligned = buildTar([{ path: 'a', bytes: new Uint8Array(BLOCK * 2).fill(7) }], BLOCK);
    expect(realignTar(aligned, BLOCK)).toEqual({ kind: 'aligned', files: 1 });
    expect(realignTar(enc.encode('just some text, not a tar'.repeat(40)), BLOCK).kind).toBe('not-tar');
    const two = plainTar([{ path: 'a', bytes: new Uint8Array(100) }, { path: 'b', bytes: new Uint8Array(BLOCK + 1) }]);
    const damaged = two.slice();
    damaged[1024 + 10] = damaged[1024 + 10]! ^ 0xff; // second header's name: checksum no longer matches
    expect(realignTar(damaged, BLOCK)).toMatchObject({ kind: 'unsupported', reason: expect.stringContaining('damaged header') });
    const link = plainTar([{ path: 'a', bytes: new Uint8Array(0), type: '2' }]);
    expect(realignTar(link, BLOCK)).toMatchObject({ kind: 'unsupported', reason: expect.stringContaining("type '2'") });
    const truncated = two.subarray(0, 1024 + 512 + 1000);
    expect(realignTar(truncated, BLOCK)).toMatchObject({ kind: 'unsupported', reason: expect.stringContaining('past the end') });
  });
});

describe('the built-in image', () => {
  test('tens of MiB of real files, big members on block boundaries, duplicates dedup', () => {
    const members = builtinImageMembers(process.cwd());
    const tar = buildTar(members, BLOCK);
    expect(tar.length).toBeGreaterThan(30 * 1024 * 1024);
    const read = readTar(tar);
    expect(read.length).toBe(members.length);
    for (const m of read) if (m.bytes.length >= BLOCK) expect(m.offset % BLOCK).toBe(0);
    const total = Math.ceil(tar.length / BLOCK);
    const distinct = distinctBlocks(tar);
    expect(total / distinct).toBeGreaterThan(1.8); // app-a and app-b vendor the same compiler
    expect(distinct).toBeGreaterThan(256); // more than the console's arena: scans evict
    expect(read.some((m) => m.path.endsWith('LICENSE.txt'))).toBe(true);
  }, 60_000);
});

describe('diagnose', () => {
  const idb = { kind: 'indexeddb' as const, reason: 'pool saved' };
  const base: EmbeddingFacts = { framed: false, crossOriginIsolated: false, hasSharedArrayBuffer: false, isolationAllowed: true, parentIsolated: null };
  const kinds = (t: 'copy' | 'zero-copy', f: Partial<EmbeddingFacts>, storage: { kind: 'indexeddb' | 'memory'; reason: string } = idb) => diagnose(t, storage, { ...base, ...f }).map((d) => d.kind);

  test('each case gets its own diagnosis', () => {
    expect(kinds('zero-copy', { crossOriginIsolated: true, hasSharedArrayBuffer: true })).toEqual([]);
    expect(kinds('copy', {})).toEqual(['headers-missing']);
    expect(kinds('copy', { framed: true, isolationAllowed: false, parentIsolated: true })).toEqual(['allow-missing']);
    expect(kinds('copy', { framed: true, isolationAllowed: false, parentIsolated: null })).toEqual(['allow-missing']);
    expect(kinds('copy', { framed: true, isolationAllowed: true, parentIsolated: false })).toEqual(['embedder-headers-missing']);
    expect(kinds('copy', { framed: true, isolationAllowed: null, parentIsolated: null })).toEqual(['isolation-unknown']);
    expect(kinds('copy', { crossOriginIsolated: true, hasSharedArrayBuffer: false })).toEqual(['no-sab']);
    expect(kinds('copy', { crossOriginIsolated: true, hasSharedArrayBuffer: true })).toEqual(['copy-forced']);
    expect(kinds('copy', { framed: true, isolationAllowed: true }, { kind: 'memory', reason: 'the browser refused IndexedDB here' })).toEqual(['embedder-headers-missing', 'storage-refused']);
  });
});

describe('logicalBytes', () => {
  const ds = (d: Partial<DatasetInfo>): DatasetInfo => ({ id: 1, name: 'x', kind: 'volume', sizeBytes: 0, blockSize: BLOCK, blocks: 0, group: 'g', origin: null, originId: null, createdTxg: 1, writtenBlocks: 0, ...d });

  test('volumes count once, snapshots not at all, clones only their own blocks', () => {
    const list = [
      ds({ name: 'image', kind: 'volume', sizeBytes: 10 * BLOCK, blocks: 10, writtenBlocks: 10 }),
      ds({ name: 'image@base', kind: 'snapshot', sizeBytes: 10 * BLOCK, blocks: 10, writtenBlocks: 10 }),
      ds({ name: 'image/vm-1', kind: 'clone', sizeBytes: 10 * BLOCK, blocks: 10, writtenBlocks: 10 }),
      ds({ name: 'image/vm-2', kind: 'clone', sizeBytes: 10 * BLOCK, blocks: 10, writtenBlocks: 10 }),
    ];
    expect(logicalBytes(list, new Map([['image/vm-1', 2]]))).toBe(12 * BLOCK);
  });
});
