// @ts-check
// Runs in Node. The ring round trip without a browser: bundles scripts/ring-node-probe.ts
// (the real dom0 ring stack and guest device in worker_threads, on an in-memory store) with
// Vite's SSR build and runs it RUNS times (default 3), printing each run and the medians.
//   node scripts/ring-node-probe.mjs
//   RUNS=5 node scripts/ring-node-probe.mjs
// What it found is in docs/design.md ("Where a ring read's time goes").
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'vite';
import { median } from '../bench/aggregate.mjs';
import { projectRoot } from './quiet-server.mjs';

// Inside the project, so the bundle's bare imports (idb, comlink) resolve from node_modules.
const outDir = join(projectRoot, 'node_modules', '.cache', 'ring-node-probe');
await build({
  configFile: false,
  root: projectRoot,
  publicDir: false,
  logLevel: 'warn',
  build: { ssr: 'scripts/ring-node-probe.ts', outDir, emptyOutDir: true, minify: false, rollupOptions: { output: { entryFileNames: 'ring-node-probe.mjs' } } },
});
const runs = Number(process.env.RUNS ?? 3);
/** @type {Record<string, number>[]} */
const results = [];
for (let i = 0; i < runs; i++) {
  const line = execFileSync(process.execPath, [join(outDir, 'ring-node-probe.mjs')], { encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop() ?? '{}';
  console.log(`run ${i + 1}: ${line}`);
  results.push(JSON.parse(line));
}
const keys = Object.keys(results[0] ?? {});
console.log(`median of ${runs}: ${JSON.stringify(Object.fromEntries(keys.map((k) => [k, median(results.map((r) => r[k] ?? NaN))])))}`);
