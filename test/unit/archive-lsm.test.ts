// Runs in node (vitest project `unit`). The metadata tier against a Map model.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MetadataLsm } from '../../host/archive/lsm';
import { MemoryRunStore, SegmentRunStore } from '../../host/archive/run-store';
import { MemorySegmentStore } from '../../host/archive/memory-segment-store';
import { type ChunkLocation, Tier } from '../../host/archive/lsm-run';
import { type ChunkHash, chunkHash } from '../../host/archive/chunk-hash';
import { segmentId } from '../../host/archive/segment-store';
import { CorruptRunError } from '../../shared/errors/archive-errors';
import { fcParams } from '../helpers/seed.ts';

// A small key space so puts, deletes and re-puts of the same key collide often.
const KEYS = Array.from({ length: 24 }, (_, i) => chunkHash(((i * 0x9e3779b1) >>> 0).toString(16).padStart(64, i.toString(16))));
const key = fc.integer({ min: 0, max: KEYS.length - 1 }).map((i) => KEYS[i]!);
const loc = fc.record({
  tier: fc.constantFrom(Tier.warm, Tier.cold),
  segment: fc.integer({ min: 0, max: 1000 }).map(segmentId),
  offset: fc.nat({ max: 0xffff_ffff }),
  length: fc.nat({ max: 0xffff_ffff }),
}) as fc.Arbitrary<ChunkLocation>;

type Op =
  | { op: 'put'; k: ChunkHash; v: ChunkLocation }
  | { op: 'del'; k: ChunkHash }
  | { op: 'flush' }
  | { op: 'merge'; from: number; to: number }
  | { op: 'background-merge' }
  | { op: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('put' as const), k: key, v: loc }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('del' as const), k: key }) },
  { weight: 2, arbitrary: fc.constant({ op: 'flush' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('merge' as const), from: fc.nat(6), to: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'background-merge' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
);

function check(lsm: MetadataLsm, model: Map<ChunkHash, ChunkLocation>): void {
  for (const k of KEYS) expect(lsm.get(k)).toEqual(model.get(k));
  const sorted = (m: Map<ChunkHash, ChunkLocation>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  expect(sorted(lsm.live())).toEqual(sorted(model));
}

describe('MetadataLsm', () => {
  for (const [name, makeStore] of [
    ['memory run store', () => new MemoryRunStore()],
    ['segment-store-backed run store', () => new SegmentRunStore(new MemorySegmentStore())],
  ] as const) {
    it(`matches a Map model over random put/delete/flush/merge/reopen (${name})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 120 }), async (ops) => {
          const store = makeStore();
          let lsm = await MetadataLsm.open(store, { mergeFanIn: 3 });
          const model = new Map<ChunkHash, ChunkLocation>();
          for (const o of ops) {
            switch (o.op) {
              case 'put':
                lsm.put(o.k, o.v);
                model.set(o.k, o.v);
                break;
              case 'del':
                lsm.delete(o.k);
                model.delete(o.k);
                break;
              case 'flush':
                await lsm.flush(); // may start a background merge; lookups must not notice
                break;
              case 'merge':
                await lsm.merge({ from: Math.min(o.from, o.to), to: Math.max(o.from, o.to) });
                break;
              case 'background-merge':
                void lsm.merge(); // not awaited: reads below run while it is in flight
                break;
              case 'reopen':
                // The memtable is not logged; a reopen after a flush must lose nothing.
                await lsm.flush();
                await lsm.idle();
                lsm = await MetadataLsm.open(store, { mergeFanIn: 3 });
                break;
            }
            check(lsm, model);
          }
          await lsm.idle();
          check(lsm, model);
          await lsm.merge();
          check(lsm, model);
        }),
        fcParams({ numRuns: 150 }),
      );
    });
  }

  it('drops tombstones only when a merge reaches the oldest run', async () => {
    const lsm = await MetadataLsm.open(new MemoryRunStore(), { mergeFanIn: 100 });
    const at = { tier: Tier.warm, segment: segmentId(1), offset: 0, length: 10 };
    lsm.put(KEYS[0]!, at);
    lsm.put(KEYS[1]!, at);
    await lsm.flush();
    lsm.delete(KEYS[0]!);
    await lsm.flush();
    lsm.put(KEYS[2]!, at);
    await lsm.flush();
    await lsm.merge({ from: 1, to: 3 }); // keeps the tombstone: run 0 still holds KEYS[0]
    expect(lsm.get(KEYS[0]!)).toBeUndefined();
    expect(lsm.stats()).toMatchObject({ runs: 2, runEntries: 4 });
    await lsm.merge();
    expect(lsm.stats()).toMatchObject({ runs: 1, runEntries: 2 });
    expect(lsm.get(KEYS[0]!)).toBeUndefined();
  });

  it('rejects a damaged run on open', async () => {
    const store = new MemoryRunStore();
    const lsm = await MetadataLsm.open(store);
    lsm.put(KEYS[0]!, { tier: Tier.warm, segment: segmentId(1), offset: 0, length: 10 });
    await lsm.flush();
    const [id] = await store.listRuns();
    const bytes = await store.getRun(id!);
    bytes[bytes.length - 1]! ^= 0xff;
    await store.putRun(id!, bytes);
    await expect(MetadataLsm.open(store)).rejects.toBeInstanceOf(CorruptRunError);
  });

  it('removes runs left behind by a crash before the manifest swap', async () => {
    const store = new MemoryRunStore();
    const lsm = await MetadataLsm.open(store);
    lsm.put(KEYS[1]!, { tier: Tier.warm, segment: segmentId(2), offset: 5, length: 10 });
    await lsm.flush();
    await store.putRun(99, new Uint8Array(3)); // an orphan
    const reopened = await MetadataLsm.open(store);
    expect(await store.listRuns()).not.toContain(99);
    expect(reopened.get(KEYS[1]!)?.offset).toBe(5);
  });
});
