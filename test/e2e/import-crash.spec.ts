// Playwright, real Chromium on a profile of its own: the browser process is SIGKILLed in
// the middle of a 48 MiB import (after its first 16 MiB commit, before its last). After a
// relaunch the pool must hold no `big` at all (the next open frees what the cut-off import
// committed) or, if the import finished in the instant before the kill, all of it; and
// fsck with data verification must be clean either way.
import { expect, test } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImportCrashState } from './pages/import-crash';
import { BUILT_PAGES } from '../../playwright.config';

// Its pages, built (test/e2e/vite.config.ts): every launch of a browser loads them afresh.
test.use({ baseURL: BUILT_PAGES });

test('an import cut off by killing the browser leaves no volume under its name, and the next open frees its blocks', async ({ baseURL }) => {
  test.setTimeout(180_000); // a hang guard: three launches and a 48 MiB import on a loaded machine
  const { chromium } = await import('@playwright/test');
  const { chromiumLaunchOptions } = await import('../../scripts/chromium.mjs');
  const { killBrowser } = await import('../../scripts/soak.mjs');
  const profile = mkdtempSync(join(tmpdir(), 'import-crash-profile-'));
  const launch = () => chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), ...(baseURL ? { baseURL } : {}) });
  try {
    let ctx = await launch();
    let page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto('/test/e2e/pages/import-crash.html?mode=import&db=ic');
    await page.waitForFunction(() => (window.__importCrash?.committed ?? 0) >= 16 * 1024 * 1024 || window.__importCrash?.error, null, { timeout: 120_000 });
    const before: ImportCrashState = await page.evaluate(() => window.__importCrash!);
    expect(before.error).toBeUndefined();
    expect(before.done).toBe(false); // one commit of three in: the kill lands mid-import
    await killBrowser(profile);
    await ctx.close().catch(() => undefined);

    ctx = await launch();
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto('/test/e2e/pages/import-crash.html?mode=check&db=ic');
    await page.waitForFunction(() => window.__importCrash?.check || window.__importCrash?.error, null, { timeout: 60_000 });
    const after: ImportCrashState = await page.evaluate(() => window.__importCrash!);
    expect(after.error).toBeUndefined();
    const c = after.check!;
    console.log(`import-crash: ${before.committed / 2 ** 20} MiB committed at the kill; after relaunch ${JSON.stringify(c)}`);
    expect(c.problems).toEqual([]);
    if (c.names.includes('big')) {
      // The last commit landed between our look and the kill: then it is whole.
      expect(c.bigWhole).toBe(true);
    } else {
      expect(c.dropped).toEqual(['big']);
      expect(c.chunks).toBe(0); // what the first commits wrote is freed
    }
    await ctx.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
