// Playwright, real Chromium: the SQL tenants page (sql.html) with the sample database the
// dev server generates with the reference sqlite3. Two tenants on clones of it; one
// changes its copy; the other and the page's sharing panel show the pages are shared and
// the write stayed with its tenant.
import { expect, test } from '@playwright/test';

test('SQL tenants share the sample database and keep their writes', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/sql.html');
  await expect(page.locator('#sql-status')).toContainText('Ready', { timeout: 240_000 });
  await page.locator('#sql-count').fill('2');
  await page.locator('#sql-add').click();
  const cards = page.locator('.sql-tenant');
  await expect(cards).toHaveCount(2, { timeout: 120_000 });
  const [a, b] = [cards.nth(0), cards.nth(1)];
  await a.locator('textarea').fill("UPDATE customers SET name = 'Changed by A' WHERE id = 1");
  await a.locator('.sql-run').click();
  await expect(a.locator('.sql-out')).toContainText('done', { timeout: 60_000 });
  for (const [card, want] of [[a, 'Changed by A'], [b, null]] as const) {
    await card.locator('textarea').fill('SELECT name FROM customers WHERE id = 1');
    await card.locator('.sql-run').click();
    await expect(card.locator('.sql-out td')).toHaveCount(1, { timeout: 60_000 });
    if (want) await expect(card.locator('.sql-out td')).toHaveText(want);
    else await expect(card.locator('.sql-out td')).not.toHaveText('Changed by A');
  }
  await expect(a.locator('header')).toContainText(/[1-9]\d* own page/, { timeout: 30_000 });
  await expect(b.locator('header')).toContainText('0 own pages');
  await expect(page.locator('#sql-sharing')).toContainText('Bytes copied from dom0 to guests: 0');
});
