// Playwright, real Chromium on a profile directory of its own: when the browser finds its
// IndexedDB files damaged, it deletes the site's databases and creates them again empty,
// reporting `dataLoss` once, on that open. The pool must then refuse to open (PoolLostError)
// on every open, through the API and through the hypervisor, until the user accepts the
// loss, rather than serve an empty pool that the application takes for its own. Chromium
// tells only the first database opened after it deleted the site's IndexedDB; every other
// pool is caught by the pool registry kept in OPFS (host/pool/registry.ts).
import { expect, test, type BrowserContext } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PoolLossResult } from './pages/pool-loss';
import { damageIndexedDbLogs } from './damage-leveldb';
import { BUILT_PAGES } from '../../playwright.config';

// Its pages, built (test/e2e/vite.config.ts): every launch of a browser loads them afresh.
test.use({ baseURL: BUILT_PAGES });

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

test('every pool the browser deleted refuses, not only the first one opened after the deletion', async ({ baseURL }) => {
  const { chromium } = await import('@playwright/test');
  const { chromiumLaunchOptions } = await import('../../scripts/chromium.mjs');
  const profile = mkdtempSync(join(tmpdir(), 'pool-loss-two-'));
  const launch = () => chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), ...(baseURL ? { baseURL } : {}) });
  try {
    let ctx = await launch();
    // A fresh profile reports nothing.
    expect(await pageRun(ctx, 'pool-a', 'open')).toEqual({ names: [] });
    // Deleted through the API (and created again under its name): no loss reported. Done
    // first, because Chromium compacts its LevelDB after a deletion, and what the damage
    // below hits is the write-ahead log of what came after.
    expect(await pageRun(ctx, 'pool-gone', 'fill')).toEqual({ names: ['vol'] });
    expect(await pageRun(ctx, 'pool-gone', 'delete')).toEqual({ names: [] });
    expect(await pageRun(ctx, 'pool-c', 'fill')).toEqual({ names: ['vol'] });
    expect(await pageRun(ctx, 'pool-c', 'delete')).toEqual({ names: [] });
    expect(await pageRun(ctx, 'pool-c', 'open')).toEqual({ names: [] });
    expect(await pageRun(ctx, 'pool-c', 'fill')).toEqual({ names: ['vol'] });
    expect(await pageRun(ctx, 'pool-a', 'fill')).toEqual({ names: ['vol'] });
    // Pool b is created and recorded by dom0's worker, not by the page.
    expect(await pageRun(ctx, 'pool-b', 'hvfill')).toEqual({ names: ['vol'] });
    await ctx.close();

    expect(damageIndexedDbLogs(profile)).toBeGreaterThan(0);

    ctx = await launch();
    // The first database opened gets Chromium's own report.
    const a = await pageRun(ctx, 'pool-a', 'open');
    expect(a.error, JSON.stringify(a)).toMatchObject({ name: 'PoolLostError', code: 'pool-lost' });
    expect(a.error?.message).toMatch(/browser reported it had deleted this site's earlier data/);
    // The others get no report from Chromium; the registry says they existed.
    const b = await pageRun(ctx, 'pool-b', 'hv');
    expect(b.error, JSON.stringify(b)).toMatchObject({ name: 'PoolLostError', code: 'pool-lost' });
    expect(b.error?.message).toMatch(/database is gone while the pool registry \(OPFS\) says this pool existed/);
    expect((await pageRun(ctx, 'pool-b', 'open')).error?.code).toBe('pool-lost');
    expect((await pageRun(ctx, 'pool-c', 'open')).error?.code).toBe('pool-lost');
    // The pool deleted through the API is not reported.
    expect(await pageRun(ctx, 'pool-gone', 'open')).toEqual({ names: [] });
    // Accepting the loss opens it empty, and from then on it opens normally.
    expect(await pageRun(ctx, 'pool-b', 'accept')).toEqual({ names: [] });
    expect(await pageRun(ctx, 'pool-b', 'hv')).toEqual({ names: [] });
    expect((await pageRun(ctx, 'pool-a', 'open')).error?.code).toBe('pool-lost');
    await ctx.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
