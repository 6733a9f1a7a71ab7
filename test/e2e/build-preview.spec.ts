// Playwright, real Chromium: the static build (`npm run build`), served by `vite preview`
// with the project's headers, works as deployed: the console boots zero-copy, guests on
// clones read the built-in image, the widget loads, and the guest bootstrap chunk comes
// with its Content-Security-Policy.
import { expect, test } from '@playwright/test';
import { PREVIEW_PORT } from '../../playwright.config';
import { consoleReady, guestIds, spawn, stats, card } from './demo-helpers';

const BASE = `http://127.0.0.1:${PREVIEW_PORT}`;

test('the built console runs guests zero-copy', async ({ page }) => {
  test.setTimeout(240_000);
  const responses: { url: string; csp: string | undefined; coep: string | undefined }[] = [];
  page.on('response', (r) => responses.push({ url: r.url(), csp: r.headers()['content-security-policy'], coep: r.headers()['cross-origin-embedder-policy'] }));
  await page.goto(`${BASE}/`);
  await consoleReady(page);
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  await spawn(page, 2);
  const ids = await guestIds(page);
  expect(ids).toHaveLength(2);
  for (const id of ids) {
    await card(page, id).getByRole('button', { name: 'Read all files' }).click();
    await expect(card(page, id).locator('output')).toContainText(/read \d+ files/, { timeout: 90_000 });
  }
  const s = await stats(page);
  expect(s.driver.bytesCopied).toBe(0);
  // The generated image shipped with the build: two guests read all of it from shared frames.
  expect(s.driver.poolReads).toBeGreaterThan(0);
  expect(s.driver.bytesShared).toBeGreaterThan(2 * 20 * 1024 * 1024);
  for (const r of responses) expect.soft(r.coep, r.url).toBe('require-corp');
  const bootstrap = responses.find((r) => /\/assets\/bootstrap-[\w-]+\.js$/.test(r.url));
  expect(bootstrap, 'the guest bootstrap chunk was loaded').toBeDefined();
  expect(bootstrap!.csp).toMatch(/script-src 'self'/);
  expect(bootstrap!.csp).toMatch(/connect-src 'none'/);
});

test('the built widget page loads', async ({ page }) => {
  await page.goto(`${BASE}/embed/widget.html`);
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy', { timeout: 30_000 });
});
