// Node: start real Vite dev and preview servers from the project config and check that
// every kind of response (page, module, worker script, 404) carries COOP and COEP.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, preview, type PreviewServer, type ViteDevServer } from 'vite';

const root = join(import.meta.dirname, '..', '..');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => { for (const close of closers) await close(); });

function check(res: Response, what: string): void {
  expect(res.headers.get('cross-origin-opener-policy'), what).toBe('same-origin');
  expect(res.headers.get('cross-origin-embedder-policy'), what).toBe('require-corp');
}

describe('cross-origin isolation headers', () => {
  it('are on every response of the dev server', async () => {
    const server: ViteDevServer = await createServer({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'silent', server: { port: 0, strictPort: false } });
    await server.listen();
    closers.push(() => server.close());
    const base = server.resolvedUrls?.local[0];
    expect(base).toBeTruthy();
    for (const path of ['', 'host/console/main.ts', 'shared/ring.ts', 'no-such-file.txt']) {
      check(await fetch(new URL(path, base)), `dev ${path || '/'}`);
    }
  }, 30_000);

  it('are on every response of the preview server', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'tabvisor-preview-'));
    closers.push(async () => rmSync(outDir, { recursive: true, force: true }));
    writeFileSync(join(outDir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(outDir, 'app.js'), 'export {};');
    const server: PreviewServer = await preview({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'silent', build: { outDir }, preview: { port: 0, strictPort: false } });
    closers.push(() => server.close());
    const base = server.resolvedUrls?.local[0];
    expect(base).toBeTruthy();
    for (const path of ['', 'app.js', 'missing.js']) {
      check(await fetch(new URL(path, base)), `preview ${path || '/'}`);
    }
  }, 30_000);
});
