// Runs in Node (Playwright), driving real Chromium against the Vite dev server. The
// transport probe's decision table (shared/transport-probe.ts), one real page condition
// per row: cross-origin isolated or not (headers stripped by a route), SharedArrayBuffer
// missing (deleted before any script, as on WebKitGTK), a guest that never answers, a
// guest that cannot take the buffer, and a channel that copies instead of sharing.
import { expect, test, type Page } from '@playwright/test';
import type { ProbeResult } from '../../shared/transport-probe';

const PAGE = '/test/e2e/pages/isolation-probe.html';
const PROBE_MODULE = '/shared/transport-probe.ts';
const RESPONDER_WORKER = '/test/e2e/pages/isolation-worker.ts?worker_file&type=module';
const SILENT_WORKER = '/test/e2e/pages/isolation-silent-worker.ts?worker_file&type=module';

/** Probe a real worker from the page. */
function probeWorker(page: Page, workerUrl: string, timeoutMs?: number): Promise<ProbeResult> {
  return page.evaluate(
    async ([moduleUrl, url, ms]) => {
      type Probe = typeof import('../../shared/transport-probe');
      const m = (await import(/* @vite-ignore */ moduleUrl)) as Probe;
      const worker = new Worker(url, { type: 'module' });
      try {
        return await m.probeTransport(worker, ms === undefined ? {} : { timeoutMs: ms });
      } finally {
        worker.terminate();
      }
    },
    [PROBE_MODULE, workerUrl, timeoutMs] as const,
  );
}

/**
 * Probe an in-page fake guest whose channel tampers with the probe message: 'copy' hands
 * the guest a fresh SharedArrayBuffer with the same bytes, 'plain' an ArrayBuffer,
 * 'throw' refuses to post it (DataCloneError). The guest runs the real responder.
 */
function probeFake(page: Page, tamper: 'copy' | 'plain' | 'throw'): Promise<ProbeResult> {
  return page.evaluate(
    async ([moduleUrl, mode]) => {
      type Probe = typeof import('../../shared/transport-probe');
      const m = (await import(/* @vite-ignore */ moduleUrl)) as Probe;
      const hostSide = new EventTarget();
      const guestSide = new EventTarget();
      const deliver = (to: EventTarget, data: unknown): void => {
        setTimeout(() => to.dispatchEvent(new MessageEvent('message', { data })), 0);
      };
      const tamperWith = (msg: Record<string, unknown>): Record<string, unknown> => {
        if (!(msg.sab instanceof SharedArrayBuffer)) return msg;
        if (mode === 'throw') throw new DOMException('refused by the test channel', 'DataCloneError');
        const bytes = new Uint8Array(msg.sab);
        const other = mode === 'copy' ? new SharedArrayBuffer(bytes.length) : new ArrayBuffer(bytes.length);
        new Uint8Array(other).set(bytes);
        return { ...msg, sab: other };
      };
      m.answerTransportProbe({
        postMessage: (msg) => deliver(hostSide, msg),
        addEventListener: (t, l) => guestSide.addEventListener(t, l),
        removeEventListener: (t, l) => guestSide.removeEventListener(t, l),
      });
      return m.probeTransport({
        postMessage: (msg) => deliver(guestSide, tamperWith(msg as Record<string, unknown>)),
        addEventListener: (t, l) => hostSide.addEventListener(t, l),
        removeEventListener: (t, l) => hostSide.removeEventListener(t, l),
      });
    },
    [PROBE_MODULE, tamper] as const,
  );
}

const table: string[] = [];
function record(condition: string, result: ProbeResult): void {
  table.push(`| ${condition} | ${result.kind} | ${'cause' in result ? result.cause : '—'} | ${result.reason} |`);
}

test.afterAll(() => {
  console.log(`\ntransport probe decision table (observed):\n| condition | kind | cause | reason |\n|---|---|---|---|\n${table.join('\n')}\n`);
});

test('isolated page, worker answers: zero-copy', async ({ page }) => {
  await page.goto(PAGE);
  const r = await probeWorker(page, RESPONDER_WORKER);
  record('isolated page, dedicated worker with responder', r);
  expect(r).toMatchObject({ kind: 'zero-copy', reason: 'guest shares memory with this page' });
});

test('isolated page, worker never answers: copy after the timeout', async ({ page }) => {
  await page.goto(PAGE);
  const r = await probeWorker(page, SILENT_WORKER, 300);
  record('isolated page, worker without responder (300 ms timeout)', r);
  expect(r).toEqual({ kind: 'copy', cause: 'guest-timeout', reason: 'guest did not answer the transport probe within 300 ms' });
});

test('page without COOP/COEP: copy, and the reason names the missing headers', async ({ page }) => {
  // Only the document: its headers alone decide whether the page is isolated.
  await page.route('**/isolation-probe.html', async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response, headers });
  });
  await page.goto(PAGE);
  const facts = await page.evaluate(() => ({ isolated: crossOriginIsolated, sab: typeof SharedArrayBuffer }));
  // Chromium hides the constructor from pages that are not isolated.
  expect(facts).toEqual({ isolated: false, sab: 'undefined' });
  const r = await probeWorker(page, RESPONDER_WORKER);
  record('page served without COOP/COEP', r);
  expect(r).toEqual({
    kind: 'copy',
    cause: 'not-cross-origin-isolated',
    reason: 'page is not cross-origin isolated (missing COOP/COEP headers), so the browser hides SharedArrayBuffer',
  });
  await page.unrouteAll({ behavior: 'ignoreErrors' });
});

test('isolated page in a browser without SharedArrayBuffer (as WebKitGTK): copy', async ({ page }) => {
  await page.addInitScript(() => {
    Reflect.deleteProperty(globalThis, 'SharedArrayBuffer');
  });
  await page.goto(PAGE);
  expect(await page.evaluate(() => ({ isolated: crossOriginIsolated, sab: typeof SharedArrayBuffer }))).toEqual({ isolated: true, sab: 'undefined' });
  const r = await probeWorker(page, RESPONDER_WORKER);
  record('isolated page, no SharedArrayBuffer constructor', r);
  expect(r).toEqual({ kind: 'copy', cause: 'no-shared-array-buffer', reason: 'no SharedArrayBuffer in this browser' });
});

test('a channel that copies the buffer cannot pass for shared memory', async ({ page }) => {
  await page.goto(PAGE);
  const r = await probeFake(page, 'copy');
  record('channel delivers a copy of the SharedArrayBuffer', r);
  expect(r).toMatchObject({ kind: 'copy', cause: 'guest-got-copy', reason: 'guest received a copy of the buffer, not shared memory' });
});

test('a guest that gets something else than a SharedArrayBuffer says so', async ({ page }) => {
  await page.goto(PAGE);
  const r = await probeFake(page, 'plain');
  record('channel delivers a plain ArrayBuffer', r);
  expect(r).toMatchObject({ kind: 'copy', cause: 'guest-not-a-sab', reason: 'guest did not get a SharedArrayBuffer (got ArrayBuffer)' });
});

test('a channel that refuses to post the buffer: copy with the error', async ({ page }) => {
  await page.goto(PAGE);
  const r = await probeFake(page, 'throw');
  record('postMessage throws DataCloneError', r);
  expect(r).toEqual({
    kind: 'copy',
    cause: 'host-cannot-post',
    reason: 'this context cannot post a SharedArrayBuffer (DataCloneError: refused by the test channel)',
  });
});
