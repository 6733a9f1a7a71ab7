// Playwright, real Chromium at 1366×768: the console at scale — 32 guests on an image of
// 1,056 blocks. The page maps and the arena stay inside their panels (they zoom and scroll
// there), no two parts of the page overlap (bounding boxes of what shows: the machine
// column scrolls by itself and clips its panels), the page does not scroll sideways, and
// the toast covers no panel. The toast is sticky at the top of the actions column: with
// the page scrolled it lies over that column's scrolled content, like a sticky header,
// never over the machine panels. Screenshots: test-results/demo-scale-32*.png.
import { expect, test, type Page } from '@playwright/test';
import { consoleReady, shot } from './demo-helpers';

const BLOCK = 65536;
const BLOCKS = 1056;
const GUESTS = 32;

type Box = { name: string; x: number; y: number; w: number; h: number };

/** Every top-level part of the console: header, banner, note, and each column's children. */
function layoutBoxes(page: Page): Promise<Box[]> {
  return page.evaluate(() => {
    const parts = [
      ...document.querySelectorAll<HTMLElement>('.tabvisor-console > .topbar, .tabvisor-console > .banner:not([hidden]), .tabvisor-console > .note:not([hidden])'),
      // A bare `.needs-hv` div only wraps the story: list what it wraps instead.
      ...[...document.querySelectorAll<HTMLElement>('.layout > .col > *')].flatMap((el) => (el.className === 'needs-hv' ? [...el.children] as HTMLElement[] : [el])),
    ];
    return parts
      .filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).display !== 'contents')
      .map((el) => {
        const r = el.getBoundingClientRect();
        let [x0, y0, x1, y1] = [r.left, r.top, r.right, r.bottom];
        // What shows of it: a column that scrolls by itself (the machine column on wide screens) clips its panels.
        const col = el.closest('.col');
        if (col && getComputedStyle(col).overflowY !== 'visible') {
          const c = col.getBoundingClientRect();
          [x0, y0, x1, y1] = [Math.max(x0, c.left), Math.max(y0, c.top), Math.min(x1, c.right), Math.min(y1, c.bottom)];
        }
        const label = el.id || el.getAttribute('aria-labelledby') || el.className || el.tagName;
        return { name: `${el.tagName.toLowerCase()}.${label}`, x: x0, y: y0 + scrollY, w: x1 - x0, h: y1 - y0 };
      })
      .filter((b) => b.w > 0 && b.h > 0);
  });
}

function overlaps(a: Box, b: Box): boolean {
  // Touching edges (and sub-pixel rounding) is not overlapping.
  const e = 0.5;
  return a.x + a.w > b.x + e && b.x + b.w > a.x + e && a.y + a.h > b.y + e && b.y + b.h > a.y + e;
}

function pairsOverlapping(boxes: Box[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i]!, boxes[j]!];
      if (overlaps(a, b)) out.push(`${a.name} ${JSON.stringify(a)} × ${b.name} ${JSON.stringify(b)}`);
    }
  }
  return out;
}

/** `inner` lies within `outer`'s box, and `outer` itself does not spill sideways. */
async function containedIn(page: Page, inner: string, outer: string): Promise<{ inside: boolean; spill: number; scrolls: string }> {
  return page.evaluate(
    ([i, o]) => {
      const oe = document.querySelector<HTMLElement>(o!)!;
      const ie = oe.querySelector<HTMLElement>(i!)!;
      const a = ie.getBoundingClientRect();
      const b = oe.getBoundingClientRect();
      const inside = a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
      return { inside, spill: oe.scrollWidth - oe.clientWidth, scrolls: `${ie.scrollWidth}×${ie.scrollHeight} in ${ie.clientWidth}×${ie.clientHeight}` };
    },
    [inner, outer],
  );
}

test.use({ viewport: { width: 1366, height: 768 } });

test('32 guests on a 1,056-block image: views stay in their panels, nothing overlaps, no sideways scroll', async ({ page }) => {
  test.setTimeout(420_000);
  await page.goto('/');
  await consoleReady(page);
  // A 66 MiB image (1,056 blocks of 64 KiB), every block distinct.
  await page.evaluate(
    async ([blocks, bs]) => {
      const bytes = new Uint8Array(blocks! * bs!);
      const words = new Uint32Array(bytes.buffer);
      for (let i = 0; i < words.length; i += 16) words[i] = i;
      const hv = window.__tabvisor!.hv;
      await hv.pool.import('big', bytes.buffer, { blockSize: bs! });
      await hv.pool.snapshot('big', 'big@base');
    },
    [BLOCKS, BLOCK],
  );
  await expect(page.locator('#spawn-base option[value="big@base"]')).toHaveCount(1);
  await page.getByLabel('Base snapshot').selectOption('big@base');
  await page.getByLabel('Guests', { exact: true }).fill(String(GUESTS));
  await page.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(GUESTS, { timeout: 240_000 });
  // Each guest reads a spread of blocks, so every strip has cells across the whole image.
  await page.evaluate(async (blocks) => {
    const cards = [...window.__tabvisor!.cards.values()];
    await Promise.all(cards.map(async (c, i) => {
      for (let lba = i; lba < blocks; lba += 97) await c.guest.api.hex(lba, 0, 16);
    }));
  }, BLOCKS);
  await expect(page.locator('.pm-row')).toHaveCount(GUESTS);
  // Let the poller draw what the guests mapped.
  await expect.poll(() => page.evaluate(() => document.querySelectorAll('.pm-row canvas').length)).toBe(GUESTS);
  await expect.poll(() => page.evaluate(() => Math.min(...[...document.querySelectorAll<HTMLCanvasElement>('.pm-row canvas')].map((c) => c.width)))).toBeGreaterThanOrEqual(BLOCKS);
  await page.waitForTimeout(600);
  await shot(page, 'demo-scale-32');
  // What a user sees with the page maps scrolled into view in the machine column.
  await page.locator('.page-maps').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${process.env.TABVISOR_SHOTS ?? 'test-results'}/demo-scale-32-page-maps.png` });

  // No sideways scroll of the page.
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(sw).toBeLessThanOrEqual(cw);

  // The page maps: 32 strips of 1,056 cells scroll inside their panel, the panel does not spill.
  const pm = await containedIn(page, '.pm-scroll', '.page-maps');
  expect(pm.inside, pm.scrolls).toBe(true);
  expect(pm.spill).toBeLessThanOrEqual(0);
  const pmScroll = await page.locator('.pm-scroll').evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth, sh: el.scrollHeight, ch: el.clientHeight, ox: getComputedStyle(el).overflowX }));
  expect(pmScroll.ox).toBe('auto');
  expect(pmScroll.sh).toBeGreaterThan(pmScroll.ch); // 32 strips: it scrolls, the panel does not grow without bound
  // Zoomed in (wider strips) and back to fit: still inside.
  await page.getByRole('button', { name: 'Zoom in' }).click();
  expect((await containedIn(page, '.pm-scroll', '.page-maps')).inside).toBe(true);
  await page.getByRole('button', { name: 'Fit' }).click();

  // The arena: inside its panel.
  const ar = await containedIn(page, '.arena-scroll', '.arena');
  expect(ar.inside, ar.scrolls).toBe(true);
  expect(ar.spill).toBeLessThanOrEqual(0);

  // Nothing overlaps anything else, the toast included (at rest: the page at its top).
  // Twice: the machine column at its top (counters, arena), then scrolled to the page maps.
  await page.evaluate(() => {
    scrollTo(0, 0);
    document.querySelector('.col.machine')!.scrollTop = 0;
  });
  const top = await layoutBoxes(page);
  expect(top.map((b) => b.name)).toEqual(expect.arrayContaining([expect.stringContaining('toast'), expect.stringContaining('arena-h')]));
  expect(pairsOverlapping(top)).toEqual([]);
  await page.evaluate(() => {
    document.querySelector('.page-maps')!.scrollIntoView({ block: 'start' });
    scrollTo(0, 0);
  });
  const maps = await layoutBoxes(page);
  expect(maps.map((b) => b.name)).toEqual(expect.arrayContaining([expect.stringContaining('toast'), expect.stringContaining('pm-h')]));
  expect(pairsOverlapping(maps)).toEqual([]);
});

test('the toast covers no panel at 1366×768, at rest and with the page scrolled', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await consoleReady(page);
  await page.getByLabel('Guests', { exact: true }).fill('2');
  await page.getByRole('button', { name: 'Spawn on new clones' }).click();
  await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(2, { timeout: 30_000 });
  // An error toast stays until dismissed.
  await page.getByRole('button', { name: 'Destroy image@base' }).click();
  const toast = page.locator('#toast');
  await expect(toast).toHaveAttribute('data-kind', 'error');
  await page.evaluate(() => scrollTo(0, 0));
  await shot(page, 'demo-toast');
  const boxes = await layoutBoxes(page);
  expect(boxes.some((b) => b.name.includes('toast'))).toBe(true);
  expect(pairsOverlapping(boxes)).toEqual([]);

  // Scrolled: the toast sticks to the top of the actions column; it still covers nothing in the machine column.
  await page.mouse.wheel(0, 600);
  await page.waitForTimeout(200);
  const t = (await toast.boundingBox())!;
  const machine = await page.locator('.col.machine > *').evaluateAll((els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      return { name: el.getAttribute('aria-labelledby') ?? el.className, x: r.x, y: r.y, w: r.width, h: r.height };
    }),
  );
  const tb = { name: 'toast', x: t.x, y: t.y, w: t.width, h: t.height };
  expect(t.y).toBeGreaterThanOrEqual(-0.5); // still in view
  expect(machine.filter((m) => overlaps(tb, m)).map((m) => m.name)).toEqual([]);
  // It stays inside the actions column.
  const act = (await page.locator('.col.act').boundingBox())!;
  expect(t.x).toBeGreaterThanOrEqual(act.x - 0.5);
  expect(t.x + t.width).toBeLessThanOrEqual(act.x + act.width + 0.5);
  // Escape dismisses it (its × is out of the tab order, so a message never sits before the first action).
  await page.keyboard.press('Escape');
  await expect(toast).toHaveAttribute('data-kind', 'idle');
});
