// Runs in Node (Playwright), driving real Chromium against the Vite dev server. Records
// which guest contexts receive a SharedArrayBuffer from a cross-origin-isolated page,
// prints it, writes it to test-results/isolation-matrix.{json,png}, and asserts it against
// the expected matrix from ARCHITECTURE.md section 1 (test/e2e/pages/isolation-expected.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { CONTEXTS, EXPECTED } from './pages/isolation-expected';
import type { MatrixReport } from './pages/isolation-matrix';

const PAGE = '/test/e2e/pages/isolation-matrix.html';

function table(report: MatrixReport): string {
  const lines = report.rows.map(
    (r) => `${r.label.padEnd(78)} expected ${EXPECTED[r.id].padEnd(12)} observed ${r.outcome.padEnd(12)} → ${r.probe ? `${r.probe.kind}: ${r.probe.reason}` : r.error ?? ''}`,
  );
  return [
    `page ${report.page.origin}: crossOriginIsolated=${String(report.page.crossOriginIsolated)}, typeof SharedArrayBuffer=${report.page.sharedArrayBuffer}`,
    report.page.userAgent,
    ...lines,
  ].join('\n');
}

test('isolation matrix: which guest contexts receive a SharedArrayBuffer', async ({ page }, testInfo) => {
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(PAGE);
  const report = await page.evaluate(() => window.__isolationMatrix as Promise<MatrixReport>);
  await expect(page.locator('body[data-done="true"]')).toBeVisible();

  // Record first, assert after: the observed matrix is the product of this test.
  const text = table(report);
  console.log(`\nisolation matrix (observed):\n${text}\n`);
  const dir = testInfo.project.outputDir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'isolation-matrix.json'), JSON.stringify(report, null, 2));
  await page.screenshot({ path: join(dir, 'isolation-matrix.png'), fullPage: true });
  await testInfo.attach('isolation-matrix.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
  await testInfo.attach('isolation-matrix.txt', { body: text, contentType: 'text/plain' });

  expect(report.page.crossOriginIsolated).toBe(true);
  expect(report.page.sharedArrayBuffer).toBe('function');
  expect(report.page.hostCapability).toBeNull();

  const observed = Object.fromEntries(report.rows.map((r) => [r.id, r.outcome]));
  expect(Object.keys(observed).sort()).toEqual(CONTEXTS.map((c) => c.id).sort());
  expect(observed, consoleErrors.join('\n')).toEqual(EXPECTED);
});

test('transport probe: zero-copy for a worker, copy with a plain reason for an opaque-origin frame', async ({ page }) => {
  await page.goto(PAGE);
  const report = await page.evaluate(() => window.__isolationMatrix as Promise<MatrixReport>);
  const row = (id: string) => report.rows.find((r) => r.id === id);

  for (const id of ['worker', 'hardened-worker']) {
    expect(row(id)?.probe).toMatchObject({ kind: 'zero-copy', reason: 'guest shares memory with this page' });
    expect(row(id)?.guest).toMatchObject({ crossOriginIsolated: true, hasSharedArrayBuffer: true });
  }
  const opaque = row('sandboxed-opaque-iframe');
  expect(opaque?.probe).toMatchObject({ kind: 'copy', cause: 'guest-messageerror' });
  expect(opaque?.probe?.reason).toBe(
    'guest context cannot receive SharedArrayBuffer (opaque-origin frame: a sandbox without allow-same-origin)',
  );
  // An opaque origin serializes as "null".
  expect(opaque?.guest?.origin).toBe('null');
  expect(row('cross-origin-iframe')?.probe).toMatchObject({ kind: 'copy', cause: 'guest-messageerror' });
  expect(row('cross-origin-iframe')?.probe?.reason).toMatch(/cross-origin context http:\/\/localhost:\d+/);
});
