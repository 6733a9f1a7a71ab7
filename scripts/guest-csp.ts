// Runs in Node, inside Vite (dev and preview servers); the constants are also imported by
// the Playwright isolation specs. A dedicated worker's Content-Security-Policy comes from
// the HTTP response of its own script, not from the page, so the guest bootstrap must be
// served with one. It is the one fence hardening cannot build: `import()` of any URL
// stays possible in a worker, and only CSP (`script-src 'self'`) stops it from fetching
// another origin's code or smuggling data out in a URL.
//
// Register in vite.config.ts next to crossOriginIsolation(): `plugins: [..., guestCsp()]`.
import type { Plugin } from 'vite';
import { headerPlugin } from './isolation-headers.ts';

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
 * Paths that get GUEST_HEADERS: everything under /guest/ (the dev server serves the
 * sources there, `/guest/bootstrap.ts?worker_file&type=module` for the worker), and the
 * built bootstrap worker chunk (`/assets/bootstrap-<hash>.js` with Vite's default
 * worker file names).
 */
export function isGuestScriptPath(pathname: string): boolean {
  return pathname.startsWith('/guest/') || /^\/assets\/bootstrap-[\w-]+\.js$/.test(pathname);
}

/** Headers to add for a request URL (path with query), or null when it is not a guest script. */
export function guestHeadersFor(url: string): Readonly<Record<string, string>> | null {
  const pathname = new URL(url, 'http://any.invalid').pathname;
  return isGuestScriptPath(pathname) ? GUEST_HEADERS : null;
}

export function guestCsp(): Plugin {
  return headerPlugin('tabvisor:guest-csp', guestHeadersFor);
}
