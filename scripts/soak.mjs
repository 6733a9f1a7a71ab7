// @ts-check
// Runs in Node. The crash campaign: kill the BROWSER PROCESS (SIGKILL, no
// shutdown path at all) at random moments while a guest streams writes through the
// hypervisor into IndexedDB, relaunch on the same profile, and check the pool: it opens,
// fsck with data verification finds nothing, and every write acknowledged before the kill
// is present (each block holds that version or a later one, never torn bytes), and so is
// every snapshot, clone and import acknowledged before the kill (an import whole, byte for
// byte; a partial import must never appear under its name).
//
//   npm run soak                      # 30 kills against the built pages (test/e2e/vite.config.ts)
//   node scripts/soak.mjs --kills 100 --url http://127.0.0.1:5174   # or any server of the pages
//
// test/e2e/crash-campaign.spec.ts runs the same loop with a few kills.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromiumLaunchOptions } from './chromium.mjs';
import { mulberry32, seedFromEnv } from './seed.mjs';

const PAGE = '/test/e2e/pages/reliability-crash.html';

/**
 * @typedef {{ problems: string[], versions: number[], verified: number, names: string[], pruned: string[], errorCode?: string }} Verify
 *   errorCode: the `code` of the error the verify page failed with, if it failed with one
 * @typedef {{ seed: number, kills: number, verifiedChunks: number, acknowledged: number, datasetsAcknowledged: number, datasetsChecked: number, compactions: number, chunksMoved: number, failures: string[], browserWipes: string[], ms: number }} CampaignResult
 *   seed: the kill schedule's seed (TABVISOR_SEED=<seed> draws the same schedule again)
 *   datasetsAcknowledged: snapshots, clones and imports acknowledged before some kill, over the whole campaign
 *   datasetsChecked: how many times such a dataset was found whole by a verify after a kill
 *     (a dataset is checked after every kill until it is pruned or the browser deletes the pool)
 *   compactions: the extent cleaner's passes acknowledged before some kill; chunksMoved: the
 *     chunks those passes moved (each verify after them finds every block they moved)
 */

/**
 * @param {{ baseURL: string, kills: number, seed?: number, log?: (line: string) => void, minWriteMs?: number, maxWriteMs?: number, afterKill?: (kill: number, profile: string) => void, beforeVerify?: (round: number, page: import('playwright-core').Page) => Promise<void> }} opts
 *   seed: draws the kill schedule (default: this run's seed, scripts/seed.mjs)
 *   minWriteMs, maxWriteMs: a kill not aimed at a pool operation lands this long after the writes start
 *   afterKill: called after each kill, before the relaunch (tests damage the profile's files there)
 *   beforeVerify: called after each relaunch, before the pool is opened (tests open another database first there)
 * @returns {Promise<CampaignResult>}
 */
export async function crashCampaign(opts) {
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? seedFromEnv();
  const random = mulberry32(seed);
  log(`crash campaign: kill schedule seed ${seed} (TABVISOR_SEED=${seed} draws it again)`);
  const profile = mkdtempSync(join(tmpdir(), 'tabvisor-crash-'));
  const db = `crash-campaign-${Date.now()}`;
  /** Highest version acknowledged per block, over every run so far. */
  let acked = /** @type {number[]} */ ([]);
  /** Snapshots, clones and imports acknowledged, over every run so far. */
  const ackedNames = new Set(/** @type {string[]} */ ([]));
  /** Every name ever acknowledged (ackedNames loses the pruned and the browser-deleted). */
  const everAcked = new Set(/** @type {string[]} */ ([]));
  let datasetsChecked = 0;
  const failures = /** @type {string[]} */ ([]);
  /** Kills after which the browser deleted the site's IndexedDB itself (and the pool said so). */
  const browserWipes = /** @type {string[]} */ ([]);
  let kills = 0;
  let verifiedChunks = 0;
  let acknowledged = 0;
  let compactions = 0;
  let chunksMoved = 0;
  const t0 = Date.now();
  try {
    for (let round = 0; round <= opts.kills; round++) {
      const ctx = await chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), baseURL: opts.baseURL });
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await opts.beforeVerify?.(round, page);
      // 1. Whatever the last kill left: the pool must open, verify, and hold every acknowledged write.
      let v = await verifyOn(page, db);
      if (reportedLoss(v)) {
        // Chromium found its own files damaged after the kill and deleted the site's
        // IndexedDB (measured: "IndexedDB (database was corrupt): checksum mismatch"). The
        // pool cannot prevent that; what it must do is say so on every open instead of
        // serving an empty pool, which is what reaching here checks. Count it, accept the
        // loss, and go on from the empty pool.
        browserWipes.push(`after kill ${round}: ${v.problems[0]}`);
        log(`round ${round}: the BROWSER deleted the site's IndexedDB and the pool reported it: ${v.problems[0]}`);
        v = await verifyOn(page, db, true);
        if (v.names.length > 0 || v.problems.length > 0) failures.push(`after kill ${round}: accepting the reported loss did not give an empty, clean pool: ${JSON.stringify(v)}`);
        acked = [];
        ackedNames.clear();
      }
      verifiedChunks += v.verified;
      const bad = [...v.problems];
      v.versions.forEach((got, i) => {
        if (got < 0) bad.push(`block ${i}: bytes are not any version written (torn or corrupt)`);
        else if (got < (acked[i] ?? 0)) bad.push(`block ${i}: acknowledged version ${acked[i]} lost, holds ${got}`);
      });
      const present = new Set(v.names);
      for (const name of ackedNames) {
        if (present.has(name)) datasetsChecked++;
        else bad.push(`acknowledged dataset ${name} lost`);
      }
      if (bad.length) failures.push(`after kill ${round}: ${bad.join('; ')}`);
      // Pruned in verify mode (no kill can cut that short): no longer expected.
      for (const name of v.pruned) ackedNames.delete(name);
      log(`round ${round}: pool verified (${v.verified} chunks), ${bad.length ? `PROBLEMS: ${bad.join('; ')}` : 'every acknowledged write present'}`);
      if (round === opts.kills) {
        await ctx.close();
        break;
      }
      // 2. Stream writes, then kill the browser at a random moment. From the verify page
      // when its verify went through (the pool closed again), else from a page of its own.
      if (await page.evaluate(() => !window.__crash?.error && typeof window.__crash?.startWrite === 'function')) {
        await page.evaluate(() => window.__crash?.startWrite?.());
      } else {
        await page.goto(`${PAGE}?mode=write&db=${db}`);
      }
      await page.waitForFunction(() => window.__crash?.ready || window.__crash?.error, null, { timeout: 30_000 });
      const err = await page.evaluate(() => window.__crash?.error ?? null);
      if (err) {
        failures.push(`round ${round}: write page failed: ${err}`);
        log(`round ${round}: write page failed: ${err}`);
      }
      // Where the kill lands. The page runs ten acknowledged pool operations (snapshot,
      // clone, import, a kept import that makes a record sparse, a pass of the extent
      // cleaner; twice) one after another while the writes stream; each takes 15–100 ms
      // here. Most kills are aimed at one of them: wait until `aim` are acknowledged, then
      // kill within 50 ms (plus the kill's own ~20 ms), which lands in or near operation
      // `aim` + 1 on a machine of any speed. The rest land at a random time after the
      // writes start.
      const aim = Math.floor(random() * 11) - 1;
      if (aim >= 0) {
        await page
          .waitForFunction((n) => (window.__crash?.done?.().length ?? 0) >= n || window.__crash?.opsError?.() != null, aim, { timeout: 30_000, polling: 5 })
          .catch(() => failures.push(`round ${round}: ${aim} pool operations not acknowledged within 30 s`));
        await page.waitForTimeout(random() * 50);
      } else {
        const min = opts.minWriteMs ?? 200;
        const max = opts.maxWriteMs ?? 1500;
        await page.waitForTimeout(min + random() * (max - min));
      }
      const [now, names, doneAt, opsError, moved] = await page.evaluate(() => /** @type {const} */ ([window.__crash?.acked?.() ?? [], window.__crash?.done?.() ?? [], window.__crash?.doneAt?.() ?? [], window.__crash?.opsError?.() ?? null, window.__crash?.moved?.() ?? 0]));
      for (const n of names) {
        // A cleaner's pass is no dataset: what it moved is checked through the blocks.
        if (n.startsWith('compact:')) {
          compactions++;
          continue;
        }
        ackedNames.add(n);
        everAcked.add(n);
      }
      chunksMoved += moved;
      if (opsError) failures.push(`round ${round}: a snapshot, clone, import or cleaner's pass failed before the kill: ${opsError}`);
      await killBrowser(profile);
      kills++;
      opts.afterKill?.(kills, profile);
      await ctx.close().catch(() => undefined);
      // Versions are numbered across all blocks, so the highest one counts the writes acknowledged so far.
      acked = now.map((k, i) => Math.max(k, acked[i] ?? 0));
      acknowledged = Math.max(0, ...acked);
      log(`kill ${kills}: browser SIGKILLed ${aim >= 0 ? `aimed after ${aim} pool operations` : 'at a random time'} (${names.length} acknowledged, at ${doneAt.join('/') || '-'} ms), highest acknowledged version ${Math.max(...acked)}, ${ackedNames.size} snapshots/clones/imports expected`);
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  return { seed, kills, verifiedChunks, acknowledged, datasetsAcknowledged: everAcked.size, datasetsChecked, compactions, chunksMoved, failures, browserWipes, ms: Date.now() - t0 };
}

/**
 * Whether the verify page failed only because the pool reported its data deleted under it
 * (PoolLostError, code 'pool-lost': the browser's own report, or the pool registry's), as
 * opposed to any other failure. By the error's code, not its words: the messages differ
 * by who noticed and may change.
 * @param {Verify} v
 */
export function reportedLoss(v) {
  return v.errorCode === 'pool-lost' && v.problems.length === 1;
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} db
 * @param {boolean} [acceptLoss] open with acceptLoss (after the browser deleted the pool)
 * @returns {Promise<Verify>}
 */
async function verifyOn(page, db, acceptLoss = false) {
  await page.goto(`${PAGE}?mode=verify&db=${db}${acceptLoss ? '&acceptLoss=1' : ''}`);
  await page.waitForFunction(() => window.__crash?.ready || window.__crash?.error, null, { timeout: 30_000 });
  const out = await page.evaluate(() => ({ error: window.__crash?.error, errorCode: window.__crash?.errorCode, verify: window.__crash?.verify }));
  if (out.error || !out.verify) {
    return { problems: [`verify page failed: ${out.error}`], versions: [], verified: 0, names: [], pruned: [], ...(out.errorCode ? { errorCode: out.errorCode } : {}) };
  }
  return out.verify;
}

/**
 * SIGKILL the browser process of `profile` (the one without --type=, i.e. not a child): the
 * crash. Then wait until every process of that browser is gone (children notice their
 * parent's death and exit; any left after 3 s are killed), so the next launch does not meet
 * a dying storage process still holding the profile's files.
 */
export async function killBrowser(/** @type {string} */ profile) {
  const mine = () =>
    execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`--user-data-dir=${profile}`))
      .map((l) => ({ pid: Number(l.trim().split(/\s+/)[0]), main: !l.includes('--type=') }));
  const main = mine().find((p) => p.main);
  if (!main) throw new Error('browser process not found');
  process.kill(main.pid, 'SIGKILL');
  for (let waited = 0; ; waited += 100) {
    const left = mine();
    if (left.length === 0) return;
    if (waited >= 3000) for (const p of left) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    if (waited >= 10_000) throw new Error(`browser processes still alive 10 s after the kill: ${left.map((p) => p.pid).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** @param {string} url */
async function waitForServer(url) {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`dev server at ${url} did not come up`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (/** @type {string} */ name) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const kills = Number(arg("--kills") ?? 30);
  let url = arg('--url');
  /** The campaign's pages built and served by `vite preview`, unless --url names a server. */
  let server = /** @type {{ base: string, close: () => Promise<void> } | null} */ (null);
  if (!url) {
    const { startBuiltPreview } = await import('./quiet-server.mjs');
    server = await startBuiltPreview('test/e2e/vite.config.ts');
    url = server.base.replace(/\/$/, '');
  }
  try {
    await waitForServer(url);
    const r = await crashCampaign({ baseURL: url, kills, log: (l) => console.log(l) });
    console.log(`soak: ${r.kills} browser kills, ${r.failures.length} failures, ${r.browserWipes.length} deletions of the site's IndexedDB by the browser (reported); ${r.acknowledged} acknowledged writes, ${r.datasetsAcknowledged} snapshots/clones/imports acknowledged and checked ${r.datasetsChecked} times, ${r.compactions} cleaner's passes (${r.chunksMoved} chunks moved); seed ${r.seed}; ${(r.ms / 1000).toFixed(0)} s`);
    for (const f of r.failures) console.error(`FAILED ${f}`);
    process.exitCode = r.failures.length ? 1 : 0;
  } finally {
    await server?.close();
  }
}
