// Runs in Node, inside Vite (dev server, preview server, vitest's browser server).
// Every response gets the two headers that make the page cross-origin isolated; without
// them there is no SharedArrayBuffer (ARCHITECTURE.md section 1). `server.headers` alone
// does not reach every route (vitest's tester pages, preview), so this is middleware on
// both servers, installed before Vite's own. scripts/guest-csp.ts uses the same plugin.
import type { Plugin } from 'vite';

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  // The demo is meant to be embedded by docs pages on other sites, and an embedding page
  // under COEP may only load our frame and scripts if we opt in to cross-origin use.
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/**
 * A plugin that adds `headersFor(url)` (when not null) to every response of the dev and the
 * preview server. Installed before Vite's own middlewares, so the headers are on the
 * response whichever of them serves it.
 */
export function headerPlugin(name: string, headersFor: (url: string) => Readonly<Record<string, string>> | null): Plugin {
  const setHeaders = (req: { url?: string }, res: { setHeader(name: string, value: string): void }, next: () => void): void => {
    const headers = headersFor(req.url ?? '/');
    if (headers) for (const [header, value] of Object.entries(headers)) res.setHeader(header, value);
    next();
  };
  return {
    name,
    configureServer(server) {
      server.middlewares.use(setHeaders);
    },
    configurePreviewServer(server) {
      server.middlewares.use(setHeaders);
    },
  };
}

export function crossOriginIsolation(): Plugin {
  return headerPlugin('tabvisor:cross-origin-isolation', () => ISOLATION_HEADERS);
}
