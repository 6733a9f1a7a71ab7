// Real Chromium: SQLite guests on clones of one database made by the reference sqlite3
// (test/browser/sqlite-fixture.setup.ts). Answers equal the reference's, integrity_check
// is ok after every test, a tenant's writes stay its own, snapshots are consistent
// databases (a snapshot mid-transaction opens as the state before it), export round-trips.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import { createDatabaseVolume, exportDatabase, importDatabase, spawnSqlGuest } from '../../host/page/sqlite-tenants';
import type { SqlGuestApi, SqlValue } from '../../guest/workloads/sql-guest';
import { SHOP_QUERIES } from '../fixtures/sqlite-queries';
import { parseSqliteHeader } from '../../shared/sqlite-layout';

async function fixture(): Promise<{ db: Blob; reference: Record<string, unknown[][]> }> {
  const ref = (await (await fetch('/test/fixtures/generated/shop-reference.json')).json()) as Record<string, unknown[][]> & { error?: string };
  if (ref.error) throw new Error(`the SQLite fixture was not built: ${ref.error}`);
  const db = await (await fetch('/test/fixtures/generated/shop.db')).blob();
  return { db, reference: ref };
}

/** Rows equal, with reals compared to 12 significant digits (the CLI prints 15 or 17). */
function expectRowsEqual(actual: SqlValue[][], expected: unknown[][], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((row, i) => {
    const want = expected[i]!;
    expect(row.length, `${what} row ${i}`).toBe(want.length);
    row.forEach((v, j) => {
      const w = want[j];
      if (typeof v === 'number' && typeof w === 'number' && !Number.isInteger(v)) expect(v, `${what} [${i}][${j}]`).toBeCloseTo(w, 6);
      else expect(v, `${what} [${i}][${j}]`).toEqual(w);
    });
  });
}

// Whole-database work (exports, 7 MiB imports, integrity checks) on a loaded 2-core machine.
const SLOW = 480_000;

describe('SQLite guests on clones of one database', { timeout: SLOW }, () => {
  let hv: Hypervisor;
  let reference: Record<string, unknown[][]>;
  let dbBlob: Blob;
  const live: GuestHandle<SqlGuestApi>[] = [];
  const tenant = async (base = 'shop@base', cacheSize?: number) => {
    const g = await spawnSqlGuest(hv, { base, ...(cacheSize !== undefined ? { cacheSize } : {}) });
    live.push(g);
    return g;
  };

  beforeAll(async () => {
    ({ db: dbBlob, reference } = await fixture());
    hv = await Hypervisor.start({ poolName: `sqlite-${crypto.randomUUID()}`, arenaFrames: 8192, quota: 4096, scrubEveryMs: 0 });
    await importDatabase(hv, 'shop', dbBlob);
    await hv.pool.snapshot('shop', 'shop@base');
  }, SLOW);
  afterEach(async () => {
    // Every database this test touched is still a valid database. Checked once, then its
    // guest stops: re-checking every earlier tenant after every test cost minutes (a
    // 16-page-cache tenant re-reads the whole file for each check).
    const mine = live.splice(0);
    for (const g of mine) if (g.state === 'running') expect(await g.api.integrityCheck(), `guest ${g.id}`).toBe('ok');
    for (const g of mine) if (g.state === 'running') await g.kill();
  }, SLOW);
  afterAll(async () => {
    await hv?.shutdown();
  });

  it('answers every reference query exactly as the reference sqlite3, zero-copy', async () => {
    const g = await tenant();
    expect(g.transport).toBe('zero-copy');
    for (const q of SHOP_QUERIES) {
      const r = await g.api.query(q.sql, q.params);
      expectRowsEqual(r.rows, reference[q.name]!, q.name);
    }
    const s = await g.api.stats();
    expect(s.vfs.db.blockReads).toBeGreaterThan(0);
    expect(s.vfs.bytesIntoHeap).toBeGreaterThan(0);
    expect(s.vfs.db.blocksWritten).toBe(0); // reads wrote nothing
    const d0 = await hv.pool.stats();
    expect(d0.driver.bytesCopied).toBe(0); // every block reached the guest as a view of the arena
  });

  it('imports the file byte for byte into a volume whose block size is the page size', async () => {
    const header = parseSqliteHeader(new Uint8Array(await dbBlob.slice(0, 100).arrayBuffer()))!;
    const info = (await hv.pool.list()).find((d) => d.name === 'shop')!;
    expect(info.blockSize).toBe(header.pageSize);
    const { db, journal } = await exportDatabase(hv, 'shop@base');
    expect(journal).toBeNull();
    expect(db.size).toBe(dbBlob.size);
    // Compared by hand: a deep equality over 7 million elements takes minutes.
    const [got, want] = [new Uint8Array(await db.arrayBuffer()), new Uint8Array(await dbBlob.arrayBuffer())];
    let firstDiff = -1;
    for (let i = 0; i < want.length && firstDiff < 0; i++) if (got[i] !== want[i]) firstDiff = i;
    expect(firstDiff).toBe(-1);
  });

  it("keeps each tenant's writes its own", async () => {
    const [a, b, c] = [await tenant(), await tenant(), await tenant()];
    await a.api.run("INSERT INTO customers(name, email, country, created) VALUES (?, ?, ?, ?)", ['Tenant A', 'a@example.org', 'SE', '2026-11-29']);
    await b.api.run('UPDATE products SET price = price * 2 WHERE category = :cat', { ':cat': 'garden' });
    await c.api.run('DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE status = ?)', ['cancelled']);
    const countA = async (g: GuestHandle<SqlGuestApi>) => (await g.api.query("SELECT count(*) FROM customers WHERE name = 'Tenant A'")).rows[0]![0];
    const garden = async (g: GuestHandle<SqlGuestApi>) => (await g.api.query("SELECT round(sum(price), 2) FROM products WHERE category = 'garden'")).rows[0]![0] as number;
    const items = async (g: GuestHandle<SqlGuestApi>) => (await g.api.query('SELECT count(*) FROM order_items')).rows[0]![0];
    expect([await countA(a), await countA(b), await countA(c)]).toEqual([1, 0, 0]);
    const [ga, gb, gc] = [await garden(a), await garden(b), await garden(c)];
    expect(gb).toBeCloseTo(ga * 2, 2);
    expect(gc).toBe(ga);
    const ref = reference['counts']![0]![2];
    expect(await items(a)).toBe(ref);
    expect(await items(b)).toBe(ref);
    expect(await items(c)).toBeLessThan(ref as number);
    // A fresh tenant of the base sees none of it, and the base itself is unchanged.
    const d = await tenant();
    for (const q of SHOP_QUERIES) expectRowsEqual((await d.api.query(q.sql, q.params)).rows, reference[q.name]!, q.name);
    // The blocks a tenant wrote are its own; everything else is still the base's.
    const own = await hv.pool.ownership(b.dataset);
    const mine = own.filter((x) => x === 2).length;
    const shared = own.filter((x) => x === 1).length;
    expect(mine).toBeGreaterThan(0);
    expect(shared).toBeGreaterThan(mine * 10);
  });

  it('commits a transaction as one atomic group, batch-atomic or held: one pool commit, no journal block; the journaled way takes more', async () => {
    const txn = "BEGIN; UPDATE products SET price = price + 1 WHERE id % 7 = 0; INSERT INTO customers(name, email, country, created) VALUES ('Atomic', 'a@example.org', 'SE', '2026-12-01'); COMMIT;";
    const measure = async (g: GuestHandle<SqlGuestApi>) => {
      await g.api.query('SELECT count(*) FROM products'); // opened, pages cached
      const c0 = (await hv.pool.stats()).driver.commits;
      const s0 = (await g.api.stats()).vfs;
      await g.api.query(txn);
      const s1 = (await g.api.stats()).vfs;
      return {
        commits: (await hv.pool.stats()).driver.commits - c0,
        journalBlocks: s1.journal.blocksWritten - s0.journal.blocksWritten,
        atomicCommits: s1.db.atomicCommits - s0.db.atomicCommits,
        dbBlocks: s1.db.blocksWritten - s0.db.blocksWritten,
      };
    };
    const atomic = await tenant();
    // SQLite's journal written (to memory), the transaction held and committed whole at the database's sync.
    const held = await spawnSqlGuest(hv, { base: 'shop@base', batchAtomic: false });
    const journaled = await spawnSqlGuest(hv, { base: 'shop@base', batchAtomic: false, holdBytes: 0 });
    live.push(held, journaled);
    const a = await measure(atomic);
    const h = await measure(held);
    const j = await measure(journaled);
    expect(a).toMatchObject({ commits: 1, journalBlocks: 0, atomicCommits: 1 });
    expect(h).toMatchObject({ commits: 1, journalBlocks: 0, atomicCommits: 1 });
    expect(a.dbBlocks).toBeGreaterThan(1);
    expect(h.dbBlocks).toBe(a.dbBlocks);
    expect(j.atomicCommits).toBe(0);
    expect(j.journalBlocks).toBeGreaterThan(0);
    expect(j.commits).toBeGreaterThan(a.commits);
    const check = "SELECT count(*), round(sum(price), 2) FROM products UNION ALL SELECT count(*), 0 FROM customers WHERE name = 'Atomic'";
    const want = (await journaled.api.query(check)).rows;
    expect((await atomic.api.query(check)).rows).toEqual(want);
    expect((await held.api.query(check)).rows).toEqual(want);
  });

  it('a transaction larger than dom0 will hold as one group commits through the journal instead', async () => {
    // A hypervisor whose held-group limit is 4 pages: every transaction here outgrows it.
    const small = await Hypervisor.start({ poolName: `sqlite-held-${crypto.randomUUID()}`, arenaFrames: 2048, quota: 1024, scrubEveryMs: 0, heldLimitBytes: 4 * 4096 });
    try {
      await importDatabase(small, 'shop', dbBlob);
      const g = await spawnSqlGuest(small, { dataset: 'shop' });
      const before = (await g.api.query('SELECT count(*) FROM products')).rows[0]![0] as number;
      expect(before).toBeGreaterThan(0);
      await g.api.query('BEGIN; UPDATE products SET price = price + 100; COMMIT;');
      const s = (await g.api.stats()).vfs;
      // Refused as a batch-atomic group, then, journaled in memory, refused again as a held
      // group at the database's sync: its journal went to the volume, then its pages.
      expect(s.db.atomicFallbacks).toBeGreaterThanOrEqual(2);
      expect(s.db.atomicCommits).toBe(0);
      expect(s.journalToVolume).toBe(1);
      expect(s.journal.blocksWritten).toBeGreaterThan(0);
      expect((await g.api.query('SELECT count(*) FROM products WHERE price >= 100')).rows[0]![0]).toBe(before);
      expect(await g.api.integrityCheck()).toBe('ok');
      await g.kill();
    } finally {
      await small.shutdown();
    }
  });

  it('rolls back: a transaction that ends in ROLLBACK leaves nothing', async () => {
    const g = await tenant();
    const before = (await g.api.query('SELECT count(*), sum(qty) FROM order_items')).rows;
    await g.api.query('BEGIN; DELETE FROM order_items WHERE qty > 1; UPDATE order_items SET qty = 0;');
    expect(await g.api.autocommit()).toBe(false);
    await g.api.query('ROLLBACK');
    expect((await g.api.query('SELECT count(*), sum(qty) FROM order_items')).rows).toEqual(before);
  });

  for (const [how, holdBytes] of [['held in memory: nothing of it on the volume', undefined], ['the journaled way: the hot journal rolls back', 0]] as const) {
  it(`a snapshot taken mid-transaction is the database before it (${how})`, async () => {
    // A tiny page cache makes SQLite spill changed pages mid-transaction. Held (the
    // default), they stay in the guest until the commit; the journaled way, they go into
    // the database, so the volume holds half a transaction and a hot journal when the
    // snapshot is taken.
    const g = await spawnSqlGuest(hv, { base: 'shop@base', cacheSize: 16, ...(holdBytes !== undefined ? { holdBytes } : {}) });
    live.push(g);
    await g.api.run('UPDATE customers SET notes = ?', ['committed before the snapshot']);
    const written0 = (await g.api.stats()).vfs.db.blocksWritten;
    await g.api.query("BEGIN; UPDATE customers SET notes = hex(randomblob(200)), country = 'XX'; DELETE FROM orders WHERE id % 3 = 0;");
    const mid = (await g.api.stats()).vfs;
    const tag = `mid${holdBytes ?? 'held'}`;
    await hv.pool.snapshot(g.dataset, `${tag}@txn`);
    const { journal } = await exportDatabase(hv, `${tag}@txn`);
    if (holdBytes === 0) {
      expect(mid.db.blocksWritten).toBeGreaterThan(written0);
      expect(journal).not.toBeNull(); // the snapshot caught a hot journal
    } else {
      expect(mid.db.blocksWritten, 'pages of the open transaction written to the volume').toBe(written0);
      expect(mid.journal.blocksWritten, 'journal blocks written to the volume').toBe(0);
      expect(journal).toBeNull();
    }
    const h = await tenant(`${tag}@txn`);
    expect((await h.api.query("SELECT count(*) FROM customers WHERE country = 'XX'")).rows[0]![0]).toBe(0);
    expect((await h.api.query("SELECT count(*) FROM customers WHERE notes = 'committed before the snapshot'")).rows[0]![0]).toBe(reference['counts']![0]![0]);
    expect((await h.api.query('SELECT count(*) FROM orders')).rows[0]![0]).toBe(reference['counts']![0]![1]);
    await g.api.query('COMMIT');
    expect((await g.api.query("SELECT count(*) FROM customers WHERE country = 'XX'")).rows[0]![0]).toBe(reference['counts']![0]![0]);
    // g's committed database is checked through a snapshot opened with an ordinary page
    // cache (afterEach checks every live tenant): with g's 16 pages, integrity_check
    // re-reads the whole file over and over (40 s of this test).
    await hv.pool.snapshot(g.dataset, `${tag}@committed`);
    await tenant(`${tag}@committed`);
    live.splice(live.indexOf(g), 1);
    await g.kill();
  });
  }

  it('a transaction past what the VFS holds goes the journaled way, and commits right', async () => {
    const g = await spawnSqlGuest(hv, { base: 'shop@base', cacheSize: 16, holdBytes: 256 << 10 });
    live.push(g);
    const before = (await g.api.query("SELECT count(*) FROM orders WHERE id % 3 = 0")).rows[0]![0] as number;
    await g.api.query("BEGIN; UPDATE customers SET notes = hex(randomblob(200)); DELETE FROM orders WHERE id % 3 = 0; COMMIT;");
    const s = (await g.api.stats()).vfs;
    expect(s.journalToVolume).toBe(1);
    expect(s.journal.blocksWritten).toBeGreaterThan(0);
    expect((await g.api.query('SELECT count(*) FROM orders')).rows[0]![0]).toBe((reference['counts']![0]![1] as number) - before);
    // The next transaction is held again.
    await g.api.run('UPDATE customers SET country = ? WHERE id = 1', ['YY']);
    const t = (await g.api.stats()).vfs;
    expect(t.journalToVolume).toBe(1);
    expect(t.journal.blocksWritten, 'journal blocks of the held transaction after it').toBe(s.journal.blocksWritten);
    expect(t.db.atomicCommits).toBe(s.db.atomicCommits + 1);
  });

  it('exports a tenant as a database another tenant opens with its writes', async () => {
    const g = await tenant();
    await g.api.run('CREATE TABLE audit(id INTEGER PRIMARY KEY, what TEXT)');
    await g.api.run('INSERT INTO audit(what) SELECT name FROM customers WHERE id <= 500');
    const { db, journal } = await exportDatabase(hv, g.dataset);
    expect(journal).toBeNull();
    await importDatabase(hv, 'exported', db);
    await hv.pool.snapshot('exported', 'exported@1');
    const h = await tenant('exported@1');
    expect((await h.api.query('SELECT count(*) FROM audit')).rows[0]![0]).toBe(500);
  });

  it('a hostile tenant reaches nothing but its own clone: no other file, its vandalised schema stays its own, a runaway query stalls nobody else', async () => {
    const [evil, good] = [await tenant(), await tenant()];
    // 1. No other file: the VFS has the tenant's database and its journal and nothing else
    //    (no second database, WAL, super-journal or path out of the volume).
    for (const name of ['other.db', '../main.db', '/main.db-wal', 'main.db-journal-x']) {
      await expect(evil.api.run(`ATTACH '${name}' AS x`), name).rejects.toThrow(/unable to open database/);
    }
    // 2. The schema rewritten under SQLite's feet, through writable_schema. It lands in the
    //    vandal's clone (read back below), and in no other tenant's, nor in the base.
    const vandal = 'CREATE TABLE orders(pwned INTEGER)';
    await evil.api.query(`PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = '${vandal}' WHERE name = 'orders'; PRAGMA writable_schema = OFF;`);
    const schemaOf = async (g: GuestHandle<SqlGuestApi>) => (await g.api.query("SELECT sql FROM sqlite_schema WHERE name = 'orders'")).rows[0]![0];
    expect(await schemaOf(evil)).toBe(vandal);
    const original = await schemaOf(good);
    expect(original).not.toBe(vandal);
    // 3. A query that never ends keeps its own worker busy; the others keep answering,
    //    and killing the vandal settles its call with the cause and frees its domain.
    const runaway = evil.api.query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c');
    runaway.catch(() => undefined);
    const counts = SHOP_QUERIES.find((q) => q.name === 'counts')!;
    expectRowsEqual((await good.api.query(counts.sql)).rows, reference['counts']!, 'counts while a neighbour runs away');
    const served = async () => (await hv.pool.stats()).domains.map((d) => d.dataset);
    expect(await served()).toContain(evil.dataset);
    await evil.kill();
    await expect(runaway).rejects.toMatchObject({ code: 'GUEST_KILLED' });
    expect(await served()).not.toContain(evil.dataset);
    // After it all: a fresh tenant of the base has the original schema and the reference answers.
    const fresh = await tenant();
    expect(await schemaOf(fresh)).toBe(original);
    for (const q of SHOP_QUERIES) expectRowsEqual((await fresh.api.query(q.sql, q.params)).rows, reference[q.name]!, q.name);
  });

  it('a tenant that fills its volume gets SQLITE_FULL, and its database stays whole', async () => {
    await createDatabaseVolume(hv, 'tiny', 256 * 1024);
    await hv.pool.snapshot('tiny', 'tiny@empty');
    const g = await tenant('tiny@empty');
    await g.api.run('CREATE TABLE junk(b BLOB)');
    await g.api.run('INSERT INTO junk VALUES (randomblob(1000))');
    await expect(g.api.run('INSERT INTO junk SELECT randomblob(8000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) SELECT x FROM c)')).rejects.toThrow(/database or disk is full/);
    // The failed statement rolled back as a whole; the database is the one row and whole
    // (afterEach runs integrity_check).
    expect((await g.api.query('SELECT count(*) FROM junk')).rows[0]![0]).toBe(1);
  });

  it('refuses a file that is not a SQLite database, in words', async () => {
    await expect(importDatabase(hv, 'junk', new Blob(['hello, this is not a database'.padEnd(200, '.')]))).rejects.toThrow(/not a SQLite 3 database/);
  });
});

describe('SQLite guests on the copy transport', { timeout: SLOW }, () => {
  it('refuse to open with the reason, instead of blocking', async () => {
    const hv = await Hypervisor.start({ poolName: `sqlite-copy-${crypto.randomUUID()}`, forceCopy: true, scrubEveryMs: 0 });
    try {
      const { db } = await fixture();
      await importDatabase(hv, 'shop', db);
      await hv.pool.snapshot('shop', 'shop@base');
      const g = await spawnSqlGuest(hv, { base: 'shop@base' });
      await expect(g.api.query('SELECT 1')).rejects.toThrow(/zero-copy transport/);
    } finally {
      await hv.shutdown();
    }
  });
});
