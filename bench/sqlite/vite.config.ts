// Runs in Node. The SQLite comparison as users run each layer: built and minified, served
// by Vite's preview server with the project's headers (bench/sqlite.mjs builds with this
// config unless given --dev). The SQL guest keeps its fixed path (guest/workloads/
// sql-guest.js, host/page/sqlite-tenants.ts loads it from there), beside the guest runtime
// it runs in (guest/bootstrap.js, scripts/build-options.ts).
import { defineConfig, mergeConfig, type UserConfig } from 'vite';
import base from '../../vite.config';
import { guestEntries } from '../../scripts/build-options';

const config: UserConfig = mergeConfig(base as UserConfig, defineConfig({ build: { outDir: '.build-sqlite-bench', emptyOutDir: true } }));
const guests = guestEntries(['guest/workloads/sql-guest']);
const rollup = {
  ...config.build!.rollupOptions,
  input: { sqlite: 'bench/sqlite/sqlite-bench.html', ...guests.input },
  output: { ...(config.build!.rollupOptions?.output as object), entryFileNames: guests.entryFileNames },
};
config.build!.rollupOptions = rollup;
config.build!.rolldownOptions = rollup;
delete (config as { test?: unknown }).test;

export default config;
