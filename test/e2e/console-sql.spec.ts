// Playwright, real Chromium: SQL guests in the hypervisor console (Guest kind: SQL). The
// first spawn imports the sample database the dev server builds with the reference
// sqlite3; each guest runs on its own clone. Answers in the cards are compared with the
// reference sqlite3 CLI on the same file; one tenant's UPDATE stays its own; the page
// and dom0's page maps show the database's frames mapped by both tenants and the
// writer's pages only in its private frames; a bad statement is an error in its card.
import { expect, test, type Page } from '@playwright/test';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { referenceQuery, sqlite3Path } from '../../scripts/sqlite-sample.mjs';
import { consoleReady, shot } from './demo-helpers';
import { QUERIES, cells, expectReference, fetchSampleDb, run, spawnSql } from './sql-helpers';

let dir = '';
let dbPath = '';

test.beforeAll(async ({ request }) => {
  test.setTimeout(240_000);
  ({ dir, path: dbPath } = await fetchSampleDb(request, '/sample/shop.db'));
});

test.afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** dom0's view: frames of the sql group both domains map, and where each maps `lbas`. */
async function arenaFacts(page: Page, a: number, b: number, lbas: number[]) {
  return page.evaluate(
    async ({ a, b, lbas }) => {
      const hv = window.__tabvisor!.hv;
      const frames = await hv.memory.frames('sql');
      const [pa, pb] = [await hv.memory.pageMap(a), await hv.memory.pageMap(b)];
      const inA = new Set([...pa].filter((r) => r >= 0 && r < frames.length));
      const both = [...pb].filter((r) => inA.has(r));
      const mappedByBoth = frames.filter((f) => f.mappedBy.some(([d]) => d === a) && f.mappedBy.some(([d]) => d === b)).length;
      return { arenaFrames: frames.length, sharedRefs: new Set(both).size, mappedByBoth, aOwn: lbas.map((l) => pa[l]!), bOwn: lbas.map((l) => pb[l]!) };
    },
    { a, b, lbas },
  );
}

test('SQL guests in the console: reference answers, private writes, shared frames, errors in the card', async ({ page }) => {
  test.setTimeout(720_000);
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto('/#sql');
  await consoleReady(page);
  await expect(page.getByLabel('Guest kind')).toHaveValue('sql');
  const cards = await spawnSql(page, 2);
  const [a, b] = [cards.nth(0), cards.nth(1)];
  const [idA, idB] = [Number(await a.getAttribute('data-guest')), Number(await b.getAttribute('data-guest'))];
  await expect(page.locator('#sql-status')).toContainText('imported');

  // The example query is in the box; run it from the keyboard in A, with the button in B.
  await expect(a.getByLabel(/^SQL for /)).toHaveValue(/FROM customers/);
  await run(a, QUERIES[0]!, 'keys');
  await expectReference(a, QUERIES[0]!, dbPath);
  for (const q of QUERIES) {
    await run(b, q);
    await expectReference(b, q, dbPath);
  }
  await run(a, QUERIES[1]!);
  await expectReference(a, QUERIES[1]!, dbPath);

  // The rows cap: the guest sends 50 rows and says how many there were.
  const [[total]] = referenceQuery(dbPath, 'SELECT count(*) FROM orders') as [[number]];
  await run(a, 'SELECT * FROM orders');
  await expect(a.locator('.sql-table tbody tr')).toHaveCount(50);
  await expect(a.locator('.sql-count')).toContainText(`first 50 of ${total} rows`);

  // Both tenants read the same pages: dom0 maps them to the same frames of one arena.
  await expect.poll(async () => Number(await a.getAttribute('data-shared')), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect.poll(async () => Number(await b.getAttribute('data-shared')), { timeout: 20_000 }).toBeGreaterThan(0);
  const before = await arenaFacts(page, idA, idB, []);
  expect(before.sharedRefs).toBeGreaterThan(0);
  expect(before.mappedByBoth).toBe(before.sharedRefs);
  expect(Number(await page.locator('#sql-sharing').getAttribute('data-shared-frames'))).toBe(before.sharedRefs);
  await expect(a).toHaveAttribute('data-own', '0');

  // A changes its copy: A sees it, B does not; the write is A's own blocks only.
  await run(a, "UPDATE customers SET name = 'Changed by A' WHERE id = 1");
  await expect(a.locator('.sql-out')).toContainText('Statement done');
  const name1 = String(referenceQuery(dbPath, 'SELECT name FROM customers WHERE id = 1')[0]![0]);
  await run(a, 'SELECT name FROM customers WHERE id = 1');
  await expect(a.locator('.sql-table td')).toHaveText(['Changed by A']);
  await run(b, 'SELECT name FROM customers WHERE id = 1');
  await expect(b.locator('.sql-table td')).toHaveText([name1]);
  await expect.poll(async () => Number(await a.getAttribute('data-own')), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect(b).toHaveAttribute('data-own', '0');
  await shot(page, 'console-sql');

  // Where A's written pages live: read them fresh in A (a new connection has an empty
  // page cache), then look at both page maps. A's private frames hold them; B maps
  // none of those frames, and the shared frames stay shared.
  const own = await page.evaluate(async (ds) => [...(await window.__tabvisor!.hv.pool.ownership(ds))].flatMap((k, lba) => (k === 2 ? [lba] : [])), await a.evaluate((el) => el.querySelector('header .meta')!.textContent!.split(' · ')[2]!));
  expect(own.length).toBeGreaterThan(0);
  await run(a, "SELECT count(*) FROM customers WHERE name = 'Changed by A'");
  await expect(a.locator('.sql-table td')).toHaveText(['1']);
  const after = await arenaFacts(page, idA, idB, own);
  // SQLite reads page 1's change counter at every transaction start, so A maps at least that one.
  expect(after.aOwn.some((r) => r >= after.arenaFrames), `A maps a written block: ${JSON.stringify(after)}`).toBe(true);
  expect(after.sharedRefs).toBeGreaterThan(0);
  for (let i = 0; i < own.length; i++) {
    const ra = after.aOwn[i]!;
    const rb = after.bOwn[i]!;
    if (ra >= 0) expect(ra, `A's written block ${own[i]} is in a private frame`).toBeGreaterThanOrEqual(after.arenaFrames);
    if (rb >= 0) expect(rb, `B maps block ${own[i]} to the base's page, not A's`).toBeLessThan(after.arenaFrames);
    if (ra >= 0 && rb >= 0) expect(ra).not.toBe(rb);
  }
  await expect(b).toHaveAttribute('data-private', '0');

  // A bad statement: the error shows in A's card, and A goes on answering.
  await run(a, 'SELEC name FROM customers');
  await expect(a.locator('.sql-error')).toContainText(/syntax error/i);
  await expect(a).toHaveAttribute('data-state', 'running');
  await run(a, 'SELECT * FROM no_such_table');
  await expect(a.locator('.sql-error')).toContainText('no such table');
  await run(a, QUERIES[2]!);
  await expect(a.locator('.sql-error')).toHaveCount(0);
  const want2 = referenceQuery(dbPath, QUERIES[2]!).map((r) => r.map((v) => (v === null ? 'NULL' : String(v))));
  want2[0]![1] = 'Changed by A';
  expect(await cells(a)).toEqual(want2);
  await run(b, QUERIES[2]!);
  await expectReference(b, QUERIES[2]!, dbPath);

  // The writer's copy is a whole database after all that (it reads every page: slow here).
  await run(a, 'PRAGMA integrity_check', 'button', 300_000);
  await expect(a.locator('.sql-table td')).toHaveText(['ok']);
});

test('SQL guests at 390 px: the prompt is labelled, reachable by keyboard, and the page does not scroll sideways', async ({ page }) => {
  test.setTimeout(420_000);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/#sql');
  await consoleReady(page);
  const cards = await spawnSql(page, 2);
  const a = cards.nth(0);
  const box = a.getByLabel(/^SQL for vm-/);
  await box.focus();
  await page.keyboard.press('Tab');
  await expect(a.getByRole('button', { name: 'Run' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(a.locator('.sql-table tbody tr')).toHaveCount(5, { timeout: 90_000 });
  await run(a, 'SELECT * FROM customers LIMIT 20');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.locator('.guests-panel').screenshot({ path: `${process.env.TABVISOR_SHOTS ?? 'test-results'}/console-sql-390.png` });
});

test('no sample database: a clear error that names the import path', async ({ page }) => {
  test.setTimeout(120_000);
  await page.route('**/sample/shop.db', (r) => r.fulfill({ status: 404, body: 'the reference sqlite3 is missing' }));
  await page.goto('/');
  await consoleReady(page);
  await page.getByLabel('Guest kind').selectOption('sql');
  await page.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(page.locator('#sql-status')).toContainText('no sample database', { timeout: 60_000 });
  await expect(page.locator('#sql-status')).toContainText('Import a file as a volume');
  await expect(page.locator('.sql-card')).toHaveCount(0);
});

test('sql.html leads to the console with the SQL kind chosen', async ({ page }) => {
  await page.goto('/sql.html');
  await page.waitForURL(/\/#sql$/);
  await consoleReady(page);
  await expect(page.getByLabel('Guest kind')).toHaveValue('sql');
});

test('a .db of your own (8 KiB pages): imported from the file input with its page size, SQL guests on its snapshot answer like the reference', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  await consoleReady(page);
  // A small database of its own, with 8 KiB pages (the sample's are 4 KiB): made by the
  // reference sqlite3, so the import must take the page size from the file's header.
  const mine = join(dir, 'mine.db');
  execFileSync(sqlite3Path(), [mine], {
    input: "PRAGMA page_size=8192; CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO notes SELECT i, printf('note %d: %s', i, hex(randomblob(40))) FROM n; VACUUM;",
  });
  await page.locator('#import-file').setInputFiles({ name: 'mine.db', mimeType: 'application/vnd.sqlite3', buffer: readFileSync(mine) });
  await expect(page.locator('.import-status')).toContainText('Imported mine.db as mine.db', { timeout: 120_000 });
  await page.getByLabel('Base snapshot').selectOption('mine.db@base');
  const cards = await spawnSql(page, 1);
  await expect(cards.first().locator('header .meta')).toContainText('mine.db/vm-1 · sql-8192 group');
  const q = 'SELECT count(*), sum(length(body)), max(id), (SELECT body FROM notes WHERE id = 1234) FROM notes';
  await run(cards.first(), q);
  await expectReference(cards.first(), q, mine);
  // The sample was never needed.
  expect(await page.evaluate(async () => (await window.__tabvisor!.hv.pool.list()).some((d) => d.name === 'shop@base'))).toBe(false);
});
