// Runs in Node: the pool's metadata engine (state, block trees, dedup write path, dataset
// operations) against a plain model, over random sequences of writes, snapshots, clones,
// destroys, commits and discards. No IndexedDB: what is checked is that every block reads
// what the model says, that every refcount equals a fresh recount (fsck's checkMetadata),
// that metaslab accounting adds up, and that a discard returns exactly to the last commit.
// One content (the last seed) is crafted to have the same read checksum, the dedup key, as
// another: a write of either must never be deduped against the other. The extent cleaner
// (compact.ts) runs among them, staged or not, and after a full pass no record it could
// see is sparser than it was asked for.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lookup, lookupOwned } from '../../host/pool/block-tree';
import { slotAt } from '../../host/pool/tree-math';
import type { DatasetRecord } from '../../host/pool/schema';
import * as datasets from '../../host/pool/datasets';
import { PoolError } from '../../shared/errors/pool-errors';
import { checkMetadata } from '../../host/pool/fsck';
import { bytesEqual, chunkChecksum, toHex } from '../../host/pool/hash';
import { physKeyString, PoolState } from '../../host/pool/state';
import type { ChunkRecord } from '../../host/pool/schema';
import { findDuplicates, prepareBlocks, stagePrepared, type WriteCounters } from '../../host/pool/write-path';
import { commitToDisk, compactPass, viewOnDisk, type ModelDisk } from '../helpers/model-disk';
import { fcParams } from '../helpers/seed.ts';
import { collidingBlock } from '../helpers/checksum-collision';

const BS = 4096;
const BLOCKS = 600; // two tree levels
const SEEDS = 7; // few distinct contents, so dedup happens all the time
const COLLIDER = SEEDS; // same read checksum as content(1), other bytes

/** Seeds from here on name contents written once (a fresh number per block): no dedup. */
const UNIQUE = 1000;

function content(seed: number): Uint8Array {
  if (seed === COLLIDER) return collidingBlock(content(1));
  const b = new Uint8Array(BS);
  if (seed >= UNIQUE) new DataView(b.buffer).setUint32(8, seed);
  else if (seed !== 0) b.fill(seed).set([seed, 0xee], 0);
  return b;
}

interface ModelDs {
  kind: 'volume' | 'snapshot' | 'clone';
  origin: string | null;
  group: string;
  blocks: Map<number, number>;
}
type Model = Map<string, ModelDs>;
/**
 * The reference for lookupOwned's sign, written as its own walk: the block at `lba` is the
 * dataset's alone when every node on its path and the chunk have one reference.
 */
function exclusiveAt(state: PoolState, ds: DatasetRecord, lba: number): boolean {
  let id = ds.root;
  for (let level = ds.levels - 1; id !== 0; level--) {
    const n = state.nodes.get(id);
    if (!n || n.refcount !== 1) return false;
    id = n.ptrs[slotAt(lba, level)]!;
    if (level === 0) return id !== 0 && state.chunks.get(id)?.refcount === 1;
  }
  return false;
}
const copyModel = (m: Model): Model => new Map([...m].map(([k, v]) => [k, { ...v, blocks: new Map(v.blocks) }]));

type Op =
  | { op: 'write'; ds: number; lba: number; seeds: number[]; unique: boolean }
  | { op: 'snapshot'; ds: number }
  | { op: 'clone'; ds: number; otherGroup: boolean }
  | { op: 'destroy'; ds: number }
  | { op: 'commit' }
  | { op: 'discard' }
  | { op: 'compact'; liveBelow: number; stepBlocks: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), ds: fc.nat(20), lba: fc.oneof(fc.nat(BLOCKS - 4), fc.nat(3)), seeds: fc.array(fc.nat(SEEDS), { minLength: 1, maxLength: 4 }), unique: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('snapshot' as const), ds: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('clone' as const), ds: fc.nat(20), otherGroup: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('destroy' as const), ds: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'discard' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('compact' as const), liveBelow: fc.constantFrom(0.5, 0.75, 1), stepBlocks: fc.integer({ min: 1, max: 8 }) }) },
);

describe('pool metadata engine against a model', () => {
  it('keeps contents, refcounts and accounting right through random operation sequences', async () => {
    const seedOf = new Map<string, number>(); // hex of the bytes -> seed
    for (let s = 1; s <= SEEDS; s++) seedOf.set(toHex(content(s)), s);
    expect(chunkChecksum(content(COLLIDER))).toEqual(chunkChecksum(content(1)));
    expect(bytesEqual(content(COLLIDER), content(1))).toBe(false);
    /** One sequence against the model; returns the chunks the cleaner moved in it. */
    const run = async (ops: readonly Op[], extentBytes: number): Promise<number> => {
        let moved = 0;
        const state = new PoolState({ formatVersion: 1, txg: 0, nextChunkId: 1, nextNodeId: 1, nextDatasetId: 1, metaslabBytes: 64 * BS, allocMetaslab: 0 });
        state.extentBytes = extentBytes;
        const counters: WriteCounters = { blocksWritten: 0, blocksStored: 0, blocksDeduped: 0, zeroBlocks: 0, dedupCompares: 0, dedupCollisions: 0, blocksLent: 0 };
        // The "disk": committed data records (extents) by key; staged ones are in state.data.
        const disk: ModelDisk = new Map();
        const bytesOf = (c: ChunkRecord): Uint8Array => {
          const staged = state.stagedBytes(c);
          if (staged) return staged.slice();
          const pk = physKeyString(c.metaslab, c.extent);
          const rec = disk.get(pk);
          if (!rec || rec.length < c.offset - c.extent + c.size) throw new Error(`chunk ${c.id}: no bytes at ${c.metaslab}:${c.offset} (extent ${pk})`);
          return rec.slice(c.offset - c.extent, c.offset - c.extent + c.size);
        };
        const read = (chunks: readonly ChunkRecord[]): Promise<Uint8Array[]> => Promise.resolve(chunks.map(bytesOf));
        const known = new Map<string, number>();
        // Nothing leaks and nothing live is missing: after every commit the records on disk
        // are exactly the extents that hold a live chunk (commitToDisk checks).
        const commit = (): void => commitToDisk(state, disk);
        datasets.createVolume(state, 'base', { sizeBytes: BLOCKS * BS, blockSize: BS, group: 'a' });
        let model: Model = new Map([['base', { kind: 'volume', origin: null, group: 'a', blocks: new Map() }]]);
        state.applyCommitted(1);
        let committed = copyModel(model);
        let n = 0;
        let nextUnique = UNIQUE;

        for (const o of ops) {
          const names = [...model.keys()].sort();
          const pick = (i: number): string | undefined => names[i % Math.max(1, names.length)];
          if (o.op === 'write') {
            const name = pick(o.ds);
            if (!name) continue;
            // Unique contents are stored, not deduped: extents of several chunks form and
            // lose chunks one by one to later writes.
            const seeds = o.unique ? o.seeds.map(() => nextUnique++) : o.seeds;
            for (const s of seeds) if (s >= UNIQUE) seedOf.set(toHex(content(s)), s);
            const bytes = new Uint8Array(o.seeds.length * BS);
            seeds.forEach((s, i) => bytes.set(content(s), i * BS));
            const p = prepareBlocks(bytes, BS);
            const md = model.get(name)!;
            if (md.kind === 'snapshot') {
              expect(() => datasets.writable(state, name, o.lba, bytes.length)).toThrow(PoolError);
              continue;
            }
            const ds = datasets.writable(state, name, o.lba, bytes.length);
            const plan = await findDuplicates(state, ds.group, p, 1, read, counters);
            stagePrepared(state, ds, o.lba, p, plan, 1, counters);
            seeds.forEach((s, i) => (s === 0 ? md.blocks.delete(o.lba + i) : md.blocks.set(o.lba + i, s)));
          } else if (o.op === 'snapshot') {
            const name = pick(o.ds);
            if (!name) continue;
            const snap = `snap${n++}`;
            datasets.snapshot(state, name, snap);
            model.set(snap, { kind: 'snapshot', origin: name, group: model.get(name)!.group, blocks: new Map(model.get(name)!.blocks) });
          } else if (o.op === 'clone') {
            const snaps = names.filter((x) => model.get(x)!.kind === 'snapshot');
            const src = snaps[o.ds % Math.max(1, snaps.length)];
            if (!src) continue;
            const c = `clone${n++}`;
            const group = o.otherGroup ? 'b' : undefined;
            datasets.clone(state, src, c, group);
            model.set(c, { kind: 'clone', origin: src, group: group ?? model.get(src)!.group, blocks: new Map(model.get(src)!.blocks) });
          } else if (o.op === 'destroy') {
            const name = pick(o.ds);
            if (!name) continue;
            const hasClones = [...model.values()].some((d) => d.kind === 'clone' && d.origin === name);
            if (model.get(name)!.kind === 'snapshot' && hasClones) {
              expect(() => datasets.destroy(state, name)).toThrow(PoolError);
            } else {
              datasets.destroy(state, name);
              model.delete(name);
            }
          } else if (o.op === 'compact') {
            // As Pool.compact: what is staged is committed first, then each step's moves.
            commit();
            committed = copyModel(model);
            // Every record on disk is then at least liveBelow live (compactPass checks).
            moved += await compactPass(state, disk, { liveBelow: o.liveBelow, stepBytes: o.stepBlocks * BS }, known);
          } else if (o.op === 'commit') {
            commit();
            committed = copyModel(model);
          } else {
            state.discard();
            model = copyModel(committed);
          }

          // Every block of every dataset reads what the model says.
          for (const [name, md] of model) {
            const d = datasets.findDataset(state, name);
            for (let lba = 0; lba < BLOCKS; lba++) {
              const id = lookup(state, d, lba);
              const want = md.blocks.get(lba) ?? 0;
              const got = id === 0 ? 0 : seedOf.get(toHex(bytesOf(state.chunks.get(id)!)));
              if (got !== want) throw new Error(`${name} block ${lba}: read content ${got}, model says ${want}`);
              // dom0's one-walk lookup agrees with the two it replaces.
              const owned = lookupOwned(state, d, lba);
              const expected = id === 0 ? 0 : exclusiveAt(state, d, lba) ? id : -id;
              if (owned !== expected) throw new Error(`${name} block ${lba}: lookupOwned says ${owned}, lookup and exclusiveAt say ${expected}`);
            }
          }
          expect([...state.datasets.values()].map((d) => d.name).sort()).toEqual([...model.keys()].sort());
          // Refcounts equal a recount; metaslab accounting adds up; THN=1 never stores a
          // (group, content) twice, except the two contents that share a checksum: a
          // collision costs a stored copy, never a wrong block.
          const { problems, chunks } = checkMetadata(state);
          expect(problems).toEqual([]);
          const keys = chunks
            .map((c) => ({ c, seed: seedOf.get(toHex(bytesOf(c)))! }))
            .filter(({ seed }) => seed !== 1 && seed !== COLLIDER)
            .map(({ c, seed }) => `${c.group}:${seed}`);
          expect(new Set(keys).size).toBe(keys.length);
        }
        // Destroying everything frees everything.
        for (const name of [...model.keys()].sort((a, b) => (model.get(a)!.kind === 'clone' ? -1 : 0) - (model.get(b)!.kind === 'clone' ? -1 : 0))) {
          datasets.destroy(state, name);
        }
        expect([...state.chunks.values()]).toHaveLength(0);
        expect([...state.nodes.values()]).toHaveLength(0);
        commit();
        expect(disk.size).toBe(0);
        for (const m of state.metaslabs.values()) expect([m.liveBytes, m.liveChunks]).toEqual([0, 0]);
        return moved;
    };
    // A fixed sequence that leaves the cleaner a sparse record (4 fresh blocks, 3 of them
    // rewritten): the property below would say nothing of the cleaner if its draws never
    // did, and how many its draws give is theirs, not a thing to assert.
    const sparse: Op[] = [
      { op: 'write', ds: 0, lba: 0, seeds: [1, 1, 1, 1], unique: true },
      { op: 'commit' },
      { op: 'write', ds: 0, lba: 0, seeds: [1, 1, 1], unique: true },
      { op: 'compact', liveBelow: 0.5, stepBlocks: 4 },
    ];
    expect(await run(sparse, 1 << 20)).toBe(1);
    await fc.assert(
      // Extents of one chunk each (format 3's layout), of three, or bounded by the metaslab only.
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 40 }), fc.constantFrom(0, 3 * BS, 1 << 20), async (ops, extentBytes) => void (await run(ops, extentBytes))),
      fcParams({ numRuns: 200 }),
    );
  }, 120_000);
});
