// Runs in real Chromium (vitest project `browser`). Property: whatever sequence of pool
// writes, archives, deletions, cleanings (both policies), tierings and reopens happens,
// every snapshot still in the archive restores into a new pool volume byte for byte.
// Fewer runs than the node property tests: each step here is real OPFS and IndexedDB I/O.
import { afterEach, expect, it } from 'vitest';
import fc from 'fast-check';
import { Pool } from '../../host/pool';
import { ArchiveService } from '../../host/archive/archive-service';
import { CleaningPolicy } from '../../host/archive/segment-usage';
import { fcParams } from '../helpers/seed.ts';
import { deleteDatabase } from '../helpers/idb';

const BS = 4096;
const BLOCKS = 24;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

type Op =
  | { op: 'write'; lbas: number[]; seed: number }
  | { op: 'archive' }
  | { op: 'delete'; pick: number }
  | { op: 'clean'; policy: CleaningPolicy; victims: number }
  | { op: 'tier' }
  | { op: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), lbas: fc.array(fc.nat(BLOCKS - 1), { minLength: 1, maxLength: 8 }), seed: fc.nat(5) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'archive' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat(9) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('clean' as const),
      policy: fc.constantFrom(CleaningPolicy.greedy, CleaningPolicy.costBenefit),
      victims: fc.integer({ min: 1, max: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'tier' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
);

/** Block content: few distinct values (seed), so snapshots share chunks and some are zero (holes). */
function block(lba: number, seed: number): Uint8Array {
  const b = new Uint8Array(BS);
  if (seed === 0) return b; // a hole
  b.fill(seed * 17 + (lba % 3));
  return b;
}

// Always run first, whatever the seed: two archives sharing blocks, the older deleted, then
// cleanings and a reopen, so the copy-forward path runs in every CI run. Whether a random
// draw copies records is not asserted (test/unit/archive-cleaning.test.ts pins that path).
const coverageExample: Op[] = [
  { op: 'write', lbas: [0, 1, 2, 3, 4, 5, 6, 7], seed: 1 },
  { op: 'archive' },
  { op: 'write', lbas: [0, 2, 4, 6], seed: 2 },
  { op: 'archive' },
  { op: 'delete', pick: 0 },
  { op: 'clean', policy: CleaningPolicy.greedy, victims: 8 },
  { op: 'reopen' },
  { op: 'clean', policy: CleaningPolicy.costBenefit, victims: 8 },
];

it('every archived snapshot restores byte for byte after many cleanings', async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 4, maxLength: 18 }), async (ops) => {
      runs++;
      const poolName = `archive-prop-${crypto.randomUUID()}`;
      const pool = await Pool.open(poolName, { durability: 'relaxed' });
      const name = `prop-${crypto.randomUUID()}`;
      const backend = runs % 2 ? ('opfs' as const) : ('indexeddb' as const);
      // Small segments (≈ 3 chunk records each) so cleaning has plenty of victims.
      const open = () => ArchiveService.open(pool, { name, backend, segmentBytes: 16 * 1024 });
      let svc = await open();
      try {
        await pool.createVolume('v', { sizeBytes: BLOCKS * BS, blockSize: BS });
        await pool.commit();
        const model = new Map<string, Uint8Array>(); // archived name → volume bytes
        let n = 0;
        let restored = 0;
        const checkAll = async () => {
          for (const [snap, bytes] of model) {
            const vol = `r${restored++}`;
            await svc.restore(snap, vol);
            const out = new Uint8Array(await (await pool.exportVolume(vol)).arrayBuffer());
            expect(out).toEqual(bytes);
            await pool.destroy(vol);
            await pool.commit();
          }
        };
        for (const o of ops) {
          if (o.op === 'write') {
            for (const lba of o.lbas) await pool.write('v', lba, block(lba, o.seed));
            await pool.commit();
          } else if (o.op === 'archive') {
            const snap = `v@${n++}`;
            await pool.snapshot('v', snap);
            await pool.commit();
            await svc.archive(snap);
            model.set(snap, new Uint8Array(await (await pool.exportVolume(snap)).arrayBuffer()));
            await pool.destroy(snap); // the archive is now the only copy
            await pool.commit();
          } else if (o.op === 'delete') {
            const names = [...model.keys()];
            const victim = names[o.pick % Math.max(1, names.length)];
            if (victim !== undefined) {
              await svc.delete(victim);
              model.delete(victim);
            }
          } else if (o.op === 'clean') {
            await svc.clean(o.policy, { maxVictims: o.victims });
          } else if (o.op === 'tier') {
            await svc.tier(0);
          } else {
            await svc.close();
            svc = await open();
          }
          expect(svc.list()).toEqual([...model.keys()].sort());
        }
        await checkAll();
        // Clean until nothing is gained: what remains is exactly the live data, still whole.
        await svc.clean(CleaningPolicy.greedy, { maxVictims: 1000, passes: 10 });
        await checkAll();
      } finally {
        await svc.close().catch(() => undefined);
        await ArchiveService.destroy(name, backend);
        pool.close();
        await deleteDatabase(poolName);
      }
    }),
    { ...fcParams({ numRuns: 12 }), examples: [[coverageExample]] },
  );
}, 300_000);
