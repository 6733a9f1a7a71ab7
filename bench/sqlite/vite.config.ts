// Runs in Node. The SQLite comparison as users run each layer: built and minified, served
// by Vite's preview server with the project's headers (bench/sqlite.mjs builds with this
// config unless given --dev). The SQL guest keeps its fixed path (guest/workloads/
// sql-guest.js, host/page/sqlite-tenants.ts loads it from there).
import { defineConfig, mergeConfig, type UserConfig } from 'vite';
import base from '../../vite.config';

const config: UserConfig = mergeConfig(base as UserConfig, defineConfig({ build: { outDir: '.build-sqlite-bench', emptyOutDir: true } }));
const rollup = {
  ...config.build!.rollupOptions,
  input: { sqlite: 'bench/sqlite/sqlite-bench.html', 'sql-guest': 'guest/workloads/sql-guest.ts' },
};
config.build!.rollupOptions = rollup;
config.build!.rolldownOptions = rollup;
delete (config as { test?: unknown }).test;

export default config;
