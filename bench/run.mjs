// @ts-check
// Runs in Node: `npm run bench [-- --quick [--disk]] [-- --runs 3] [-- --only reads,memory,scaling:guests+ws] [-- --out file.json] [-- --dev] [-- --one-core]`.
// Builds the benchmark as users get the product (bench/vite.config.ts: minified, no inline
// source maps) and serves the build with Vite's preview server, cross-origin isolated;
// `--dev` serves the sources with the dev server instead (no build; per-guest memory is
// then inflated by the dev server's source maps). Opens bench/index.html in the same
// Chromium the tests use, once per run (each run in a fresh browser on a fresh profile on
// disk: a Playwright context without a profile is off the record, and Chromium keeps an
// off-the-record profile's IndexedDB in memory, which is not what a user's pool runs on;
// measured 2026-11-29: 32 MiB put there left the profile directory at 1.2 MiB, the same
// put in a profile on disk grew it by 54 MiB). `--quick`, the smoke test, stays off the
// record unless `--disk` is given: on disk it took 2.1 minutes instead of under one.
// `--one-core` (Linux, needs taskset) runs the browser on CPU 0 alone: every thread of the
// page, dom0 and the guests shares one core, the case the guest's SpinGauge is for
// (shared/spin-gauge.ts); a run on a busy machine can land there by chance.
// Then it waits for every suite,
// then writes the JSON (per metric: median, min, max, spread and every run's value; per
// target: the median of its per-run ratios and whether it is met), a Markdown table beside
// it, prints the table and renders the chart page to a PNG.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions, oneCoreLaunchOptions } from '../scripts/chromium.mjs';
import { aggregate } from './aggregate.mjs';
import { startBuiltPreview, startQuietServer } from '../scripts/quiet-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onDisk = !quick || args.includes('--disk');
const argValue = (/** @type {string} */ name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = argValue('--only');
const runs = Number(argValue('--runs') ?? 1);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a positive integer, got ${argValue('--runs')}`);
  process.exit(2);
}
const out = resolve(root, argValue('--out') ?? 'bench/results/latest.json');
const png = out.replace(/\.json$/, '.png');
const md = out.replace(/\.json$/, '.md');
const timeoutMs = (quick ? 4 : 20) * 60_000;

/** @typedef {{ metrics: Record<string, { value: number, unit: string }>, errors: { suite: string, error: string }[], seconds: Record<string, number>, log: string[], done: boolean }} PageState */

const dev = args.includes('--dev');
const oneCore = args.includes('--one-core');

// With --one-core, the wrapper that confines Chromium to CPU 0: made once, removed at the end.
const oneCoreBrowser = oneCore ? oneCoreLaunchOptions(() => chromium.executablePath()) : null;
/** Chromium's launch options, confined to CPU 0 with --one-core. */
const launchOptions = () => oneCoreBrowser?.options ?? chromiumLaunchOptions();
const server = dev ? await startQuietServer() : await startBuiltPreview('bench/vite.config.ts');
const base = server.base;
let browserVersion = '';
/** @type {import('playwright-core').Browser | null} */
let browser = null;
let exitCode = 0;
// Each run's profile stays on disk until the last run is done: removing one (tens of
// thousands of files, IndexedDB keeps a value over 64 KiB as a file of its own) made file
// creation in the next run's IndexedDB slower for minutes (ext4 skips recently deleted
// inodes when it allocates one: docs/pool.md, "Import, paired in mirrored rounds").
/** @type {string[]} */
const profiles = [];
/** @type {number[]} */
const profileBytes = [];
try {
  /** @type {PageState[]} */
  const results = [];
  const loadBefore = os.loadavg();
  let userAgent = '';
  let hardwareConcurrency = 0;
  const tStart = Date.now();
  for (let r = 1; r <= runs; r++) {
    if (runs > 1) console.log(`== run ${r} of ${runs}`);
    const profile = onDisk ? mkdtempSync(join(os.tmpdir(), 'tabvisor-bench-')) : null;
    const offRecord = profile ? null : await chromium.launch(launchOptions());
    const ctx = profile ? await chromium.launchPersistentContext(profile, launchOptions()) : await /** @type {import('playwright-core').Browser} */ (offRecord).newContext();
    browserVersion = ctx.browser()?.version() ?? browserVersion;
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => { if (m.type() === 'error') console.error(`[page] ${m.text()}`); });
    try {
      const query = new URLSearchParams();
      if (quick) query.set('quick', '1');
      if (only) query.set('only', only);
      const t0 = Date.now();
      await page.goto(new URL(`bench/index.html?${query}`, base).href);
      let printed = 0;
      for (;;) {
        /** @type {PageState | undefined} */
        const s = await page.evaluate(() => /** @type {any} */ (window).__tabvisorBench);
        if (s) {
          for (const line of s.log.slice(printed)) console.log(`  ${line}`);
          printed = s.log.length;
          if (s.done) break;
        }
        if (Date.now() - t0 > timeoutMs) throw new Error(`benchmark run ${r} did not finish within ${timeoutMs / 60_000} minutes`);
        await new Promise((res) => setTimeout(res, 500));
      }
      /** @type {PageState} */
      const result = await page.evaluate(() => /** @type {any} */ (window).__tabvisorBench);
      userAgent = await page.evaluate(() => navigator.userAgent);
      hardwareConcurrency = await page.evaluate(() => navigator.hardwareConcurrency);
      results.push(result);
      console.log(`  run ${r}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      await ctx.close();
      await offRecord?.close();
      if (profile) {
        profiles.push(profile);
        profileBytes.push(dirBytes(profile));
      }
    }
  }
  const env = {
    browser: browserVersion,
    // Where IndexedDB lived (see the header).
    storage: onDisk ? 'profile on disk' : 'off the record (in memory)',
    // What the page ran (see the header).
    served: dev ? 'dev server (sources)' : 'build (bench/vite.config.ts), preview server',
    userAgent,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    hardwareConcurrency,
    memoryBytes: os.totalmem(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    quick,
    runs,
    // The browser confined to CPU 0 (--one-core).
    oneCore,
    // Load average over 1, 5, 15 minutes before the first run and after the last: a
    // number measured with other work on the machine says so here.
    loadavgBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
    loadavgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
    totalSeconds: Math.round((Date.now() - tStart) / 1000),
    // Bytes each run left in its profile (what a run needs on disk; removed at the end).
    profileBytes,
    seconds: results.map((x) => x.seconds),
  };
  const { metrics, targets, series } = aggregate(results.map((x) => x.metrics));
  const errors = results.flatMap((x, i) => x.errors.map((e) => ({ run: i + 1, ...e })));
  const json = { env, metrics, targets, series, errors };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(md, markdown(json));

  console.log(`\n${'metric'.padEnd(40)} ${'median'.padStart(12)} ${'min'.padStart(12)} ${'max'.padStart(12)} ${'spread'.padStart(7)}  unit`);
  for (const [k, v] of Object.entries(metrics)) {
    console.log(`${k.padEnd(40)} ${fmt(v.value).padStart(12)} ${fmt(v.min).padStart(12)} ${fmt(v.max).padStart(12)} ${pct(v.spread).padStart(7)}  ${v.unit}`);
  }
  console.log(`\n${'target'.padEnd(44)} ${'ratio'.padStart(12)} ${'range'.padStart(20)}  goal`);
  for (const t of targets) {
    const mark = t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED';
    const range = t.min === null ? '-' : `${fmtVs(t.min, t.goal)}–${fmtVs(/** @type {number} */ (t.max), t.goal)}`;
    console.log(`${t.name.padEnd(44)} ${t.value === null ? '-'.padStart(12) : fmtVs(t.value, t.goal).padStart(12)} ${range.padStart(20)}  ${t.op} ${fmt(t.goal)}  ${mark}${runs > 1 && t.value !== null ? ` (${t.metInRuns}/${t.runs.length} runs)` : ''}`);
  }
  console.log(`\nload average before ${env.loadavgBefore.join(' ')}, after ${env.loadavgAfter.join(' ')}; ${env.totalSeconds} s`);
  for (const e of errors) console.error(`run ${e.run}: suite ${e.suite} failed: ${e.error}`);

  browser = await chromium.launch(chromiumLaunchOptions());
  const chart = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await chart.goto(new URL('bench/chart.html', base).href);
  await chart.evaluate((data) => /** @type {any} */ (window).renderBench(data), json);
  await chart.screenshot({ path: png, fullPage: true });
  console.log(`\nwrote ${out}\nwrote ${md}\nwrote ${png}`);
  if (errors.length > 0) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await browser?.close();
  await server.close();
  oneCoreBrowser?.dispose();
  for (const p of profiles) rmSync(p, { recursive: true, force: true });
}
process.exit(exitCode);

/** Bytes of the files under `dir`. @param {string} dir */
function dirBytes(dir) {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) n += statSync(join(f.parentPath ?? f.path, f.name)).size;
  }
  return n;
}

/** @param {number} n */
function fmt(n) {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1e6) return n.toExponential(3);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  return n.toPrecision(3);
}

/**
 * A target's ratio, with as many more digits as it takes not to print a miss as the goal
 * itself (0.9497 against ≥ 0.95 printed "0.950 … MISSED").
 * @param {number} n @param {number} goal
 */
function fmtVs(n, goal) {
  if (!Number.isFinite(n) || n === goal || fmt(n) !== fmt(goal)) return fmt(n);
  const at = (/** @type {number} */ x, /** @type {number} */ d) => (Math.abs(x) >= 1e6 ? x.toExponential(d - 1) : x.toPrecision(d));
  for (let d = 4; d <= 9; d++) if (at(n, d) !== at(goal, d)) return at(n, d);
  return String(n);
}

/** @param {number} x */
function pct(x) {
  return `${(x * 100).toFixed(0)}%`;
}

/**
 * The README's table, generated: targets (median of per-run ratios, range, met or MISSED)
 * and every metric (median, range, spread), with the machine and its load.
 * @param {{ env: any, metrics: Record<string, any>, targets: any[] }} j
 */
function markdown(j) {
  const e = j.env;
  const lines = [
    `Machine: ${e.cpu}, ${e.cores} cores, ${(e.memoryBytes / 2 ** 30).toFixed(0)} GiB, ${e.platform}; headless Chromium ${e.browser}, IndexedDB: ${e.storage}; served from the ${e.served ?? 'dev server (sources)'}; ` +
      `${e.runs} run(s)${e.quick ? ', quick' : ''}, ${e.date}; load average before ${e.loadavgBefore.join(' ')}, after ${e.loadavgAfter.join(' ')}.`,
    '',
    '| target | median ratio | range over runs | goal | |',
    '|---|---:|---:|---:|---|',
    ...j.targets.map((t) => `| ${t.name} | ${t.value === null ? '–' : fmtVs(t.value, t.goal)} | ${t.min === null ? '–' : `${fmtVs(t.min, t.goal)}–${fmtVs(t.max, t.goal)}`} | ${t.op} ${fmt(t.goal)} | ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'} |`),
    '',
    '| metric | median | min | max | spread | unit |',
    '|---|---:|---:|---:|---:|---|',
    ...Object.entries(j.metrics).map(([k, v]) => `| \`${k}\` | ${fmt(v.value)} | ${fmt(v.min)} | ${fmt(v.max)} | ${pct(v.spread)} | ${v.unit} |`),
    '',
  ];
  return lines.join('\n');
}
