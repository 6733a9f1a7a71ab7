// Playwright, real Chromium: the console's snapshot form names a snapshot `snap-HHMMSS`
// by default. Two snapshots of one volume within one second were refused ("a dataset named
// … already exists"); the clock is fixed here so that both are taken in the same second.
import { expect, test } from '@playwright/test';
import { card, consoleReady, guestIds, spawn } from './demo-helpers';

test('two snapshots of one volume in the same second get distinct default names', async ({ page }) => {
  await page.clock.setFixedTime(new Date('2026-12-01T12:34:56Z'));
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 1);
  const [a] = await guestIds(page);
  const clone = (await card(page, a!).locator('.meta').textContent())!.split(' · ')[1]!;
  const names = () => page.evaluate(async () => (await window.__tabvisor!.hv.pool.list()).map((d) => d.name));
  for (const want of [`${clone}@snap-123456`, `${clone}@snap-123456-2`]) {
    await page.getByRole('button', { name: `Snapshot ${clone}`, exact: true }).click();
    await expect(page.getByLabel('named', { exact: true })).toHaveValue(want.split('@')[1]!);
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await expect.poll(names).toContain(want);
  }
  await expect(page.getByText('already exists')).toHaveCount(0);
});
