// Playwright, real Chromium confined to one CPU (`taskset -c 0`, as `npm run bench --
// --one-core` does): the guest and dom0 share that core, where polling for dom0's answer
// only keeps dom0 off it. The guest's spin gauge (shared/spin-gauge.ts) must notice and
// send most waits straight to blocking. Asserts what the gauge did, not a time (the
// benchmark measures the time: docs/design.md, "Polling only while it pays"). Skipped where
// there is no taskset (not Linux).
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GaugeRun } from './pages/spin-gauge';

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('on one core, a guest stops polling dom0 and blocks instead', async ({ baseURL }) => {
  test.skip(!hasTaskset(), 'needs taskset (Linux)');
  test.setTimeout(120_000);
  const { chromium } = await import('@playwright/test');
  const { chromiumLaunchOptions } = await import('../../scripts/chromium.mjs');
  const o = chromiumLaunchOptions();
  const dir = mkdtempSync(join(tmpdir(), 'spin-gauge-'));
  const wrapper = join(dir, 'chromium');
  writeFileSync(wrapper, `#!/bin/sh\nexec taskset -c 0 ${JSON.stringify(o.executablePath ?? chromium.executablePath())} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const browser = await chromium.launch({ ...o, executablePath: wrapper });
  try {
    const page = await browser.newPage({ baseURL });
    await page.goto('/test/e2e/pages/spin-gauge.html');
    await page.waitForFunction(() => window.__gauge !== undefined);
    const r: GaugeRun = await page.evaluate(() => window.__gauge.run());
    expect(r.pollStops, JSON.stringify(r)).toBeGreaterThanOrEqual(1);
    // After it stopped, one wait in 16 still polls (a probe); the rest go straight to blocking.
    expect(r.pollsSkipped, JSON.stringify(r)).toBeGreaterThan(r.reads / 2);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
