// Playwright (Node side): driving the console's SQL guest cards, shared by the dev-server
// spec (console-sql.spec.ts) and the built-site spec (build-preview.spec.ts).
import { expect, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceQuery } from '../../scripts/sqlite-sample.mjs';

/** Queries over the sample database whose answers are checked against the reference sqlite3. */
export const QUERIES = [
  'SELECT country, count(*) AS customers FROM customers GROUP BY country ORDER BY customers DESC, country LIMIT 5',
  // CROSS JOIN fixes the join order: with plain JOINs SQLite's planner (the reference CLI
  // too) picks a plan that takes 35 s on this database; this one takes 0.2 s, same answer.
  "SELECT p.category, count(*) AS items, round(sum(i.qty * i.price), 2) AS revenue FROM orders o CROSS JOIN order_items i ON i.order_id = o.id CROSS JOIN products p ON p.id = i.product_id WHERE o.status = 'delivered' GROUP BY p.category ORDER BY p.category",
  'SELECT id, name, email, notes FROM customers WHERE id IN (1, 2, 3, 4) ORDER BY id',
];

/**
 * The very sample database the console imports, fetched from the server under test into a
 * new temporary directory (the caller removes `dir`), for the reference sqlite3 to query.
 */
export async function fetchSampleDb(request: APIRequestContext, url: string): Promise<{ dir: string; path: string }> {
  const res = await request.get(url, { timeout: 200_000 });
  expect(res.ok(), await res.text().catch(() => '')).toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'tabvisor-sql-'));
  const path = join(dir, 'shop.db');
  writeFileSync(path, await res.body());
  return { dir, path };
}

/** Type `sql` into a card's prompt, run it (Ctrl+Enter or the Run button), wait for the answer. */
export async function run(card: Locator, sql: string, how: 'keys' | 'button' = 'button', timeout = 90_000): Promise<void> {
  const box = card.locator('textarea');
  const before = await card.locator('.sql-out').innerHTML();
  await box.fill(sql);
  if (how === 'keys') await box.press('Control+Enter');
  else await card.getByRole('button', { name: 'Run' }).click();
  await expect.poll(() => card.locator('.sql-out').innerHTML(), { timeout }).not.toBe(before);
  await expect(card.locator('form.sql-form')).not.toHaveAttribute('aria-busy', 'true');
}

export async function cells(card: Locator): Promise<string[][]> {
  return card.locator('.sql-table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
}

/** The card's rows equal the reference's (numbers compared as numbers, NULL as NULL). */
export async function expectReference(card: Locator, sql: string, db: string): Promise<void> {
  const want = referenceQuery(db, sql);
  const got = await cells(card);
  expect(got.length, sql).toBe(want.length);
  want.forEach((row, i) =>
    row.forEach((v, j) => {
      const cell = got[i]![j]!;
      if (typeof v === 'number') expect(Math.abs(Number(cell) - v), `${sql} row ${i} col ${j}: ${cell} vs ${v}`).toBeLessThanOrEqual(Math.abs(v) * 1e-12);
      else expect(cell, `${sql} row ${i} col ${j}`).toBe(v === null ? 'NULL' : String(v));
    }),
  );
}

export async function spawnSql(page: Page, n: number): Promise<Locator> {
  await page.getByLabel('Guest kind').selectOption('sql');
  await page.getByLabel('Guests', { exact: true }).fill(String(n));
  await page.getByRole('button', { name: 'Spawn on new clones' }).click();
  const cards = page.locator('.sql-card[data-state="running"]');
  await expect(cards).toHaveCount(n, { timeout: 240_000 });
  return cards;
}
