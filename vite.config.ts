/// <reference types="vitest/config" />
// Runs in Node. One config for the dev server (`npm start`), the static build, the
// preview server and both vitest projects (unit in Node, browser in real Chromium).
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vite';
import { playwright } from '@vitest/browser-playwright';
import { crossOriginIsolation, ISOLATION_HEADERS } from './scripts/isolation-headers.ts';
import { guestCsp } from './scripts/guest-csp.ts';
import { sqliteSample } from './scripts/sqlite-sample-plugin.ts';
import { builtinImage } from './scripts/builtin-image.ts';
import { ASCII_MINIFY, guestEntries } from './scripts/build-options.ts';

/** Built at fixed paths, with the guest runtime (scripts/build-options.ts): the demo guest modules. */
const GUEST_ENTRIES = guestEntries(['guest/workloads/tar-guest', 'guest/workloads/file-server-guest', 'guest/workloads/sql-guest']);
import { chromiumLaunchOptions, CHROMIUM_ARGS } from './scripts/chromium.mjs';
import { seedFromEnv } from './scripts/seed.mjs';

// The npm scripts run `scripts/chromium.mjs --check` first and print how to get a browser
// when none is found; here a missing browser must not break `vitest --project unit`.
// One seed per test run for every property test (test/helpers/seed.ts): scripts/seed.mjs
// reads TABVISOR_SEED (unset → the fixed seed CI runs on; `random`, what `npm run
// test:explore` uses, draws a fresh one and prints it).

function browserLaunchOptions(): ReturnType<typeof chromiumLaunchOptions> {
  try {
    return chromiumLaunchOptions();
  } catch {
    return { args: CHROMIUM_ARGS };
  }
}

export default defineConfig({
  plugins: [crossOriginIsolation(), guestCsp(), sqliteSample(), builtinImage()],
  server: { host: '127.0.0.1', port: 5173, headers: { ...ISOLATION_HEADERS } },
  preview: { host: '127.0.0.1', port: 4173, headers: { ...ISOLATION_HEADERS } },
  // Minified output kept ASCII, in workers as on pages (scripts/build-options.ts says why).
  worker: { format: 'es', rolldownOptions: { output: { minify: ASCII_MINIFY } } },
  // Lower syntax newer than ES2022 in dev too (guest modules use `using`), so the dev server
  // serves what Safari/WebKitGTK 2.50 can parse, as the build does.
  oxc: { target: 'es2022' },
  // Pre-bundled up front: discovering them mid-run makes Vite reload the page.
  // wa-sqlite is served as is: SQL guests get its WASM compiled by the page, not by URL.
  optimizeDeps: { include: ['comlink', 'idb', 'fake-indexeddb'], exclude: ['@journeyapps/wa-sqlite'] },
  build: {
    target: 'es2022',
    rollupOptions: {
      // The console, the embeddable widget, the guest runtime and the demo guest modules.
      // A guest module is loaded by the hardened bootstrap with import(), so it must be an
      // entry that keeps its exports (a `?worker` bundle drops the default export) at a
      // fixed path; the bootstrap is an entry of the same build, so the two share chunks
      // (scripts/build-options.ts, GUEST_BOOTSTRAP_ENTRY).
      input: {
        main: 'index.html',
        widget: 'embed/widget.html',
        sql: 'sql.html',
        ...GUEST_ENTRIES.input,
      },
      preserveEntrySignatures: 'exports-only',
      output: {
        minify: ASCII_MINIFY,
        entryFileNames: GUEST_ENTRIES.entryFileNames,
      },
    },
  },
  test: {
    provide: { propertySeed: seedFromEnv(), propertyPath: process.env.TABVISOR_SEED_PATH ?? '' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // Vitest's default is one fewer worker than cores: one on CI's 2-core machines,
          // where two ran the unit suite in 49 s against 82 (2026-12-03, sixth host). The
          // Node tests wait on little but their own CPU, so a second worker pays there.
          maxWorkers: Math.max(2, availableParallelism() - 1),
          // A hang guard for a loaded 2-core machine, not a speed check (that is bench/).
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // The sample SQLite database and the reference sqlite3's answers (sqlite-*.test.ts).
          globalSetup: ['test/browser/sqlite-fixture.setup.ts'],
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
