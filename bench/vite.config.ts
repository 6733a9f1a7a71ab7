// Runs in Node. The benchmark as users run the product: built and minified, served by
// Vite's preview server with the project's headers (bench/run.mjs builds with this config
// unless given --dev). Under the dev server every module is its own script with an inline
// source map, which V8 keeps with the source: measured 2026-11-30, a bench guest's worker
// held 0.87 MiB more under the dev server than built, which is most of what each added
// guest costs (bench: scale_guests_32_per_added_bytes).
// Guest modules are entries at fixed paths (host/page/guest-runtime.ts, guestModuleUrl, names them): the guest
// bootstrap loads them with import(), so they must keep their exports.
import { defineConfig, mergeConfig, type UserConfig } from 'vite';
import base from '../vite.config';
import { guestEntries } from '../scripts/build-options';

/** Guest modules the suites spawn, by their path without extension. */
export const BENCH_GUEST_MODULES = ['bench/guests/bench-guest', 'bench/guests/idc-bench-guest', 'guest/workloads/session-guest'];

/** Built at fixed paths, with the guest runtime (one build with the guest modules it loads). */
const GUESTS = guestEntries(BENCH_GUEST_MODULES);

// bench/run.mjs builds into a temporary directory of its own (scripts/quiet-server.mjs).
const config: UserConfig = mergeConfig(base as UserConfig, defineConfig({ build: { outDir: '.build-bench', emptyOutDir: true } }));
config.build!.rollupOptions = {
  ...config.build!.rollupOptions,
  input: {
    bench: 'bench/index.html',
    chart: 'bench/chart.html',
    ...GUESTS.input,
  },
  output: { ...(base.build?.rollupOptions?.output as object), entryFileNames: GUESTS.entryFileNames },
};
delete (config as { test?: unknown }).test;

export default config;
