// Runs in Node (Playwright): helpers shared by the demo-*/embed-* specs.
import { expect, type Frame, type Page } from '@playwright/test';
import type { Dom0Stats, FrameSummary } from '../../host/dom0/dom0-service';

/** The console mounted and imported its image (first start) or found it (reload). */
export async function consoleReady(page: Page | Frame): Promise<void> {
  await expect(page.locator('[data-ready="true"]')).toBeVisible({ timeout: 30_000 });
}

export async function spawn(page: Page, n: number, group = ''): Promise<void> {
  const before = await page.locator('.guest-card').count();
  await page.getByLabel('Trust group', { exact: true }).selectOption(group);
  await page.getByLabel('Guests', { exact: true }).fill(String(n));
  await page.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(before + n, { timeout: 30_000 });
  // A card shows "running" before its guest has listed the image (GuestCard.loadFiles):
  // wait for the listings too, so counters read after this do not catch their pool reads.
  await expect(page.locator('.guest-card:not(.sql-card):not([data-files])')).toHaveCount(0, { timeout: 30_000 });
}

export function stats(page: Page): Promise<Dom0Stats> {
  return page.evaluate(() => window.__tabvisor!.hv.pool.stats());
}

/** The frames of a trust group's arena: state and block key of each. */
export function frames(page: Page, group: string): Promise<FrameSummary[]> {
  return page.evaluate((g) => window.__tabvisor!.hv.memory.frames(g), group);
}

/** The block keys resident in an arena. */
export function residentKeys(fs: readonly FrameSummary[]): Set<string> {
  return new Set(fs.filter((f) => f.state === 'resident').map((f) => f.key!));
}

export function pageMap(page: Page, id: number): Promise<number[]> {
  return page.evaluate(async (d) => [...(await window.__tabvisor!.hv.memory.pageMap(d))], id);
}

export function card(page: Page, id: number) {
  return page.locator(`.guest-card[data-guest="${id}"]`);
}

/** Ids of the guest cards, in page order. */
export async function guestIds(page: Page): Promise<number[]> {
  return (await page.locator('.guest-card').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.guest))));
}

/** Run a shell command in a guest's console iframe by typing it, and wait for `expectText`. */
export async function typeInConsole(page: Page, id: number, line: string, expectText: string | RegExp): Promise<void> {
  const frame = card(page, id).frameLocator('iframe.guest-console');
  const input = frame.getByRole('textbox');
  await expect(input).toBeEnabled();
  await input.fill(line);
  await input.press('Enter');
  await expect(frame.getByRole('log')).toContainText(expectText);
}

/** Screenshots go under test-results/ (TABVISOR_SHOTS overrides, for runs beside other suites that clean it). */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${process.env.TABVISOR_SHOTS ?? 'test-results'}/${name}.png`, fullPage: true });
}
