// Playwright, real Chromium: the widget (embed/widget.html, from the dev server) embedded
// by docs pages served by route() with COOP/COEP and without them, plus the
// <tabvisor-console> element on a page that bundles it. The docs pages are on the widget's
// origin: headless Chromium 156 denies IndexedDB (and never answers Web Locks) in a
// cross-site frame, which the last test pins down. "Open in its own tab" hands the frame's
// saved pool to the new tab (host/page/pool-handover.ts).
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { shot } from './demo-helpers';

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

async function serveDocsPage(page: Page, file: string, headers: Record<string, string>, widgetOrigin: string, docsOrigin: string): Promise<string> {
  const docs = `${docsOrigin}/docs/page.html`;
  const html = readFileSync(new URL(`./pages/${file}`, import.meta.url), 'utf8').replaceAll('WIDGET_ORIGIN', widgetOrigin);
  // A route()-fulfilled page has no IP address, so Chromium's Local Network Access checks
  // treat it as public and block its frame on 127.0.0.1; a real docs site and a real
  // widget host are both public. Let this test page reach the local dev server.
  await page.context().grantPermissions(['local-network-access'], { origin: new URL(docs).origin });
  await page.route(docs, (route) => route.fulfill({ status: 200, contentType: 'text/html', headers, body: html }));
  return docs;
}

test('widget in a cross-origin-isolated docs page runs zero-copy', async ({ page, baseURL }) => {
  // Same origin as the widget: a cross-site frame gets no IndexedDB in headless Chromium
  // (third-party storage blocking; docs/embedding.md), whatever the isolation.
  const docs = await serveDocsPage(page, 'embed-docs-isolated.html', ISOLATION, baseURL!, baseURL!);
  await page.goto(docs);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const widget = page.frameLocator('iframe');
  await expect(widget.locator('[data-ready="true"]')).toBeVisible({ timeout: 30_000 });
  await expect(widget.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  await expect(widget.locator('#copy-banner')).toBeHidden();
  await widget.getByLabel('Guests', { exact: true }).fill('2');
  await widget.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(widget.locator('.guest-card[data-state="running"]')).toHaveCount(2, { timeout: 30_000 });
  await expect(widget.locator('.guest-card .meta').first()).toContainText('zero-copy');
  await widget.locator('.guest-card').first().getByRole('button', { name: 'Scan image' }).click();
  await expect(widget.locator('.guest-card output').first()).toContainText('all as views onto shared memory', { timeout: 90_000 });
  const frame = page.frames().find((f) => f.url() === `${baseURL}/embed/widget.html`)!;
  expect(await frame.evaluate(() => [crossOriginIsolated, document.getElementById('console')!.classList.contains('compact')])).toEqual([true, true]);
  await shot(page, 'embed-widget-isolated');
});

test('widget in an isolated docs page whose iframe lacks allow="cross-origin-isolated" names the missing attribute', async ({ page, baseURL }) => {
  // Same site, another origin (port): a same-origin frame is granted isolation by default.
  const docs = await serveDocsPage(page, 'embed-docs-noallow.html', ISOLATION, baseURL!, `http://127.0.0.1:${Number(new URL(baseURL!).port) + 7}`);
  await page.goto(docs);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const widget = page.frameLocator('iframe');
  await expect(widget.locator('[data-ready="true"]')).toBeVisible({ timeout: 30_000 });
  await expect(widget.locator('#transport-status')).toHaveAttribute('data-transport', 'copy');
  // Not "missing headers": the page has them; the frame was not granted isolation.
  await expect(widget.locator('[data-diagnosis="allow-missing"]')).toContainText('The iframe lacks allow="cross-origin-isolated"');
  await expect(widget.locator('[data-diagnosis="allow-missing"]')).toContainText('add allow="cross-origin-isolated" to the <iframe>');
  await expect(widget.locator('[data-diagnosis="embedder-headers-missing"]')).toHaveCount(0);
});

test('widget in a plain docs page runs on the copy transport, says why, and links to a full tab', async ({ page, baseURL }) => {
  test.setTimeout(180_000); // two scans of the 36 MiB image on the copy transport
  const docs = await serveDocsPage(page, 'embed-docs-plain.html', {}, baseURL!, baseURL!);
  await page.goto(docs);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  const widget = page.frameLocator('iframe');
  await expect(widget.locator('[data-ready="true"]')).toBeVisible({ timeout: 30_000 });
  await expect(widget.locator('#transport-status')).toHaveAttribute('data-transport', 'copy');
  const banner = widget.locator('#copy-banner');
  await expect(banner).toBeVisible();
  // The iframe has allow="cross-origin-isolated": what is missing is the docs page's headers.
  await expect(banner.locator('[data-diagnosis="embedder-headers-missing"]')).toContainText('The page embedding this console is not cross-origin isolated');
  const link = banner.getByRole('link', { name: 'Open it in its own tab to see zero-copy' });
  // The frame owns its saved pool, so the link asks for it to be handed over (next test).
  await expect(link).toHaveAttribute('href', `${baseURL}/embed/widget.html?handover=1`);
  await expect(link).toHaveAttribute('target', '_blank');

  // Same semantics on the copy transport: guests read, the counters count copies.
  await widget.getByLabel('Guests', { exact: true }).fill('2');
  await widget.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(widget.locator('.guest-card[data-state="running"]')).toHaveCount(2, { timeout: 30_000 });
  await widget.locator('.guest-card').first().getByRole('button', { name: 'Scan image' }).click();
  await expect(widget.locator('.guest-card output').first()).toContainText('copied into the guest', { timeout: 90_000 });
  await expect(widget.locator('[data-counter="bytesCopied"]')).not.toHaveText('0 B');
  await shot(page, 'embed-widget-plain');
});

test('"open in its own tab" hands the frame\'s saved pool to the new tab, with every acknowledged write', async ({ page, baseURL }) => {
  test.setTimeout(180_000);
  const FILE = 'usr/share/doc/tabvisor/README.md';
  const docs = await serveDocsPage(page, 'embed-docs-plain.html', {}, baseURL!, baseURL!);
  await page.goto(docs);
  const widget = page.frameLocator('iframe');
  await expect(widget.locator('[data-ready="true"]')).toBeVisible({ timeout: 30_000 });
  await widget.getByLabel('Guests', { exact: true }).fill('1');
  await widget.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(widget.locator('.guest-card[data-state="running"]')).toHaveCount(1, { timeout: 30_000 });
  const frame = page.frames().find((f) => f.url().startsWith(`${baseURL}/embed/widget.html`))!;
  expect(await frame.evaluate(() => window.__tabvisor!.poolName)).toBe('tabvisor-widget');

  // In the frame: a named snapshot, then a guest editing a file without pause, counting
  // the edits acknowledged (durable) until the hand-over stops it.
  const clone = await frame.evaluate(async (file) => {
    const app = window.__tabvisor!;
    const card = [...app.cards.values()][0]!;
    await app.hv.pool.snapshot(card.guest.dataset, `${card.guest.dataset}@before-handover`);
    const w = window as unknown as { __acked: number; __ended: string | null };
    w.__acked = 0;
    w.__ended = null;
    void (async () => {
      for (let i = 1; ; i++) {
        try {
          await card.guest.api.edit(file, `handover ${String(i).padStart(6, '0')}`);
        } catch (e) {
          w.__ended = String(e);
          return;
        }
        w.__acked = i;
      }
    })();
    return card.guest.dataset;
  }, FILE);
  const acked = () => frame.evaluate(() => (window as unknown as { __acked: number }).__acked);
  await expect.poll(acked, { timeout: 30_000 }).toBeGreaterThan(3);

  const link = widget.locator('#open-full-tab');
  await expect(link).toHaveAttribute('href', `${baseURL}/embed/widget.html?handover=1`);
  const [tab] = await Promise.all([page.waitForEvent('popup'), link.click()]);
  await expect(tab.locator('[data-ready="true"]')).toBeVisible({ timeout: 60_000 });

  // The frame let go, and says where its pool went; its guest stopped with it.
  await expect(widget.locator('#handed-over')).toContainText('The pool moved to the tab you opened');
  await expect(widget.locator('.tabvisor-console')).toHaveAttribute('data-handed-over', 'true');
  expect(await frame.evaluate(() => (window as unknown as { __ended: string | null }).__ended)).not.toBeNull();
  const last = await acked();
  expect(last).toBeGreaterThan(3);

  // The tab runs the saved pool (not a temporary `-tmp-` one), zero-copy, with the frame's data.
  expect(await tab.evaluate(() => window.__tabvisor!.poolName)).toBe('tabvisor-widget');
  await expect(tab.locator('#pool-note')).toBeHidden();
  await expect(tab.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  const names = await tab.evaluate(async () => (await window.__tabvisor!.hv.pool.list()).map((d) => d.name));
  expect(names).toContain(`${clone}@before-handover`);
  // Boot the frame's clone in the tab: the file holds the last acknowledged edit, or the
  // one in flight when the frame stopped (it may have committed unacknowledged).
  await tab.locator(`.stopped-row[data-dataset="${clone}"]`).getByRole('button', { name: `Boot ${clone.split('/').pop()}` }).click();
  await expect(tab.locator('.guest-card[data-state="running"]')).toHaveCount(1, { timeout: 30_000 });
  const text = await tab.evaluate(async (file) => (await [...window.__tabvisor!.cards.values()][0]!.guest.api.readFile(file, 64)).text, FILE);
  const got = Number(/^handover (\d{6})/.exec(text)?.[1] ?? -1);
  expect([last, last + 1], `the file says ${JSON.stringify(text.slice(0, 20))}; ${last} edits were acknowledged`).toContain(got);
  await shot(page, 'embed-handover-frame');
  await shot(tab, 'embed-handover-tab');
});

test('<tabvisor-console> mounts a console in a page that bundles it', async ({ page }) => {
  await page.goto('/test/e2e/pages/embed-element.html');
  await expect(page.locator('tabvisor-console[data-ready="true"]')).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  await expect(page.locator('tabvisor-console .ds-row', { hasText: 'image@base' })).toBeVisible();
});

test('widget embedded cross-site where storage is blocked runs on an in-memory pool and says so', async ({ page, baseURL }) => {
  const docs = await serveDocsPage(page, 'embed-docs-plain.html', {}, baseURL!, `http://localhost:${new URL(baseURL!).port}`);
  await page.goto(docs);
  const widget = page.frameLocator('iframe');
  // The browser refuses storage (the pool's Web Lock, and IndexedDB) to the cross-site frame; the pool lives in memory.
  await expect(widget.locator('[data-ready="true"]')).toBeVisible({ timeout: 30_000 });
  await expect(widget.locator('[data-storage]')).toHaveAttribute('data-storage', 'memory');
  await expect(widget.locator('#storage-note')).toContainText(/Nothing is saved\..*refused/);
  await expect(widget.locator('#copy-banner').getByRole('link').first()).toHaveAttribute('href', `${baseURL}/embed/widget.html`);
  // And it works: guests run on the copy transport over the in-memory pool.
  await widget.getByLabel('Guests', { exact: true }).fill('2');
  await widget.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(widget.locator('.guest-card[data-state="running"]')).toHaveCount(2, { timeout: 30_000 });
  await widget.locator('.guest-card').first().getByRole('button', { name: 'Scan image' }).click();
  await expect(widget.locator('.guest-card output').first()).toContainText('copied into the guest', { timeout: 90_000 });
  await shot(page, 'embed-widget-cross-site');
});
