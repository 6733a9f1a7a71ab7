// Playwright, real Chromium: the static build (`npm run build`), served by `vite preview`
// with the project's headers, works as deployed: the console boots zero-copy, guests on
// clones read the built-in image, the widget loads, and the guest bootstrap chunk comes
// with its Content-Security-Policy.
import { expect, test } from '@playwright/test';
import { PREVIEW_PORT } from '../../playwright.config';
import { consoleReady, guestIds, spawn, stats, card } from './demo-helpers';
import type { TarGuestApi } from '../../guest/workloads/tar-guest';
import { rmSync } from 'node:fs';
import { QUERIES, expectReference, fetchSampleDb, run, spawnSql } from './sql-helpers';

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
  const bootstrap = responses.find((r) => r.url === `${BASE}/guest/bootstrap.js`);
  expect(bootstrap, 'the guest bootstrap was loaded from its fixed path').toBeDefined();
  expect(bootstrap!.csp).toMatch(/script-src 'self'/);
  expect(bootstrap!.csp).toMatch(/connect-src 'none'/);
});

// The guest runtime and the guest modules are one build (scripts/build-options.ts,
// GUEST_BOOTSTRAP_ENTRY): a guest realm has one comlink, with the error transfer the
// bootstrap installed, and one set of channels, the set the bootstrap closes when dom0 goes.
// Built as a worker bundle of its own, the bootstrap had its own copies: every error a guest
// threw reached the page as "TypeError: Cannot convert undefined or null to object".
test('in the built site a guest error reaches the page with its class and code, and dom0 going fails guest I/O with DOM0_GONE', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto(`${BASE}/`);
  await consoleReady(page);
  await spawn(page, 1);
  const outOfRange = await page.evaluate(async () => {
    const g = window.__tabvisor!.hv.guests.list()[0]!;
    try {
      await (g.api as unknown as Pick<TarGuestApi, 'hex'>).hex(99_999_999);
      return 'resolved';
    } catch (e) {
      const err = e as Error & { code?: string; status?: number };
      return { name: err.name, code: err.code, status: err.status, message: err.message, isError: err instanceof Error };
    }
  });
  expect(outOfRange).toMatchObject({ name: 'BlockDeviceError', code: 'out-of-range', status: 1, isError: true });
  expect((outOfRange as { message: string }).message).toContain('outside this volume');

  const afterAbort = await page.evaluate(async () => {
    const hv = window.__tabvisor!.hv;
    const g = hv.guests.list()[0]!;
    hv.abort('pulled by the build-preview test');
    const read = (g.api as unknown as Pick<TarGuestApi, 'hex'>).hex(3).then(
      () => 'resolved',
      (e: Error & { code?: string }) => ({ name: e.name, code: e.code, message: e.message }),
    );
    return Promise.race([read, new Promise((r) => setTimeout(() => r('no answer in 10 s'), 10_000))]);
  });
  expect(afterAbort).toMatchObject({ name: 'ChannelClosedError', code: 'DOM0_GONE' });
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

// The SQL guest on the built site: its WebAssembly, its worker-side VFS and its errors
// come from the build, not the dev server (guest CSP with 'wasm-unsafe-eval', the sample
// database the build ships). A bad statement's error reaches the card with SQLite's own
// message, through the one comlink the built guest realm has.
test('the built console runs a SQL guest: answers equal the reference sqlite3, and SQLite errors reach the card', async ({ page, request }) => {
  test.setTimeout(300_000);
  const { dir, path: db } = await fetchSampleDb(request, `${BASE}/sample/shop.db`);
  try {
    await page.goto(`${BASE}/#sql`);
    await consoleReady(page);
    const cards = await spawnSql(page, 1);
    await run(cards.first(), QUERIES[0]!);
    await expectReference(cards.first(), QUERIES[0]!, db);
    await run(cards.first(), 'SELECT * FROM no_such_table');
    await expect(cards.first().locator('.sql-error')).toContainText('no such table');
    await expect(cards.first()).toHaveAttribute('data-state', 'running');
    expect((await stats(page)).driver.bytesCopied).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
