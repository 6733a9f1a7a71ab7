// Playwright, real Chromium: the console's archive panel, in its plain words. A guest
// edits its clone twice, each version is snapshotted and archived (the second writes only
// the changed block); space is reclaimed; compressing with the default age moves nothing
// (the versions are seconds old), "at any time" moves the old version's replaced block;
// the old snapshot restores into a new volume, byte for byte, and the panel's next step
// boots a guest on it that reads the old text.
import { expect, test, type Page } from '@playwright/test';
import { card, consoleReady, guestIds, shot, spawn } from './demo-helpers';

async function edit(page: Page, id: number, text: string): Promise<void> {
  const c = card(page, id);
  await c.locator('summary').click();
  await c.getByLabel('File to edit').selectOption('usr/share/doc/tabvisor/README.md');
  await c.getByLabel('Text to write at the start of the file').fill(text);
  await c.getByRole('button', { name: 'Write (copy-on-write)' }).click();
  await expect(c.locator('output')).toContainText(/wrote usr\/share\/doc\/tabvisor\/README.md: block \d+ now private/);
  await c.locator('summary').click();
}

/** Snapshot `dataset` from the pool tree; returns the new snapshot's name. */
async function snapshot(page: Page, dataset: string): Promise<string> {
  const before = await page.evaluate(async () => (await window.__tabvisor!.hv.pool.list()).map((d) => d.name));
  await page.getByRole('button', { name: `Snapshot ${dataset}`, exact: true }).click();
  await expect(page.getByLabel('named', { exact: true })).toBeFocused();
  await page.getByRole('button', { name: 'Take snapshot' }).click();
  let name = '';
  await expect
    .poll(async () => {
      const now = await page.evaluate(async () => (await window.__tabvisor!.hv.pool.list()).map((d) => d.name));
      name = now.find((n) => !before.includes(n) && n.startsWith(`${dataset}@`)) ?? '';
      return name;
    })
    .not.toBe('');
  return name;
}

async function archive(page: Page, snap: string): Promise<string> {
  await expect(page.locator('#archive-snapshot option', { hasText: snap })).toHaveCount(1);
  await page.getByLabel('Snapshot', { exact: true }).selectOption(snap);
  await page.locator('#archive-btn').click();
  const status = page.locator('#archive-status');
  await expect(status).toContainText(`Archived ${snap}`, { timeout: 90_000 });
  return (await status.textContent()) ?? '';
}

test('archive two versions, clean, tier the superseded one, restore it byte for byte', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 1);
  const [a] = await guestIds(page);
  const clone = (await card(page, a!).locator('.meta').textContent())!.split(' · ')[1]!;

  await edit(page, a!, '# version one');
  const v1 = await snapshot(page, clone);
  const first = await archive(page, v1);
  expect(first).toMatch(/Archived .*: [1-9]\d* (new )?blocks written/);

  await edit(page, a!, '# version two');
  const v2 = await snapshot(page, clone);
  // Only block 0 changed between the versions: one chunk written, the rest reused.
  expect(await archive(page, v2)).toMatch(/: 1 new block written \(.*\); [1-9]\d* the archive already had/);
  await expect(page.locator(`[data-archived="${v1}"]`)).toBeVisible();
  await expect(page.locator(`[data-archived="${v2}"]`)).toBeVisible();
  await expect(page.locator('[data-tier="warm"]')).not.toContainText(/^0 B/);

  await page.getByRole('button', { name: 'Reclaim space', exact: true }).click();
  await expect(page.locator('#archive-status')).toContainText(/^(Reclaimed|Nothing to reclaim)/, { timeout: 90_000 });

  // The default age is not 0: versions archived seconds ago stay as they are.
  const age = page.getByLabel('Compress the blocks newer versions replaced, in versions archived');
  await expect(age.locator('option:checked')).toHaveText('more than 1 minute ago');
  await page.getByRole('button', { name: 'Compress', exact: true }).click();
  await expect(page.locator('#archive-status')).toContainText('Nothing to compress', { timeout: 90_000 });
  await expect(page.locator('#archive-status')).toContainText('more than 1 minute ago');
  await age.selectOption({ label: 'at any time' });
  await page.getByRole('button', { name: 'Compress', exact: true }).click();
  await expect(page.locator('#archive-status')).toContainText(`Compressed 1 replaced block of ${v1}`, { timeout: 90_000 });
  await expect(page.locator(`[data-archived="${v1}"]`)).toContainText(/1 of its \d+ blocks compressed/);
  await expect(page.locator('[data-tier="cold"]')).toContainText(/for 1 replaced block of old versions/);
  // No engine jargon left in the panel's visible text.
  expect(await page.locator('section.archive').innerText()).not.toMatch(/segment|cost-benefit|\blive\b|cold tier|\(s\)/i);

  // Restore the old version (its changed chunk now comes from the cold tier).
  await page.locator(`[data-archived="${v1}"]`).getByRole('button', { name: 'Restore as a new volume' }).click();
  await expect(page.locator('#archive-status')).toContainText(`Restored ${v1} as the new volume`, { timeout: 90_000 });
  const restored = (await page.locator('#archive-status').textContent())!.match(/as the new volume (\S+):/)![1]!;
  // The panel says what comes next.
  await expect(page.locator('#archive-status')).toContainText('snapshot → clone → boot');
  const same = await page.evaluate(async ([r, s]) => {
    const pool = window.__tabvisor!.hv.pool;
    const [x, y] = await Promise.all([pool.export(r!), pool.export(s!)]);
    const [bx, by] = [new Uint8Array(await x.arrayBuffer()), new Uint8Array(await y.arrayBuffer())];
    return bx.length === by.length && bx.every((v, i) => v === by[i]) && new TextDecoder().decode(bx).includes('# version one');
  }, [restored, v1]);
  expect(same).toBe(true);
  await expect(page.locator(`li[data-dataset="${restored}"]`)).toBeVisible();
  await shot(page, 'demo-archive');

  // …and does it: one button takes the snapshot, clones it and boots a guest that reads the old text.
  const guestsBefore = await page.locator('.guest-card').count();
  await page.getByRole('button', { name: `Boot a guest on ${restored}` }).click();
  await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(guestsBefore + 1, { timeout: 30_000 });
  await expect(page.locator('#archive-status')).toContainText(`boots on a clone of ${restored}@base`);
  const text = await page.evaluate(async (vol) => {
    const card = [...window.__tabvisor!.cards.values()].find((c) => c.guest.dataset.startsWith(`${vol}/`))!;
    return (await card.guest.api.readFile('usr/share/doc/tabvisor/README.md', 32)).text;
  }, restored);
  expect(text.startsWith('# version one')).toBe(true);
  await shot(page, 'demo-archive-booted');
});
