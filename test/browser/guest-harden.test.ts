// Real Chromium (vitest browser mode, page is cross-origin isolated). A guest module runs
// in a worker after the hardened bootstrap (guest/bootstrap.ts) and tries every storage,
// network and nested-context API plus the tricks to restore them; each must be out of
// reach. An unhardened control worker runs the same attempts and must reach them, so a
// "blocked" here means hardening blocked it and not that the attempt was broken.
// CSP is not in play here (vitest's server does not run scripts/guest-csp.ts); the CSP
// is tested end to end in test/e2e/isolation-csp.spec.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTransport, type ProbeResult } from '../../shared/transport-probe';
import { BOOT_TAG, bootMessage } from '../../shared/boot-protocol';
import { GLOBAL_REMOVALS, HardenError, NAVIGATOR_REMOVALS, findLeftovers, harden } from '../../guest/harden';
import { ATTEMPTS_TAG, type AttemptFamily, type AttemptResult } from './fixtures/harden-attempts';
import { guestBootstrapUrl } from '../../host/page/guest-runtime';

const GUEST_MODULE = new URL('./fixtures/harden-attempts.ts', import.meta.url).href;

function nextMessage(worker: Worker, accept: (data: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no matching message within ${timeoutMs} ms`)); }, timeoutMs);
    const onMessage = (ev: MessageEvent): void => {
      const data: unknown = ev.data;
      if (typeof data === 'object' && data !== null && accept(data as Record<string, unknown>)) {
        cleanup();
        resolve(data as Record<string, unknown>);
      }
    };
    const onError = (ev: ErrorEvent): void => { cleanup(); reject(new Error(`worker error: ${ev.message}`)); };
    const cleanup = (): void => {
      clearTimeout(timer);
      worker.removeEventListener('message', onMessage);
      worker.removeEventListener('error', onError);
    };
    worker.addEventListener('message', onMessage);
    worker.addEventListener('error', onError);
  });
}

const workers: Worker[] = [];
function hardenedWorker(): Worker {
  const w = new Worker(new URL('./fixtures/harden-worker.ts', import.meta.url), { type: 'module' });
  workers.push(w);
  return w;
}

let probe: ProbeResult;
let booted: Record<string, unknown>;
let hardened: AttemptResult[];
let control: AttemptResult[];

beforeAll(async () => {
  const guest = hardenedWorker();
  probe = await probeTransport(guest);
  const attempts = nextMessage(guest, (d) => d.tag === ATTEMPTS_TAG);
  const bootOutcome = nextMessage(guest, (d) => d.tag === BOOT_TAG.booted || d.tag === BOOT_TAG.failed);
  guest.postMessage(bootMessage(GUEST_MODULE, probe.kind));
  booted = await bootOutcome;
  hardened = (await attempts).results as AttemptResult[];

  const ctl = new Worker(new URL('./fixtures/harden-control-worker.ts', import.meta.url), { type: 'module' });
  workers.push(ctl);
  control = (await nextMessage(ctl, (d) => d.tag === ATTEMPTS_TAG)).results as AttemptResult[];
});

afterAll(() => {
  for (const w of workers) w.terminate();
});

function family(results: AttemptResult[], f: AttemptFamily): AttemptResult[] {
  return results.filter((r) => r.family === f);
}
function outcomes(results: AttemptResult[]): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.name, r.outcome]));
}
function expectAllBlocked(f: AttemptFamily): void {
  const rs = family(hardened, f);
  expect(rs.length).toBeGreaterThan(0);
  const reached = rs.filter((r) => r.outcome !== 'blocked').map((r) => `${r.name}: ${r.detail}`);
  expect(reached, `reachable after hardening (${f})`).toEqual([]);
}

describe('hardened guest bootstrap', () => {
  it('boots: the probe picks zero-copy for the worker, and the guest module loads after hardening', () => {
    expect(probe.kind).toBe('zero-copy');
    expect(booted.tag, JSON.stringify(booted)).toBe(BOOT_TAG.booted);
    const removed = booted.removed as string[];
    for (const name of ['indexedDB', 'caches', 'fetch', 'XMLHttpRequest', 'WebSocket', 'Worker', 'importScripts', 'BroadcastChannel', 'navigator.storage', 'navigator.locks']) {
      expect(removed).toContain(name);
    }
  });

  it('reports what each attempt met (printed for docs/isolation.md)', () => {
    const rows = hardened.map((r) => `${r.family.padEnd(8)} ${r.name.padEnd(48)} ${r.outcome.padEnd(8)} ${r.detail}`);
    const ctl = control.map((r) => `${r.family.padEnd(8)} ${r.name.padEnd(48)} ${r.outcome.padEnd(8)} ${r.detail}`);
    console.info(`hardened guest:\n${rows.join('\n')}\n\ncontrol (no bootstrap):\n${ctl.join('\n')}`);
    expect(hardened.length).toBe(control.length);
  });

  it('control: without the bootstrap, the same attempts reach every API family', () => {
    const reached = outcomes(control);
    for (const name of [
      'indexedDB.open', 'caches.open', 'navigator.storage.estimate', 'navigator.storageBuckets.open',
      'fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'WebTransport', 'FontFace (loads url() sources)',
      'new Worker', 'BroadcastChannel', 'navigator.locks.request',
      'Object.getPrototypeOf(self).fetch', 'self.constructor.prototype.indexedDB', 'WorkerGlobalScope.prototype descriptors',
      'import(data: module) sees fetch',
    ]) {
      expect(reached[name], name).toBe('reached');
    }
  });

  it('storage is out of reach: indexedDB, caches, navigator.storage (OPFS), storageBuckets, webkitRequestFileSystem', () => {
    expectAllBlocked('storage');
  });

  it('network is out of reach: fetch, XMLHttpRequest, WebSocket, EventSource, WebTransport, FontFace', () => {
    expectAllBlocked('network');
  });

  it('other contexts are out of reach: new Worker, importScripts, BroadcastChannel, navigator.locks', () => {
    expectAllBlocked('contexts');
  });

  it('devices granted to the origin are out of reach: navigator.usb', () => {
    expectAllBlocked('devices');
  });

  it('removed APIs cannot be restored through prototypes, redefinition, forged receivers or a new module', () => {
    expectAllBlocked('restore');
  });

  it('the bootstrap as served by the dev server pulls in no /@vite/client (which would open an HMR socket before hardening)', async () => {
    // The URL the page starts guest workers from.
    const url = guestBootstrapUrl();
    expect(`${url.pathname}${url.search}`).toBe('/guest/bootstrap.ts?worker_file&type=module');
    const served = await (await fetch(url)).text();
    expect(served).toContain('harden');
    // An import of it, not a mention (the bootstrap's comments name it).
    expect(served).not.toMatch(/(?:from|import)\s*["']\/@vite\/client["']/);
  });

  it('the bootstrap refuses a guest module from another origin and loads nothing', async () => {
    const guest = hardenedWorker();
    const outcome = nextMessage(guest, (d) => d.tag === BOOT_TAG.booted || d.tag === BOOT_TAG.failed);
    guest.postMessage(bootMessage('http://localhost:9/evil.js', 'copy'));
    const msg = await outcome;
    expect(msg.tag).toBe(BOOT_TAG.failed);
    expect((msg.error as { message: string }).message).toMatch(/same-origin/);
  });
});

describe('harden() on a scope whose APIs live on prototypes', () => {
  // The shape measured in Chromium's workers: fetch/indexedDB on WorkerGlobalScope.prototype,
  // storage/locks on WorkerNavigator.prototype, interface objects own on the global.
  function fakeScope(): { scope: Record<string, unknown>; proto: object; navProto: object } {
    const navProto = { get storage() { return {}; }, get locks() { return {}; }, userAgent: 'x' };
    const proto = { fetch() { return 'net'; }, get indexedDB() { return {}; }, navigator: Object.create(navProto) as object };
    const scope = Object.create(proto) as Record<string, unknown>;
    scope.Worker = function Worker() {};
    return { scope, proto, navProto };
  }

  it('deletes from every prototype and pins a non-configurable undefined on the object', () => {
    const { scope, proto, navProto } = fakeScope();
    const report = harden(scope);
    expect(findLeftovers(scope)).toEqual([]);
    expect(scope.fetch).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(proto, 'fetch')).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(navProto, 'storage')).toBeUndefined();
    expect((scope.navigator as Record<string, unknown>).locks).toBeUndefined();
    expect(Reflect.deleteProperty(scope, 'fetch')).toBe(false);
    expect(Reflect.defineProperty(scope, 'fetch', { value: () => 'again' })).toBe(false);
    // A guest may put a function back on the prototype; the own tombstone shadows it.
    (proto as Record<string, unknown>).fetch = () => 'again';
    expect(scope.fetch).toBeUndefined();
    const present = report.removals.filter((r) => r.wasPresent).map((r) => r.name).sort();
    expect(present).toEqual(['Worker', 'fetch', 'indexedDB', 'navigator.locks', 'navigator.storage']);
    expect(report.removals).toHaveLength(
      Object.values(GLOBAL_REMOVALS).flat().length + Object.values(NAVIGATOR_REMOVALS).flat().length,
    );
  });

  it('is idempotent', () => {
    const { scope } = fakeScope();
    harden(scope);
    expect(() => harden(scope)).not.toThrow();
    expect(findLeftovers(scope)).toEqual([]);
  });

  it('fails closed when an API cannot be removed', () => {
    const { scope, proto } = fakeScope();
    Object.defineProperty(proto, 'caches', { value: {}, configurable: false });
    expect(() => harden(scope)).toThrow(HardenError);
    expect(() => harden(scope)).toThrow(/caches/);
  });
});
