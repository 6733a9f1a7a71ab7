// Runs in Node. End-to-end suites: whole flows in real Chromium against the Vite dev
// server, which sends COOP/COEP on every response (scripts/isolation-headers.ts), and one
// spec against the static build served by `vite preview` (the same headers), and the pages
// of the crash campaign built the same way (test/e2e/vite.config.ts).
import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './scripts/chromium.mjs';

const PORT = Number(process.env.TABVISOR_E2E_PORT ?? 5174);
/** The static build (`vite build`) served by `vite preview`, for build-preview.spec.ts. */
export const PREVIEW_PORT = PORT + 1000;
/** The e2e pages that relaunch the browser many times, built (test/e2e/vite.config.ts says why). */
export const PAGES_PORT = PORT + 2000;
/** Base URL of those pages: the specs that use them say `test.use({ baseURL: BUILT_PAGES })`. */
export const BUILT_PAGES = `http://127.0.0.1:${PAGES_PORT}`;

export default defineConfig({
  testDir: 'test/e2e',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    launchOptions: chromiumLaunchOptions(),
    trace: 'retain-on-failure',
  },
  webServer: [
    {
      command: `npx vite --port ${PORT} --strictPort`,
      url: `http://127.0.0.1:${PORT}/`,
      reuseExistingServer: !process.env.CI,
      timeout: 60_000,
    },
    {
      command: `npx vite build --outDir .build-e2e --emptyOutDir --logLevel warn && npx vite preview --outDir .build-e2e --port ${PREVIEW_PORT} --strictPort`,
      url: `http://127.0.0.1:${PREVIEW_PORT}/`,
      reuseExistingServer: !process.env.CI,
      timeout: 120_000,
    },
    {
      command: `npx vite build -c test/e2e/vite.config.ts --outDir .build-e2e-pages --emptyOutDir --logLevel warn && npx vite preview -c test/e2e/vite.config.ts --outDir .build-e2e-pages --port ${PAGES_PORT} --strictPort`,
      url: `http://127.0.0.1:${PAGES_PORT}/test/e2e/pages/reliability-crash.html`,
      reuseExistingServer: !process.env.CI,
      timeout: 120_000,
    },
  ],
});
