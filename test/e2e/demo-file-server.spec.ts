// Playwright, real Chromium, the console page: one guest serves the files of its volume to
// another over an inter-domain channel; the panel shows messages per second and bytes
// copied (the server copies each byte once out of its block views; the client none).
import { expect, test } from '@playwright/test';
import { consoleReady } from './demo-helpers';

test('file server over a channel: files flow, counted, and stop cleanly', async ({ page }) => {
  await page.goto('/');
  await consoleReady(page);
  await page.locator('#fs-toggle').click();
  await expect(page.locator('#fs-status')).toContainText(/dom \d+ serves \d+ files to dom \d+ on channel \d+/, { timeout: 30_000 });
  await expect.poll(async () => Number((await page.locator('[data-fs="files"]').textContent())?.replace(/,/g, '')), { timeout: 20_000 }).toBeGreaterThan(3);
  await expect.poll(async () => Number((await page.locator('[data-fs="rate"]').textContent())?.replace(/,/g, '')), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect(page.locator('[data-fs="copiedClient"]')).toHaveText('0 B');
  await expect(page.locator('[data-fs="copiedServer"]')).not.toHaveText('0 B');
  // What the panel says agrees with dom0: one channel, between exactly those two guests.
  const { channels } = await page.evaluate(() => window.__tabvisor!.hv.channels.list());
  expect(channels).toHaveLength(1);
  await page.screenshot({ path: 'test-results/demo-file-server.png', fullPage: true });
  await page.locator('#fs-toggle').click();
  await expect(page.locator('#fs-status')).toHaveText('Stopped.');
  await expect.poll(async () => (await page.evaluate(() => window.__tabvisor!.hv.channels.list())).channels.length).toBe(0);
});
