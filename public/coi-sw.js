// Runs in a service worker, for static hosts that cannot set response headers (GitHub
// Pages): re-serves every same-origin response with COOP/COEP/CORP so the console is
// cross-origin isolated. Register it from the page (docs/embedding.md); the first visit
// reloads once, when the worker takes control. Cross-origin subresources must send CORP
// or CORS themselves (this worker cannot vouch for them).
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

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
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    }),
  );
});
