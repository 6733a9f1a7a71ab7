// Playwright, real Chromium: eight guests stream reads over the whole image while the
// console polls and redraws 4×/s; a PerformanceObserver('longtask') on the page's main
// thread records every task of 50 ms or more in that window. The test holds the page to
// "never hangs" (no task of 500 ms or more: work that blocks the main thread, such as a
// synchronous loop over guest data). It does not hold it to "no 50 ms task": a long task
// is wall-clock time, and with eight guest workers and dom0 streaming on a shared 2-core
// machine the main thread gets a small share of a core. Traced at load average 16 on 2
// cores, a redraw took about 17 ms of CPU (script 6, paint, layout and commit the rest)
// and 50–270 ms of wall-clock time, and message handlers of under 1 ms of CPU showed up
// as 100–160 ms tasks: what this test could bound there is the scheduler, not the
// console. The distribution is printed here (docs/demo.md, "Redraw cost").
import { expect, test } from '@playwright/test';
import { card, consoleReady, guestIds, shot, spawn, stats } from './demo-helpers';

test('8 guests streaming reads: the console keeps drawing and never blocks its main thread', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 8);
  const ids = await guestIds(page);
  // Every guest's console frame is connected to its worker.
  for (const id of ids) await expect(card(page, id).frameLocator('iframe').getByRole('log')).toContainText('guest ready on the zero-copy transport');
  for (const id of ids) await card(page, id).getByRole('button', { name: 'Stream reads' }).click();
  for (const id of ids) await expect(card(page, id).getByRole('button', { name: 'Stream reads' })).toHaveAttribute('aria-pressed', 'true');

  // Past the warm-up (first pass of every guest, Vite's first transforms), into steady streaming.
  await page.waitForTimeout(1000);
  const before = await page.evaluate(async () => {
    const app = window.__tabvisor!;
    return (await Promise.all([...app.cards.values()].map((c) => c.guest.api.latency()))).reduce((a, l) => a + l.total, 0);
  });
  const longTasks = await page.evaluate(
    () =>
      new Promise<{ name: string; duration: number }[]>((resolve) => {
        const seen: { name: string; duration: number }[] = [];
        const obs = new PerformanceObserver((list) => {
          for (const e of list.getEntries()) seen.push({ name: e.name, duration: e.duration });
        });
        obs.observe({ type: 'longtask' });
        setTimeout(() => {
          obs.disconnect();
          resolve(seen);
        }, 4000);
      }),
  );
  const after = await page.evaluate(async () => {
    const app = window.__tabvisor!;
    return (await Promise.all([...app.cards.values()].map((c) => c.guest.api.latency()))).reduce((a, l) => a + l.total, 0);
  });
  await shot(page, 'demo-eight-guests-streaming');
  const ms = longTasks.map((t) => Math.round(t.duration)).sort((x, y) => x - y);
  const band = (lo: number, hi: number) => ms.filter((d) => d >= lo && d < hi).length;
  console.log(
    `reads during the window: ${after - before}; long tasks in 4 s: ${ms.length} ` +
      `(50–99 ms: ${band(50, 100)}, 100–199 ms: ${band(100, 200)}, 200–499 ms: ${band(200, 500)}, ≥ 500 ms: ${band(500, Infinity)}); ` +
      `durations ${JSON.stringify(ms)}`,
  );
  expect(after - before).toBeGreaterThan(100); // the guests really were streaming
  expect((await stats(page)).domains).toHaveLength(8);
  expect(longTasks.filter((t) => t.duration >= 500)).toEqual([]);
});
