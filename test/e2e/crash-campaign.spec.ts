// Playwright, real Chromium (the short version; `npm run soak` is the long one).
// The browser PROCESS is SIGKILLed at moments drawn from the run's seed (TABVISOR_SEED,
// scripts/seed.mjs; printed), most of them aimed at one of the snapshots, clones, imports
// and extent cleaner's passes the page runs while a guest streams writes through the
// hypervisor; after each relaunch on the same profile the pool must open, pass fsck with
// every chunk's checksum verified and no record leaked, and hold every write acknowledged
// before the kill.
// One thing the pool cannot prevent: Chromium sometimes finds its own IndexedDB files
// damaged after the kill and deletes the whole site's IndexedDB (measured on a quiet
// machine: once in 26 kills). Then the pool must refuse to open with PoolLostError, never
// serve an empty pool as if nothing happened; the campaign counts that, accepts the loss
// and goes on. A silent loss (an empty or partial pool without the report) is a failure.
// The second test forces both ways a deletion is reported: Chromium's own report to the
// first database opened, and the pool registry's (OPFS) when another database got it.
import { expect, test, type Page } from '@playwright/test';
import { damageIndexedDbLogs } from './damage-leveldb';
import { BUILT_PAGES } from '../../playwright.config';

// The campaign's pages, built (test/e2e/vite.config.ts): each round launches a browser.
test.use({ baseURL: BUILT_PAGES });

const KILLS = Number(process.env.TABVISOR_CRASH_KILLS ?? 30);

test('the pool survives the browser process being killed at random points during writes, snapshots, clones, imports and the extent cleaner', async ({ baseURL }) => {
  test.setTimeout(KILLS * 15_000 + 60_000); // a hang guard on a loaded machine, not a speed check
  const { crashCampaign } = await import('../../scripts/soak.mjs');
  const r = await crashCampaign({ baseURL: baseURL!, kills: KILLS, minWriteMs: 150, maxWriteMs: 900, log: (l) => console.log(l) });
  const summary = `${r.kills} kills, ${r.acknowledged} acknowledged writes, ${r.datasetsAcknowledged} snapshots/clones/imports acknowledged and found whole ${r.datasetsChecked} times after kills, ${r.compactions} cleaner's passes acknowledged (${r.chunksMoved} chunks moved), ${r.browserWipes.length} deletions of the site's IndexedDB by the browser (each reported by the pool), seed ${r.seed}, ${(r.ms / 1000).toFixed(0)} s`;
  test.info().annotations.push({ type: 'crash-campaign', description: summary });
  console.log(`crash campaign: ${summary}`);
  for (const w of r.browserWipes) console.log(`browser deleted the pool, reported: ${w}`);
  if (r.browserWipes.length) test.info().annotations.push({ type: 'browser-deleted-indexeddb', description: r.browserWipes.join('\n') });
  const replay = `TABVISOR_SEED=${r.seed} draws this kill schedule again`;
  expect(r.failures, replay).toEqual([]);
  expect(r.kills).toBe(KILLS);
  // The campaign wrote, and the kills landed among acknowledged work: a write step that did
  // nothing would pass every check above with nothing to check. Counted over the whole
  // campaign, not what is left at its end (pruning and a browser deletion empty that).
  expect(r.acknowledged, replay).toBeGreaterThan(0);
  expect(r.datasetsChecked, replay).toBeGreaterThan(0);
  // Kills landed after cleaner's passes, and every pass moved at least the chunk the page
  // left alone in a record on purpose: a cleaner that moved nothing would pass the rest.
  expect(r.compactions, replay).toBeGreaterThan(0);
  expect(r.chunksMoved, replay).toBeGreaterThanOrEqual(r.compactions);
});

test('when the browser deletes the damaged IndexedDB after a kill, the pool reports it and the campaign goes on from the empty pool', async ({ baseURL }) => {
  test.setTimeout(240_000);
  const { crashCampaign } = await import('../../scripts/soak.mjs');
  // After kills 2 and 3, damage LevelDB's logs, as a torn write would leave them.
  const damage = (kill: number, profile: string): void => {
    if (kill === 2 || kill === 3) expect(damageIndexedDbLogs(profile)).toBeGreaterThan(0);
  };
  // After kill 3, another database is opened first and gets Chromium's report; the
  // campaign's pool learns of the deletion from the pool registry instead.
  const decoyFirst = async (round: number, page: Page): Promise<void> => {
    if (round !== 3) return;
    await page.goto('/test/e2e/pages/pool-loss.html?mode=open&db=decoy');
    await page.waitForFunction(() => window.__poolLoss !== undefined, null, { timeout: 30_000 });
    expect(await page.evaluate(() => window.__poolLoss?.error?.message)).toMatch(/browser reported it had deleted/);
  };
  const r = await crashCampaign({ baseURL: baseURL!, kills: 4, minWriteMs: 150, maxWriteMs: 900, afterKill: damage, beforeVerify: decoyFirst, log: (l) => console.log(l) });
  expect(r.browserWipes).toHaveLength(2);
  expect(r.browserWipes[0]).toMatch(/after kill 2: .*PoolLostError.*checksum mismatch/);
  expect(r.browserWipes[1]).toMatch(/after kill 3: .*PoolLostError.*pool registry \(OPFS\) says this pool existed/);
  expect(r.failures).toEqual([]);
  expect(r.kills).toBe(4);
  // The campaign went on from the empty pool: writes after the last deletion were
  // acknowledged and found by the last round's verify (the loss resets what is expected).
  expect(r.acknowledged).toBeGreaterThan(0);
});
