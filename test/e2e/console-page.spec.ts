// Playwright, real Chromium: the console page is served cross-origin isolated and says so.
import { expect, test } from '@playwright/test';

test('every response carries COOP and COEP, and the page is cross-origin isolated', async ({ page }) => {
  const seen: { url: string; coop: string | undefined; coep: string | undefined }[] = [];
  page.on('response', (r) => {
    const h = r.headers();
    seen.push({ url: r.url(), coop: h['cross-origin-opener-policy'], coep: h['cross-origin-embedder-policy'] });
  });
  await page.goto('/');
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(seen.length).toBeGreaterThan(1);
  for (const r of seen) {
    expect.soft(r.coop, r.url).toBe('same-origin');
    expect.soft(r.coep, r.url).toBe('require-corp');
  }
  await page.screenshot({ path: 'test-results/console-page.png', fullPage: true });
});
