// @ts-check
// Runs in Node (configs, bench runner, npm scripts). Finds the Chromium that every
// browser suite and the benchmark drive, in the order the README promises:
//   1. $TABVISOR_CHROMIUM (or $CHROMIUM_PATH), an explicit path;
//   2. a system Chromium (Debian's /usr/bin/chromium and friends);
//   3. Playwright's own downloaded browser (a developer laptop after `npx playwright install`).
// `node scripts/chromium.mjs --check` prints what it found, or exactly how to get one and exits 1.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const SYSTEM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

/** @typedef {{ path: string | undefined, source: 'env' | 'system' | 'playwright' }} Found */

/**
 * @param {{ env?: Record<string, string | undefined>, candidates?: string[], playwrightPath?: () => string | undefined }} [where]
 *   what to look at; the defaults are this process's environment, the system paths and
 *   Playwright's own browser (parameters so tests can take each away)
 * @returns {Found | null}
 */
export function findChromium(where = {}) {
  const env = where.env ?? process.env;
  const fromEnv = env.TABVISOR_CHROMIUM ?? env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new Error(`TABVISOR_CHROMIUM points at ${fromEnv}, which does not exist.\n${HOW_TO_GET_ONE}`);
    }
    return { path: fromEnv, source: 'env' };
  }
  for (const candidate of where.candidates ?? SYSTEM_CANDIDATES) {
    if (existsSync(candidate)) return { path: candidate, source: 'system' };
  }
  const own = (where.playwrightPath ?? playwrightOwnChromium)();
  // Playwright's own browser: leave executablePath unset so Playwright picks it.
  if (own && existsSync(own)) return { path: undefined, source: 'playwright' };
  return null;
}

/** @returns {string | undefined} */
function playwrightOwnChromium() {
  try {
    const require = createRequire(import.meta.url);
    /** @type {{ chromium: { executablePath(): string } }} */
    const pw = require('playwright-core');
    return pw.chromium.executablePath();
  } catch {
    // playwright-core missing or no browser registry: none.
    return undefined;
  }
}

export const HOW_TO_GET_ONE = [
  'No Chromium found for the browser tests.',
  'Get one of these, then run the command again:',
  '  - Debian/Ubuntu:   sudo apt-get install -y chromium',
  '  - any machine:     npx playwright install chromium',
  '  - your own build:  export TABVISOR_CHROMIUM=/path/to/chromium',
].join('\n');

/**
 * Launch arguments shared by vitest browser mode, Playwright and the benchmark.
 * --no-sandbox: Chromium refuses to start as root without it (CI runs as root).
 * --disable-background-networking/-component-update/-sync: the CI network is closed and
 *   those services otherwise retry connections for the whole run.
 * ForceEagerMeasureMemory + expose-gc: measureUserAgentSpecificMemory() resolves at the
 *   next GC; these make it resolve promptly (ARCHITECTURE.md section 1).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-blink-features=ForceEagerMeasureMemory',
  '--js-flags=--expose-gc',
];

/** Launch options for playwright's chromium.launch / vitest's provider. */
export function chromiumLaunchOptions() {
  const found = findChromium();
  if (!found) throw new Error(HOW_TO_GET_ONE);
  return {
    ...(found.path ? { executablePath: found.path } : {}),
    args: CHROMIUM_ARGS,
  };
}

/**
 * Launch options for a Chromium confined to CPU 0 (`taskset -c 0`): every thread of the page,
 * dom0 and the guests on one core (`npm run bench -- --one-core`, test/e2e/spin-gauge.spec.ts).
 * Playwright runs one executable, so the options name a wrapper script; `dispose` removes
 * it. Throws, saying what is missing, where there is no taskset (it is Linux's, util-linux).
 * @param {() => string} playwrightPath Playwright's own browser, used when no system Chromium was found
 */
export function oneCoreLaunchOptions(playwrightPath) {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  } catch {
    throw new Error('confining Chromium to one CPU needs taskset (Linux: util-linux, e.g. `apt-get install util-linux`)');
  }
  const o = chromiumLaunchOptions();
  const dir = mkdtempSync(join(tmpdir(), 'tabvisor-one-core-'));
  const wrapper = join(dir, 'chromium');
  writeFileSync(wrapper, `#!/bin/sh\nexec taskset -c 0 ${JSON.stringify(o.executablePath ?? playwrightPath())} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return { options: { ...o, executablePath: wrapper }, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--check')) {
  let found;
  try {
    found = findChromium();
  } catch (err) {
    console.error(String(err instanceof Error ? err.message : err));
    process.exit(1);
  }
  if (!found) {
    console.error(HOW_TO_GET_ONE);
    process.exit(1);
  }
  let version = '';
  if (found.path) {
    try {
      version = execFileSync(found.path, ['--version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      version = '(version unknown)';
    }
  }
  console.log(`browser: ${found.path ?? "Playwright's own Chromium"} [${found.source}] ${version}`);
}
