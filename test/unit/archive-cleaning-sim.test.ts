// Runs in node (vitest project `unit`). Invariants of the cleaning simulator — never its
// figures, which are reported by bench/suites/cleaning.ts and docs/archive.md.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CleaningSim, QUICK_SIM, minCleanStartFree, simulateCleaning } from '../../bench/cleaning/cleaning-sim';
import { CleaningPolicy, victimScore } from '../../host/archive/segment-usage';
import { run } from '../../bench/suites/cleaning';
import { fcParams } from '../helpers/seed.ts';

const small = { ...QUICK_SIM, segments: 64, blocksPerSegment: 8, cleanStartFree: 3, cleanStopFree: 6, warmup: 3, measure: 3 };

describe('cleaning simulator', () => {
  it('conserves live blocks and counts through random traces and both policies', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(CleaningPolicy.greedy, CleaningPolicy.costBenefit),
        fc.constantFrom(0.3, 0.5, 0.75, 0.8),
        fc.integer({ min: 1, max: 1e6 }),
        fc.boolean(),
        fc.record({
          userHeads: fc.constantFrom('single' as const, 'lifetime' as const),
          cleanerHeads: fc.constantFrom('single' as const, 'age' as const),
          readWholeSegments: fc.boolean(),
          separationAge: fc.constantFrom(0.25, 1, 4),
        }),
        (policy, utilisation, seed, ageSort, heads) => {
          const start = minCleanStartFree(heads);
          const sim = new CleaningSim({ ...small, ...heads, cleanStartFree: start, cleanStopFree: start + 3, policy, utilisation, seed, ageSort });
          sim.checkInvariants();
          for (let i = 0; i < 3000; i++) {
            sim.write(sim.nextBlock());
            if (i % 97 === 0) sim.checkInvariants();
          }
          sim.checkInvariants();
          const r = sim.result();
          expect(r.writeCost).toBeGreaterThanOrEqual(1);
          expect(r.cleanWrittenBlocks).toBeLessThanOrEqual(r.cleanReadBlocks);
          expect(r.cleanedByUtilisation.reduce((a, b) => a + b, 0)).toBe(r.segmentsCleaned);
        },
      ),
      fcParams({ numRuns: 40 }),
    );
  });

  it('is deterministic for a seed', () => {
    const cfg = { ...small, policy: CleaningPolicy.costBenefit, utilisation: 0.75 };
    expect(simulateCleaning(cfg)).toEqual(simulateCleaning(cfg));
  });

  it('refuses a configuration that cannot make progress', () => {
    expect(() => new CleaningSim({ ...small, policy: CleaningPolicy.greedy, utilisation: 0.99 })).toThrow(RangeError);
    // Four write heads and cleaning started at 3 free segments could fill the disk (it did,
    // about 1 run in 30): refused up front.
    expect(() => new CleaningSim({ ...small, userHeads: 'lifetime', cleanerHeads: 'age', cleanStartFree: 3, policy: CleaningPolicy.costBenefit, utilisation: 0.8 })).toThrow(/cleanStartFree must be at least 5/);
  });

  it('scores segments as the policies define', () => {
    expect(victimScore(CleaningPolicy.greedy, 0.2, 1)).toBeGreaterThan(victimScore(CleaningPolicy.greedy, 0.3, 1e9));
    // Cost-benefit prefers an old, fuller segment to a young, emptier one.
    expect(victimScore(CleaningPolicy.costBenefit, 0.6, 1000)).toBeGreaterThan(victimScore(CleaningPolicy.costBenefit, 0.3, 100));
    expect(victimScore(CleaningPolicy.costBenefit, 1, 1e9)).toBe(0);
  });

  it('the benchmark suite reports all six figures as ratios ≥ 1', async () => {
    const out = await run({ quick: true });
    expect(Object.keys(out).sort()).toEqual(
      ['50', '75', '90'].flatMap((u) => [`clean_write_cost_${u}_costbenefit`, `clean_write_cost_${u}_greedy`]).sort(),
    );
    for (const v of Object.values(out)) {
      expect(v.unit).toBe('ratio');
      expect(v.value).toBeGreaterThanOrEqual(1);
    }
  }, 120_000);
});
