// Playwright, real Chromium: two pages of one origin on one pool. Only one may own it
// (Hypervisor.start takes the pool's Web Lock); the other gets PoolLockedError and leaves
// no worker running. After the owner's tab closes, the other takes the pool over and finds
// every write the owner acknowledged, and fsck (with every chunk verified) is clean.
import { expect, test, type Page } from '@playwright/test';
import type { StartResult } from './pages/pool-owner';

const PAGE = '/test/e2e/pages/pool-owner.html';

async function open(page: Page): Promise<void> {
  await page.goto(PAGE);
  await page.waitForFunction(() => window.__owner !== undefined);
}

const start = (page: Page, pool: string): Promise<StartResult> => page.evaluate((p) => window.__owner.start(p), pool);

test('a second tab cannot open a pool another tab owns; no acknowledged write is lost and fsck stays clean', async ({ context }) => {
  test.setTimeout(120_000);
  const pool = `owner-${Date.now().toString(36)}`;
  const a = await context.newPage();
  const b = await context.newPage();
  await open(a);
  await open(b);

  expect(await start(a, pool)).toEqual({ ok: true });
  await a.evaluate(() => window.__owner.stream('vol/a'));
  await expect.poll(() => a.evaluate(() => Math.max(...window.__owner.acked())), { timeout: 30_000 }).toBeGreaterThan(20);

  // The attack: a second tab starts on the same pool while the first writes.
  const workersBefore = b.workers().length;
  const second = await start(b, pool);
  expect(second).toMatchObject({ ok: false, name: 'PoolLockedError', code: 'POOL_LOCKED' });
  expect(second.ok === false && second.message).toContain(pool);
  // The refused start left no dom0 worker behind.
  expect(b.workers().length).toBe(workersBefore);

  // A second Hypervisor in the owner's own tab is refused too (the lock is per pool, not per tab).
  expect(await a.evaluate((p) => window.__owner.startAnother(p), pool)).toMatchObject({ ok: false, code: 'POOL_LOCKED' });

  const acked = await a.evaluate(() => window.__owner.acked());
  // The owner's tab goes away without shutting down (as a closed tab does): the browser releases its lock.
  await a.close();

  await expect.poll(async () => (await start(b, pool)).ok, { timeout: 30_000 }).toBe(true);
  await b.evaluate(() => window.__owner.stream('vol/b'));
  await expect.poll(() => b.evaluate(() => Math.max(...window.__owner.acked())), { timeout: 30_000 }).toBeGreaterThan(20);
  await b.evaluate(() => window.__owner.stop());
  const ackedB = await b.evaluate(() => window.__owner.acked());
  await b.evaluate(() => window.__owner.shutdown());

  // Shut down: the lock is free again, so this page may open the pool directly to check it.
  const v = await b.evaluate((p) => window.__owner.verify(p, ['vol/a', 'vol/b']), pool);
  expect(v.problems).toEqual([]);
  expect(v.verified).toBeGreaterThan(0);
  for (const [clone, want] of [['vol/a', acked], ['vol/b', ackedB]] as const) {
    const got = v.versions[clone];
    expect(got, clone).not.toBeNull();
    want.forEach((k, i) => expect(got![i], `${clone} block ${i}`).toBeGreaterThanOrEqual(k));
  }
  await b.evaluate((p) => new Promise((r) => { const q = indexedDB.deleteDatabase(p); q.onsuccess = q.onerror = q.onblocked = r; }), pool);
});

test('shutdown releases the pool: the same tab can start on it again', async ({ page }) => {
  const pool = `owner-restart-${Date.now().toString(36)}`;
  await open(page);
  expect(await start(page, pool)).toEqual({ ok: true });
  expect((await start(page, pool)).ok).toBe(false);
  await page.evaluate(() => window.__owner.shutdown());
  expect(await start(page, pool)).toEqual({ ok: true });
  await page.evaluate(() => window.__owner.shutdown());
});
