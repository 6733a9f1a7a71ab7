// Runs in Node (vitest unit project). The SQLite comparison's tables and target verdicts
// (bench/sqlite/report.mjs) on hand-made runs whose answers are known.
import { describe, expect, it } from 'vitest';
import { BASELINE, markdown, median, memoryBytes, perAddedTenant, rowMismatches, targets, withNotRun, type SqliteBenchRow } from '../../bench/sqlite/report.mjs';

const MiB = 1048576;
const DB = 34 * MiB;

function row(layer: string, tenants: number, over: Partial<SqliteBenchRow> = {}): SqliteBenchRow {
  return {
    layer,
    tenants,
    dbBytes: DB,
    copyMs: Array.from({ length: tenants }, () => 100),
    addMs: Array.from({ length: tenants }, () => 200),
    coldMs: 1000,
    warmMs: 500,
    rows: 77,
    storageBytes: tenants * DB,
    pssBytes: 300 * MiB + tenants * 20 * MiB,
    pageCacheBytes: tenants * DB,
    ...over,
  };
}

function verdicts(rows: SqliteBenchRow[]) {
  return Object.fromEntries(targets(rows).map((t) => [t.id, t]));
}

describe('median', () => {
  it('is the middle value, the mean of the middle two, or null for nothing', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(median(undefined)).toBeNull();
  });
});

describe('targets', () => {
  const fast = row('wa-opfs-coop', 1, { coldMs: 600, warmMs: 400 });
  const fast8 = row('wa-opfs-coop', 8, { pssBytes: 400 * MiB, pageCacheBytes: 280 * MiB });
  const lean8 = row('wa-idb-batch', 8, { pssBytes: 380 * MiB, pageCacheBytes: 100 * MiB });

  it('meets each target exactly at its limit and misses just past it', () => {
    const t1 = row('tabvisor', 1, { coldMs: 660, warmMs: 441 }); // 1.1× and 1.1025×
    const t8 = row('tabvisor', 8, { copyMs: [3, 5, 5, 9, 4, 4, 5, 6], storageBytes: 1.05 * DB, pssBytes: 200 * MiB, pageCacheBytes: 40 * MiB });
    const v = verdicts([t1, t8, fast, fast8, lean8]);
    expect(v.add).toMatchObject({ value: 5, met: true });
    expect(v.storage).toMatchObject({ met: true });
    expect(v.cold?.value).toBeCloseTo(1.1);
    expect(v.cold?.met).toBe(true);
    expect(v.warm?.met).toBe(false);
    // best other layer at 8 tenants is wa-idb-batch with 480 MiB; 240 / 480 = 0.5
    expect(v.memory).toMatchObject({ value: 0.5, met: true });
    expect(v.memory?.detail).toContain('wa-idb-batch');
  });

  it('counts Tabvisor among the fastest layers, never among the memory baselines', () => {
    const t1 = row('tabvisor', 1, { coldMs: 300, warmMs: 100 });
    const t8 = row('tabvisor', 8, { pssBytes: 900 * MiB, pageCacheBytes: 0 });
    const v = verdicts([t1, t8, fast, fast8]);
    expect(v.cold).toMatchObject({ value: 1, met: true });
    expect(v.memory?.value).toBeCloseTo(900 / 680);
    expect(v.memory?.met).toBe(false);
  });

  it('leaves failed runs out of the comparison and says what was not measured', () => {
    // a failed run's numbers, whatever it got to, are never the baseline
    const failedFast = { layer: 'official-opfs', tenants: 1, error: 'no OPFS', coldMs: 10 };
    const v = verdicts([row('tabvisor', 1, { coldMs: 900 }), failedFast, row('absurd-sql', 1, { coldMs: 6000 })]);
    expect(v.cold).toMatchObject({ value: 1, met: true });
    expect(v.storage).toMatchObject({ value: null, met: null });
    expect(v.memory).toMatchObject({ value: null, met: null });
    // the add target falls back to the 1-tenant run when there is no 8-tenant one
    expect(v.add).toMatchObject({ value: 100, met: false });
    expect(verdicts([fast]).cold).toMatchObject({ met: null });
  });
});

describe('markdown', () => {
  it('keeps failed layers as rows with their error, and missed targets as missed', () => {
    const md = markdown({
      date: '2026-11-29T11:00:00Z',
      loadavg1: 6,
      cpus: 2,
      results: [row('tabvisor', 1, { coldMs: 2000 }), row('wa-opfs-coop', 1), { layer: 'official-sahpool', tenants: 8, error: 'Error: a | b\nstack line' }],
    });
    expect(md).toContain('a loaded machine');
    expect(md).toContain('| official-sahpool | 8 | failed: Error: a \\| b |');
    expect(md).not.toContain('stack line');
    expect(md).toMatch(/\| cold queries ÷ fastest layer \(1 tenant\) \| ≤ 1\.1× \| 2\.00 \| missed \|/);
    expect(md).toMatch(/\| 8-tenant storage ÷ database \| .* \| – \| not measured \|/);
  });

  it('lists tenant 1\'s write phase for the layers that ran it, and no such table when none did', () => {
    const md = markdown({ date: 'd', loadavg1: 0.5, cpus: 2, results: [row('tabvisor', 1, { writeMs: 1234.4, readbackMs: 56.78 }), row('tabvisor', 8), row('wa-opfs-coop', 1, { writeMs: 80, readbackMs: 40 })] });
    expect(md).toContain('| tabvisor | 1234 | 56.8 |');
    expect(md).toContain('| wa-opfs-coop | 80.0 | 40.0 |');
    expect(md).not.toMatch(/\| tabvisor \| – \| – \|/);
    expect(markdown({ date: 'd', loadavg1: 0.5, cpus: 2, results: [row('tabvisor', 1)] })).not.toContain('write transaction ms');
  });

  it('shows a layer missing at a tenant count as not run, in layer order', () => {
    const rows = withNotRun([row('tabvisor', 1), row('tabvisor', 8), row('absurd-sql', 1)]);
    expect(rows.map((r) => `${r.layer}×${r.tenants}${r.error ? ' ' + r.error : ''}`)).toEqual([
      'tabvisor×1',
      'tabvisor×8',
      'absurd-sql×1',
      'absurd-sql×8 not run in this measurement',
    ]);
    const md = markdown({ date: 'd', loadavg1: 0.5, cpus: 2, results: [row('tabvisor', 1), row('tabvisor', 8), row('absurd-sql', 1)] });
    expect(md).toContain('| absurd-sql | 8 | failed: not run in this measurement |');
  });

  it('flags layers whose queries returned other rows than Tabvisor', () => {
    const rows = [row('tabvisor', 1), row('absurd-sql', 1, { rows: 76 })];
    expect(rowMismatches(rows)).toEqual(['absurd-sql ×1: 76 rows, expected 77']);
    expect(markdown({ date: 'd', loadavg1: 0.5, cpus: 2, results: rows })).toContain('Row counts differ');
  });

  it('gives each layer\'s memory per added tenant from its 1- and 8-tenant runs only', () => {
    const rows = [row('tabvisor', 1, { pssBytes: 400 * MiB, pageCacheBytes: 60 * MiB }), row('tabvisor', 8, { pssBytes: 610 * MiB, pageCacheBytes: 60 * MiB }), row('absurd-sql', 1)];
    expect(perAddedTenant(rows)).toEqual([{ layer: 'tabvisor', bytes: 30 * MiB }]);
  });

  it('adds PSS and page cache for memory, or gives nothing when either is missing', () => {
    expect(memoryBytes(row('x', 1, { pssBytes: 3, pageCacheBytes: 4 }))).toBe(7);
    expect(memoryBytes({ layer: 'x', tenants: 1, pssBytes: 3 })).toBeNull();
  });
});

describe('the browser-alone row', () => {
  const browser: SqliteBenchRow = { layer: BASELINE, tenants: 0, dbBytes: DB, copyMs: [], addMs: [], pssBytes: 500 * MiB, pageCacheBytes: 20 * MiB };
  const other8 = row('wa-opfs-coop', 8, { pssBytes: 700 * MiB, pageCacheBytes: 300 * MiB }); // 1000 MiB
  const t8 = row('tabvisor', 8, { pssBytes: 650 * MiB, pageCacheBytes: 60 * MiB }); // 710 MiB

  it('keeps the issue target as written and adds the reading above the browser, never replacing it', () => {
    const v = verdicts([browser, other8, t8, row('tabvisor', 1)]);
    expect(v.memory).toMatchObject({ value: 0.71, met: false });
    expect(v.memory?.detail).toContain('the browser alone holds 520.0 MiB, more than half of 1000.0 MiB');
    // (710 − 520) ÷ (1000 − 520) = 190 ÷ 480
    expect(v['memory-above-browser']?.value).toBeCloseTo(190 / 480);
    expect(v['memory-above-browser']?.met).toBe(true);
    // Just past half above the browser: missed.
    const heavier = verdicts([browser, other8, row('tabvisor', 8, { pssBytes: 700 * MiB, pageCacheBytes: 61 * MiB })]);
    expect(heavier['memory-above-browser']?.met).toBe(false);
    // Without the row there is no reading, and the target as written is unchanged.
    const without = verdicts([other8, t8]);
    expect(without['memory-above-browser']).toMatchObject({ value: null, met: null });
    expect(without.memory).toMatchObject({ value: 0.71, met: false });
  });

  it('is one row of its own: no "not run" rows for it or because of it, no row-count mismatch', () => {
    const rows = withNotRun([browser, row('tabvisor', 1), row('tabvisor', 8), row('wa-opfs-coop', 1)]);
    expect(rows.filter((r) => r.layer === BASELINE)).toHaveLength(1);
    expect(rows.filter((r) => r.tenants === 0)).toHaveLength(1);
    expect(rows.find((r) => r.layer === 'wa-opfs-coop' && r.tenants === 8)?.error).toContain('not run');
    expect(rowMismatches([browser, row('tabvisor', 1), row('wa-opfs-coop', 1)])).toEqual([]);
    expect(markdown({ date: 'd', loadavg1: 0, cpus: 2, results: [browser, t8, other8] })).toContain('| browser alone (no layer) | 0 |');
  });
});
