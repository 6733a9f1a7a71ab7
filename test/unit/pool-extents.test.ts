// Runs in Node: how the pool's metadata engine packs new chunks into extents (data records
// of several chunks, format 4) and when it frees a record: only with its last live chunk,
// in the group that frees it, and never by appending to an extent that group dropped.
import { describe, expect, it } from 'vitest';
import { lookup } from '../../host/pool/block-tree';
import * as datasets from '../../host/pool/datasets';
import { checkMetadata } from '../../host/pool/fsck';
import { physKeyString, PoolState } from '../../host/pool/state';
import { RecordCache } from '../../host/pool/reader';
import { EXTENT_CHUNKS, type ChunkRecord } from '../../host/pool/schema';
import { checkCompactOptions, compactStep, emptyCompactReport, type SparseExtent } from '../../host/pool/compact';
import { commitToDisk, viewOnDisk, type ModelDisk } from '../helpers/model-disk';
import { findDuplicates, prepareBlocks, stagePrepared, type WriteCounters } from '../../host/pool/write-path';

const BS = 4096;

function setup(extentBytes: number, metaslabBlocks = 64): PoolState {
  const state = new PoolState({ formatVersion: 4, txg: 0, nextChunkId: 1, nextNodeId: 1, nextDatasetId: 1, metaslabBytes: metaslabBlocks * BS, allocMetaslab: 0 });
  state.extentBytes = extentBytes;
  datasets.createVolume(state, 'v', { sizeBytes: 600 * BS, blockSize: BS, group: 'g' });
  state.applyCommitted(1);
  return state;
}

let tag = 1;
/** Write `n` blocks of fresh (never deduped) content at `lba`, or zero blocks (holes). */
async function write(state: PoolState, lba: number, n: number, zero = false): Promise<void> {
  const counters: WriteCounters = { blocksWritten: 0, blocksStored: 0, blocksDeduped: 0, zeroBlocks: 0, dedupCompares: 0, dedupCollisions: 0, blocksLent: 0 };
  const bytes = new Uint8Array(n * BS);
  if (!zero) for (let i = 0; i < n; i++) new DataView(bytes.buffer).setUint32(i * BS + 8, tag++);
  const p = prepareBlocks(bytes, BS);
  const ds = datasets.writable(state, 'v', lba, bytes.length);
  stagePrepared(state, ds, lba, p, await findDuplicates(state, ds.group, p, 1, () => Promise.resolve([]), counters), 1, counters);
}

const staged = (state: PoolState) => [...state.data.values()].map((d) => ({ key: d.key.join(':'), chunks: d.parts?.length ?? null, bytes: d.bytes }));
const chunkAt = (state: PoolState, lba: number) => {
  const c = state.chunks.get(lookup(state, datasets.findDataset(state, 'v'), lba));
  if (!c) throw new Error(`no chunk at ${lba}`);
  return c;
};

describe('extents', () => {
  it('packs the chunks one group allocates back to back, up to extentBytes, and cuts at a metaslab', async () => {
    const state = setup(3 * BS, 5);
    await write(state, 0, 4);
    await write(state, 10, 3);
    // Seven chunks in metaslabs of five blocks: three (the extent is full), two (the
    // metaslab is), then two in the next metaslab.
    expect(staged(state)).toEqual([
      { key: '0:0', chunks: 3, bytes: 3 * BS },
      { key: `0:${3 * BS}`, chunks: 2, bytes: 2 * BS },
      { key: '1:0', chunks: 2, bytes: 2 * BS },
    ]);
    expect(chunkAt(state, 11).extent).toBe(0);
    expect(chunkAt(state, 11).offset).toBe(0);
    expect(chunkAt(state, 2).extent).toBe(0);
    expect(chunkAt(state, 2).offset).toBe(2 * BS);
    expect(checkMetadata(state).problems).toEqual([]);
    // A new group starts a new extent even where the address space continues.
    state.applyCommitted(2);
    await write(state, 20, 1);
    expect(staged(state)).toEqual([{ key: `1:${2 * BS}`, chunks: 1, bytes: BS }]);
  });

  it('keeps a record while any chunk of it lives, and frees it with the last', async () => {
    const state = setup(1 << 20);
    await write(state, 0, 3);
    state.applyCommitted(2);
    await write(state, 0, 1, true); // a hole over the first chunk
    expect(staged(state)).toEqual([]);
    expect(state.extents.get('0:0')).toBe(2);
    state.applyCommitted(3);
    await write(state, 1, 1, true);
    expect(staged(state)).toEqual([]);
    expect(state.extents.get('0:0')).toBe(1);
    state.applyCommitted(4);
    await write(state, 2, 1, true);
    expect(staged(state)).toEqual([{ key: '0:0', chunks: null, bytes: 0 }]);
    expect(state.extents.has('0:0')).toBe(false);
    expect(checkMetadata(state).problems).toEqual([]);
  });

  it('a discarded group takes its extent counts back', async () => {
    const state = setup(1 << 20);
    await write(state, 0, 2);
    state.applyCommitted(2);
    await write(state, 0, 2, true);
    expect(state.extents.has('0:0')).toBe(false);
    state.discard();
    expect(state.extents.get('0:0')).toBe(2);
    expect(staged(state)).toEqual([]);
    expect(checkMetadata(state).problems).toEqual([]);
  });

  it('never appends to an extent its own group freed whole: the next chunk starts a record that is written', async () => {
    const state = setup(1 << 20);
    await write(state, 0, 2);
    await write(state, 0, 2, true); // both freed in the same group: the record never reaches the disk
    expect(staged(state)).toEqual([]);
    await write(state, 5, 1);
    const c = chunkAt(state, 5);
    expect(c.extent).toBe(c.offset);
    expect(staged(state)).toEqual([{ key: physKeyString(0, c.offset), chunks: 1, bytes: BS }]);
    expect(state.stagedBytes(c)).toBeDefined();
    expect(checkMetadata(state).problems).toEqual([]);
  });

  it('a chunk freed in the group that wrote it stays in its extent, dead, while the others live', async () => {
    const state = setup(1 << 20);
    await write(state, 0, 3);
    await write(state, 1, 1, true);
    expect(staged(state)).toEqual([{ key: '0:0', chunks: 3, bytes: 3 * BS }]);
    expect(state.extents.get('0:0')).toBe(2);
    expect(checkMetadata(state).problems).toEqual([]);
  });

  it('extentBytes 0 writes every chunk as a record of its own (the format-3 layout)', async () => {
    const state = setup(0);
    await write(state, 0, 3);
    expect(staged(state).map((s) => s.chunks)).toEqual([1, 1, 1]);
    for (const lba of [0, 1, 2]) expect(chunkAt(state, lba).extent).toBe(chunkAt(state, lba).offset);
  });
});

describe('extent bounds and the record cache', () => {
  it('an extent holds at most EXTENT_CHUNKS chunks, however small they are', async () => {
    const state = setup(1 << 20, 128);
    await write(state, 0, 20);
    expect(staged(state).map((s) => s.chunks)).toEqual([EXTENT_CHUNKS, 20 - EXTENT_CHUNKS]);
  });

  it('the record cache keeps the records read last, up to its bytes, least recently used out first', () => {
    const cache = new RecordCache(3 * BS);
    const rec = (n: number) => new ArrayBuffer(n * BS);
    cache.put('a', rec(1));
    cache.put('b', rec(1));
    cache.put('c', rec(1));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.put('d', rec(1)); // b goes
    expect(['a', 'b', 'c', 'd'].map((k) => cache.get(k) !== undefined)).toEqual([true, false, true, true]);
    cache.put('big', rec(4)); // larger than the whole cache: not kept, nothing evicted
    expect(cache.get('big')).toBeUndefined();
    expect(cache.get('c')).toBeDefined();
    cache.put('e', rec(2)); // needs two records' room: the two least recent go (a, d)
    expect(['a', 'c', 'd', 'e'].map((k) => cache.get(k) !== undefined)).toEqual([false, true, false, true]);
  });
});

describe('the extent cleaner (compact.ts)', () => {
  const commitTo = commitToDisk;
  const viewsFrom = (disk: ModelDisk) => (chunks: readonly ChunkRecord[]) => Promise.resolve(chunks.map((c) => viewOnDisk(disk, c)));

  it('moves the live chunks of records under the threshold into a new extent, keeping their ids, and frees those records', async () => {
    const state = setup(4 * BS);
    const disk = new Map<string, Uint8Array>();
    await write(state, 0, 12); // extents A 0–3, B 4–7, C 8–11
    commitTo(state, disk);
    await write(state, 0, 3); // A keeps one live chunk of four
    await write(state, 4, 2); // B keeps two: exactly half, not under it
    commitTo(state, disk);
    const ids = [3, 6, 7].map((lba) => chunkAt(state, lba).id);
    const before = (await viewsFrom(disk)([3, 6, 7].map((lba) => chunkAt(state, lba)))).map((b) => b.slice());
    const report = emptyCompactReport();
    const queue: SparseExtent[] = [];
    expect(await compactStep(state, viewsFrom(disk), { liveBelow: 0.5, stepBytes: 1 << 20 }, new Map(), new Set(), report, queue)).toBe(true);
    expect(report).toMatchObject({ extentsRead: 1, extentsRewritten: 1, chunksMoved: 1, bytesMoved: BS, recordBytesFreed: 4 * BS, bytesRead: 4 * BS });
    const moved = chunkAt(state, 3);
    expect(moved.id).toBe(ids[0]);
    expect(moved.extent).not.toBe(0);
    expect(staged(state)).toEqual([
      { key: physKeyString(0, moved.offset), chunks: 1, bytes: BS },
      { key: '0:0', chunks: null, bytes: 0 },
    ]);
    expect(checkMetadata(state).problems).toEqual([]);
    commitTo(state, disk);
    // Nothing left under half: B is exactly half, the new extent whole.
    expect(await compactStep(state, viewsFrom(disk), { liveBelow: 0.5, stepBytes: 1 << 20 }, new Map(), new Set(), report, queue)).toBe(false);
    expect([3, 6, 7].map((lba) => chunkAt(state, lba).id)).toEqual(ids);
    const after = await viewsFrom(disk)([3, 6, 7].map((lba) => chunkAt(state, lba)));
    expect(after.map((b) => b.slice())).toEqual(before);
  });

  it('reads an extent whose length it only bounded, learns it is dense, and does not read it again', async () => {
    const state = setup(4 * BS);
    const disk = new Map<string, Uint8Array>();
    await write(state, 0, 4); // A, dense
    await write(state, 10, 4); // B, freed whole below: A then looks twice its size
    commitTo(state, disk);
    await write(state, 10, 4, true);
    await write(state, 20, 1); // C after the gap
    commitTo(state, disk);
    const known = new Map<string, number>();
    const report = emptyCompactReport();
    const queue: SparseExtent[] = [];
    const step = () => compactStep(state, viewsFrom(disk), { liveBelow: 0.75, stepBytes: 1 << 20 }, known, new Set(), report, queue);
    expect(await step()).toBe(true);
    expect(report).toMatchObject({ extentsRead: 1, extentsRewritten: 0 });
    expect(known.get('0:0')).toBe(4 * BS);
    expect(staged(state)).toEqual([]);
    expect(await step()).toBe(false);
  });

  it('a discarded group takes the moves back: the chunk is where it was, its record still counted', async () => {
    const state = setup(4 * BS);
    const disk = new Map<string, Uint8Array>();
    await write(state, 0, 4);
    commitTo(state, disk);
    await write(state, 0, 3);
    commitTo(state, disk);
    const was = { ...chunkAt(state, 3) };
    await compactStep(state, viewsFrom(disk), { liveBelow: 0.5, stepBytes: 1 << 20 }, new Map(), new Set(), emptyCompactReport(), []);
    expect(chunkAt(state, 3).extent).not.toBe(was.extent);
    state.discard();
    expect(chunkAt(state, 3)).toEqual(was);
    expect(state.extents.get('0:0')).toBe(1);
    expect(checkMetadata(state).problems).toEqual([]);
  });

  it('refuses bad options', () => {
    expect(() => checkCompactOptions({ liveBelow: 0 })).toThrow(/liveBelow/);
    expect(() => checkCompactOptions({ liveBelow: 1.5 })).toThrow(/liveBelow/);
    expect(() => checkCompactOptions({ liveBelow: Number.NaN })).toThrow(/liveBelow/);
    expect(() => checkCompactOptions({ stepBytes: 0 })).toThrow(/stepBytes/);
    expect(() => checkCompactOptions({ maxBytes: -1 })).toThrow(/maxBytes/);
    expect(() => checkCompactOptions({ liveBelow: 1, stepBytes: 1, maxBytes: 0 })).not.toThrow();
  });
});
