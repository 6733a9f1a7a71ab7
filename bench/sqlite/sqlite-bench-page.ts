// Runs in the page bench/sqlite/sqlite-bench.html, driven by bench/sqlite.mjs: one layer
// (?layer=, one of LAYERS) with N tenants (?tenants=N) on the sample database, the same
// queries and cache_size everywhere. Every layer but Tabvisor runs as its users run it:
// one worker and one copy of the database per tenant. Reports times and the storage the
// browser counts; the runner measures memory and storage from outside the browser.
import { transfer, wrap, type Remote } from 'comlink';
import waSyncWasmUrl from '@journeyapps/wa-sqlite/dist/wa-sqlite.wasm?url';
import waAsyncWasmUrl from '@journeyapps/wa-sqlite/dist/wa-sqlite-async.wasm?url';
import sqlJsWasmUrl from '@jlongster/sql.js/dist/sql-wasm.wasm?url';
import officialWasmUrl from '@sqlite.org/sqlite-wasm/sqlite3.wasm?url';
import { initBackend } from 'absurd-sql/dist/indexeddb-main-thread';
import { Hypervisor } from '../../host/page/hypervisor';
import { importDatabase, spawnSqlGuest } from '../../host/page/sqlite-tenants';
import { SHOP_QUERIES } from '../../test/fixtures/sqlite-queries';
import { collectGarbage, type QueryParams, type TenantApi } from './tenant-api';
import { BASELINE } from './report.mjs';

export interface SqliteBenchResult {
  layer: string;
  tenants: number;
  dbBytes: number;
  /** Per tenant, ms of the storage step: Tabvisor's clone; the others' copy of the file. */
  copyMs: number[];
  /** Per tenant, ms from nothing to a tenant that answers (worker, WASM, copy or clone, open). */
  addMs: number[];
  /** Tenant 1: the 8 queries once on a fresh connection, then again (absent for the browser baseline). */
  coldMs?: number;
  warmMs?: number;
  rows?: number;
  /** navigator.storage.estimate().usage at the end (the browser's own count). */
  usageBytes: number | null;
  /** Tabvisor only: importing the base database into the pool, once. */
  baseImportMs?: number;
}

/** Tenant 1's write transaction and the scan that reads its pages back, run after memory was measured. */
export interface SqliteWriteResult {
  /** BEGIN, the UPDATE, COMMIT: durable when COMMIT returns, as each layer makes it durable. */
  writeMs: number;
  /** The scan of the table it changed, right after. */
  readbackMs: number;
  /** Then SMALL_TXNS transactions of one UPDATE of one row each: the median one, durable at COMMIT. */
  smallTxnMs: number;
}

declare global {
  interface Window {
    /** `phase` says how far a run got, for the runner's report when it gives up waiting. */
    __sqliteBench?: { done: boolean; phase?: string; result?: SqliteBenchResult; error?: string };
    /** Set once a run with tenants is done: the runner calls it after measuring memory, so the writes do not change that. */
    __sqliteWrites?: () => Promise<SqliteWriteResult>;
  }
}

/**
 * One write transaction that touches most pages of the largest table (every 8th order's
 * lines), then a scan that reads them back. The same statements for every layer.
 */
const WRITE_TXN = ['BEGIN', 'UPDATE order_items SET qty = qty + 1 WHERE order_id % 8 = 0', 'COMMIT'];
const READ_BACK = 'SELECT count(*) AS n, sum(qty) AS units FROM order_items';
/** What an OLTP tenant does most: a transaction that changes one row (a few pages with its index). */
const SMALL_TXNS = 40;
const SMALL_TXN = ['BEGIN', 'UPDATE customers SET notes = :notes WHERE id = :id', 'COMMIT'];

async function writes(run: Run): Promise<SqliteWriteResult> {
  phase('tenant 1 writes');
  const t0 = performance.now();
  for (const sql of WRITE_TXN) await run(sql);
  const t1 = performance.now();
  phase('tenant 1 reads back');
  await run(READ_BACK);
  const readbackMs = performance.now() - t1;
  phase('tenant 1 small transactions');
  const small: number[] = [];
  for (let i = 0; i < SMALL_TXNS; i++) {
    const s0 = performance.now();
    await run(SMALL_TXN[0]!);
    await run(SMALL_TXN[1]!, { ':notes': `small transaction ${i}`, ':id': 1 + ((i * 997) % 8000) });
    await run(SMALL_TXN[2]!);
    small.push(performance.now() - s0);
  }
  small.sort((a, b) => a - b);
  return { writeMs: t1 - t0, readbackMs, smallTxnMs: small[Math.floor(small.length / 2)]! };
}

type Run = (sql: string, p?: QueryParams) => Promise<number>;
interface Tenant {
  run: Run;
  copyMs: number;
  addMs: number;
  settle: () => Promise<void>;
}
type AddTenant = (i: number, db: ArrayBuffer) => Promise<Tenant>;

const CACHE = -2000;
const compiled = new Map<string, Promise<WebAssembly.Module>>();
function compile(url: string): Promise<WebAssembly.Module> {
  let m = compiled.get(url);
  if (!m) compiled.set(url, (m = WebAssembly.compileStreaming(fetch(url))));
  return m;
}

/** A layer whose tenants are plain workers speaking TenantApi. */
function workerLayer(makeWorker: () => Worker, wasmUrl: string, onWorker?: (w: Worker) => void): () => Promise<AddTenant> {
  return async () => {
    const wasm = await compile(wasmUrl);
    return async (i, db) => {
      const bytes = db.slice(0);
      const t0 = performance.now();
      const worker = makeWorker();
      onWorker?.(worker);
      const api: Remote<TenantApi> = wrap<TenantApi>(worker);
      const { copyMs } = await api.add(`tenant-${i}.db`, transfer(bytes, [bytes]), CACHE, wasm);
      return { run: (sql, p) => api.query(sql, p), copyMs, addMs: performance.now() - t0, settle: () => api.settle() };
    };
  };
}

const LAYERS: Record<string, () => Promise<AddTenant>> = {
  tabvisor: async () => {
    const hv = await Hypervisor.start({ poolName: `sqlite-bench-${crypto.randomUUID()}`, arenaFrames: 16384, quota: 8192, scrubEveryMs: 0 });
    let imported = false;
    return async (i, db) => {
      if (!imported) {
        const t = performance.now();
        await importDatabase(hv, 'shop', new Blob([db]), { group: 'sql' });
        await hv.pool.snapshot('shop', 'shop@base');
        baseImportMs = performance.now() - t;
        imported = true;
      }
      const t0 = performance.now();
      await hv.pool.clone('shop@base', `shop/t${i}`);
      const copyMs = performance.now() - t0;
      const g = await spawnSqlGuest(hv, { dataset: `shop/t${i}`, cacheSize: CACHE });
      await g.api.query('SELECT 1'); // the guest opens its database on first use
      return { run: async (sql, p) => (await g.api.query(sql, p)).rows.length, copyMs, addMs: performance.now() - t0, settle: async () => {} };
    };
  },
  'wa-opfs-coop': workerLayer(() => new Worker(new URL('./wa-sqlite-tenant-worker.ts', import.meta.url), { type: 'module', name: 'opfs-coop' }), waSyncWasmUrl),
  'wa-idb-batch': workerLayer(() => new Worker(new URL('./wa-sqlite-tenant-worker.ts', import.meta.url), { type: 'module', name: 'idb-batch' }), waAsyncWasmUrl),
  'absurd-sql': workerLayer(() => new Worker(new URL('./absurd-tenant-worker.ts', import.meta.url), { type: 'module' }), sqlJsWasmUrl, initBackend),
  'official-opfs': workerLayer(() => new Worker(new URL('./official-tenant-worker.ts', import.meta.url), { type: 'module', name: 'opfs' }), officialWasmUrl),
  'official-sahpool': workerLayer(() => new Worker(new URL('./official-tenant-worker.ts', import.meta.url), { type: 'module', name: 'sahpool' }), officialWasmUrl),
};

let baseImportMs: number | undefined;

function phase(what: string): void {
  const state = window.__sqliteBench;
  if (state) state.phase = `${what} (${(performance.now() / 1000).toFixed(0)} s)`;
}

async function queries(run: Run, label: string): Promise<{ ms: number; rows: number }> {
  const t0 = performance.now();
  let rows = 0;
  for (const q of SHOP_QUERIES) {
    phase(`${label}: ${q.name}`);
    rows += await run(q.sql, q.params as QueryParams | undefined);
  }
  return { ms: performance.now() - t0, rows };
}

/**
 * The browser alone: this page with the database fetched and dropped, no layer, no tenant.
 * What every layer's memory includes before it does anything (the runner measures it).
 */
async function browserBaseline(): Promise<SqliteBenchResult> {
  const dbBytes = (await (await fetch('/sample/shop.db')).arrayBuffer()).byteLength;
  collectGarbage();
  return { layer: BASELINE, tenants: 0, dbBytes, copyMs: [], addMs: [], usageBytes: (await navigator.storage.estimate().catch(() => null))?.usage ?? null };
}

async function main(layer: string, tenants: number): Promise<SqliteBenchResult> {
  if (layer === BASELINE) return browserBaseline();
  const makeLayer = LAYERS[layer];
  if (!makeLayer) throw new Error(`unknown layer ${layer}; known: ${Object.keys(LAYERS).join(', ')}`);
  let db: ArrayBuffer | null = await (await fetch('/sample/shop.db')).arrayBuffer();
  const dbBytes = db.byteLength;
  const add = await makeLayer();
  const added: Tenant[] = [];
  for (let i = 0; i < tenants; i++) {
    phase(`adding tenant ${i + 1}`);
    added.push(await add(i, db));
  }
  db = null;
  const first = added[0];
  if (!first) throw new Error('no tenant');
  const cold = await queries(first.run, 'tenant 1 cold');
  const warm = await queries(first.run, 'tenant 1 warm');
  // Every other tenant works the whole query set too, so each holds its pages as a user's would.
  for (const [i, t] of added.entries()) if (i > 0) await queries(t.run, `tenant ${i + 1}`);
  for (const t of added) await t.settle();
  window.__sqliteWrites = () => writes(first.run);
  collectGarbage();
  const estimate = await navigator.storage.estimate().catch(() => null);
  return {
    layer,
    tenants,
    dbBytes,
    copyMs: added.map((t) => t.copyMs),
    addMs: added.map((t) => t.addMs),
    coldMs: cold.ms,
    warmMs: warm.ms,
    rows: cold.rows,
    usageBytes: estimate?.usage ?? null,
    ...(baseImportMs !== undefined ? { baseImportMs } : {}),
  };
}

const params = new URLSearchParams(location.search);
window.__sqliteBench = { done: false };
main(params.get('layer') ?? 'tabvisor', Number(params.get('tenants') ?? 1)).then(
  (result) => (window.__sqliteBench = { done: true, result }),
  (err: unknown) => (window.__sqliteBench = { done: true, error: String(err instanceof Error ? (err.stack ?? err.message) : err) }),
);
