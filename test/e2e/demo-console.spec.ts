// Playwright, real Chromium, the console page (index.html) cross-origin isolated by the
// dev server: guests on clones of the built-in image share frames; a copy-on-write edit
// diverges one clone; a killed guest leaves the others running; the pool survives a
// reload. Screenshots go to test-results/demo-*.png.
import { expect, test } from '@playwright/test';
import { card, consoleReady, guestIds, pageMap, shot, spawn, stats, typeInConsole } from './demo-helpers';

test('four guests on clones read the same files: one pool read and one resident frame per shared block', async ({ page }) => {
  await page.goto('/');
  await consoleReady(page);
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  const image = (await page.evaluate(() => window.__tabvisor!.hv.pool.list())).find((d) => d.name === 'image@base')!;
  expect(image.blockSize).toBe(65536);

  await spawn(page, 4);
  const ids = await guestIds(page);
  expect(ids).toHaveLength(4);
  for (const id of ids) {
    await card(page, id).getByRole('button', { name: 'Read all files' }).click();
    await expect(card(page, id).locator('output')).toContainText(/read \d+ files/);
  }
  const s = await stats(page);
  // Every block of the image was read by all four; the pool was read once per distinct
  // block (the duplicate primes.csv dedups), and each sits in one frame.
  const distinct = Math.round(image.blocks / s.pool.dedupRatio);
  expect(s.pool.dedupRatio).toBeGreaterThan(1);
  expect(s.driver.poolReads).toBe(distinct);
  expect(s.groups).toHaveLength(1);
  expect(s.groups[0]!.resident).toBe(distinct);
  expect(s.driver.bytesCopied).toBe(0);
  // `mapped` counts frames: each maps every distinct block once.
  for (const d of s.domains) expect(d.mapped).toBe(distinct);
  const maps = await Promise.all(ids.map((id) => pageMap(page, id)));
  for (const m of maps.slice(1)) expect(m).toEqual(maps[0]);

  // The drawn counters say the same.
  await expect(page.locator('[data-counter="poolReads"]')).toHaveText(String(distinct));
  await expect(page.locator('[data-counter="resident"]')).toHaveText(String(distinct));
  await expect(page.locator('[data-counter="bytesCopied"]')).toHaveText('0 B');
  await typeInConsole(page, ids[0]!, 'ls', 'rfc/tvp-0001-block-ring.txt');
  await typeInConsole(page, ids[1]!, 'cat rfc/tvp-0002-image-format.txt 400', 'Block-Aligned Tar');
  await shot(page, 'demo-four-guests');
});

test('a copy-on-write edit diverges one clone; a killed guest leaves the rest running; a reload keeps the data', async ({ page }) => {
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 3);
  const [a, b, c] = await guestIds(page);
  for (const id of [a!, b!]) await typeInConsole(page, id, 'cat README.md 40', '# Tabvisor');

  // Edit README.md in a's clone through the card's form.
  const ca = card(page, a!);
  await ca.getByLabel('File to edit').selectOption('README.md');
  await ca.getByLabel('Text to write at the start of the file').fill('# EDITED in clone A');
  await ca.getByRole('button', { name: 'Write (copy-on-write)' }).click();
  await expect(ca.locator('output')).toContainText('wrote block 0 of this clone');
  await typeInConsole(page, a!, 'cat README.md 40', '# EDITED in clone A');
  await typeInConsole(page, b!, 'cat README.md 19', /\$ cat README.md 19\n?# Tabvisor/);
  const [ma, mb] = await Promise.all([pageMap(page, a!), pageMap(page, b!)]);
  expect(ma[0]).not.toBe(mb[0]); // a maps its own block 0 now
  const dsA = await ca.locator('.meta').textContent();
  const cloneA = dsA!.split(' · ')[0]!;
  await expect(page.locator(`[data-dataset="${cloneA}"] .strip-text`).first()).toHaveText(/^1 own, 6 shared with image@base/);

  // Kill b: it goes away, a and c go on.
  await card(page, b!).getByRole('button', { name: 'Kill' }).click();
  await expect(card(page, b!)).toHaveAttribute('data-state', 'destroyed');
  await expect(card(page, b!).locator('.state')).toHaveText('killed');
  await expect(card(page, b!).getByRole('button', { name: 'Scan image' })).toBeDisabled();
  await card(page, c!).getByRole('button', { name: 'Scan image' }).click();
  await expect(card(page, c!).locator('output')).toContainText(/7 blocks, .* zero-copy views/);
  expect((await stats(page)).domains.map((d) => d.id).sort()).toEqual([a!, c!].sort());
  await shot(page, 'demo-edit-and-kill');

  // Reload: the pool and the edited clone are still there; boot a guest on it.
  await page.reload();
  await consoleReady(page);
  const row = page.locator(`li[data-dataset="${cloneA}"]`);
  await expect(row).toBeVisible();
  await expect(row.locator('.strip-text').first()).toHaveText(/^1 own/);
  await row.getByRole('button', { name: `Boot guest ${cloneA}` }).first().click();
  await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(1);
  const [d] = await guestIds(page);
  await typeInConsole(page, d!, 'cat README.md 40', '# EDITED in clone A');
  await shot(page, 'demo-after-reload');
});
