// @ts-check
// Runs in Node. A Vite dev server for scripted runs (benchmark, cross-browser checks): the
// project's config (so COOP/COEP/CSP headers), a free port, and no watcher or HMR, so a
// file saved during a long run cannot reload the page mid-run.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @param {import('vite').InlineConfig} [extra] merged into the project's config (arrays are appended)
 * @returns {Promise<{ base: string, close: () => Promise<void> }>}
 */
export async function startQuietServer(extra = {}) {
  const server = await createServer({
    ...extra,
    root: projectRoot,
    configFile: join(projectRoot, 'vite.config.ts'),
    logLevel: 'warn',
    server: { port: 0, strictPort: false, hmr: false, ws: false, watch: null },
  });
  await server.listen();
  const base = server.resolvedUrls?.local[0];
  if (!base) throw new Error('the Vite server did not report its URL');
  return { base, close: () => server.close() };
}
