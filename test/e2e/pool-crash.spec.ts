// Playwright, real Chromium: the page is closed in the middle of a stream of pool commits;
// a new page on the same context (same origin, same IndexedDB) reopens the pool, which must
// be consistent, verify every checksum, and hold every acknowledged commit.
import { expect, test, type Page } from '@playwright/test';
import { BUILT_PAGES } from '../../playwright.config';

// Its pages, built (test/e2e/vite.config.ts): every launch of a browser loads them afresh.
test.use({ baseURL: BUILT_PAGES });

type VerifyResult = NonNullable<Window['__poolCrashResult']>;

/**
 * Open the verify page and wait for its result. Retried on "execution context was
 * destroyed": a dev server reloads pages when a file is edited (these pages were served by
 * one until 2026-11-30, and `reuseExistingServer` may still pick one up); verification only
 * reads, so running it again is harmless.
 */
async function verify(page: Page, db: string, acked: number): Promise<VerifyResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(`/test/e2e/pages/pool-crash.html?mode=verify&db=${db}&acked=${acked}`);
      await page.waitForFunction(() => window.__poolCrashResult !== undefined, null, { timeout: 30_000 });
      return await page.evaluate(() => window.__poolCrashResult!);
    } catch (e) {
      if (attempt >= 3 || !/context was destroyed|navigat/i.test(String(e))) throw e;
    }
  }
}

/** Highest commit the write page acknowledged (0 if the page is gone or reloading). */
async function ackedOn(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(0, ...window.__poolCrashAcked)).catch(() => 0);
}

for (const [i, extraAcks] of [[1, 12], [2, 27], [3, 41]] as const) {
  test(`pool survives a page closed mid-commit (run ${i})`, async ({ context }) => {
    const db = `pool-crash-${i}-${Date.now()}`;
    const page = await context.newPage();
    let lastAck = 0;
    page.on('console', (m) => {
      const hit = /^acked (\d+) txg/.exec(m.text());
      if (hit) lastAck = Math.max(lastAck, Number(hit[1]));
    });
    await page.goto(`/test/e2e/pages/pool-crash.html?mode=write&db=${db}`);
    await expect.poll(async () => Math.max(lastAck, await ackedOn(page)), { timeout: 30_000 }).toBeGreaterThanOrEqual(extraAcks);
    // Whatever the page acknowledged up to now counts, even acks whose console line is in flight.
    lastAck = Math.max(lastAck, await ackedOn(page));
    await page.close(); // mid-stream: the next commit is being staged or written
    expect(lastAck).toBeGreaterThanOrEqual(extraAcks);

    const check = await context.newPage();
    const result = await verify(check, db, lastAck);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.maxPresent).toBeGreaterThanOrEqual(lastAck);
    // maxPresent > lastAck: a commit finished whose ack the test never saw; that is allowed.
    test.info().annotations.push({ type: 'commits', description: `acked ${lastAck}, present ${result.maxPresent}` });
    console.log(`pool-crash run ${i}: acked ${lastAck}, present ${result.maxPresent}`);

    // The checker is not vacuous: claiming more acknowledged commits than exist must fail.
    expect((await verify(check, db, result.maxPresent + 1)).ok).toBe(false);
    await check.evaluate((name) => new Promise((r) => { const q = indexedDB.deleteDatabase(name); q.onsuccess = q.onerror = q.onblocked = r; }), db);
    await check.close();
  });
}

// Harder than closing a page: SIGKILL the whole browser in the middle of the commit stream
// (no shutdown path runs at all), then start a new browser on the same profile directory.
test('pool survives the browser process being killed mid-commit', async ({ baseURL }) => {
  const { chromium } = await import('@playwright/test');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { execFileSync } = await import('node:child_process');
  const { chromiumLaunchOptions } = await import('../../scripts/chromium.mjs');
  const profile = mkdtempSync(join(tmpdir(), 'pool-crash-profile-'));
  const db = `pool-crash-kill-${Date.now()}`;
  try {
    const first = await chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), ...(baseURL ? { baseURL } : {}) });
    const page = first.pages()[0] ?? (await first.newPage());
    await page.goto(`/test/e2e/pages/pool-crash.html?mode=write&db=${db}`);
    await expect.poll(() => ackedOn(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(20);
    const lastAck = await ackedOn(page);
    // The browser process we launched: the one whose command line names our profile and
    // that is not a child (--type=renderer, gpu, utility...).
    const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    const browserPid = ps
      .split('\n')
      .filter((l) => l.includes(`--user-data-dir=${profile}`) && !l.includes('--type='))
      .map((l) => Number(l.trim().split(/\s+/)[0]))[0];
    expect(browserPid).toBeGreaterThan(0);
    process.kill(browserPid!, 'SIGKILL');
    await first.close().catch(() => undefined);

    const second = await chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), ...(baseURL ? { baseURL } : {}) });
    try {
      const check = second.pages()[0] ?? (await second.newPage());
      const result = await verify(check, db, lastAck);
      console.log(`pool-crash kill: acked ${lastAck}, present ${result.maxPresent}`);
      expect(result.problems).toEqual([]);
      expect(result.maxPresent).toBeGreaterThanOrEqual(lastAck);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
