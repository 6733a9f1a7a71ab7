// Runs in Node, inside Vite (dev server, preview server, vitest's browser server).
// Every response gets the two headers that make the page cross-origin isolated; without
// them there is no SharedArrayBuffer (ARCHITECTURE.md section 1). `server.headers` alone
// does not reach every route (vitest's tester pages, preview), so this is middleware on
// both servers, installed before Vite's own.
import type { Plugin } from 'vite';

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  // The demo is meant to be embedded by docs pages on other sites, and an embedding page
  // under COEP may only load our frame and scripts if we opt in to cross-origin use.
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

export function crossOriginIsolation(): Plugin {
  const setHeaders = (
    _req: unknown,
    res: { setHeader(name: string, value: string): void },
    next: () => void,
  ): void => {
    for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
    next();
  };
  return {
    name: 'tabvisor:cross-origin-isolation',
    configureServer(server) {
      server.middlewares.use(setHeaders);
    },
    configurePreviewServer(server) {
      server.middlewares.use(setHeaders);
    },
  };
}
