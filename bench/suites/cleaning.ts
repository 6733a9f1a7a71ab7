// Runs in a browser page (loaded by the benchmark runner) or node; no node APIs.
// Segment-cleaning write cost from the LFS-style simulator (bench/cleaning/cleaning-sim.ts):
// a 90/10 hot/cold overwrite trace on 512 KiB segments of 64 KiB blocks, at 50/75/90 %
// disk utilisation, for the cost-benefit (with age sorting) and greedy policies, both
// with the archive's write path (DEFAULT_SIM: two user write heads split by a block's
// previous lifetime, victims read through their summary, live records only).
// Deterministic (seeded), so the figures change only when the code does. Quick mode
// (QUICK_SIM, a 1,024-segment disk) takes about a second and lands within ~0.15 of the full run.

import { DEFAULT_SIM, QUICK_SIM, writeCostTable } from '../cleaning/cleaning-sim';
import { CleaningPolicy } from '../../host/archive/segment-usage';

export async function run(opts: { quick: boolean }): Promise<Record<string, { value: number; unit: string }>> {
  const out: Record<string, { value: number; unit: string }> = {};
  for (const { utilisation, policy, result } of writeCostTable(opts.quick ? QUICK_SIM : DEFAULT_SIM)) {
    const name = policy === CleaningPolicy.costBenefit ? 'costbenefit' : 'greedy';
    out[`clean_write_cost_${Math.round(utilisation * 100)}_${name}`] = {
      value: Math.round(result.writeCost * 1000) / 1000,
      unit: 'ratio',
    };
    // Yield between runs so a page stays responsive (each run is a few hundred ms).
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return out;
}
