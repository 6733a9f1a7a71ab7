// Playwright, real Chromium: the static build on a host that cannot set response headers
// (GitHub Pages), isolated by the service worker public/coi-sw.js as docs/embedding.md says
// to register it. A plain Node server here serves the build (`.build-e2e`, made by the
// preview webServer of playwright.config.ts) with no COOP/COEP/CSP at all; the page must
// become cross-origin isolated after the one reload, run its guests zero-copy, and the
// guest worker's script must reach the worker with the guest CSP the worker added.
import { expect, test } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GUEST_CSP } from '../../scripts/guest-csp';
import { consoleReady, spawn, card } from './demo-helpers';

const DIST = fileURLToPath(new URL('../../.build-e2e/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
// The registration snippet exactly as docs/embedding.md gives it (its html block after the
// service worker's name), put first in <head> as it says.
const DOC = readFileSync(new URL('../../docs/embedding.md', import.meta.url), 'utf8');
const REGISTER = /public\/coi-sw\.js[\s\S]*?```html\n([\s\S]*?)```/.exec(DOC)?.[1] ?? '';

let server: Server;
let base = '';

test.beforeAll(async () => {
  expect(REGISTER, 'the registration snippet in docs/embedding.md').toContain("serviceWorker.register(new URL('coi-sw.js'");
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(DIST, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(DIST)) return void res.writeHead(403).end();
    readFile(file).then(
      (body) => {
        const type = TYPES[extname(file)] ?? 'application/octet-stream';
        const out = file === join(DIST, 'index.html') ? Buffer.from(body.toString('utf8').replace('<head>', `<head>${REGISTER}`)) : body;
        res.writeHead(200, { 'Content-Type': type }).end(out);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

test.afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('on a host without headers the service worker isolates the console and gives guest workers the guest CSP', async ({ page }) => {
  test.setTimeout(120_000);
  const plain = await page.request.get(`${base}/guest/bootstrap.js`);
  expect(plain.headers()['content-security-policy'], 'the host itself sends no CSP').toBeUndefined();
  const bootstraps: { csp: string | undefined; fromServiceWorker: boolean }[] = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/guest/bootstrap.js') bootstraps.push({ csp: r.headers()['content-security-policy'], fromServiceWorker: r.fromServiceWorker() });
  });
  await page.goto(`${base}/`);
  // The worker's one reload (docs/embedding.md) can land during an evaluate and destroy its
  // context: that is the expected navigation, so it counts as "not isolated yet".
  await expect.poll(() => page.evaluate(() => crossOriginIsolated).catch(() => false), { timeout: 30_000 }).toBe(true);
  await consoleReady(page);
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  await spawn(page, 1);
  const id = Number(await page.locator('.guest-card').first().getAttribute('data-guest'));
  await expect(card(page, id).locator('.meta')).toContainText('zero-copy');
  expect(bootstraps.length, 'the guest worker loaded its script').toBeGreaterThan(0);
  for (const b of bootstraps) expect(b).toEqual({ csp: GUEST_CSP, fromServiceWorker: true });
  // A page script under the same worker keeps no CSP: only guest scripts get it.
  const pageHeaders = await page.evaluate(async () => Object.fromEntries((await fetch('/')).headers));
  expect(pageHeaders['content-security-policy']).toBeUndefined();
  expect(pageHeaders['cross-origin-embedder-policy']).toBe('require-corp');
});
