// Playwright, real Chromium: Reset asks first, and when confirmed deletes the pool (and
// its archive); the console starts over with only the built-in image.
import { expect, test } from '@playwright/test';
import { consoleReady, spawn } from './demo-helpers';

test('reset asks for confirmation, then deletes the pool and starts over', async ({ page }) => {
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 1);
  const names = () => page.evaluate(async () => (await window.__tabvisor!.hv.pool.list()).map((d) => d.name).sort());
  expect((await names()).length).toBe(3); // image, image@base, the guest's clone

  // Dismissed: nothing happens.
  page.once('dialog', (d) => void d.dismiss());
  await page.getByRole('button', { name: 'Reset (delete the pool)' }).click();
  await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(1);
  expect((await names()).length).toBe(3);

  // Accepted: the page reloads on a fresh pool holding just the built-in image.
  let message = '';
  page.once('dialog', (d) => {
    message = d.message();
    void d.accept();
  });
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Reset (delete the pool)' }).click()]);
  expect(message).toMatch(/Delete the pool/);
  await consoleReady(page);
  expect(await names()).toEqual(['image', 'image@base']);
  await expect(page.locator('.guest-card')).toHaveCount(0);
});
