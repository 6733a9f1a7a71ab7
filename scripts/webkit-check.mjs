// @ts-check
// Runs in Node: `npm run test:webkit`. WebKitGTK has no SharedArrayBuffer, so it is the real
// test of the copy transport. Serves the project with Vite, starts Xvfb (when there is no
// display) and WebKitWebDriver, opens test/cross-browser/hypervisor-flow.html in MiniBrowser through
// plain W3C WebDriver HTTP, and reports what the page found. Part of `npm test`: CI
// (.ci/run) installs Debian's webkit2gtk-driver and xvfb and requires the check; elsewhere a
// machine without them skips it and says so.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { startQuietServer } from './quiet-server.mjs';

const DRIVER = process.env.WEBKIT_WEBDRIVER ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.WEBKIT_MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const TIMEOUT_MS = 120_000;

if (!existsSync(DRIVER) || !existsSync(MINIBROWSER)) {
  const how = 'On Debian/Ubuntu: sudo apt-get install -y webkit2gtk-driver xvfb (or set WEBKIT_WEBDRIVER and WEBKIT_MINIBROWSER)';
  if (process.env.CI || process.env.TABVISOR_REQUIRE_WEBKIT) {
    console.error(`WebKitGTK WebDriver not found, and CI requires the WebKit check. ${how}`);
    process.exit(1);
  }
  console.log(`webkit: SKIPPED, no WebKitGTK WebDriver at ${DRIVER}. ${how}`);
  process.exit(0);
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/** @param {string} url @param {string} method @param {unknown} [body] */
async function wd(url, method, body) {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = /** @type {{ value: any }} */ (await r.json());
  if (!r.ok) throw new Error(`WebDriver ${method} ${url}: ${JSON.stringify(json.value)}`);
  return json.value;
}

/** @type {import('node:child_process').ChildProcess[]} */
const children = [];
const env = { ...process.env };
if (!env.DISPLAY) {
  env.DISPLAY = ':97';
  children.push(spawn('Xvfb', [':97', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: 'ignore' }));
  await new Promise((r) => setTimeout(r, 800));
}
const server = await startQuietServer();
const base = server.base;
const driverPort = await freePort();
children.push(spawn(DRIVER, [`--port=${driverPort}`], { stdio: 'ignore', env }));
const wdBase = `http://127.0.0.1:${driverPort}`;

let exitCode = 1;
let session = '';
try {
  for (let i = 0; i < 50; i++) {
    try {
      await wd(`${wdBase}/status`, 'GET');
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const created = await wd(`${wdBase}/session`, 'POST', {
    capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } },
  });
  session = created.sessionId;
  console.log(`browser: ${created.capabilities.browserName} ${created.capabilities.browserVersion}`);
  await wd(`${wdBase}/session/${session}/url`, 'POST', { url: new URL('test/cross-browser/hypervisor-flow.html', base).href });
  const t0 = Date.now();
  /** @type {{ done: boolean, ok: boolean, steps: string[], error: string, userAgent: string, hasSharedArrayBuffer: boolean } | null} */
  let result = null;
  while (Date.now() - t0 < TIMEOUT_MS) {
    result = await wd(`${wdBase}/session/${session}/execute/sync`, 'POST', { script: 'return window.__flow || null;', args: [] });
    if (result?.done) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!result?.done) throw new Error(`the page did not finish within ${TIMEOUT_MS / 1000} s: ${JSON.stringify(result)}`);
  console.log(`user agent: ${result.userAgent}`);
  console.log(`SharedArrayBuffer: ${result.hasSharedArrayBuffer ? 'present' : 'absent'}`);
  for (const s of result.steps) console.log(`  ${s}`);
  if (result.error) console.log(`  error: ${result.error}`);
  const passed = result.steps.filter((s) => s.startsWith('ok')).length;
  const failed = result.ok ? 0 : 1;
  console.log(`webkit: ${passed} passed, ${failed} failed`);
  exitCode = result.ok ? 0 : 1;
} catch (err) {
  console.error(err);
} finally {
  if (session) await wd(`${wdBase}/session/${session}`, 'DELETE').catch(() => undefined);
  for (const c of children) c.kill();
  await server.close();
}
process.exit(exitCode);
