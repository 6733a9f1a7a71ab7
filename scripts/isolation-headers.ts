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

/** The parts of a request a header choice may depend on. */
export interface HeaderRequest {
  url?: string;
  headers: { host?: string };
  /** A TLSSocket has `encrypted: true`. */
  socket?: unknown;
}

/** Headers to add for a request (its URL, path with query, and the request itself), or null. */
export type HeadersFor = (url: string, req: HeaderRequest) => Readonly<Record<string, string>> | null;

/**
 * A plugin that adds `headersFor(url, req)` (when not null) to every response of the dev
 * server, and `previewHeadersFor` (by default the same) to every response of the preview
 * server. Installed before Vite's own middlewares, so the headers are on the response
 * whichever of them serves it.
 */
export function headerPlugin(name: string, headersFor: HeadersFor, previewHeadersFor: HeadersFor = headersFor): Plugin {
  type Res = { setHeader(name: string, value: string): void };
  const setHeaders =
    (choose: HeadersFor) =>
    (req: HeaderRequest, res: Res, next: () => void): void => {
      const headers = choose(req.url ?? '/', req);
      if (headers) for (const [header, value] of Object.entries(headers)) res.setHeader(header, value);
      next();
    };
  return {
    name,
    configureServer(server) {
      server.middlewares.use(setHeaders(headersFor));
    },
    configurePreviewServer(server) {
      server.middlewares.use(setHeaders(previewHeadersFor));
    },
  };
}

export function crossOriginIsolation(): Plugin {
  return headerPlugin('tabvisor:cross-origin-isolation', () => ISOLATION_HEADERS);
}
