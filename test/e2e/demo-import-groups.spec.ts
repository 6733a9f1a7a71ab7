// Playwright, real Chromium: importing a dropped file and a chosen file (progress bar,
// new base snapshot), guests in different trust groups do not share frames, and the
// keyboard/screen-reader basics (every control labelled, a sane focus order, live regions).
import { expect, test } from '@playwright/test';
import { consoleReady, pageMap, shot, spawn, stats } from './demo-helpers';

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
  await expect(page.locator('.import-status')).toContainText('Imported disk image.raw as disk-image.raw (snapshot disk-image.raw@base, 48 blocks)', { timeout: 30_000 });
  await expect(page.locator('.event-list')).toContainText('Imported disk image.raw as disk-image.raw');
  await expect(page.getByRole('progressbar', { name: 'Import progress' })).toHaveAttribute('value', String(3 * 1024 * 1024));
  await page.getByLabel('Import a file as a volume').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello pool\n'.repeat(1000)) });
  await expect(page.locator('.import-status')).toContainText('Imported notes.txt as notes.txt', { timeout: 30_000 });
  await expect(page.locator('#spawn-base option')).toHaveText(['image@base', 'disk-image.raw@base', 'notes.txt@base']);

  // Two guests in the base's group, one in tenant-b: the tenant reads the pool itself.
  await spawn(page, 2);
  await spawn(page, 1, 'tenant-b');
  // Every guest reads the same file: the tenant's group reads it from the pool into its
  // own arena, it never maps a frame of the base's group.
  // spawn() waited for the guests' boot-time listings (tar headers): count after them.
  const before = await stats(page);
  const lbas = await page.evaluate(async () => {
    let lbas: number[] = [];
    for (const c of window.__tabvisor!.cards.values()) {
      const f = 'usr/lib/typescript/lib.dom.d.ts';
      const e = (await c.guest.api.list()).find((x) => x.name === f)!;
      lbas = (await c.guest.api.readFile(f, e.size)).lbas;
    }
    return lbas;
  });
  const s = await stats(page);
  expect(s.groups.map((g) => g.id).sort()).toEqual(['image', 'tenant-b']);
  const fills = (id: string) => s.groups.find((g) => g.id === id)!.fills - (before.groups.find((g) => g.id === id)?.fills ?? 0);
  // One fill per block in the base's group, whatever the number of its guests: its two
  // guests map the same frame for every block of the file, and the group filled no more
  // than the file's blocks and what readahead read on past its end (at most two windows,
  // 8 blocks each). The boot-time listing may have filled some of the file already.
  expect(s.groups.find((g) => g.id === 'image')!.evictions).toBe(before.groups.find((g) => g.id === 'image')!.evictions);
  expect(fills('image')).toBeLessThanOrEqual(lbas.length + 16);
  const base = s.domains.filter((d) => d.group === 'image').map((d) => d.id);
  expect(base).toHaveLength(2);
  const [m1, m2] = await Promise.all(base.map((id) => pageMap(page, id)));
  for (const l of lbas) {
    expect(m1![l]).toBeGreaterThanOrEqual(0);
    expect(m2![l]).toBe(m1![l]);
  }
  // The tenant's group filled every block of the file itself, from the pool.
  const tenant = s.groups.find((g) => g.id === 'tenant-b')!;
  expect(tenant.fills).toBeGreaterThanOrEqual(new Set(lbas).size);
  await expect(page.locator('figure[data-group="tenant-b"]')).toBeVisible();
  await shot(page, 'demo-import-and-groups');
});

test('keyboard and screen-reader basics', async ({ page }) => {
  await page.goto('/');
  await consoleReady(page);
  // Focus order: skip link, the story's first action, then the spawn form in reading order.
  const order: string[] = [];
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent?.trim() || ''));
  }
  expect(order).toEqual(['Skip to the guest domains', 'Boot 4 guests on one image', 'spawn-base', 'spawn-group', 'spawn-transport', 'spawn-kind', 'spawn-count', 'spawn']);
  await spawn(page, 1);
  // After the spawn form come the guests' controls.
  await page.locator('#spawn').focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab'); // the guest list's scroll region
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
  await expect(page.getByRole('log', { name: 'What the console did, newest first' })).toContainText('Booted vm-1 on new clones of image@base');
});
