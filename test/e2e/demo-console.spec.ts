// Playwright, real Chromium, the console page (index.html) cross-origin isolated by the
// dev server: guests on clones of the built-in image share frames — also across two
// identical files, which the block-aligned image makes identical blocks; a copy-on-write
// edit diverges one clone; a killed guest leaves the others running; the pool survives a
// reload. Screenshots go to test-results/demo-*.png.
import { expect, test, type Page } from '@playwright/test';
import { card, consoleReady, frames, guestIds, pageMap, residentKeys, shot, spawn, stats, typeInConsole } from './demo-helpers';

const LIB_DOM = 'usr/lib/typescript/lib.dom.d.ts';
const APP_A = 'srv/app-a/node_modules/typescript/lib/typescript.js';
const APP_B = 'srv/app-b/node_modules/typescript/lib/typescript.js';

/** Have guest `id` read `file` whole; the LBAs it spans. */
function readFile(page: Page, id: number, file: string): Promise<number[]> {
  return page.evaluate(async ([g, f]) => {
    const c = window.__tabvisor!.cards.get(g as number)!;
    const e = (await c.guest.api.list()).find((x) => x.name === f)!;
    return (await c.guest.api.readFile(f as string, e.size)).lbas;
  }, [id, file] as const);
}

test('four guests on clones read the same file: one pool read and one resident frame per block; identical files share frames', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  await consoleReady(page);
  await expect(page.locator('#transport-status')).toHaveAttribute('data-transport', 'zero-copy');
  const image = (await page.evaluate(() => window.__tabvisor!.hv.pool.list())).find((d) => d.name === 'image@base')!;
  expect(image.blockSize).toBe(65536);
  expect(image.sizeBytes).toBeGreaterThan(20 * 1024 * 1024);

  await spawn(page, 4);
  const ids = await guestIds(page);
  expect(ids).toHaveLength(4);
  // The guests listed the image at boot (its tar headers; spawn waits for that): start
  // counting after that.
  const s0 = await stats(page);
  const group = s0.groups[0]!.id;
  const before = residentKeys(await frames(page, group));
  const lbas = await readFile(page, ids[0]!, LIB_DOM);
  const s1 = await stats(page);
  const after = await frames(page, group);
  // Nothing was evicted, so every pool read of the first guest's read shows as a block
  // newly resident: as many new blocks as pool reads means no block was read twice.
  expect(s1.groups[0]!.evictions).toBe(s0.groups[0]!.evictions);
  const fresh = [...residentKeys(after)].filter((k) => !before.has(k));
  expect(s1.driver.poolReads - s0.driver.poolReads).toBe(fresh.length);
  // Every block of the file is resident and mapped by the guest that read it; readahead
  // may have read on past the file's end: the rest of the window the last reads were in
  // and the one they asked for, at most two windows (512 KiB each: 8 blocks).
  const map0 = await pageMap(page, ids[0]!);
  const fileKeys = new Set(lbas.map((l) => after[map0[l]!]?.key));
  expect(lbas.every((l) => map0[l]! >= 0 && after[map0[l]!]!.state === 'resident')).toBe(true);
  expect(fresh.filter((k) => !fileKeys.has(k)).length).toBeLessThanOrEqual(16);
  for (const id of ids.slice(1)) await readFile(page, id, LIB_DOM);
  const s2 = await stats(page);
  // Three more guests read the same 1.8 MiB: not one more pool read, not one more frame.
  expect(s2.driver.poolReads).toBe(s1.driver.poolReads);
  expect(s2.groups[0]!.fills).toBe(s1.groups[0]!.fills);
  expect(s2.driver.bytesCopied).toBe(0);
  const maps = await Promise.all(ids.map((id) => pageMap(page, id)));
  for (const l of lbas) for (const m of maps.slice(1)) if (m[l]! >= 0 && maps[0]![l]! >= 0) expect(m[l]).toBe(maps[0]![l]);

  // Two applications vendor the same compiler: once app-a's copy is read, app-b's costs
  // no pool read — the pool stored it once, the arena holds it once.
  const a = await readFile(page, ids[0]!, APP_A);
  const s3 = await stats(page);
  const b = await readFile(page, ids[1]!, APP_B);
  const s4 = await stats(page);
  expect(a.length).toBe(b.length);
  expect(a[0]).not.toBe(b[0]);
  // Only what the 256-frame arena had to evict in between is read again.
  expect(s4.driver.poolReads - s3.driver.poolReads).toBeLessThan(a.length / 2);

  // The drawn counters say the same.
  await expect(page.locator('[data-counter="poolReads"]')).toHaveText(String(s4.driver.poolReads));
  await expect(page.locator('[data-counter="bytesCopied"]')).toHaveText('0 B');
  await expect(page.locator('[data-counter="dedup"]')).toHaveText(/^[1-9]\.\d\d× \(/);
  await card(page, ids[0]!).locator('summary').click();
  await typeInConsole(page, ids[0]!, 'ls', 'usr/share/doc/tabvisor/rfc/tvp-0001-block-ring.txt');
  await card(page, ids[1]!).locator('summary').click();
  await typeInConsole(page, ids[1]!, 'cat usr/share/doc/tabvisor/rfc/tvp-0002-image-format.txt 400', 'Block-Aligned Tar');
  await shot(page, 'demo-four-guests');
});

test('a copy-on-write edit diverges one clone; a killed guest leaves the rest running; a reload keeps the data', async ({ page }) => {
  test.setTimeout(180_000);
  const README = 'usr/share/doc/tabvisor/README.md';
  await page.goto('/');
  await consoleReady(page);
  await spawn(page, 3);
  const [a, b, c] = await guestIds(page);
  for (const id of [a!, b!]) {
    await card(page, id).locator('summary').click();
    await typeInConsole(page, id, `cat ${README} 40`, '# Tabvisor');
  }

  // Edit README.md in a's clone through the card's form.
  const ca = card(page, a!);
  await ca.getByLabel('File to edit').selectOption(README);
  await ca.getByLabel('Text to write at the start of the file').fill('# EDITED in clone A');
  await ca.getByRole('button', { name: 'Write (copy-on-write)' }).click();
  await expect(ca.locator('output')).toContainText(/wrote .*README.md: block \d+ now private to its clone/);
  const lba = Number(/block (\d+)/.exec((await ca.locator('output').textContent())!)![1]);
  await typeInConsole(page, a!, `cat ${README} 40`, '# EDITED in clone A');
  await typeInConsole(page, b!, `cat ${README} 19`, /\$ cat \S+ 19\n?# Tabvisor/);
  const [ma, mb] = await Promise.all([pageMap(page, a!), pageMap(page, b!)]);
  expect(ma[lba]).not.toBe(mb[lba]); // a maps its own block now
  const cloneA = (await ca.getAttribute('data-name'))!;
  // Guests boot concurrently: which card got which clone number is not fixed.
  expect(cloneA).toMatch(/^vm-[123]$/);
  const image = (await page.evaluate(() => window.__tabvisor!.hv.pool.list())).find((d) => d.name === 'image@base')!;
  await expect(page.locator(`[data-dataset="image/${cloneA}"] .strip-text`).first()).toHaveText(`1 own, ${image.blocks - 1} shared with image@base`);

  // Kill b: it goes away, a and c go on.
  await card(page, b!).getByRole('button', { name: 'Kill' }).click();
  await expect(card(page, b!)).toHaveAttribute('data-state', 'destroyed');
  await expect(card(page, b!).locator('.state')).toHaveText('killed');
  await expect(card(page, b!).getByRole('button', { name: 'Scan image' })).toBeDisabled();
  await card(page, c!).getByRole('button', { name: 'Scan image' }).click();
  await expect(card(page, c!).locator('output')).toContainText(`scanned ${image.blocks} blocks`, { timeout: 30_000 });
  await expect(card(page, c!).locator('output')).toContainText('all as views onto shared memory');
  expect((await stats(page)).domains.map((d) => d.id).sort()).toEqual([a!, c!].sort());
  await shot(page, 'demo-edit-and-kill');

  // Reload: the pool and the edited clone are still there; boot a guest on it.
  await page.reload();
  await consoleReady(page);
  const row = page.locator(`.tree li[data-dataset="image/${cloneA}"]`);
  await expect(row).toBeVisible();
  await expect(row.locator('.strip-text').first()).toHaveText(/^1 own/);
  await page.getByRole('button', { name: `Boot ${cloneA}` }).click();
  await expect(page.locator('.guest-card[data-state="running"]')).toHaveCount(1, { timeout: 30_000 });
  const [d] = await guestIds(page);
  await card(page, d!).locator('summary').click();
  await typeInConsole(page, d!, `cat ${README} 40`, '# EDITED in clone A');
  await shot(page, 'demo-after-reload');
});

test('"Compact the pool" runs the extent cleaner: a record left mostly dead is rewritten, the result said in the panel and the log, the data kept', async ({ page }) => {
  test.setTimeout(90_000);
  await page.goto('/');
  await consoleReady(page);
  // A record three quarters dead, made through the console's hypervisor: four distinct
  // blocks imported as one record, a one-block volume in the same trust group that dedups
  // against the first of them, the four-block volume destroyed.
  const kept = await page.evaluate(async () => {
    const hv = window.__tabvisor!.hv;
    const bytes = new Uint8Array(4 * 65536);
    for (let i = 0; i < bytes.length; i += 64) bytes[i] = Math.imul(i / 64 + 1, 2654435761) >>> 24 || 1;
    await hv.pool.import('scratch', bytes.slice().buffer, { blockSize: 65536, group: 'compact' });
    await hv.pool.import('kept', bytes.slice(0, 65536).buffer, { blockSize: 65536, group: 'compact' });
    await hv.pool.destroy('scratch');
    return Array.from(bytes.subarray(0, 65536));
  });
  const button = page.getByRole('button', { name: 'Compact the pool' });
  const status = page.locator('#compact-status');
  await expect(status).toHaveAttribute('role', 'status');
  await button.click();
  await expect(status).toHaveText('Moved 1 live block (64 KiB) out of 1 mostly dead record: the store is 192 KiB smaller.');
  await expect(page.getByRole('log', { name: 'What the console did, newest first' })).toContainText('Compact the pool: Moved 1 live block');
  await expect(button).toBeEnabled();
  await shot(page, 'demo-compact');
  // The moved block reads back as it was imported, and fsck finds nothing (no record leaked).
  const after = await page.evaluate(async () => {
    const hv = window.__tabvisor!.hv;
    const got = Array.from(new Uint8Array(await (await hv.pool.export('kept')).arrayBuffer()));
    return { got, fsck: await hv.pool.fsck({ data: true }) };
  });
  expect(after.got).toEqual(kept);
  expect(after.fsck.problems).toEqual([]);
  // A second pass has nothing left to do.
  await button.click();
  await expect(status).toHaveText('Nothing to reclaim: every record is at least half live.');
});
