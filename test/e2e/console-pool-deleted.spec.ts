// Playwright, real Chromium, the console page: the console's pool goes away while it runs,
// in the two ways a browser does it. Another tab deletes the database (IndexedDB asks
// dom0's connection to step aside), or the site's data is cleared (the browser closes the
// connection itself; here through DevTools' Storage.clearDataForOrigin, what the settings
// page does). Either way the pool closes; the console must stop and say why (a banner
// naming the cause), not freeze on its last sample, and a guest already running must stay
// up. Screenshot: test-results/console-pool-deleted.png.
import { expect, test } from '@playwright/test';
import { consoleReady, guestIds, spawn } from './demo-helpers';

test('a pool deleted under the console: the console stops and says why; the guest stays up', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 1);
  const [id] = await guestIds(page);

  // Another tab (here the same page, which is the same origin) deletes the database.
  const outcome = await page.evaluate(
    () =>
      new Promise<string>((resolve) => {
        const q = indexedDB.deleteDatabase((window.__tabvisor as unknown as { poolName: string }).poolName);
        q.onsuccess = () => resolve('deleted');
        q.onerror = () => resolve('error');
        q.onblocked = () => resolve('blocked');
      }),
  );
  expect(outcome).toBe('deleted');

  const banner = page.locator('#pool-closed');
  await expect(banner).toBeVisible({ timeout: 10_000 });
  await expect(banner).toContainText('The pool was closed under this console.');
  await expect(banner).toContainText('another tab deleted it');
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'none');
  await expect(page.locator('[data-pool-closed="true"]')).toHaveCount(1);
  await expect(page.getByRole('button', { name: 'Spawn on new clones' })).toBeDisabled();
  await expect(page.locator(`.guest-card[data-guest="${id}"]`)).toHaveAttribute('data-state', 'running');
  await page.screenshot({ path: 'test-results/console-pool-deleted.png', fullPage: true });
});

test("the site's data cleared under the console: the console stops and says why", async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 1);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.clearDataForOrigin', { origin: new URL(baseURL!).origin, storageTypes: 'indexeddb' });
  const banner = page.locator('#pool-closed');
  await expect(banner).toBeVisible({ timeout: 10_000 });
  await expect(banner).toContainText("the browser closed its database (the site's data was cleared");
  await expect(page.getByRole('button', { name: 'Spawn on new clones' })).toBeDisabled();
});
