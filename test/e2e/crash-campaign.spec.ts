// Playwright, real Chromium (the short version; `npm run soak` is the long one).
// The browser PROCESS is SIGKILLed at random moments while a guest streams writes through
// the hypervisor; after each relaunch on the same profile the pool must open, pass fsck
// with every chunk's checksum verified, and hold every write acknowledged before the kill.
import { expect, test } from '@playwright/test';

test('the pool survives the browser process being killed at random points during write streams', async ({ baseURL }) => {
  test.setTimeout(90_000);
  const { crashCampaign } = await import('../../scripts/soak.mjs');
  const r = await crashCampaign({ baseURL: baseURL!, kills: 3, minWriteMs: 150, maxWriteMs: 900, log: (l) => console.log(l) });
  test.info().annotations.push({ type: 'crash-campaign', description: `${r.kills} kills survived, ${r.acknowledged} acknowledged writes checked` });
  expect(r.failures).toEqual([]);
  expect(r.kills).toBe(3);
  expect(r.acknowledged).toBeGreaterThan(0);
  expect(r.verifiedChunks).toBeGreaterThan(0);
});
