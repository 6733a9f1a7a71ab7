// Runs in Node, inside Vite (dev and preview servers); the constants are also imported by
// the Playwright isolation specs. A dedicated worker's Content-Security-Policy comes from
// the HTTP response of its own script, not from the page, so the guest bootstrap must be
// served with one. It is the one fence hardening cannot build: `import()` of any URL
// stays possible in a worker, and only CSP (`script-src 'self'`) stops it from fetching
// another origin's code or smuggling data out in a URL.
//
// Register in vite.config.ts next to crossOriginIsolation(): `plugins: [..., guestCsp()]`.
import type { Plugin } from 'vite';
import { headerPlugin, type HeaderRequest } from './isolation-headers.ts';

/**
 * The policy for guest worker scripts.
 * - default-src 'none': fonts, images, media, frames — nothing a guest worker needs.
 * - script-src 'self': the bootstrap may `import()` guest modules from our own origin
 *   only; no eval or `new Function` (no 'unsafe-eval').
 * - 'wasm-unsafe-eval': lets guests compile WebAssembly (a SQLite VFS guest will), which
 *   runs in the same hardened realm and has no I/O of its own.
 * - no worker-src: WebKitGTK 2.50 applies a worker script's own `worker-src 'none'` to
 *   loading that very worker, so the guest never starts there (measured with
 *   `npm run test:webkit`, 2026-11-23). Nested workers are stopped by harden.ts removing
 *   `Worker` and `SharedWorker` (tested in test/browser/guest-harden.test.ts); CSP would
 *   only have been a second fence.
 * - connect-src 'none': fetch/XHR/WebSocket/EventSource/WebTransport, already removed by
 *   harden.ts, would be refused here anyway.
 */
export const GUEST_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "connect-src 'none'",
].join('; ');

export const GUEST_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': GUEST_CSP,
  // A guest script is never meant to be rendered as anything but JavaScript.
  'X-Content-Type-Options': 'nosniff',
};

/**
 * Paths that get the guest headers: everything under /guest/, where the guest worker's
 * own script is (`/guest/bootstrap.ts` under the dev server, `/guest/bootstrap.js` built:
 * host/page/guest-runtime.ts). The chunks it imports need none: a worker's policy is its
 * own script's.
 */
export function isGuestScriptPath(pathname: string): boolean {
  return pathname.startsWith('/guest/');
}

/**
 * The file path a request target names, resolved the way a server maps it to a file:
 * percent-decoded, runs of slashes (and backslashes) taken as one, dot segments resolved.
 * Null when it does not decode. The dev server serves `//guest/bootstrap.ts` and
 * `/x/../guest/bootstrap.ts` as the guest's script, so the choice of headers must see
 * them as that path too; parsed as a URL instead, `//guest/…` names a host `guest` (and
 * `//` alone threw, a 500 for every such request).
 */
export function servedPath(url: string): string | null {
  const target = url.split(/[?#]/, 1)[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURI(target);
  } catch {
    return null;
  }
  // One leading slash, then no empty segment: what follows can only be a path.
  const path = `/${decoded}`.replace(/[\\/]+/g, '/');
  return new URL(path, 'http://any.invalid').pathname;
}

/** Headers to add for a request URL (path with query), or null when it is not a guest script. */
export function guestHeadersFor(url: string): Readonly<Record<string, string>> | null {
  const path = servedPath(url);
  return path !== null && isGuestScriptPath(path) ? GUEST_HEADERS : null;
}

/**
 * What a guest legitimately loads from the dev server, as CSP path prefixes (a source
 * expression ending in `/` matches every path under it; one without, that path only).
 * Measured by logging the dev server's requests while every kind of guest booted (the
 * workloads, the SQLite guest, the test and bench guests): the guest runtime and the
 * shared code it imports, Vite's pre-bundled dependencies (comlink), wa-sqlite (left out
 * of pre-bundling), and the directories the test and bench guest modules live in.
 * Everything else the dev server would happily serve — `/package.json` as a JS module,
 * `/vite.config.ts?raw`, `/scripts/…?raw`, `/@fs/…` — is outside the list, so the
 * browser refuses a guest's `import()` of it before any request is made. The built site
 * has no route to project source, so the preview server and static hosts keep GUEST_CSP.
 */
export const DEV_GUEST_SCRIPT_PATHS: readonly string[] = [
  '/guest/',
  '/shared/',
  '/node_modules/.vite/',
  '/node_modules/@journeyapps/wa-sqlite/',
  // Vite's `import.meta.env` module, which it adds to every worker entry (no trailing
  // slash: that one file).
  '/node_modules/vite/dist/client/env.mjs',
  '/bench/guests/',
  '/test/browser/fixtures/',
  '/test/e2e/pages/',
];

/**
 * Where the dev server serves the helpers its transform adds for syntax it lowers (guests
 * use `using`, lowered to ES2022 with `usingCtx`): `/@id/` plus the helper module's virtual
 * id, with the oxc runtime's version in it. Asked of Vite itself, so a Vite upgrade cannot
 * silently break guests. Not `/@id/` whole: that resolves any module id.
 */
export async function devHelperPath(resolveId: (id: string) => Promise<{ id: string } | null>): Promise<string | null> {
  const r = await resolveId('@oxc-project/runtime/helpers/usingCtx');
  const m = r?.id.match(/^\0(@oxc-project\+runtime@[\w.-]+\/helpers\/)/);
  return m ? `/@id/__x00__${m[1]}` : null;
}

/** A Host header we are willing to put into a policy: a host name or IP literal and a port. */
const HOST_RE = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The dev server's guest policy for a request to `host` (its Host header): GUEST_CSP with
 * `'self'` narrowed to DEV_GUEST_SCRIPT_PATHS on that origin. CSP has no path-limited
 * `'self'`, so the origin is spelled out, from the Host the browser sent (the page may be
 * on 127.0.0.1 or localhost). A missing or malformed Host (never sent by a browser) gets
 * `script-src 'none'`: nothing loads, rather than everything.
 *
 * Path matching in CSP is skipped for a request that was redirected; the dev server
 * answers module requests without redirects (the attack test in
 * test/e2e/isolation-csp.spec.ts tries the tricks that might produce one).
 */
export function devGuestCsp(host: string | undefined, scheme: 'http' | 'https' = 'http', extraPaths: readonly string[] = []): string {
  const paths = [...DEV_GUEST_SCRIPT_PATHS, ...extraPaths];
  const sources = host && HOST_RE.test(host) ? paths.map((p) => `${scheme}://${host}${p}`).join(' ') : "'none'";
  return ["default-src 'none'", `script-src ${sources} 'wasm-unsafe-eval'`, "connect-src 'none'"].join('; ');
}

/** The dev server's guest headers for a request (null when it is not a guest script). */
export function devGuestHeadersFor(url: string, req: HeaderRequest, extraPaths: readonly string[] = []): Readonly<Record<string, string>> | null {
  if (!guestHeadersFor(url)) return null;
  const scheme = (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
  return { ...GUEST_HEADERS, 'Content-Security-Policy': devGuestCsp(req.headers.host, scheme, extraPaths) };
}

/** Dev server: the path-limited policy (devGuestCsp); preview server: GUEST_CSP. */
export function guestCsp(): Plugin {
  const preview = headerPlugin('tabvisor:guest-csp', () => null, guestHeadersFor);
  let helper: Promise<string | null> | null = null;
  return {
    ...preview,
    configureServer(server) {
      server.middlewares.use((req: HeaderRequest, res: { setHeader(name: string, value: string): void }, next: () => void) => {
        if (!guestHeadersFor(req.url ?? '/')) return next();
        helper ??= devHelperPath((id) => server.pluginContainer.resolveId(id)).catch(() => null);
        void helper.then((path) => {
          const headers = devGuestHeadersFor(req.url ?? '/', req, path ? [path] : []);
          if (headers) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
          next();
        });
      });
    },
  };
}
