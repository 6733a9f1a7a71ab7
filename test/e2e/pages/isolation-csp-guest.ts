// Guest module for test/e2e/isolation-csp.spec.ts, loaded by guest/bootstrap.ts inside a
// hardened guest worker. Tries what hardening cannot remove and only the worker's CSP
// (scripts/guest-csp.ts) can stop: loading code from elsewhere with import(), and eval.
// Reports each outcome to the host.

export const CSP_TAG = 'isolation-csp:results';

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

export default async function main(): Promise<void> {
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
  ];
  const results: CspAttempt[] = [];
  for (const [name, attempt] of attempts) {
    try {
      const value = await attempt();
      results.push({ name, outcome: 'allowed', detail: Object.prototype.toString.call(value) });
    } catch (err: unknown) {
      results.push({ name, outcome: 'refused', detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  }
  // Violation events are queued as tasks; let them arrive before reporting.
  await new Promise((r) => setTimeout(r, 50));
  postMessage({ tag: CSP_TAG, results, violations });
}
