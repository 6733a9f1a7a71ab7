// Playwright, real Chromium: importing a dropped file and a chosen file (progress bar,
// new base snapshot), guests in different trust groups do not share frames, and the
// keyboard/screen-reader basics (every control labelled, a sane focus order, live regions).
import { expect, test } from '@playwright/test';
import { consoleReady, shot, spawn, stats } from './demo-helpers';

test('import by drop and by file input; trust groups do not share', async ({ page }) => {
  await page.goto('/');
  await consoleReady(page);
  // Drop a 3 MiB file anywhere on the page.
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    const bytes = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) & 0xff;
    d.items.add(new File([bytes], 'disk image.raw'));
    return d;
  });
  await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
  await expect(page.locator('.import-status')).toHaveText('Imported disk image.raw as disk-image.raw (snapshot disk-image.raw@base).', { timeout: 30_000 });
  await expect(page.getByRole('progressbar', { name: 'Import progress' })).toHaveAttribute('value', String(3 * 1024 * 1024));
  await page.getByLabel('Import a file as a volume').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello pool\n'.repeat(1000)) });
  await expect(page.locator('.import-status')).toContainText('Imported notes.txt as notes.txt', { timeout: 30_000 });
  await expect(page.locator('#spawn-base option')).toHaveText(['image@base', 'disk-image.raw@base', 'notes.txt@base']);

  // Two guests in the base's group, one in tenant-b: the tenant reads the pool itself.
  await spawn(page, 2);
  await spawn(page, 1, 'tenant-b');
  for (const c of await page.locator('.guest-card').all()) {
    await c.getByRole('button', { name: 'Scan image' }).click();
    await expect(c.locator('output')).toContainText('7 blocks');
  }
  const s = await stats(page);
  expect(s.groups.map((g) => g.id).sort()).toEqual(['image', 'tenant-b']);
  const byId = new Map(s.groups.map((g) => [g.id, g]));
  expect(byId.get('tenant-b')!.resident).toBe(byId.get('image')!.resident);
  expect(s.driver.poolReads).toBe(2 * byId.get('image')!.resident);
  await expect(page.locator('figure[data-group="tenant-b"]')).toBeVisible();
  await shot(page, 'demo-import-and-groups');
});

test('keyboard and screen-reader basics', async ({ page }) => {
  await page.goto('/');
  await consoleReady(page);
  // Focus order: skip link, then the spawn form in reading order, then import and reset.
  const order: string[] = [];
  for (let i = 0; i < 7; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent?.trim() || ''));
  }
  expect(order).toEqual(['Skip to the guest domains', 'spawn-base', 'spawn-group', 'spawn-count', 'spawn', 'import-file', 'reset']);
  await spawn(page, 1);
  // After the toolbar come the guests' controls.
  await page.locator('#reset').focus();
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('List files');
  // Every control has an accessible name.
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll('button, input, select, iframe, canvas[role="img"]')]
      .filter((el) => {
        const e = el as HTMLElement;
        const id = e.id;
        const labelled = e.getAttribute('aria-label') || e.getAttribute('title') || (id && document.querySelector(`label[for="${id}"]`)) || (e.tagName === 'BUTTON' && e.textContent!.trim());
        return !labelled;
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  expect(unnamed).toEqual([]);
  // Live regions for status changes.
  await expect(page.locator('#transport-status')).toHaveAttribute('aria-live', 'polite');
  await expect(page.locator('#announcer')).toHaveText(/Guest dom 1 booted/);
});
