// @ts-check
// Runs in Node: `npm run bench:sqlite [-- --layers tabvisor,wa-opfs-coop] [--tenants 1,8] [--timeout-s 240] [--append] [--dev]`.
// SQLite tenants on Tabvisor (copy-on-write clones of one database) against SQLite as its
// users run it in the browser, one copy of the database per tenant: wa-sqlite's
// OPFSCoopSyncVFS and IDBBatchAtomicVFS, absurd-sql, and the official build's "opfs" and
// "opfs-sahpool" VFSes; and the browser alone (layer `browser`: the page with no layer and
// no tenant, what every layer's memory includes before it starts). The sample database
// (scripts/sqlite-sample.mjs, scale 5), the same queries and cache_size for all. Each
// (layer, tenants) runs in a fresh browser on a fresh profile; a run that fails is
// reported with its error. Memory is measured as the
// operating system sees it: PSS of every process of that browser (/proc/<pid>/smaps_rollup)
// plus the page cache its profile's files hold (fincore). Storage is what the profile's
// IndexedDB and OPFS directories hold on disk. Writes bench/results/sqlite.json and
// sqlite.md (bench/sqlite/report.mjs makes the tables and the targets). Every layer runs
// built and minified (bench/sqlite/vite.config.ts), as its users ship it, from Vite's
// preview server; `--dev` runs the sources under the dev server instead.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../scripts/chromium.mjs';
import { startBuiltPreview, startQuietServer } from '../scripts/quiet-server.mjs';
import { BASELINE, markdown, median } from './sqlite/report.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const argValue = (/** @type {string} */ name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const tenantCounts = (argValue('--tenants') ?? '1,8').split(',').map(Number);
const ALL_LAYERS = [BASELINE, 'tabvisor', 'wa-opfs-coop', 'wa-idb-batch', 'absurd-sql', 'official-opfs', 'official-sahpool'];
const layers = (argValue('--layers') ?? ALL_LAYERS.join(',')).split(',');
for (const l of layers) if (!ALL_LAYERS.includes(l)) throw new Error(`unknown layer ${l}; known: ${ALL_LAYERS.join(', ')}`);
const out = resolve(root, argValue('--out') ?? 'bench/results/sqlite.json');
/** --append: keep the rows already in `out` for the (layer, tenants) this invocation does not run. */
const append = args.includes('--append');
/** One (layer, tenants) run is given up after this long and reported as failed. */
const runTimeoutMs = Number(argValue('--timeout-s') ?? 240) * 1000;
const dev = args.includes('--dev');

/** @param {number} pid @returns {number[]} pid and every descendant */
function tree(pid) {
  /** @type {Map<number, number[]>} */
  const kids = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(kids.get(all[i] ?? -1) ?? []));
  return all;
}

/** @param {number[]} pids @returns {number} bytes */
function pss(pids) {
  let kib = 0;
  for (const p of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // gone meanwhile
    }
  }
  return kib * 1024;
}

/** @param {string} dir @returns {string[]} */
function filesUnder(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    try {
      const s = statSync(p);
      return s.isDirectory() ? filesUnder(p) : s.isFile() && s.size > 0 ? [p] : [];
    } catch {
      return [];
    }
  });
}

/** Page cache held by the profile's files (the OPFS and IndexedDB files live there). @param {string} dir */
function pageCache(dir) {
  let bytes = 0;
  const files = filesUnder(dir);
  for (let i = 0; i < files.length; i += 200) {
    try {
      const txt = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files.slice(i, i + 200)], { encoding: 'utf8' });
      for (const line of txt.split('\n')) if (line.trim()) bytes += Number(line.trim());
    } catch {
      // fincore missing or a file vanished: count what we could
    }
  }
  return bytes;
}

/** Bytes on disk (allocated blocks) of the profile's IndexedDB and OPFS ("File System") files. @param {string} dir */
function storageBytes(dir) {
  let bytes = 0;
  for (const f of filesUnder(dir)) {
    if (!/[/\\](IndexedDB|File System)[/\\]/.test(f)) continue;
    try {
      bytes += statSync(f).blocks * 512;
    } catch {
      // gone meanwhile
    }
  }
  return bytes;
}

const server = dev ? await startDevServer() : await startBuiltPreview('bench/sqlite/vite.config.ts');
const served = dev ? 'dev server (sources)' : 'build (bench/sqlite/vite.config.ts), preview server';
function startDevServer() {
  return startQuietServer({
  // The comparison's own packages, pre-bundled up front so Vite never reloads the page
  // mid-run; the official build is served as is (it finds its WASM and its OPFS proxy
  // worker beside itself through import.meta.url).
  optimizeDeps: {
    include: ['@jlongster/sql.js', 'absurd-sql', 'absurd-sql/dist/indexeddb-backend', 'absurd-sql/dist/indexeddb-main-thread'],
    exclude: ['@sqlite.org/sqlite-wasm'],
  },
  });
}
/** Tenant counts a layer runs with: the browser baseline (no layer at all) runs once, with none. @param {string} layer */
function countsFor(layer) {
  return layer === BASELINE ? [0] : tenantCounts;
}
/** @type {import('./sqlite/report.mjs').SqliteBenchRow[]} */
const results = [];
const runStarted = new Date().toISOString();
/** @type {import('./sqlite/report.mjs').SqliteBenchRow[]} */
const kept = [];
if (append) {
  try {
    /** @type {{ results: import('./sqlite/report.mjs').SqliteBenchRow[] }} */
    const before = JSON.parse(readFileSync(out, 'utf8'));
    kept.push(...before.results.filter((r) => !(layers.includes(r.layer) && countsFor(r.layer).includes(r.tenants))));
  } catch {
    // nothing to append to
  }
}

/** The JSON and the Markdown beside it, rewritten after every (layer, tenants): a run cut short keeps what it measured. */
function writeResults() {
  mkdirSync(dirname(out), { recursive: true });
  const all = [...kept, ...results].sort((a, b) => ALL_LAYERS.indexOf(a.layer) - ALL_LAYERS.indexOf(b.layer) || a.tenants - b.tenants);
  const loads = all.map((r) => r.loadavg1 ?? 0);
  const run = {
    date: runStarted,
    cpus: os.cpus().length,
    loadavg1: Math.max(os.loadavg()[0] ?? 0, ...loads),
    chromium: chromiumLaunchOptions().executablePath ?? 'Playwright',
    served,
    results: all,
  };
  writeFileSync(out, JSON.stringify(run, null, 2) + '\n');
  writeFileSync(out.replace(/\.json$/, '') + '.md', markdown(run));
  return run;
}
try {
  for (const layer of layers) {
    for (const tenants of countsFor(layer)) {
      const profile = mkdtempSync(join(tmpdir(), 'sqlite-bench-'));
      const ctx = await chromium.launchPersistentContext(profile, chromiumLaunchOptions());
      const started = Date.now();
      /** @type {string[]} */
      const complaints = [];
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        page.on('pageerror', (e) => complaints.push(`page error: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error') complaints.push(`console: ${m.text()}`);
        });
        await page.goto(new URL(`bench/sqlite/sqlite-bench.html?layer=${layer}&tenants=${tenants}`, server.base).href);
        // Poll rather than wait blindly: a slow layer prints where it is every 30 s, and one
        // that is given up on is reported with the step it was in.
        for (let said = Date.now(); ; ) {
          const state = await page.evaluate(() => ({ done: !!window.__sqliteBench?.done, phase: window.__sqliteBench?.phase }));
          if (state.done) break;
          if (Date.now() - started > runTimeoutMs) throw new Error(`gave up after ${runTimeoutMs / 1000} s, at ${state.phase ?? 'start'}`);
          if (Date.now() - said > 30_000) {
            console.log(`  ${layer} ×${tenants}: ${state.phase ?? 'starting'}`);
            said = Date.now();
          }
          await new Promise((r) => setTimeout(r, 500));
        }
        const r = await page.evaluate(() => window.__sqliteBench);
        if (!r?.result) throw new Error(r?.error ?? 'the page reported nothing');
        const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
        const browserPid = ps
          .split('\n')
          .filter((l) => l.includes(`--user-data-dir=${profile}`) && !l.includes('--type='))
          .map((l) => Number(l.trim().split(/\s+/)[0]))[0];
        const pids = browserPid ? tree(browserPid) : [];
        /** @type {import('./sqlite/report.mjs').SqliteBenchRow & { seconds: number, storageBytes: number, pssBytes: number, pageCacheBytes: number }} */
        const row = { ...r.result, storageBytes: storageBytes(profile), pssBytes: pss(pids), pageCacheBytes: pageCache(profile), processes: pids.length, seconds: 0, loadavg1: os.loadavg()[0] ?? 0 };
        // After memory and storage were measured: tenant 1 writes, then reads its pages back.
        if (tenants === 1 && layer !== BASELINE) {
          const w = await page.evaluate(() => window.__sqliteWrites?.() ?? null);
          if (!w) throw new Error('the page offered no write phase');
          Object.assign(row, w);
        }
        row.seconds = (Date.now() - started) / 1000;
        results.push(row);
        const mib = (/** @type {number} */ b) => (b / 1048576).toFixed(1);
        const ms = (/** @type {number | null | undefined} */ x) => (x === null || x === undefined ? '–' : x.toFixed(x < 100 ? 1 : 0));
        console.log(
          `${layer.padEnd(16)} ×${String(tenants).padStart(2)}: copy ${ms(median(row.copyMs))} ms, add ${ms(median(row.addMs))} ms, cold ${ms(row.coldMs)} ms, warm ${ms(row.warmMs)} ms, ` +
            (row.writeMs !== undefined ? `write txn ${ms(row.writeMs)} ms, read back ${ms(row.readbackMs)} ms, one-row txn ${ms(row.smallTxnMs)} ms, ` : '') +
            `storage ${mib(row.storageBytes)} MiB, PSS ${mib(row.pssBytes)} MiB + page cache ${mib(row.pageCacheBytes)} MiB (${pids.length} processes, ${row.seconds.toFixed(0)} s)`,
        );
      } catch (err) {
        const error = [String(err instanceof Error ? err.message : err), ...complaints.slice(-5)].join('\n');
        results.push({ layer, tenants, error, seconds: (Date.now() - started) / 1000, loadavg1: os.loadavg()[0] ?? 0 });
        console.log(`${layer.padEnd(16)} ×${String(tenants).padStart(2)}: FAILED ${error.split('\n')[0]}`);
      } finally {
        await ctx.close().catch(() => {});
        rmSync(profile, { recursive: true, force: true });
        writeResults();
      }
    }
  }
} finally {
  await server.close();
}
const md = out.replace(/\.json$/, '') + '.md';
const report = writeResults();
console.log(`\n${markdown(report)}`);
console.log(`wrote ${out} and ${md} (load average ${report.loadavg1.toFixed(1)} on ${report.cpus} cores: numbers from a loaded machine are for orientation only)`);
