// Node: the guest worker's policy (scripts/guest-csp.ts). On the dev server the policy's
// script-src lists only the path prefixes guests load, on the origin the browser asked
// for; a Host header that could smuggle tokens into the policy gets `script-src 'none'`.
// The preview server keeps GUEST_CSP (the built site has no route to project source).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { DEV_GUEST_SCRIPT_PATHS, GUEST_CSP, GUEST_HEADERS, devGuestCsp, devGuestHeadersFor, devHelperPath, guestHeadersFor, servedPath } from '../../scripts/guest-csp';

const directives = (csp: string): Map<string, string[]> =>
  new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));

describe('dev-server guest policy', () => {
  it('allows scripts only under the guest prefixes of the requested origin', () => {
    const d = directives(devGuestCsp('127.0.0.1:5173'));
    expect(d.get('script-src')).toEqual([...DEV_GUEST_SCRIPT_PATHS.map((p) => `http://127.0.0.1:5173${p}`), "'wasm-unsafe-eval'"]);
    expect(d.get('default-src')).toEqual(["'none'"]);
    expect(d.get('connect-src')).toEqual(["'none'"]);
    // No whole-origin source: 'self' or a path-less origin would let /package.json back in.
    for (const s of d.get('script-src')!) expect(s === "'wasm-unsafe-eval'" || /^http:\/\/127\.0\.0\.1:5173\/.+/.test(s)).toBe(true);
    expect(directives(devGuestCsp('[::1]:5173', 'https')).get('script-src')![0]).toBe('https://[::1]:5173/guest/');
    expect(directives(devGuestCsp('localhost')).get('script-src')![0]).toBe('http://localhost/guest/');
  });

  it.each([undefined, '', "evil.example 'unsafe-eval'", 'a.example; script-src *', 'a.example:80/x', 'a example', 'host:123456'])(
    'a missing or hostile Host (%j) loads nothing',
    (host) => {
      expect(directives(devGuestCsp(host)).get('script-src')).toEqual(["'none'", "'wasm-unsafe-eval'"]);
    },
  );

  it('goes on guest scripts only, and the preview server keeps GUEST_CSP', () => {
    const req = { headers: { host: 'localhost:5500' } };
    expect(devGuestHeadersFor('/guest/bootstrap.ts?worker_file&type=module', req)?.['Content-Security-Policy']).toBe(devGuestCsp('localhost:5500'));
    expect(devGuestHeadersFor('/guest/bootstrap.ts', req)?.['X-Content-Type-Options']).toBe('nosniff');
    for (const url of ['/', '/index.html', '/host/console/main.ts', '/package.json', '/shared/ring.ts']) expect(devGuestHeadersFor(url, req)).toBeNull();
    // Built, the guest runtime is an entry at a fixed path (scripts/build-options.ts).
    expect(guestHeadersFor('/guest/bootstrap.js')?.['Content-Security-Policy']).toBe(GUEST_CSP);
    for (const url of ['/assets/channel-AbC123.js', '/assets/bootstrap-AbC123.js']) expect(guestHeadersFor(url)).toBeNull();
  });
});

/**
 * Request targets a server maps to the guest's script: the dev server served all but the
 * backslash one as JavaScript (curl, 2026-12-03; that one as its index page), and before
 * servedPath the double-slash and percent-encoded ones came without the guest policy
 * (`//guest/…` was read as a URL with host `guest`).
 */
const GUEST_SCRIPT_SPELLINGS = [
  '/guest/bootstrap.ts',
  '//guest/bootstrap.ts',
  '///guest//bootstrap.ts',
  '/./guest/bootstrap.ts',
  '/x/../guest/bootstrap.ts',
  '/x/%2e%2e/guest/bootstrap.ts',
  '/%67uest/bootstrap.ts',
  '/\\guest/bootstrap.ts',
  '//guest/bootstrap.ts?worker_file&type=module',
];

describe('which requests are the guest script', () => {
  it.each(GUEST_SCRIPT_SPELLINGS)('%s gets the guest headers on both servers', (url) => {
    expect(servedPath(url)).toBe('/guest/bootstrap.ts');
    expect(guestHeadersFor(url)).toBe(GUEST_HEADERS);
    expect(devGuestHeadersFor(url, { headers: { host: 'localhost:5500' } })?.['Content-Security-Policy']).toBe(devGuestCsp('localhost:5500'));
  });

  it('answers for any target without throwing (a throw was a 500 for the request)', () => {
    for (const url of ['//', '/', '', '///', '/%', '/%E0%A4%A', '//%2F', '/?', '#']) expect(() => guestHeadersFor(url)).not.toThrow();
    expect(servedPath('//')).toBe('/');
    expect(servedPath('/%E0%A4%A')).toBeNull();
    for (const url of ['//', '/%', '/guest', '/guestx/bootstrap.ts', '/x/guest/bootstrap.ts', '/guest%2Fbootstrap.ts']) expect(guestHeadersFor(url)).toBeNull();
  });
});

describe('the transform helpers guests need', () => {
  it('are allowed by their exact directory, asked of Vite, never /@id/ whole', async () => {
    expect(await devHelperPath(async () => ({ id: '\0@oxc-project+runtime@0.156.0/helpers/esm/usingCtx.js' }))).toBe('/@id/__x00__@oxc-project+runtime@0.156.0/helpers/');
    expect(await devHelperPath(async () => null)).toBeNull();
    expect(await devHelperPath(async () => ({ id: '/work/x/package.json' }))).toBeNull();
    const csp = devGuestCsp('127.0.0.1:1', 'http', ['/@id/__x00__@oxc-project+runtime@0.156.0/helpers/']);
    expect(directives(csp).get('script-src')).toContain('http://127.0.0.1:1/@id/__x00__@oxc-project+runtime@0.156.0/helpers/');
    expect(directives(csp).get('script-src')).not.toContain('http://127.0.0.1:1/@id/');
  });
});

describe('the service worker for hosts that cannot set headers (public/coi-sw.js)', () => {
  it('sends the same guest policy and headers as the servers, under guest/ of its scope', () => {
    const sw = readFileSync(new URL('../../public/coi-sw.js', import.meta.url), 'utf8');
    expect(sw).toContain(`'Content-Security-Policy': ${JSON.stringify(GUEST_CSP)}`);
    for (const [k, v] of Object.entries(GUEST_HEADERS)) expect(sw).toMatch(new RegExp(`'${k}': ["']${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']`));
    expect(sw).toContain("new URL('guest/', self.registration.scope).pathname");
  });

  it('puts the guest policy on every spelling of a guest script a host would serve', async () => {
    const sw = readFileSync(new URL('../../public/coi-sw.js', import.meta.url), 'utf8');
    type FetchEvent = { request: { url: string; cache: string; mode: string }; respondWith(r: Promise<Response>): void };
    const handlers = new Map<string, (ev: FetchEvent) => void>();
    const scope = 'https://pages.example/repo/';
    runInNewContext(sw, {
      self: { registration: { scope }, location: { origin: 'https://pages.example' }, addEventListener: (type: string, fn: (ev: FetchEvent) => void) => handlers.set(type, fn) },
      fetch: async () => new Response('x', { status: 200, headers: { 'Content-Type': 'text/javascript' } }),
      Headers,
      Response,
      URL,
      decodeURI,
    });
    const csp = async (path: string): Promise<string | null> => {
      let answer: Promise<Response> | null = null;
      handlers.get('fetch')!({ request: { url: `https://pages.example${path}`, cache: 'default', mode: 'same-origin' }, respondWith: (r) => (answer = r) });
      return (await answer!).headers.get('Content-Security-Policy');
    };
    for (const url of GUEST_SCRIPT_SPELLINGS) expect(await csp(`/repo${url}`), url).toBe(GUEST_CSP);
    for (const url of ['/repo/', '/repo/index.html', '/repo/assets/x.js', '/guest/bootstrap.js', '/repo/%']) expect(await csp(url), url).toBeNull();
  });
});
