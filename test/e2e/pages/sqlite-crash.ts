// Runs in the page test/e2e/pages/sqlite-crash.html (main thread, driven by Playwright).
// mode=write: a SQL guest on the volume 'ledger' commits transactions forever; each adds
// ROWS rows tagged with its number and moves a running total, and each commit SQLite
// acknowledged is reported (window.__sqliteAcked). The page cache is tiny by default
// (cache=8), so SQLite spills pages mid-transaction: held in the guest until the commit,
// which makes each transaction one atomic group, or with hold=0 written into the
// database, so that a kill leaves a hot journal. With cache=-2000 (SQLite's default) each
// transaction fits the cache and commits batch-atomic. window.__sqliteAtomic counts the
// transactions committed as one group either way.
// mode=verify: reopens the pool and the database after the browser was killed, and
// reports what is there; the spec decides what is allowed.
import { Hypervisor } from '../../../host/page/hypervisor';
import { createDatabaseVolume, exportDatabase, spawnSqlGuest } from '../../../host/page/sqlite-tenants';

export const ROWS = 25;

export interface SqliteCrashReport {
  integrity: string;
  /** Transaction numbers present, with their row counts. */
  txns: [number, number][];
  /** The running total row, and the rows it should count. */
  total: number;
  rows: number;
  /** The exported database file, base64 (for the sqlite3 CLI on the test's side). */
  exported: string;
}

declare global {
  interface Window {
    __sqliteAcked: number;
    __sqliteAtomic: number;
    __sqliteReport?: SqliteCrashReport | { error: string };
  }
}

const params = new URLSearchParams(location.search);
const pool = params.get('pool') ?? 'sqlite-crash';
window.__sqliteAcked = 0;
window.__sqliteAtomic = 0;
const cacheSize = Number(params.get('cache') ?? 8);
const hold = params.get('hold');

async function base64(blob: Blob): Promise<string> {
  const url = await new Promise<string>((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
  return url.slice(url.indexOf(',') + 1);
}

async function write(): Promise<void> {
  const hv = await Hypervisor.start({ poolName: pool, arenaFrames: 4096, quota: 2048, scrubEveryMs: 0 });
  await createDatabaseVolume(hv, 'ledger', 16 << 20);
  const g = await spawnSqlGuest(hv, { dataset: 'ledger', cacheSize, ...(hold !== null ? { holdBytes: Number(hold) } : {}) });
  await g.api.query('CREATE TABLE ledger(id INTEGER PRIMARY KEY, txn INTEGER NOT NULL, payload TEXT NOT NULL); CREATE INDEX ledger_txn ON ledger(txn); CREATE TABLE total(n INTEGER NOT NULL); INSERT INTO total VALUES (0);');
  for (let n = 1; ; n++) {
    await g.api.query(
      `BEGIN;
       WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ${ROWS})
       INSERT INTO ledger(txn, payload) SELECT :n, hex(randomblob(300)) FROM k;
       UPDATE total SET n = n + ${ROWS};
       COMMIT;`,
      { ':n': n },
    );
    window.__sqliteAcked = n;
    window.__sqliteAtomic = (await g.api.stats()).vfs.db.atomicCommits;
    console.log(`committed ${n}`);
  }
}

async function verify(): Promise<void> {
  const hv = await Hypervisor.start({ poolName: pool, arenaFrames: 4096, quota: 2048, scrubEveryMs: 0 });
  const g = await spawnSqlGuest(hv, { dataset: 'ledger' });
  const integrity = await g.api.integrityCheck();
  const txns = (await g.api.query('SELECT txn, count(*) FROM ledger GROUP BY txn ORDER BY txn')).rows as [number, number][];
  const total = (await g.api.query('SELECT n FROM total')).rows[0]![0] as number;
  const rows = (await g.api.query('SELECT count(*) FROM ledger')).rows[0]![0] as number;
  await g.kill();
  const { db } = await exportDatabase(hv, 'ledger');
  window.__sqliteReport = { integrity, txns, total, rows, exported: await base64(db) };
}

(params.get('mode') === 'verify' ? verify() : write()).catch((err: unknown) => {
  console.error(err);
  window.__sqliteReport = { error: String(err) };
});
