// Playwright (Node side): driving the console's SQL guest cards, shared by the dev-server
// spec (console-sql.spec.ts) and the built-site spec (build-preview.spec.ts).
import { expect, type Locator, type Page } from '@playwright/test';
import { referenceQuery } from '../../scripts/sqlite-sample.mjs';

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
