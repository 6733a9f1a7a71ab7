// @ts-check
// Runs in Node (bench/sqlite.mjs, test/unit/sqlite-bench-report.test.ts); the bench page takes BASELINE. The SQLite
// comparison's numbers as tables: one row per (layer, tenants), failed runs included with
// their error, and the targets for Tabvisor, each a ratio to numbers of the same run.
// A target that is missed stays in the table as missed.
import { median as medianOf } from '../aggregate.mjs';

/**
 * @typedef {{
 *   layer: string, tenants: number, error?: string,
 *   dbBytes?: number, copyMs?: number[], addMs?: number[], coldMs?: number, warmMs?: number, rows?: number,
 *   storageBytes?: number, usageBytes?: number | null, pssBytes?: number, pageCacheBytes?: number, processes?: number,
 *   seconds?: number, loadavg1?: number, baseImportMs?: number,
 *   writeMs?: number, readbackMs?: number, smallTxnMs?: number,
 * }} SqliteBenchRow
 *   writeMs, readbackMs: 1 tenant only, measured after memory: a write transaction over most
 *   pages of the largest table, durable at COMMIT, then a scan reading them back;
 *   smallTxnMs: then the median of 40 transactions that each update one row
 * @typedef {'add' | 'storage' | 'cold' | 'warm' | 'memory' | 'memory-above-browser'} TargetId
 * @typedef {{ id: TargetId, name: string, goal: string, value: number | null, met: boolean | null, detail: string }} TargetVerdict
 */

export const TABVISOR = 'tabvisor';
/**
 * The row of the browser alone: the benchmark page with no layer and no tenant. Every
 * layer's memory includes it, so it says how far below the other layers any layer can go.
 */
export const BASELINE = 'browser';

/** The bench's median, but null (a table's "–") for no values. @param {number[] | undefined} xs */
export function median(xs) {
  return !xs || xs.length === 0 ? null : medianOf(xs);
}

/** PSS of the browser's processes plus the page cache its profile's files hold. @param {SqliteBenchRow} r */
export function memoryBytes(r) {
  return r.pssBytes !== undefined && r.pageCacheBytes !== undefined ? r.pssBytes + r.pageCacheBytes : null;
}

/** @param {SqliteBenchRow[]} rows @param {string} layer @param {number} tenants */
function find(rows, layer, tenants) {
  return rows.find((r) => r.layer === layer && r.tenants === tenants && !r.error);
}

/**
 * The smallest value of `pick` over the layers that ran with `tenants` (optionally not
 * `except`), and which layer had it.
 * @param {SqliteBenchRow[]} rows @param {number} tenants @param {(r: SqliteBenchRow) => number | null | undefined} pick @param {string} [except]
 */
function best(rows, tenants, pick, except) {
  /** @type {{ layer: string, value: number } | null} */
  let out = null;
  for (const r of rows) {
    if (r.error || r.tenants !== tenants || r.layer === except) continue;
    const v = pick(r);
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    if (!out || v < out.value) out = { layer: r.layer, value: v };
  }
  return out;
}

/**
 * @param {TargetId} id @param {string} name @param {string} goal @param {number | null} value @param {number} limit @param {string} detail
 * @returns {TargetVerdict}
 */
function verdict(id, name, goal, value, limit, detail) {
  return value === null || !Number.isFinite(value) ? { id, name, goal, value: null, met: null, detail } : { id, name, goal, value, met: value <= limit * (1 + 1e-9), detail }; // exactly at the limit is met, whatever the float rounding
}

/**
 * The targets for Tabvisor, from one run's rows. Storage has no private writes to
 * add here: the benchmark's tenants only read.
 * @param {SqliteBenchRow[]} rows
 * @returns {TargetVerdict[]}
 */
export function targets(rows) {
  const t1 = find(rows, TABVISOR, 1);
  const t8 = find(rows, TABVISOR, 8);
  const addRun = t8 ?? t1;
  const add = median(addRun?.copyMs);
  const out = [verdict('add', 'adding a tenant (the clone)', '≤ 5 ms', add, 5, addRun ? `median of ${addRun.copyMs?.length} clones; the whole tenant (clone, guest, open) took ${fmt(median(addRun.addMs))} ms` : 'Tabvisor did not run')];
  const storage = t8?.storageBytes !== undefined && t8.dbBytes ? t8.storageBytes / t8.dbBytes : null;
  out.push(verdict('storage', '8-tenant storage ÷ database', '≤ 1.05× (no private writes)', storage, 1.05, t8 ? `${mib(t8.storageBytes)} MiB for a ${mib(t8.dbBytes)} MiB database` : 'Tabvisor ×8 did not run'));
  for (const [key, label] of /** @type {const} */ ([['coldMs', 'cold'], ['warmMs', 'warm']])) {
    const fastest = best(rows, 1, (r) => r[key]);
    const mine = t1?.[key];
    const ratio = mine !== undefined && fastest ? mine / fastest.value : null;
    out.push(verdict(key === 'coldMs' ? 'cold' : 'warm', `${label} queries ÷ fastest layer (1 tenant)`, '≤ 1.1×', ratio, 1.1, fastest && mine !== undefined ? `${fmt(mine)} ms against ${fmt(fastest.value)} ms (${fastest.layer})` : 'not measured'));
  }
  const bestOther = best(rows, 8, memoryBytes, TABVISOR);
  const mem = t8 ? memoryBytes(t8) : null;
  const baseRow = rows.find((r) => r.layer === BASELINE && !r.error);
  const base = baseRow ? memoryBytes(baseRow) : null;
  const floorNote = base !== null && bestOther ? `; the browser alone holds ${mib(base)} MiB, ${base > bestOther.value / 2 ? 'more than' : 'less than'} half of ${mib(bestOther.value)} MiB` : '';
  out.push(
    verdict('memory', '8-tenant memory ÷ best other layer', '≤ 0.5×', mem !== null && bestOther ? mem / bestOther.value : null, 0.5, mem !== null && bestOther ? `${mib(mem)} MiB against ${mib(bestOther.value)} MiB (${bestOther.layer})${floorNote}` : 'not measured'),
  );
  // The same comparison without what the browser holds before any layer runs: what the
  // layers themselves cost. Shown beside the target, never instead of it.
  const above = mem !== null && bestOther && base !== null && bestOther.value > base ? (mem - base) / (bestOther.value - base) : null;
  out.push(
    verdict(
      'memory-above-browser',
      '8-tenant memory above the browser alone ÷ the same for the best other layer',
      '≤ 0.5× (a reading of the target above, not a replacement)',
      above,
      0.5,
      above !== null && mem !== null && bestOther && base !== null ? `${mib(mem - base)} MiB against ${mib(bestOther.value - base)} MiB (${bestOther.layer}), each less the browser's ${mib(base)} MiB` : 'needs the browser row',
    ),
  );
  return out;
}

/**
 * The rows, plus a failed row for every (layer, tenants) that some other layer ran and this
 * one did not: a layer left out of a tenant count is shown as not run, never dropped.
 * @param {SqliteBenchRow[]} rows
 */
export function withNotRun(rows) {
  const baseline = rows.filter((r) => r.layer === BASELINE);
  rows = rows.filter((r) => r.layer !== BASELINE);
  const layers = [...new Set(rows.map((r) => r.layer))];
  const counts = [...new Set(rows.map((r) => r.tenants))].sort((a, b) => a - b);
  /** @type {SqliteBenchRow[]} */
  const out = [];
  for (const layer of layers) {
    for (const tenants of counts) {
      const r = rows.find((x) => x.layer === layer && x.tenants === tenants);
      out.push(r ?? { layer, tenants, error: 'not run in this measurement' });
    }
  }
  return [...baseline, ...out];
}

/**
 * What each further tenant costs in memory, per layer that ran with 1 and with 8 tenants.
 * @param {SqliteBenchRow[]} rows
 */
export function perAddedTenant(rows) {
  /** @type {{ layer: string, bytes: number }[]} */
  const out = [];
  for (const layer of new Set(rows.map((r) => r.layer))) {
    const one = find(rows, layer, 1);
    const eight = find(rows, layer, 8);
    const a = one ? memoryBytes(one) : null;
    const b = eight ? memoryBytes(eight) : null;
    if (a !== null && b !== null) out.push({ layer, bytes: (b - a) / 7 });
  }
  return out;
}

/** Layers whose row count differs from Tabvisor's (the same queries must give the same rows). @param {SqliteBenchRow[]} rows */
export function rowMismatches(rows) {
  const ref = rows.find((r) => r.layer === TABVISOR && !r.error)?.rows ?? rows.find((r) => !r.error && r.layer !== BASELINE)?.rows;
  return ref === undefined ? [] : rows.filter((r) => !r.error && r.layer !== BASELINE && r.rows !== ref).map((r) => `${r.layer} ×${r.tenants}: ${r.rows} rows, expected ${ref}`);
}

/** @param {number | null | undefined} b */
function mib(b) {
  return b === null || b === undefined ? '–' : (b / 1048576).toFixed(1);
}
/** @param {number | null | undefined} ms */
function fmt(ms) {
  return ms === null || ms === undefined ? '–' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

/**
 * The Markdown tables: measurements, then targets.
 * @param {{ date: string, loadavg1: number, cpus: number, served?: string, results: SqliteBenchRow[] }} run
 */
export function markdown(run) {
  const lines = [
    `SQLite layers side by side (\`npm run bench:sqlite\`, ${run.date}, load average up to ${run.loadavg1.toFixed(1)} on ${run.cpus} cores${run.loadavg1 > run.cpus / 2 ? ': a loaded machine, numbers for orientation only' : ''}; served from the ${run.served ?? 'dev server (sources)'}).`,
    '',
    '| layer | tenants | add: copy/clone ms (median) | add: whole tenant ms (median) | cold ms | warm ms | storage MiB (÷ db) | PSS MiB | page cache MiB | memory MiB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of withNotRun(run.results)) {
    if (r.error) {
      const first = r.error.split('\n')[0]?.slice(0, 160).replaceAll('|', '\\|') ?? '';
      lines.push(`| ${r.layer} | ${r.tenants} | failed: ${first} | | | | | | | |`);
      continue;
    }
    const ratio = r.storageBytes !== undefined && r.dbBytes ? ` (${(r.storageBytes / r.dbBytes).toFixed(2)}×)` : '';
    lines.push(
      `| ${r.layer === BASELINE ? 'browser alone (no layer)' : r.layer} | ${r.tenants} | ${fmt(median(r.copyMs))} | ${fmt(median(r.addMs))} | ${fmt(r.coldMs)} | ${fmt(r.warmMs)} | ${mib(r.storageBytes)}${ratio} | ${mib(r.pssBytes)} | ${mib(r.pageCacheBytes)} | ${mib(memoryBytes(r))} |`,
    );
  }
  const marginal = perAddedTenant(run.results);
  if (marginal.length) {
    lines.push('', 'Memory per added tenant, (×8 − ×1) ÷ 7: ' + marginal.map((m) => `${m.layer} ${mib(m.bytes)} MiB`).join(', ') + '.');
  }
  const wrote = run.results.filter((r) => !r.error && r.writeMs !== undefined);
  if (wrote.length) {
    lines.push(
      '',
      'Tenant 1 writes, after memory was measured (no target; the same statements everywhere): one transaction updating every 8th order\'s lines (most pages of `order_items`), durable at COMMIT as each layer makes it, then a scan reading them back, then 40 transactions that each update one customer (the median one).',
      '',
      '| layer | write transaction ms | read back ms | one-row transaction ms |',
      '| --- | ---: | ---: | ---: |',
      ...wrote.map((r) => `| ${r.layer} | ${fmt(r.writeMs)} | ${fmt(r.readbackMs)} | ${fmt(r.smallTxnMs)} |`),
    );
  }
  const mismatches = rowMismatches(run.results);
  if (mismatches.length) lines.push('', `Row counts differ: ${mismatches.join('; ')}.`);
  lines.push('', '| target (Tabvisor) | goal | measured | met | how |', '| --- | --- | ---: | --- | --- |');
  for (const t of targets(run.results)) {
    lines.push(`| ${t.name} | ${t.goal} | ${t.value === null ? '–' : t.value.toFixed(2)} | ${t.met === null ? 'not measured' : t.met ? 'met' : 'missed'} | ${t.detail} |`);
  }
  return lines.join('\n') + '\n';
}
