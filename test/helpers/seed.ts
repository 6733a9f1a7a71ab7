// Runs in the test runner's thread: Node for the unit project, the page for the browser
// project. Every fast-check property takes its parameters from here so a CI run is
// repeatable: one seed for the whole run, chosen by vite.config.ts from TABVISOR_SEED
// (unset → a fixed number; `npm run test:explore` passes a fresh one and prints it).
// fast-check's failure message carries `{ seed, path }`; to replay one failing property
// run `TABVISOR_SEED=<seed> TABVISOR_SEED_PATH=<path> npx vitest run <that file>`.
import { mulberry32 } from '../../scripts/seed.mjs';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    propertySeed: number;
    propertyPath: string;
  }
}

/** The seed of this run (same value in every file and project of one run). */
export function propertySeed(): number {
  return inject('propertySeed');
}

export interface PropertyParams {
  seed: number;
  numRuns: number;
  path?: string;
}

/** fast-check parameters: this run's seed, the given number of runs, a replay path if set. */
export function fcParams(opts: { numRuns: number }): PropertyParams {
  const path = inject('propertyPath');
  return { seed: propertySeed(), numRuns: opts.numRuns, ...(path ? { path } : {}) };
}

/** A small deterministic PRNG (mulberry32, scripts/seed.mjs) for tests that draw without fast-check. */
export function seededRandom(seed: number = propertySeed()): () => number {
  return mulberry32(seed);
}
