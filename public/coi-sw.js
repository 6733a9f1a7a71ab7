// Runs in a service worker, for static hosts that cannot set response headers (GitHub
// Pages): re-serves every same-origin response with COOP/COEP/CORP so the console is
// cross-origin isolated, and the guest scripts under guest/ with the guest CSP. Register
// it from the page (docs/embedding.md); the first visit reloads once, when the worker
// takes control. Cross-origin subresources must send CORP
// or CORS themselves (this worker cannot vouch for them).
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};
// A guest worker takes its Content-Security-Policy from its own script's response, and
// only CSP stops a guest's import() of another origin's code (docs/isolation.md). The same
// policy and paths as scripts/guest-csp.ts (GUEST_CSP, everything under guest/; a unit
// test keeps the two equal), under this worker's scope so a site under /REPO/ is covered.
const GUEST_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'none'",
  'X-Content-Type-Options': 'nosniff',
};
const GUEST_PATH = new URL('guest/', self.registration.scope).pathname;

// The file a static host serves for a URL: percent-decoded, runs of slashes as one (hosts
// such as nginx merge them), as scripts/guest-csp.ts (servedPath) decides for the servers.
// The URL parser has already resolved dot segments and backslashes; it keeps `//guest/…`,
// which a host serves as the guest's script.
function servedPath(url) {
  const path = new URL(url).pathname;
  try {
    return decodeURI(path).replace(/\/+/g, '/');
  } catch {
    return path;
  }
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const req = event.request;
  // Chromium quirk: only-if-cached requests must be same-origin or fetch() throws.
  if (req.cache === 'only-if-cached' && req.mode !== 'same-origin') return;
  if (new URL(req.url).origin !== self.location.origin) return;
  event.respondWith(
    fetch(req).then((res) => {
      if (res.status === 0) return res; // opaque: headers cannot be changed
      const headers = new Headers(res.headers);
      for (const [k, v] of Object.entries(HEADERS)) headers.set(k, v);
      if (servedPath(req.url).startsWith(GUEST_PATH)) for (const [k, v] of Object.entries(GUEST_HEADERS)) headers.set(k, v);
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    }),
  );
});
