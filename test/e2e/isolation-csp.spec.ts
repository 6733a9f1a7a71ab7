// Runs in Node (Playwright), driving real Chromium. The guest worker's CSP
// (scripts/guest-csp.ts) end to end: a hardened guest tries to load code from another
// origin, from data:/blob: URLs and through eval; with the guest headers on the
// bootstrap's response each is refused, while same-origin modules and WebAssembly still
// work. The control run, without the header, shows every attempt succeeds, so the
// refusals are CSP's doing.
//
// The dev server's policy is GUEST_CSP with `'self'` narrowed to the paths guests load
// (devGuestCsp): the same guest also tries to read the project's source through the dev
// server (`/package.json`, `?raw`), and tricks meant to slip past a path-limited policy.
//
// This spec starts its own Vite dev server from the project's vite.config.ts (which
// registers guestCsp()), so it knows the origin. (Adding the header with page.route instead
// does not work: any route makes Playwright intercept every request of the page and its
// workers, and in Chromium 156 a cross-origin module import from an intercepted worker
// then fails even without CSP, which would make the control meaningless.)
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { devGuestCsp } from '../../scripts/guest-csp';
import { BOOT_TAG, bootMessage, type BootMessage } from '../../shared/boot-protocol';
import { CSP_TAG, SOURCE_READS, SOURCE_READ_TRICKS, type CspAttempt } from './pages/isolation-csp-guest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOST_PAGE = '/test/e2e/pages/isolation-frame.html'; // any isolated page of ours
// What the page starts a guest worker from under the dev server (host/page/guest-runtime.ts).
const BOOTSTRAP = '/guest/bootstrap.ts?worker_file&type=module';
// Same hardened bootstrap, entry outside /guest/: the plugin leaves its response alone.
const CONTROL = '/test/e2e/pages/isolation-csp-control-worker.ts?worker_file&type=module';
const GUEST_MODULE = '/test/e2e/pages/isolation-csp-guest.ts';
const INIT = { root: ROOT.replace(/\/$/, '') };

let server: ViteDevServer;
let origin: string;

test.beforeAll(async () => {
  server = await createServer({
    root: ROOT,
    configFile: `${ROOT}/vite.config.ts`,
    server: { port: 0, strictPort: false },
    logLevel: 'warn',
  });
  await server.listen();
  const local = server.resolvedUrls?.local[0];
  if (!local) throw new Error('dev server has no local URL');
  origin = new URL(local).origin;
});

test.afterAll(async () => {
  await server?.close();
});

interface CspRun {
  readonly boot: Record<string, unknown>;
  readonly results: readonly CspAttempt[];
  readonly violations: readonly string[];
}

async function runGuest(page: Page, workerUrl: string, boot: BootMessage): Promise<CspRun> {
  return page.evaluate(
    ([url, msg, tags]) =>
      new Promise<CspRun>((resolve, reject) => {
        const worker = new Worker(url, { type: 'module' });
        let bootReply: Record<string, unknown> | undefined;
        const timer = setTimeout(() => reject(new Error(`guest did not report; boot: ${JSON.stringify(bootReply)}`)), 15_000);
        worker.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
        worker.onmessage = (ev: MessageEvent) => {
          const d = ev.data as Record<string, unknown>;
          if (d.tag === tags.booted || d.tag === tags.failed) bootReply = d;
          if (d.tag === tags.failed) { clearTimeout(timer); reject(new Error(`boot failed: ${JSON.stringify(d)}`)); }
          if (d.tag === tags.results) {
            clearTimeout(timer);
            worker.terminate();
            resolve({ boot: bootReply ?? {}, results: d.results as CspAttempt[], violations: d.violations as string[] });
          }
        };
        worker.postMessage(msg);
      }),
    [workerUrl, boot, { booted: BOOT_TAG.booted, failed: BOOT_TAG.failed, results: CSP_TAG }] as const,
  );
}

function outcomes(run: CspRun): Record<string, string> {
  return Object.fromEntries(run.results.map((r) => [r.name, r.outcome]));
}

test('guest worker under the dev policy: no code from elsewhere, no eval, no project source; guest modules and wasm still load', async ({ page, request }) => {
  const headers = (await request.get(`${origin}${BOOTSTRAP}`)).headers();
  // The dev policy, plus the directory of Vite's transform helpers (asked of Vite at run time).
  const helper = headers['content-security-policy']?.match(/ (http:\/\/[^ ]+\/@id\/__x00__@oxc-project\+runtime@[\w.-]+\/helpers\/) /)?.[1];
  expect(helper).toBeDefined();
  expect(headers['content-security-policy']).toBe(devGuestCsp(new URL(origin).host, 'http', [new URL(helper!).pathname]));
  expect(headers['content-security-policy']).not.toContain("'self'");
  // Isolation headers still there: the two plugins compose.
  expect(headers['cross-origin-embedder-policy']).toBe('require-corp');
  // Documents and the host's modules are not affected.
  expect((await request.get(`${origin}${HOST_PAGE}`)).headers()['content-security-policy']).toBeUndefined();

  await page.goto(`${origin}${HOST_PAGE}`);
  const run = await runGuest(page, BOOTSTRAP, bootMessage(`${origin}${GUEST_MODULE}`, 'zero-copy', INIT));
  console.log(
    `\nguest CSP: ${headers['content-security-policy']}\n` +
      run.results.map((r) => `  ${r.name.padEnd(30)} ${r.outcome.padEnd(8)} ${r.detail}`).join('\n') +
      `\n  violations: ${run.violations.join(' | ')}\n`,
  );
  expect(run.boot.tag).toBe(BOOT_TAG.booted);
  expect(outcomes(run)).toEqual({
    'import() same-origin module': 'allowed',
    'import() cross-origin module': 'refused',
    'import() data: URL': 'refused',
    'import() blob: URL': 'refused',
    'eval via new Function': 'refused',
    'WebAssembly.compile': 'allowed',
    ...Object.fromEntries(SOURCE_READS.map((p) => [`read ${p}`, 'refused'])),
    'read /package.json as a JSON module': 'refused',
    ...Object.fromEntries(SOURCE_READ_TRICKS.map((p) => [`trick ${p}`, 'refused'])),
  });
  // Each refusal is CSP's: a violation names the directive and what it blocked.
  expect(run.violations).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^script-src-elem http:\/\/localhost:\d+\/shared\/transport\.ts$/),
      'script-src-elem data',
      'script-src-elem blob',
      'script-src eval',
      ...SOURCE_READS.map((p) => `script-src-elem ${origin}${p}`),
      `script-src-elem ${origin}/@fs${INIT.root}/package.json?raw`,
      `connect-src ${origin}/package.json`,
    ]),
  );
});

test('control: the same hardened guest without the CSP header loads code from anywhere and can eval', async ({ page, request }) => {
  expect((await request.get(`${origin}${CONTROL}`)).headers()['content-security-policy']).toBeUndefined();
  await page.goto(`${origin}${HOST_PAGE}`);
  const run = await runGuest(page, CONTROL, bootMessage(`${origin}${GUEST_MODULE}`, 'zero-copy', INIT));
  console.log(`\ncontrol (no CSP):\n${run.results.map((r) => `  ${r.name.padEnd(30)} ${r.outcome.padEnd(8)} ${r.detail}`).join('\n')}\n`);
  expect(run.boot.tag).toBe(BOOT_TAG.booted);
  // Every attempt but the tricks and the JSON module (which the dev server may refuse by
  // itself) succeeds: the project's source is readable from a guest unless the policy stops it.
  const unsure = new Set([...SOURCE_READ_TRICKS.map((p) => `trick ${p}`), 'read /package.json as a JSON module']);
  const reached = run.results.filter((r) => !unsure.has(r.name));
  expect(reached.every((r) => r.outcome === 'allowed'), JSON.stringify(run.results, null, 2)).toBe(true);
  expect(run.results.find((r) => r.name === 'read /package.json?raw')?.detail).toContain('tabvisor');
  expect(run.violations).toEqual([]);
});
