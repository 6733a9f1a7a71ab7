// @ts-check
// Runs in Node. The crash campaign: kill the BROWSER PROCESS (SIGKILL, no
// shutdown path at all) at random moments while a guest streams writes through the
// hypervisor into IndexedDB, relaunch on the same profile, and check the pool: it opens,
// fsck with data verification finds nothing, and every write acknowledged before the kill
// is present (each block holds that version or a later one, never torn bytes).
//
//   npm run soak                      # 25 kills against a dev server it starts on port 5175
//   node scripts/soak.mjs --kills 100 --url http://127.0.0.1:5174
//
// test/e2e/crash-campaign.spec.ts runs the same loop with a few kills.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromiumLaunchOptions } from './chromium.mjs';

const PAGE = '/test/e2e/pages/reliability-crash.html';

/**
 * @typedef {{ problems: string[], versions: number[], verified: number }} Verify
 * @typedef {{ kills: number, verifiedChunks: number, acknowledged: number, failures: string[], ms: number }} CampaignResult
 */

/**
 * @param {{ baseURL: string, kills: number, log?: (line: string) => void, minWriteMs?: number, maxWriteMs?: number }} opts
 * @returns {Promise<CampaignResult>}
 */
export async function crashCampaign(opts) {
  const log = opts.log ?? (() => {});
  const profile = mkdtempSync(join(tmpdir(), 'tabvisor-crash-'));
  const db = `crash-campaign-${Date.now()}`;
  /** Highest version acknowledged per block, over every run so far. */
  let acked = /** @type {number[]} */ ([]);
  const failures = /** @type {string[]} */ ([]);
  let kills = 0;
  let verifiedChunks = 0;
  let acknowledged = 0;
  const t0 = Date.now();
  try {
    for (let round = 0; round <= opts.kills; round++) {
      const ctx = await chromium.launchPersistentContext(profile, { ...chromiumLaunchOptions(), baseURL: opts.baseURL });
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      // 1. Whatever the last kill left: the pool must open, verify, and hold every acknowledged write.
      const v = await verifyOn(page, db);
      verifiedChunks += v.verified;
      const bad = [...v.problems];
      v.versions.forEach((got, i) => {
        if (got < 0) bad.push(`block ${i}: bytes are not any version written (torn or corrupt)`);
        else if (got < (acked[i] ?? 0)) bad.push(`block ${i}: acknowledged version ${acked[i]} lost, holds ${got}`);
      });
      if (bad.length) failures.push(`after kill ${round}: ${bad.join('; ')}`);
      log(`round ${round}: pool verified (${v.verified} chunks), ${bad.length ? `PROBLEMS: ${bad.join('; ')}` : 'every acknowledged write present'}`);
      if (round === opts.kills) {
        await ctx.close();
        break;
      }
      // 2. Stream writes, then kill the browser at a random moment.
      await page.goto(`${PAGE}?mode=write&db=${db}`);
      await page.waitForFunction(() => window.__crash?.ready || window.__crash?.error, null, { timeout: 30_000 });
      const err = await page.evaluate(() => window.__crash?.error ?? null);
      if (err) throw new Error(`write page failed: ${err}`);
      const min = opts.minWriteMs ?? 200;
      const max = opts.maxWriteMs ?? 1500;
      await page.waitForTimeout(min + Math.random() * (max - min));
      const now = await page.evaluate(() => window.__crash?.acked?.() ?? []);
      killBrowser(profile);
      kills++;
      await ctx.close().catch(() => undefined);
      // Versions are numbered across all blocks, so the highest one counts the writes acknowledged so far.
      acked = now.map((k, i) => Math.max(k, acked[i] ?? 0));
      acknowledged = Math.max(0, ...acked);
      log(`kill ${kills}: browser SIGKILLed, highest acknowledged version ${Math.max(...acked)}`);
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  return { kills, verifiedChunks, acknowledged, failures, ms: Date.now() - t0 };
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} db
 * @returns {Promise<Verify>}
 */
async function verifyOn(page, db) {
  await page.goto(`${PAGE}?mode=verify&db=${db}`);
  await page.waitForFunction(() => window.__crash?.ready || window.__crash?.error, null, { timeout: 30_000 });
  const out = await page.evaluate(() => ({ error: window.__crash?.error, verify: window.__crash?.verify }));
  if (out.error || !out.verify) return { problems: [`verify page failed: ${out.error}`], versions: [], verified: 0 };
  return out.verify;
}

/** SIGKILL the browser process of `profile` (the one without --type=, i.e. not a child). */
function killBrowser(/** @type {string} */ profile) {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  const pid = ps
    .split('\n')
    .filter((l) => l.includes(`--user-data-dir=${profile}`) && !l.includes('--type='))
    .map((l) => Number(l.trim().split(/\s+/)[0]))[0];
  if (!pid) throw new Error('browser process not found');
  process.kill(pid, 'SIGKILL');
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
  const kills = Number(arg('--kills') ?? 25);
  let url = arg('--url');
  /** @type {import('node:child_process').ChildProcess | null} */
  let server = null;
  if (!url) {
    url = 'http://127.0.0.1:5175';
    server = spawn('npx', ['vite', '--port', '5175', '--strictPort'], { stdio: 'ignore' });
  }
  try {
    await waitForServer(url);
    const r = await crashCampaign({ baseURL: url, kills, log: (l) => console.log(l) });
    console.log(`soak: ${r.kills} browser kills survived with ${r.failures.length} failures; ${r.acknowledged} acknowledged writes checked; ${(r.ms / 1000).toFixed(0)} s`);
    for (const f of r.failures) console.error(`FAILED ${f}`);
    process.exitCode = r.failures.length ? 1 : 0;
  } finally {
    server?.kill('SIGTERM');
  }
}
