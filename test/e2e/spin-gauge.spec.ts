// Playwright, real Chromium confined to one CPU (`taskset -c 0`, as `npm run bench --
// --one-core` does): the guest and dom0 share that core, where polling for dom0's answer
// only keeps dom0 off it. The guest's spin gauge (shared/spin-gauge.ts) must notice and
// send most waits straight to blocking. Asserts what the gauge did, not a time (the
// benchmark measures the time: docs/design.md, "Polling only while it pays"). Needs Linux's
// taskset (util-linux; .ci/run makes sure of it): without it the test fails and says so.
import { expect, test } from '@playwright/test';
import type { GaugeRun } from './pages/spin-gauge';

test('on one core, a guest stops polling dom0 and blocks instead', async ({ baseURL }) => {
  test.setTimeout(120_000);
  const { chromium } = await import('@playwright/test');
  const { oneCoreLaunchOptions } = await import('../../scripts/chromium.mjs');
  const oneCore = oneCoreLaunchOptions(() => chromium.executablePath());
  const browser = await chromium.launch(oneCore.options);
  try {
    const page = await browser.newPage({ baseURL });
    await page.goto('/test/e2e/pages/spin-gauge.html');
    await page.waitForFunction(() => window.__gauge !== undefined);
    const r: GaugeRun = await page.evaluate(() => window.__gauge.run());
    expect(r.pollStops, JSON.stringify(r)).toBeGreaterThanOrEqual(1);
    // After it stopped, one wait in 16 still polls (a probe); the rest go straight to
    // blocking. `reads` and `pollsSkipped` are the second half's, after a warm-up half.
    expect(r.pollsSkipped, JSON.stringify(r)).toBeGreaterThan(r.reads / 2);
  } finally {
    await browser.close();
    oneCore.dispose();
  }
});
