// Playwright, real Chromium: the console's archive panel. A guest edits its clone
// twice, each version is snapshotted and archived (the second writes only the changed
// chunk); cleaning and tiering run; the old snapshot's superseded chunk goes to the cold
// tier; the old snapshot restores into a new volume, byte for byte.
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
  expect(first).toMatch(/Archived .*: [1-9]\d* chunks written/);

  await edit(page, a!, '# version two');
  const v2 = await snapshot(page, clone);
  // Only block 0 changed between the versions: one chunk written, the rest reused.
  expect(await archive(page, v2)).toMatch(/: 1 chunks written .*, [1-9]\d* already in the archive/);
  await expect(page.locator(`[data-archived="${v1}"]`)).toBeVisible();
  await expect(page.locator(`[data-archived="${v2}"]`)).toBeVisible();
  await expect(page.locator('[data-tier="warm"]')).not.toContainText(/^0 B/);

  await page.locator('#clean-cb-btn').click();
  await expect(page.locator('#archive-status')).toContainText(/Clean|Nothing to clean/, { timeout: 90_000 });

  await page.getByLabel('Tier snapshots older than (s)').fill('0');
  await page.locator('#tier-btn').click();
  await expect(page.locator('#archive-status')).toContainText(`to the cold tier`, { timeout: 90_000 });
  await expect(page.locator(`[data-archived="${v1}"]`)).toContainText(/\(1 cold\)/);
  await expect(page.locator('[data-tier="cold"]')).toContainText(/for 1 chunks/);

  // Restore the old version (its changed chunk now comes from the cold tier).
  await page.locator(`[data-archived="${v1}"]`).getByRole('button', { name: 'Restore as a new volume' }).click();
  await expect(page.locator('#archive-status')).toContainText(`Restored ${v1} into volume`, { timeout: 90_000 });
  const restored = (await page.locator('#archive-status').textContent())!.match(/into volume (\S+):/)![1]!;
  const same = await page.evaluate(async ([r, s]) => {
    const pool = window.__tabvisor!.hv.pool;
    const [x, y] = await Promise.all([pool.export(r!), pool.export(s!)]);
    const [bx, by] = [new Uint8Array(await x.arrayBuffer()), new Uint8Array(await y.arrayBuffer())];
    return bx.length === by.length && bx.every((v, i) => v === by[i]) && new TextDecoder().decode(bx).includes('# version one');
  }, [restored, v1]);
  expect(same).toBe(true);
  await expect(page.locator(`li[data-dataset="${restored}"]`)).toBeVisible();
  await shot(page, 'demo-archive');
});
