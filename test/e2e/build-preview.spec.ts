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

test('the built site has no route to project source: the page (no CSP at all) cannot import it', async ({ page, request }) => {
  const paths = ['/package.json', '/package.json?raw', '/vite.config.ts?raw', '/scripts/soak.mjs?raw', '/guest/bootstrap.ts?raw', '/@fs/package.json?raw'];
  for (const path of paths) {
    const r = await request.get(`${BASE}${path}`);
    const type = r.headers()['content-type'] ?? '';
    // Not found, or the SPA's HTML: never the file, never JavaScript.
    expect(r.status() === 404 || type.startsWith('text/html'), `${path}: ${r.status()} ${type}`).toBe(true);
    expect(await r.text(), path).not.toContain('"devDependencies"');
  }
  await page.goto(`${BASE}/`);
  // A string, so the test runner's transpiler cannot rewrite the page's import().
  const outcomes = (await page.evaluate(
    `Promise.all(${JSON.stringify(paths)}.map((p) => import(location.origin + p).then(() => p + ': loaded', (e) => p + ': ' + e.name)))`,
  )) as string[];
  expect(outcomes).toHaveLength(paths.length);
  for (const o of outcomes) expect(o).not.toMatch(/loaded$/);
});
