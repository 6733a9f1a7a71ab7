// Playwright, real Chromium: the page is closed in the middle of a stream of pool commits;
// a new page on the same context (same origin, same IndexedDB) reopens the pool, which must
// be consistent, verify every checksum, and hold every acknowledged commit.
import { expect, test } from '@playwright/test';

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
    await page.waitForFunction((n) => window.__acked.length >= n, extraAcks, { timeout: 30_000 });
    // Whatever the page acknowledged up to now counts, even acks whose console line is in flight.
    lastAck = Math.max(lastAck, await page.evaluate(() => window.__acked.length));
    await page.close(); // mid-stream: the next commit is being staged or written
    expect(lastAck).toBeGreaterThanOrEqual(extraAcks);

    const check = await context.newPage();
    await check.goto(`/test/e2e/pages/pool-crash.html?mode=verify&db=${db}&acked=${lastAck}`);
    await check.waitForFunction(() => window.__result !== undefined, null, { timeout: 30_000 });
    const result = await check.evaluate(() => window.__result!);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.maxPresent).toBeGreaterThanOrEqual(lastAck);
    // maxPresent > lastAck: a commit finished whose ack the test never saw; that is allowed.
    test.info().annotations.push({ type: 'commits', description: `acked ${lastAck}, present ${result.maxPresent}` });
    console.log(`pool-crash run ${i}: acked ${lastAck}, present ${result.maxPresent}`);

    // The checker is not vacuous: claiming more acknowledged commits than exist must fail.
    await check.goto(`/test/e2e/pages/pool-crash.html?mode=verify&db=${db}&acked=${result.maxPresent + 1}`);
    await check.waitForFunction(() => window.__result !== undefined, null, { timeout: 30_000 });
    expect((await check.evaluate(() => window.__result!)).ok).toBe(false);
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
    await page.waitForFunction(() => window.__acked.length >= 20, null, { timeout: 30_000 });
    const lastAck = await page.evaluate(() => window.__acked.length);
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
      await check.goto(`/test/e2e/pages/pool-crash.html?mode=verify&db=${db}&acked=${lastAck}`);
      await check.waitForFunction(() => window.__result !== undefined, null, { timeout: 30_000 });
      const result = await check.evaluate(() => window.__result!);
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
