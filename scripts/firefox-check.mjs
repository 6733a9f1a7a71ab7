// @ts-check
// Runs in Node: `npm run test:firefox`. Drives Firefox ESR over WebDriver BiDi (puppeteer-core)
// through test/cross-browser/hypervisor-flow.html, served cross-origin isolated by Vite, so
// the zero-copy transport (SharedArrayBuffer, Atomics.waitAsync or its fallback) is tested
// outside Chromium. Part of `npm test`: CI installs Debian's firefox-esr and requires it;
// elsewhere a machine without Firefox skips this check and says so.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { startQuietServer } from './quiet-server.mjs';

const FIREFOX = process.env.TABVISOR_FIREFOX ?? '/usr/bin/firefox-esr';
const TIMEOUT_MS = 120_000;

if (!existsSync(FIREFOX)) {
  const how = 'On Debian/Ubuntu: sudo apt-get install -y firefox-esr (or set TABVISOR_FIREFOX=/path/to/firefox)';
  if (process.env.CI || process.env.TABVISOR_REQUIRE_FIREFOX) {
    console.error(`Firefox not found at ${FIREFOX}, and CI requires the Firefox check. ${how}`);
    process.exit(1);
  }
  console.log(`firefox: SKIPPED, no Firefox at ${FIREFOX}. ${how}`);
  process.exit(0);
}

const server = await startQuietServer();
const base = server.base;
const profile = mkdtempSync(join(tmpdir(), 'tabvisor-firefox-'));
let exitCode = 1;
const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: FIREFOX,
  headless: true,
  userDataDir: profile,
  // The machine's network is closed: keep Firefox from phoning home at start-up.
  extraPrefsFirefox: { 'network.captive-portal-service.enabled': false, 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false },
});
try {
  const page = await browser.newPage();
  await page.goto(new URL('test/cross-browser/hypervisor-flow.html', base).href);
  console.log(`browser: ${await browser.version()}`);
  const t0 = Date.now();
  /** @type {{ done: boolean, ok: boolean, transport: string, steps: string[], error: string, userAgent: string, hasSharedArrayBuffer: boolean } | null} */
  let result = null;
  while (Date.now() - t0 < TIMEOUT_MS) {
    result = await page.evaluate(() => /** @type {any} */ (window).__flow ?? null);
    if (result?.done) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!result?.done) throw new Error(`the page did not finish within ${TIMEOUT_MS / 1000} s: ${JSON.stringify(result)}`);
  console.log(`user agent: ${result.userAgent}`);
  console.log(`SharedArrayBuffer: ${result.hasSharedArrayBuffer ? 'present' : 'absent'}; transport: ${result.transport}`);
  for (const s of result.steps) console.log(`  ${s}`);
  if (result.error) console.log(`  error: ${result.error}`);
  const passed = result.steps.filter((s) => s.startsWith('ok')).length;
  console.log(`firefox: ${passed} passed, ${result.ok ? 0 : 1} failed`);
  exitCode = result.ok ? 0 : 1;
} catch (err) {
  console.error(err);
} finally {
  await browser.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);
