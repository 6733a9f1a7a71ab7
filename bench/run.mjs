// @ts-check
// Runs in Node: `npm run bench [-- --quick] [-- --only reads,memory] [-- --out file.json]`.
// Serves the project with Vite (cross-origin isolated), opens bench/index.html in the same
// Chromium the tests use, waits for every suite, then writes the JSON, prints a table with
// the targets, and renders the chart page to a PNG.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../scripts/chromium.mjs';
import { TARGETS, evaluate } from './targets.mjs';
import { startQuietServer } from '../scripts/quiet-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argValue = (/** @type {string} */ name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = argValue('--only');
const out = resolve(root, argValue('--out') ?? 'bench/results/latest.json');
const png = out.replace(/\.json$/, '.png');
const timeoutMs = (quick ? 4 : 20) * 60_000;

const server = await startQuietServer();
const base = server.base;
const browser = await chromium.launch(chromiumLaunchOptions());
let exitCode = 0;
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[page] ${m.text()}`); });
  const query = new URLSearchParams();
  if (quick) query.set('quick', '1');
  if (only) query.set('only', only);
  const t0 = Date.now();
  await page.goto(new URL(`bench/index.html?${query}`, base).href);
  let printed = 0;
  for (;;) {
    /** @type {{ done: boolean, log: string[] } | undefined} */
    const s = await page.evaluate(() => /** @type {any} */ (window).__tabvisorBench);
    if (s) {
      for (const line of s.log.slice(printed)) console.log(`  ${line}`);
      printed = s.log.length;
      if (s.done) break;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`benchmark did not finish within ${timeoutMs / 60_000} minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
  /** @type {{ metrics: Record<string, { value: number, unit: string }>, errors: { suite: string, error: string }[], seconds: Record<string, number> }} */
  const result = await page.evaluate(() => /** @type {any} */ (window).__tabvisorBench);
  const env = {
    browser: browser.version(),
    userAgent: await page.evaluate(() => navigator.userAgent),
    cores: os.cpus().length,
    hardwareConcurrency: await page.evaluate(() => navigator.hardwareConcurrency),
    memoryBytes: os.totalmem(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    quick,
    seconds: result.seconds,
  };
  const flat = Object.fromEntries(Object.entries(result.metrics).map(([k, v]) => [k, v.value]));
  const targets = TARGETS.map((t) => ({ name: t.name, op: t.op, goal: t.goal, ...evaluate(t, flat) }));
  const json = { env, metrics: result.metrics, targets, errors: result.errors };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);

  console.log(`\n${'metric'.padEnd(34)} ${'value'.padStart(14)}  unit`);
  for (const [k, v] of Object.entries(result.metrics)) {
    console.log(`${k.padEnd(34)} ${formatNumber(v.value).padStart(14)}  ${v.unit}`);
  }
  console.log(`\n${'target'.padEnd(44)} ${'ratio'.padStart(12)}  goal`);
  for (const t of targets) {
    const mark = t.met === null ? 'n/a ' : t.met ? 'met ' : 'MISS';
    console.log(`${t.name.padEnd(44)} ${t.value === null ? '-'.padStart(12) : formatNumber(t.value).padStart(12)}  ${t.op} ${formatNumber(t.goal)}  ${mark}`);
  }
  for (const e of result.errors) console.error(`suite ${e.suite} failed: ${e.error}`);

  const chart = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await chart.goto(new URL('bench/chart.html', base).href);
  await chart.evaluate((data) => /** @type {any} */ (window).renderBench(data), json);
  await chart.screenshot({ path: png, fullPage: true });
  console.log(`\nwrote ${out}\nwrote ${png}`);
  if (result.errors.length > 0) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await browser.close();
  await server.close();
}
process.exit(exitCode);

/** @param {number} n */
function formatNumber(n) {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1e6) return n.toExponential(3);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  return n.toPrecision(3);
}
