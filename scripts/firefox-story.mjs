// @ts-check
// Runs in Node: part of `npm run test:firefox`. Drives Firefox ESR over WebDriver BiDi
// (puppeteer-core) through the console's first-screen story (index.html, served cross-origin
// isolated by Vite): boot 4 guests, scan, edit, a second trust group, the copy transport.
// Each step must finish with its one-line result, and the machine must agree (zero-copy
// transport, bytes copied only by the copy guest). Skips, and says so, where there is no
// Firefox (as scripts/firefox-check.mjs does); CI requires it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { startQuietServer } from './quiet-server.mjs';

const FIREFOX = process.env.TABVISOR_FIREFOX ?? '/usr/bin/firefox-esr';
const STEP_TIMEOUT_MS = 180_000;
const STEPS = ['boot', 'scan', 'edit', 'group', 'copy'];

if (!existsSync(FIREFOX)) {
  if (process.env.CI || process.env.TABVISOR_REQUIRE_FIREFOX) {
    console.error(`Firefox not found at ${FIREFOX}, and CI requires the Firefox check.`);
    process.exit(1);
  }
  console.log(`firefox story: SKIPPED, no Firefox at ${FIREFOX}.`);
  process.exit(0);
}

const server = await startQuietServer();
const profile = mkdtempSync(join(tmpdir(), 'tabvisor-firefox-story-'));
let exitCode = 1;
const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: FIREFOX,
  headless: true,
  userDataDir: profile,
  extraPrefsFirefox: { 'network.captive-portal-service.enabled': false, 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false },
});
/** @param {() => Promise<boolean>} cond @param {string} what */
async function waitFor(cond, what) {
  const t0 = Date.now();
  while (Date.now() - t0 < STEP_TIMEOUT_MS) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 768 });
  await page.goto(new URL('/', server.base).href);
  console.log(`browser: ${await browser.version()}`);
  await waitFor(() => page.evaluate(() => document.querySelector('[data-ready="true"]') !== null), 'the console to be ready');
  const transport = await page.evaluate(() => document.getElementById('transport-status')?.dataset.transport ?? '');
  console.log(`transport: ${transport}`);
  if (transport !== 'zero-copy') throw new Error(`expected the zero-copy transport, got ${transport}`);
  let passed = 0;
  for (const step of STEPS) {
    // Keyboard, as a user without a mouse would: the step's button has focus after the last.
    await page.focus(`button[data-step="${step}"]`);
    await page.keyboard.press('Enter');
    await waitFor(
      () => page.evaluate((s) => { const li = document.querySelector(`li[data-step="${s}"]`); return li instanceof HTMLElement && (li.dataset.state === 'done' || /failed/.test(li.textContent ?? '')); }, step),
      `story step ${step}`,
    );
    const line = await page.evaluate((s) => document.querySelector(`[data-step-result="${s}"]`)?.textContent ?? '', step);
    const ok = await page.evaluate((s) => document.querySelector(`li[data-step="${s}"]`)?.getAttribute('data-state') === 'done', step);
    console.log(`  ${ok ? 'ok' : 'FAIL'} ${step}: ${line}`);
    if (!ok) throw new Error(`step ${step} failed: ${line}`);
    passed++;
  }
  /** @type {{ copied: number, guests: number }} */
  const s = await page.evaluate(async () => {
    const app = /** @type {any} */ (window).__tabvisor;
    const st = await app.hv.pool.stats();
    return { copied: st.driver.bytesCopied, guests: st.domains.length };
  });
  console.log(`  guests running: ${s.guests}; bytes copied (the copy-transport guest only): ${s.copied}`);
  if (s.guests !== 6 || s.copied <= 0) throw new Error('the machine does not agree with the story');
  await page.screenshot({ path: join(process.env.TABVISOR_SHOTS ?? 'test-results', 'story-firefox.png') });
  console.log(`firefox story: ${passed} passed, 0 failed`);
  exitCode = 0;
} catch (err) {
  console.error(err);
  console.log('firefox story: failed');
} finally {
  await browser.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);
