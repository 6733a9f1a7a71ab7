// Playwright, real Chromium: the console's first-screen story, run from the keyboard at
// 1366×768 and by tapping at 390×844, each step's line checked against the machine's own
// counters; axe-core on the page and on a guest's console frame (no serious or critical
// violation); no sideways scroll and tap targets of 24 px or more on a phone. Screenshots
// of every step go to test-results/story-*.png.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { consoleReady, pageMap, shot, stats } from './demo-helpers';

const STEPS = ['boot', 'scan', 'edit', 'group', 'copy'] as const;

async function stepDone(page: Page, step: string): Promise<string> {
  await expect(page.locator(`li[data-step="${step}"]`)).toHaveAttribute('data-state', 'done', { timeout: 90_000 });
  return (await page.locator(`[data-step-result="${step}"]`).textContent()) ?? '';
}

async function seriousViolations(page: Page, include?: string): Promise<string[]> {
  let builder = new AxeBuilder({ page });
  if (include) builder = builder.include(include);
  const r = await builder.analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`);
}

test.describe('desktop', () => {
  test.use({ viewport: { width: 1366, height: 768 } });

  test('the story from the keyboard: each step says what happened, and the machine agrees', async ({ page }) => {
    test.setTimeout(240_000);
    await page.goto('/');
    // Until the hypervisor runs, the story and the spawn form cannot be used.
    await expect(page.locator('button[data-step="boot"]')).toBeDisabled();
    await consoleReady(page);
    await shot(page, 'story-0-first-screen');
    expect(await seriousViolations(page)).toEqual([]);

    // Keyboard only: the skip link, then the story's first action.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await expect(page.locator('button[data-step="boot"]')).toBeFocused();
    const image = (await page.evaluate(() => window.__tabvisor!.hv.pool.list())).find((d) => d.name === 'image@base')!;
    expect(image.sizeBytes).toBeGreaterThan(20 * 1024 * 1024); // big enough to matter

    await page.keyboard.press('Enter');
    const boot = await stepDone(page, 'boot');
    expect(boot).toMatch(/^Booted vm-1, vm-2, vm-3, vm-4 in [\d.]+ s, each on its own clone of image@base/);
    const names = await page.evaluate(() => [...window.__tabvisor!.cards.values()].map((c) => c.guest.dataset));
    expect(names.sort()).toEqual(['image/vm-1', 'image/vm-2', 'image/vm-3', 'image/vm-4']);
    await shot(page, 'story-1-boot');

    // Focus moved to the next step: Enter again.
    await expect(page.locator('button[data-step="scan"]')).toBeFocused();
    const before = await stats(page);
    await page.keyboard.press('Enter');
    const scan = await stepDone(page, 'scan');
    const after = await stats(page);
    const group = after.groups.find((g) => g.id === 'image')!;
    const fills = group.fills - (before.groups.find((g) => g.id === 'image')?.fills ?? 0);
    expect(scan).toContain(`dom0 filled only ${fills} frames`);
    // Four guests read every block; dom0 read far fewer: shared frames, not copies.
    expect(fills).toBeLessThan(2 * image.blocks);
    expect(after.driver.bytesCopied).toBe(0);
    expect(group.evictions).toBeGreaterThan(0); // the arena is smaller than the image
    await expect(page.locator('#mem-compare')).toContainText('if each guest copied');
    await shot(page, 'story-2-scan');

    await expect(page.locator('button[data-step="edit"]')).toBeFocused();
    await page.keyboard.press('Enter');
    const edit = await stepDone(page, 'edit');
    const lba = Number(/wrote block (\d+)/.exec(edit)![1]);
    const idOf = (name: string) => page.evaluate((n) => [...window.__tabvisor!.cards.values()].find((c) => c.name === n)!.guest.id, name);
    // Both read the block again: vm-1 gets its own copy, vm-2 the image's.
    await page.evaluate(async (l) => {
      for (const c of window.__tabvisor!.cards.values()) if (c.name === 'vm-1' || c.name === 'vm-2') await c.guest.api.hex(l, 0, 16);
    }, lba);
    const [m1, m2] = await Promise.all([pageMap(page, await idOf('vm-1')), pageMap(page, await idOf('vm-2'))]);
    // vm-1's block is its own now (pool ownership says so), vm-2's is still the image's.
    const own = await page.evaluate(async (l) => (await window.__tabvisor!.hv.pool.ownership('image/vm-1'))[l], lba);
    expect(own).toBe(2);
    expect(m1[lba]).toBeGreaterThanOrEqual(0);
    expect(m2[lba]).toBeGreaterThanOrEqual(0);
    expect(m1[lba]).not.toBe(m2[lba]);
    await expect(page.locator('[data-dataset="image/vm-1"] .strip-text').first()).toHaveText(new RegExp(`^1 own, ${image.blocks - 1} shared with image@base`));
    await shot(page, 'story-3-edit');

    await expect(page.locator('button[data-step="group"]')).toBeFocused();
    await page.keyboard.press('Enter');
    const grp = await stepDone(page, 'group');
    const s3 = await stats(page);
    const tenant = s3.groups.find((g) => g.id === 'tenant-b')!;
    expect(grp).toContain(`its own arena now holds ${tenant.resident} frames`);
    expect(tenant.fills).toBeGreaterThan(0);
    await expect(page.locator('figure[data-group="tenant-b"]')).toBeVisible();

    await expect(page.locator('button[data-step="copy"]')).toBeFocused();
    const beforeCopy = await stats(page);
    await page.keyboard.press('Enter');
    const copy = await stepDone(page, 'copy');
    const s4 = await stats(page);
    expect(s4.driver.bytesCopied - beforeCopy.driver.bytesCopied).toBeGreaterThanOrEqual(image.sizeBytes - 65536);
    expect(copy).toMatch(/copy transport: booting and scanning copied [\d.]+ MiB/);
    // Every step's line is in the visible event log too.
    for (const line of [boot, scan, edit, grp, copy]) await expect(page.locator('.event-list')).toContainText(line.slice(0, 40));
    await shot(page, 'story-4-done');
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('the guest console frame passes axe; a killed guest can be dismissed and booted again after a reload', async ({ page }) => {
    test.setTimeout(240_000);
    await page.goto('/');
    await consoleReady(page);
    await page.getByLabel('Guests', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Spawn on new clones' }).click();
    await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(2, { timeout: 30_000 });
    const vm1 = page.locator('.guest-card[data-name="vm-1"]');
    await vm1.locator('summary').click();
    await expect(vm1.frameLocator('iframe').getByRole('log')).toContainText('guest ready');
    expect(await seriousViolations(page, '.guest-card[data-name="vm-1"]')).toEqual([]);

    await vm1.getByRole('button', { name: 'Kill vm-1' }).click();
    await expect(vm1).toHaveAttribute('data-state', 'destroyed');
    await expect(page.locator('.event-list')).toContainText('vm-1 killed');
    await vm1.getByRole('button', { name: 'Dismiss vm-1' }).click();
    await expect(vm1).toHaveCount(0);
    // Its clone is kept, shown as stopped, bootable.
    await expect(page.locator('.stopped-row[data-dataset="image/vm-1"]')).toContainText('stopped');

    await page.reload();
    await consoleReady(page);
    // After a reload no guest runs; both clones are listed as stopped with a Boot button.
    await expect(page.locator('.stopped-row')).toHaveCount(2);
    await page.getByRole('button', { name: 'Boot vm-2' }).click();
    await expect(page.locator('.guest-card[data-name="vm-2"][data-state="running"]')).toBeVisible({ timeout: 30_000 });
    await expect(page.locator('.stopped-row')).toHaveCount(1);
    // New guests take the next free number, not a random name.
    await page.getByLabel('Guests', { exact: true }).fill('1');
    await page.getByRole('button', { name: 'Spawn on new clones' }).click();
    await expect(page.locator('.guest-card[data-name="vm-3"][data-state="running"]')).toBeVisible({ timeout: 30_000 });
  });

  test('errors are shown, not only announced: destroying a snapshot that has clones', async ({ page }) => {
    await page.goto('/');
    await consoleReady(page);
    await page.getByLabel('Guests', { exact: true }).fill('1');
    await page.getByRole('button', { name: 'Spawn on new clones' }).click();
    await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(1, { timeout: 30_000 });
    await page.getByRole('button', { name: 'Destroy image@base' }).click();
    await expect(page.locator('#toast')).toBeVisible();
    await expect(page.locator('#toast')).toContainText('Error:');
    await expect(page.locator('.event-list .ev.error')).toHaveCount(1);
    // A user-named snapshot.
    await page.getByLabel('Snapshot of').selectOption('image/vm-1');
    await page.getByLabel('named', { exact: true }).fill('before-upgrade');
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await expect(page.locator('.event-list')).toContainText('Snapshot image/vm-1@before-upgrade taken');
    await expect(page.locator('#spawn-base option')).toContainText(['image@base', 'image/vm-1@before-upgrade']);
  });
});

test.describe('phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true });

  test('the story by tapping at 390×844: no sideways scroll, tap targets of 24 px or more', async ({ page }) => {
    test.setTimeout(240_000);
    await page.goto('/');
    await consoleReady(page);
    await shot(page, 'story-phone-0-first-screen');
    for (const step of STEPS) {
      await page.locator(`button[data-step="${step}"]`).tap();
      await stepDone(page, step);
      if (step === 'boot' || step === 'edit') await shot(page, `story-phone-${step}`);
    }
    const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    expect(scroll[0]).toBeLessThanOrEqual(scroll[1]!);
    const small = await page.evaluate(() =>
      [...document.querySelectorAll('button, a, input, select, summary')]
        .filter((e) => {
          const r = e.getBoundingClientRect();
          const hidden = r.width === 0 || getComputedStyle(e).visibility === 'hidden' || e.classList.contains('skip');
          return !hidden && (r.width < 24 || r.height < 24);
        })
        .map((e) => `${e.tagName} ${e.textContent?.trim().slice(0, 30)} ${Math.round(e.getBoundingClientRect().width)}×${Math.round(e.getBoundingClientRect().height)}`),
    );
    expect(small).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'story-phone-done');
  });
});
