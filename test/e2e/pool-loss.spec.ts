// Playwright, real Chromium on a profile directory of its own: when the browser finds its
// IndexedDB files damaged, it deletes the site's databases and creates them again empty,
// reporting `dataLoss` once, on that open. The pool must then refuse to open (PoolLostError)
// on every open, through the API and through the hypervisor, until the user accepts the
// loss, rather than serve an empty pool that the application takes for its own.
import { expect, test, type BrowserContext } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PoolLossResult } from './pages/pool-loss';
import { damageIndexedDbLogs } from './damage-leveldb';

async function pageRun(ctx: BrowserContext, db: string, mode: string): Promise<PoolLossResult> {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`/test/e2e/pages/pool-loss.html?mode=${mode}&db=${db}`);
  await page.waitForFunction(() => window.__poolLoss !== undefined, null, { timeout: 30_000 });
  return page.evaluate(() => window.__poolLoss!);
}

test('a pool the browser deleted as damaged refuses to open until the loss is accepted', async ({ baseURL }) => {
  const { chromium } = await import('@playwright/test');
  const { chromiumLaunchOptions } = await import('../../scripts/chromium.mjs');
  const profile = mkdtempSync(join(tmpdir(), 'pool-loss-profile-'));
  const db = 'pool-loss';
  const launch = () => chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), ...(baseURL ? { baseURL } : {}) });
  try {
    let ctx = await launch();
    expect(await pageRun(ctx, db, 'fill')).toEqual({ names: ['vol'] });
    expect(await pageRun(ctx, db, 'open')).toEqual({ names: ['vol'] });
    await ctx.close();

    // A garbled CURRENT file instead makes every open fail with "Internal error opening
    // backing store", which deletes nothing; damaged logs are what Chromium deletes.
    expect(damageIndexedDbLogs(profile)).toBeGreaterThan(0);

    ctx = await launch();
    const first = await pageRun(ctx, db, 'open');
    expect(first.error, JSON.stringify(first)).toMatchObject({ name: 'PoolLostError', code: 'pool-lost' });
    expect(first.error?.message).toMatch(/deleted this site's earlier data.*acceptLoss/);
    // Not a one-time report: every later open refuses too, the hypervisor's included.
    expect((await pageRun(ctx, db, 'open')).error?.code).toBe('pool-lost');
    const viaHv = await pageRun(ctx, db, 'hv');
    expect(viaHv.error, JSON.stringify(viaHv)).toMatchObject({ name: 'PoolLostError', code: 'pool-lost' });
    // The user accepts: the pool opens empty, and from then on opens normally.
    expect(await pageRun(ctx, db, 'accept')).toEqual({ names: [] });
    expect(await pageRun(ctx, db, 'open')).toEqual({ names: [] });
    await ctx.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
