// Runs in Node. The benchmark as users run the product: built and minified, served by
// Vite's preview server with the project's headers (bench/run.mjs builds with this config
// unless given --dev). Under the dev server every module is its own script with an inline
// source map, which V8 keeps with the source: measured 2026-11-30, a bench guest's worker
// held 0.87 MiB more under the dev server than built, which is most of what each added
// guest costs (bench: scale_guests_32_per_added_bytes).
import base from '../vite.config.ts';
import { pagesBuild } from '../scripts/pages-build.ts';

/** Guest modules the suites spawn, by their path without extension. */
export const BENCH_GUEST_MODULES = ['bench/guests/bench-guest', 'bench/guests/idc-bench-guest', 'guest/workloads/session-guest'];

// bench/run.mjs builds into a temporary directory of its own (scripts/quiet-server.mjs).
export default pagesBuild(base, {
  outDir: '.build-bench',
  pages: { bench: 'bench/index.html', chart: 'bench/chart.html' },
  guestModules: BENCH_GUEST_MODULES,
  // The suites make their own images and databases.
  siteAssets: [],
});
