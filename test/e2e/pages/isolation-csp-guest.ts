// Guest module for test/e2e/isolation-csp.spec.ts, loaded by guest/bootstrap.ts inside a
// hardened guest worker. Tries what hardening cannot remove and only the worker's CSP
// (scripts/guest-csp.ts) can stop: loading code from elsewhere with import(), eval, and
// reading the project's own source through the dev server (which serves `/package.json`
// as a JS module and any file with `?raw`). Reports each outcome to the host.

export const CSP_TAG = 'isolation-csp:results';

/** Attempts to read project source through the dev server; each must fail under the guest policy. */
export const SOURCE_READS = [
  '/package.json',
  '/package.json?raw',
  '/vite.config.ts?raw',
  '/scripts/soak.mjs?raw',
] as const;

/** The same, dressed up to slip past a path-limited policy; each must fail under it too. */
export const SOURCE_READ_TRICKS = [
  '/guest/..%2fpackage.json?raw',
  '/guest/%2e%2e/package.json?raw',
  '/shared/..%2f..%2fpackage.json?raw',
  '/node_modules/.vite/..%2f..%2fpackage.json?raw',
  '/guest/../vite.config.ts?raw',
  '/@fs{root}/package.json?raw',
  '/guest?raw',
  '/host/console/main.ts',
] as const;

export interface CspAttempt {
  readonly name: string;
  readonly outcome: 'allowed' | 'refused';
  readonly detail: string;
}

// Tiny valid WebAssembly module: magic + version, no sections.
const EMPTY_WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

function otherLoopback(): string {
  const other = location.hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1';
  return `${location.protocol}//${other}:${location.port}`;
}

// Dynamic imports go through a dot-free template literal so the Vite dev server leaves
// them alone (see guest/bootstrap.ts); each is a URL chosen at run time by a guest.
async function load(href: string): Promise<unknown> {
  return import(/* @vite-ignore */ `${href}`);
}

// Same spelling rule: the URL is built outside the import() call.
async function loadJson(href: string): Promise<unknown> {
  return import(/* @vite-ignore */ `${href}`, { with: { type: 'json' } });
}

export default async function main(ctx?: { init?: { root?: string } }): Promise<void> {
  const root = ctx?.init?.root ?? '/';
  const violations: string[] = [];
  addEventListener('securitypolicyviolation', (ev) => {
    const e = ev as SecurityPolicyViolationEvent;
    violations.push(`${e.effectiveDirective} ${e.blockedURI}`);
  });
  const attempts: [string, () => Promise<unknown>][] = [
    ['import() same-origin module', () => load(`${location.origin}/shared/transport.ts`)],
    ['import() cross-origin module', () => load(`${otherLoopback()}/shared/transport.ts`)],
    ['import() data: URL', () => load('data:text/javascript,export default 1')],
    ['import() blob: URL', () => load(URL.createObjectURL(new Blob(['export default 1'], { type: 'text/javascript' })))],
    ['eval via new Function', async () => new Function('return 1')()],
    ['WebAssembly.compile', () => WebAssembly.compile(EMPTY_WASM)],
    ...SOURCE_READS.map((path): [string, () => Promise<unknown>] => [`read ${path}`, () => load(`${location.origin}${path}`)]),
    ['read /package.json as a JSON module', () => loadJson(`${location.origin}/package.json`)],
    ...SOURCE_READ_TRICKS.map((path): [string, () => Promise<unknown>] => [`trick ${path}`, () => load(`${location.origin}${path.replace('{root}', root)}`)]),
  ];
  const results: CspAttempt[] = [];
  for (const [name, attempt] of attempts) {
    try {
      const value = await attempt();
      const text = (value as { default?: unknown } | null)?.default;
      results.push({ name, outcome: 'allowed', detail: typeof text === 'string' ? `read: ${JSON.stringify(text.slice(0, 40))}` : Object.prototype.toString.call(value) });
    } catch (err: unknown) {
      results.push({ name, outcome: 'refused', detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  }
  // Violation events are queued as tasks; let them arrive before reporting.
  await new Promise((r) => setTimeout(r, 50));
  postMessage({ tag: CSP_TAG, results, violations });
}
