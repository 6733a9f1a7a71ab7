// Runs in Node: the extent cleaner (host/pool/compact.ts) against a model, on draws made
// to give it work: one volume rewritten in short runs of fresh contents at a few dozen
// LBAs (so extents lose chunks one by one), snapshots that keep some of those chunks alive
// and are destroyed later, commits, discards, and cleaner passes at random thresholds and
// step sizes. After every operation each block reads what the model says and the metadata
// recounts clean; after every commit the records on the model disk are exactly the live
// extents; after a pass no record is under its threshold. A pass also runs a step at a
// time with writes, commits and discards between its steps, as Pool.compact's steps
// interleave with other callers' work in the pool's queue: a step must not move a chunk
// freed since the pass found its extent. (pool-model.test.ts runs the cleaner among every
// other operation, on draws that rarely leave it a sparse record.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lookup } from '../../host/pool/block-tree';
import * as datasets from '../../host/pool/datasets';
import { checkMetadata } from '../../host/pool/fsck';
import type { ChunkRecord } from '../../host/pool/schema';
import { PoolState } from '../../host/pool/state';
import { findDuplicates, prepareBlocks, stagePrepared, type WriteCounters } from '../../host/pool/write-path';
import { fcParams } from '../helpers/seed.ts';
import { compactStep, emptyCompactReport, type CompactReport, type SparseExtent } from '../../host/pool/compact';
import { checkNoRecordUnder, commitToDisk, compactPass, diskReader, viewOnDisk, type ModelDisk } from '../helpers/model-disk';

const BS = 4096;
const LBAS = 48;

type Op =
  | { op: 'write'; lba: number; n: number; hole: boolean }
  | { op: 'snapshot' }
  | { op: 'dropSnapshot' }
  | { op: 'commit' }
  | { op: 'discard' }
  | { op: 'compact'; liveBelow: number; stepBlocks: number }
  /** One step of a pass (opened with these options when none is open), other ops between steps. */
  | { op: 'compactStep'; liveBelow: number; stepBlocks: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('write' as const), lba: fc.nat(LBAS - 1), n: fc.integer({ min: 1, max: 6 }), hole: fc.nat(4).map((x) => x === 0) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'dropSnapshot' as const }) },
  { weight: 4, arbitrary: fc.constant({ op: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'discard' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('compact' as const), liveBelow: fc.constantFrom(0.25, 0.5, 0.75, 1), stepBlocks: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('compactStep' as const), liveBelow: fc.constantFrom(0.25, 0.5, 0.75, 1), stepBlocks: fc.integer({ min: 1, max: 6 }) }) },
);

describe('the extent cleaner against a model', () => {
  it('moves only live chunks, frees only dead records, and leaves no record under its threshold', async () => {
    /** One sequence against the model; returns the chunks the cleaner moved in it. */
    const run = async (ops: readonly Op[], extentBytes: number): Promise<number> => {
        let moved = 0;
        const state = new PoolState({ formatVersion: 4, txg: 0, nextChunkId: 1, nextNodeId: 1, nextDatasetId: 1, metaslabBytes: 64 * BS, allocMetaslab: 0 });
        state.extentBytes = extentBytes;
        datasets.createVolume(state, 'v', { sizeBytes: (LBAS + 6) * BS, blockSize: BS, group: 'g' });
        state.applyCommitted(1);
        const counters: WriteCounters = { blocksWritten: 0, blocksStored: 0, blocksDeduped: 0, zeroBlocks: 0, dedupCompares: 0, dedupCollisions: 0, blocksLent: 0 };
        const disk: ModelDisk = new Map();
        const viewOf = (c: ChunkRecord): Uint8Array => state.stagedBytes(c) ?? viewOnDisk(disk, c);
        const commit = (): void => commitToDisk(state, disk);
        // The model: per dataset, LBA → the tag its block carries (0 a hole).
        let model = new Map<string, Map<number, number>>([['v', new Map()]]);
        let committed = new Map([...model].map(([k, v]) => [k, new Map(v)]));
        const snaps: string[] = [];
        let committedSnaps: string[] = [];
        let tag = 1;
        const known = new Map<string, number>();
        let pass: { opts: { liveBelow: number; stepBytes: number }; queue: SparseExtent[]; report: CompactReport } | null = null;
        for (const o of ops) {
          if (o.op === 'write') {
            const n = Math.min(o.n, LBAS + 6 - o.lba);
            const bytes = new Uint8Array(n * BS);
            const tags: number[] = [];
            for (let i = 0; i < n; i++) {
              const t = o.hole ? 0 : tag++;
              tags.push(t);
              if (t) new DataView(bytes.buffer).setUint32(i * BS, t);
            }
            const p = prepareBlocks(bytes, BS);
            const ds = datasets.writable(state, 'v', o.lba, bytes.length);
            stagePrepared(state, ds, o.lba, p, await findDuplicates(state, 'g', p, 1, (cs) => Promise.resolve(cs.map((c) => viewOf(c).slice())), counters), 1, counters);
            tags.forEach((t, i) => (t ? model.get('v')!.set(o.lba + i, t) : model.get('v')!.delete(o.lba + i)));
          } else if (o.op === 'snapshot') {
            const name = `v@${tag++}`;
            datasets.snapshot(state, 'v', name);
            snaps.push(name);
            model.set(name, new Map(model.get('v')!));
          } else if (o.op === 'dropSnapshot') {
            const name = snaps.shift();
            if (!name) continue;
            datasets.destroy(state, name);
            model.delete(name);
          } else if (o.op === 'commit') {
            commit();
            committed = new Map([...model].map(([k, v]) => [k, new Map(v)]));
            committedSnaps = [...snaps];
          } else if (o.op === 'discard') {
            state.discard();
            model = new Map([...committed].map(([k, v]) => [k, new Map(v)]));
            snaps.splice(0, snaps.length, ...committedSnaps);
          } else if (o.op === 'compact') {
            // As Pool.compact: what is staged is committed first, then each step's moves.
            commit();
            committed = new Map([...model].map(([k, v]) => [k, new Map(v)]));
            committedSnaps = [...snaps];
            moved += await compactPass(state, disk, { liveBelow: o.liveBelow, stepBytes: o.stepBlocks * BS }, known);
          } else {
            // One step, as Pool.compact runs each in the pool's queue: others' staged work
            // committed first, then the step, then its commit.
            commit();
            pass ??= { opts: { liveBelow: o.liveBelow, stepBytes: o.stepBlocks * BS }, queue: [], report: emptyCompactReport() };
            const before = pass.report.chunksMoved;
            const more = await compactStep(state, diskReader(disk), pass.opts, known, new Set(), pass.report, pass.queue);
            commit();
            committed = new Map([...model].map(([k, v]) => [k, new Map(v)]));
            committedSnaps = [...snaps];
            moved += pass.report.chunksMoved - before;
            if (!more) {
              checkNoRecordUnder(state, disk, pass.opts.liveBelow);
              pass = null;
            }
          }
          for (const [name, blocks] of model) {
            const d = datasets.findDataset(state, name);
            for (let lba = 0; lba < LBAS + 6; lba++) {
              const id = lookup(state, d, lba);
              const got = id === 0 ? 0 : new DataView(viewOf(state.chunks.get(id)!).slice().buffer).getUint32(0);
              const want = blocks.get(lba) ?? 0;
              if (got !== want) throw new Error(`${name} block ${lba}: read tag ${got}, the model says ${want}`);
            }
          }
          expect(checkMetadata(state).problems).toEqual([]);
        }
        return moved;
    };
    // A fixed sequence that gives the cleaner work (six fresh blocks, five rewritten, one
    // held by a snapshot that then goes): the property is not about an idle cleaner, and
    // how much work its draws give is theirs, not a thing to assert.
    const sparse: Op[] = [
      { op: 'write', lba: 0, n: 6, hole: false },
      { op: 'snapshot' },
      { op: 'commit' },
      { op: 'write', lba: 0, n: 5, hole: false },
      { op: 'dropSnapshot' },
      { op: 'compact', liveBelow: 0.5, stepBlocks: 8 },
    ];
    expect(await run(sparse, 8 * BS)).toBe(1);
    // A pass a step at a time, with writes between its steps: extent A (blocks 0–5) left
    // one block live and B (8–13) two, so A is the sparser and goes first; before the
    // second step B's two live blocks are written over and its record goes, so the step
    // must find B gone, not move chunks that are no longer there.
    const between: Op[] = [
      { op: 'write', lba: 0, n: 6, hole: false },
      { op: 'commit' },
      { op: 'write', lba: 8, n: 6, hole: false },
      { op: 'snapshot' },
      { op: 'commit' },
      { op: 'write', lba: 0, n: 5, hole: false },
      { op: 'write', lba: 8, n: 4, hole: false },
      { op: 'dropSnapshot' },
      { op: 'compactStep', liveBelow: 0.5, stepBlocks: 1 },
      { op: 'write', lba: 12, n: 2, hole: false },
      { op: 'compactStep', liveBelow: 0.5, stepBlocks: 1 },
      { op: 'compactStep', liveBelow: 0.5, stepBlocks: 1 },
    ];
    expect(await run(between, 8 * BS)).toBe(1);
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 60 }), fc.constantFrom(3 * BS, 8 * BS, 1 << 20), async (ops, extentBytes) => void (await run(ops, extentBytes))),
      fcParams({ numRuns: 100 }),
    );
  }, 120_000);
});
