/// <reference types="vitest/config" />
// Runs in Node. One config for the dev server (`npm start`), the static build, the
// preview server and both vitest projects (unit in Node, browser in real Chromium).
import { defineConfig } from 'vite';
import { playwright } from '@vitest/browser-playwright';
import { crossOriginIsolation, ISOLATION_HEADERS } from './scripts/isolation-headers.ts';
import { guestCsp } from './scripts/guest-csp.ts';
import { chromiumLaunchOptions, CHROMIUM_ARGS } from './scripts/chromium.mjs';

// The npm scripts run `scripts/chromium.mjs --check` first and print how to get a browser
// when none is found; here a missing browser must not break `vitest --project unit`.
function browserLaunchOptions(): ReturnType<typeof chromiumLaunchOptions> {
  try {
    return chromiumLaunchOptions();
  } catch {
    return { args: CHROMIUM_ARGS };
  }
}

export default defineConfig({
  plugins: [crossOriginIsolation(), guestCsp()],
  server: { host: '127.0.0.1', port: 5173, headers: { ...ISOLATION_HEADERS } },
  preview: { host: '127.0.0.1', port: 4173, headers: { ...ISOLATION_HEADERS } },
  worker: { format: 'es' },
  // Lower syntax newer than ES2022 in dev too (guest modules use `using`), so the dev server
  // serves what Safari/WebKitGTK 2.50 can parse, as the build does.
  oxc: { target: 'es2022' },
  // Pre-bundled up front: discovering them mid-run makes Vite reload the page.
  optimizeDeps: { include: ['comlink', 'idb'] },
  build: {
    target: 'es2022',
    rollupOptions: {
      // The console, the embeddable widget, and the demo guest module. A guest module is
      // loaded by the hardened bootstrap with import(), so it must be an entry that keeps
      // its exports (a `?worker` bundle drops the default export) at a fixed path.
      input: { main: 'index.html', widget: 'embed/widget.html', 'tar-guest': 'guest/workloads/tar-guest.ts', 'file-server-guest': 'guest/workloads/file-server-guest.ts' },
      preserveEntrySignatures: 'exports-only',
      output: {
        entryFileNames: (chunk) => (chunk.name === 'tar-guest' || chunk.name === 'file-server-guest' ? `guest/workloads/${chunk.name}.js` : 'assets/[name]-[hash].js'),
      },
    },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: browserLaunchOptions() }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
