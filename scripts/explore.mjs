#!/usr/bin/env node
// Runs in Node. `npm run test:explore`: the unit and browser projects on a fresh seed, so
// property tests explore new cases; CI (`npm test`) always uses the fixed seed from
// scripts/seed.mjs. The seed is printed first and last: replay a failure with
// `TABVISOR_SEED=<seed> npx vitest run <file>` (add TABVISOR_SEED_PATH=<path> from the
// failure message to replay just the shrunk case).
import { spawnSync } from 'node:child_process';

const given = process.env.TABVISOR_SEED;
const seed = given && given !== 'random' ? Number(given) : Date.now() % 2_147_483_647;
console.log(`test:explore: TABVISOR_SEED=${seed}`);
const env = { ...process.env, TABVISOR_SEED: String(seed) };
/** @param {string} cmd @param {string[]} args */
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env }).status ?? 1;
let status = run('npx', ['vitest', 'run', '--project', 'unit']);
if (status === 0) status = run('node', ['scripts/chromium.mjs', '--check']);
if (status === 0) status = run('npx', ['vitest', 'run', '--project', 'browser']);
console.log(`test:explore: ${status === 0 ? 'passed' : 'FAILED'} with TABVISOR_SEED=${seed}`);
process.exit(status);
