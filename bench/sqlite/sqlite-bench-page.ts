// Runs in the page bench/sqlite/sqlite-bench.html, driven by bench/sqlite.mjs: one layer
// (?layer=tabvisor|opfs-coop) with N tenants (?tenants=N) on the sample database, the
// same wa-sqlite build, queries and cache_size everywhere. Reports times; the runner
// measures memory from outside (PSS of the browser's processes plus page cache).
import { wrap } from 'comlink';
import { Hypervisor } from '../../host/page/hypervisor';
import { importDatabase, spawnSqlGuest, sqliteWasm } from '../../host/page/sqlite-tenants';
import { SHOP_QUERIES } from '../../test/fixtures/sqlite-queries';
import type { OpfsTenantApi } from './opfs-tenant-worker';

export interface SqliteBenchResult {
  layer: string;
  tenants: number;
  dbBytes: number;
  /** ms to add each tenant (Tabvisor: clone + boot a guest; OPFS: copy the file + open). */
  addMs: number[];
  /** Tenant 1: the 8 queries once from a fresh connection, then again. */
  coldMs: number;
  warmMs: number;
  rows: number;
}

declare global {
  interface Window {
    __sqliteBench?: { done: boolean; result?: SqliteBenchResult; error?: string };
  }
}

const params = new URLSearchParams(location.search);
const layer = params.get('layer') ?? 'tabvisor';
const tenants = Number(params.get('tenants') ?? 1);
const CACHE = -2000;
window.__sqliteBench = { done: false };

type Run = (sql: string, p?: Record<string, string | number>) => Promise<number>;

async function queries(run: Run): Promise<{ ms: number; rows: number }> {
  const t0 = performance.now();
  let rows = 0;
  for (const q of SHOP_QUERIES) rows += await run(q.sql, q.params as Record<string, string | number> | undefined);
  return { ms: performance.now() - t0, rows };
}

async function main(): Promise<SqliteBenchResult> {
  const db = await (await fetch('/sample/shop.db')).arrayBuffer();
  const wasm = await sqliteWasm();
  const addMs: number[] = [];
  const runs: Run[] = [];
  if (layer === 'tabvisor') {
    const hv = await Hypervisor.start({ poolName: `sqlite-bench-${crypto.randomUUID()}`, arenaFrames: 16384, quota: 8192, scrubEveryMs: 0 });
    await importDatabase(hv, 'shop', new Blob([db]), { group: 'sql' });
    await hv.pool.snapshot('shop', 'shop@base');
    for (let i = 0; i < tenants; i++) {
      const t0 = performance.now();
      const g = await spawnSqlGuest(hv, { base: 'shop@base', cacheSize: CACHE });
      await g.api.query('SELECT 1'); // opened (the database is opened on first use)
      addMs.push(performance.now() - t0);
      runs.push(async (sql, p) => (await g.api.query(sql, p)).rows.length);
    }
  } else if (layer === 'opfs-coop') {
    for (let i = 0; i < tenants; i++) {
      const t0 = performance.now();
      const w = wrap<OpfsTenantApi>(new Worker(new URL('./opfs-tenant-worker.ts', import.meta.url), { type: 'module' }));
      await w.add(`tenant-${i}.db`, db.slice(0), CACHE, wasm);
      addMs.push(performance.now() - t0);
      runs.push((sql, p) => w.query(sql, p));
    }
  } else throw new Error(`unknown layer ${layer}`);
  const cold = await queries(runs[0]!);
  const warm = await queries(runs[0]!);
  // Every other tenant works its whole query set too, so each has its pages in memory.
  for (const run of runs.slice(1)) await queries(run);
  return { layer, tenants, dbBytes: db.byteLength, addMs, coldMs: cold.ms, warmMs: warm.ms, rows: cold.rows };
}

main().then(
  (result) => (window.__sqliteBench = { done: true, result }),
  (err: unknown) => (window.__sqliteBench = { done: true, error: String(err instanceof Error ? err.stack ?? err.message : err) }),
);
