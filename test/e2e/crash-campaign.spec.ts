// Playwright, real Chromium (the short version; `npm run soak` is the long one).
// The browser PROCESS is SIGKILLed at random moments while a guest streams writes through
// the hypervisor; after each relaunch on the same profile the pool must open, pass fsck
// with every chunk's checksum verified, and hold every write acknowledged before the kill.
import { expect, test } from '@playwright/test';

const KILLS = Number(process.env.TABVISOR_CRASH_KILLS ?? 30);

test('the pool survives the browser process being killed at random points during writes, snapshots, clones and imports', async ({ baseURL }) => {
  test.setTimeout(KILLS * 15_000 + 60_000); // a hang guard on a loaded machine, not a speed check
  const { crashCampaign } = await import('../../scripts/soak.mjs');
  const r = await crashCampaign({ baseURL: baseURL!, kills: KILLS, minWriteMs: 150, maxWriteMs: 900, log: (l) => console.log(l) });
  test.info().annotations.push({ type: 'crash-campaign', description: `${r.kills} kills survived, ${r.acknowledged} acknowledged writes and ${r.datasetsAcknowledged} snapshots/clones/imports checked, ${(r.ms / 1000).toFixed(0)} s` });
  console.log(`crash campaign: ${r.kills} kills, ${r.acknowledged} acknowledged writes, ${r.datasetsAcknowledged} snapshots/clones/imports, ${(r.ms / 1000).toFixed(0)} s`);
  expect(r.failures).toEqual([]);
  expect(r.kills).toBe(KILLS);
});
