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

/**
 * Build with `configFile` (relative to the project) and serve the build with Vite's preview
 * server on a free port: what a user's browser gets, with the project's headers.
 * @param {string} configFile
 * @returns {Promise<{ base: string, close: () => Promise<void> }>}
 */
export async function startBuiltPreview(configFile) {
  const { build, preview } = await import('vite');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const config = join(projectRoot, configFile);
  // A directory of its own: two runs at once (the e2e tests) must not build into one.
  const outDir = mkdtempSync(join(tmpdir(), 'tabvisor-build-'));
  await build({ root: projectRoot, configFile: config, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root: projectRoot, configFile: config, logLevel: 'warn', build: { outDir }, preview: { port: 0, strictPort: false } });
  const base = server.resolvedUrls?.local[0];
  if (!base) throw new Error('the Vite preview server did not report its URL');
  return {
    base,
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}
