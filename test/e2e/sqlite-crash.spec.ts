// Playwright, real Chromium: SIGKILL the browser while a SQL guest is committing
// transactions (with a page cache so small that SQLite spills mid-transaction: held in
// the guest, or written into the database behind a journal on the volume; or with
// SQLite's default cache, batch-atomic: each transaction one atomic group of blocks), start a new browser on the same profile, and check that every
// acknowledged transaction is there, no transaction is there in part, PRAGMA
// integrity_check is ok, and the exported file is a database the sqlite3 CLI agrees with.
import { expect, test, chromium, type Page } from '@playwright/test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromiumLaunchOptions } from '../../scripts/chromium.mjs';
import { referenceQuery } from '../../scripts/sqlite-sample.mjs';
import type { SqliteCrashReport } from './pages/sqlite-crash';
import { BUILT_PAGES } from '../../playwright.config';

// Its pages, built (test/e2e/vite.config.ts): every launch of a browser loads them afresh.
test.use({ baseURL: BUILT_PAGES });

const ROWS = 25;

async function acked(page: Page): Promise<number> {
  return page.evaluate(() => window.__sqliteAcked).catch(() => 0);
}

function browserPid(profile: string): number {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .filter((l) => l.includes(`--user-data-dir=${profile}`) && !l.includes('--type='))
    .map((l) => Number(l.trim().split(/\s+/)[0]))[0]!;
}

for (const [run, after, cache, hold] of [[1, 6, 8, 0], [2, 15, 8, 0], [3, 15, -2000, null], [4, 15, 8, null]] as const) {
  const how = hold === 0 ? 'journaled, spilling' : cache > 0 ? 'spilling, held' : 'batch-atomic';
  test(`a killed browser loses no committed SQLite transaction and keeps no partial one (run ${run}, ${how})`, async ({ baseURL }) => {
    test.setTimeout(240_000);
    const profile = mkdtempSync(join(tmpdir(), 'sqlite-crash-profile-'));
    const pool = `sqlite-crash-${run}-${Date.now()}`;
    const launch = () => chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), ...(baseURL ? { baseURL } : {}) });
    try {
      const first = await launch();
      const page = first.pages()[0] ?? (await first.newPage());
      page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
      await page.goto(`/test/e2e/pages/sqlite-crash.html?mode=write&pool=${pool}&cache=${cache}${hold !== null ? `&hold=${hold}` : ''}`);
      await expect.poll(() => acked(page), { timeout: 180_000 }).toBeGreaterThanOrEqual(after);
      const lastAck = await acked(page);
      // Which commit path the kill lands in: one atomic group per transaction unless hold=0;
      // then the first few transactions (a small database) fit the tiny cache and the rest
      // spill through the journal.
      const atomic = await page.evaluate(() => window.__sqliteAtomic);
      if (hold === 0) expect(atomic, 'transactions committed as atomic groups').toBeLessThan(lastAck - 1);
      else expect(atomic, 'transactions committed as atomic groups (the count lags the ack by one)').toBeGreaterThanOrEqual(lastAck - 1);
      process.kill(browserPid(profile), 'SIGKILL'); // mid-transaction: the next one is running
      await first.close().catch(() => undefined);

      const second = await launch();
      try {
        const check = second.pages()[0] ?? (await second.newPage());
        await check.goto(`/test/e2e/pages/sqlite-crash.html?mode=verify&pool=${pool}`);
        await check.waitForFunction(() => window.__sqliteReport !== undefined, null, { timeout: 180_000 });
        const report = (await check.evaluate(() => window.__sqliteReport!)) as SqliteCrashReport | { error: string };
        if ('error' in report) throw new Error(report.error);
        console.log(`sqlite-crash run ${run}: acked ${lastAck}, present ${report.txns.length}`);
        expect(report.integrity).toBe('ok');
        // Every transaction acknowledged before the kill, in full. Later ones (the writer
        // goes on while the kill is on its way) may be there too, each in full or not at all.
        const present = report.txns.map(([n]) => n);
        expect(present).toEqual(Array.from({ length: present.length }, (_, i) => i + 1));
        expect(present.length).toBeGreaterThanOrEqual(lastAck);
        for (const [n, count] of report.txns) expect(count, `transaction ${n}`).toBe(ROWS);
        expect(report.total).toBe(report.rows);

        // The reference sqlite3 opens the exported file and sees the same database.
        const file = join(profile, 'exported.db');
        writeFileSync(file, Buffer.from(report.exported, 'base64'));
        expect(referenceQuery(file, 'PRAGMA integrity_check')).toEqual([['ok']]);
        expect(referenceQuery(file, 'SELECT txn, count(*) AS n FROM ledger GROUP BY txn ORDER BY txn')).toEqual(report.txns);
        expect(referenceQuery(file, 'SELECT n FROM total')).toEqual([[report.total]]);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
}
