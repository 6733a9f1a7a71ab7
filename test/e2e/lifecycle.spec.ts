// Playwright, real Chromium: every refused call cleans up what it started. Each refusal is
// made with the page's dedicated workers counted before and after (Playwright sees each
// worker the page runs: dom0 and every guest), with dom0's domains, the pool's datasets
// and its txg compared too. And the block-ownership query answers on every dataset state
// the API allows, including a snapshot whose origin volume was destroyed.
import { expect, test } from '@playwright/test';

const REFUSALS: [what: string, error: RegExp][] = [
  ['spawn on a snapshot', /^ReadOnlyDatasetError$/],
  ['spawn on an unknown base', /^UnknownDatasetError$/],
  ['spawn under a taken clone name', /^DatasetExistsError$/],
  ['spawn with a bad quota', /^RangeError$/],
  ['spawn of a module that does not load', /^Error$/],
  ['import under a taken name', /^DatasetExistsError$/],
  ['destroy a snapshot with clones', /^HasClonesError$/],
];

test('a refused call leaves no worker, domain, dataset or commit behind', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/test/e2e/pages/lifecycle.html');
  await page.waitForFunction(() => window.__life !== undefined);
  await page.evaluate((p) => window.__life.start(p), `life-${Date.now().toString(36)}`);
  for (const [what, error] of REFUSALS) {
    const workers = page.workers().length;
    const before = await page.evaluate(() => window.__life.footprint());
    const r = await page.evaluate((w) => window.__life.attempt(w), what);
    expect(r.refused, what).toBe(true);
    expect(r.refused && r.name, `${what}: ${r.refused && r.message}`).toMatch(error);
    // A terminated worker leaves Playwright's list when the browser reports it closed.
    await expect.poll(() => page.workers().length, { message: `${what}: workers` }).toBe(workers);
    const after = await page.evaluate(() => window.__life.footprint());
    // A spawn that made a clone and then failed commits the clone and its destruction: the
    // txg may move, but nothing it made is left.
    expect({ ...after, txg: 0 }, what).toEqual({ ...before, txg: 0 });
  }
  await page.evaluate(() => window.__life.shutdown());
});

test('block ownership answers for volumes, snapshots, clones, and a snapshot whose origin was destroyed', async ({ page }) => {
  await page.goto('/test/e2e/pages/lifecycle.html');
  await page.waitForFunction(() => window.__life !== undefined);
  await page.evaluate((p) => window.__life.start(p), `life-own-${Date.now().toString(36)}`);
  expect(await page.evaluate(() => window.__life.ownership('img'))).toEqual([2, 2, 0, 2]);
  expect(await page.evaluate(() => window.__life.ownership('img@1'))).toEqual([1, 1, 0, 1]);
  expect(await page.evaluate(() => window.__life.ownership('img/c'))).toEqual([1, 1, 0, 1]);
  await page.evaluate(() => window.__life.destroy('img'));
  // The snapshot's origin is gone: nothing is shared with it any more; the blocks are its own.
  expect(await page.evaluate(() => window.__life.ownership('img@1'))).toEqual([2, 2, 0, 2]);
  expect(await page.evaluate(() => window.__life.ownership('img/c'))).toEqual([1, 1, 0, 1]);
  await page.evaluate(() => window.__life.shutdown());
});
