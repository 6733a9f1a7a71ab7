// @ts-check
// Runs in Node: `npm run bench:sqlite [-- --tenants 1,8] [-- --layers tabvisor,opfs-coop]`.
// SQLite tenants on Tabvisor against SQLite as its users run it on OPFS (wa-sqlite's
// OPFSCoopSyncVFS, one copy of the database per tenant): the same wa-sqlite build, the
// sample database (scripts/sqlite-sample.mjs, scale 5), the same queries and cache_size.
// Each (layer, tenants) runs in a fresh browser on a fresh profile. Memory is measured as
// the operating system sees it: PSS of every process of that browser
// (/proc/<pid>/smaps_rollup) plus the page cache its profile's files hold (fincore).
// A reduced comparison: absurd-sql, IDBBatchAtomicVFS and the official build's OPFS VFSes
// are not in it (docs/sqlite.md).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../scripts/chromium.mjs';
import { startQuietServer } from '../scripts/quiet-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const argValue = (/** @type {string} */ name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const tenantCounts = (argValue('--tenants') ?? '1,8').split(',').map(Number);
const layers = (argValue('--layers') ?? 'tabvisor,opfs-coop').split(',');
const out = resolve(root, argValue('--out') ?? 'bench/results/sqlite.json');

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

const server = await startQuietServer();
/** @type {Record<string, unknown>[]} */
const results = [];
try {
  for (const layer of layers) {
    for (const tenants of tenantCounts) {
      const profile = mkdtempSync(join(tmpdir(), 'sqlite-bench-'));
      const ctx = await chromium.launchPersistentContext(profile, chromiumLaunchOptions());
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        await page.goto(new URL(`bench/sqlite/sqlite-bench.html?layer=${layer}&tenants=${tenants}`, server.base).href);
        await page.waitForFunction(() => window.__sqliteBench?.done, null, { timeout: 15 * 60_000 });
        const r = await page.evaluate(() => window.__sqliteBench);
        if (!r?.result) throw new Error(`${layer} × ${tenants}: ${r?.error}`);
        const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
        const browserPid = ps
          .split('\n')
          .filter((l) => l.includes(`--user-data-dir=${profile}`) && !l.includes('--type='))
          .map((l) => Number(l.trim().split(/\s+/)[0]))[0];
        const pids = browserPid ? tree(browserPid) : [];
        const row = { ...r.result, pssBytes: pss(pids), pageCacheBytes: pageCache(profile), processes: pids.length };
        results.push(row);
        const mib = (/** @type {number} */ b) => (b / 1048576).toFixed(1);
        const add = r.result.addMs;
        console.log(
          `${layer.padEnd(10)} ×${String(tenants).padStart(2)}: add ${add.map((x) => x.toFixed(0)).join('/')} ms, cold ${r.result.coldMs.toFixed(0)} ms, warm ${r.result.warmMs.toFixed(0)} ms, ` +
            `PSS ${mib(row.pssBytes)} MiB + page cache ${mib(row.pageCacheBytes)} MiB (${pids.length} processes)`,
        );
      } finally {
        await ctx.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }
  }
} finally {
  await server.close();
}
mkdirSync(dirname(out), { recursive: true });
const load = os.loadavg()[0] ?? 0;
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, loadavg1: load, results }, null, 2));
console.log(`wrote ${out} (load average ${load.toFixed(1)} on ${os.cpus().length} cores: numbers from a loaded machine are for orientation only)`);
