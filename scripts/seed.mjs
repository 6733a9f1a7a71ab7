// @ts-check
// Runs anywhere: Node scripts, configs, the bench page, tests. Seeded randomness, so a
// randomised test or a simulation repeats run for run: the run's seed, taken from
// TABVISOR_SEED (unset → a fixed number, what CI runs; an integer replays a run; `random`
// draws a fresh one, pins it in the environment and prints it), and mulberry32 to draw from.

/** The seed CI runs on. */
export const DEFAULT_SEED = 1_329_113;

/**
 * This run's seed from TABVISOR_SEED (see above).
 * @param {Record<string, string | undefined>} [env]
 * @returns {number}
 */
export function seedFromEnv(env = process.env) {
  const raw = env.TABVISOR_SEED;
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  if (raw === 'random') {
    // Pinned in the environment so every later reader in the run agrees.
    env.TABVISOR_SEED = String(Date.now() % 2_147_483_647);
    console.log(`randomised tests: TABVISOR_SEED=${env.TABVISOR_SEED}`);
    return Number(env.TABVISOR_SEED);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new TypeError(`TABVISOR_SEED must be an integer, got ${JSON.stringify(raw)} (npm run test:explore draws a fresh one)`);
  return n | 0;
}

/**
 * mulberry32: small, fast, and good enough for test schedules and simulations (not an
 * LCG, whose low bits modulo a power of two walk every value in a fixed order).
 * @param {number} seed
 * @returns {() => number} uniform in [0, 1)
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
