// Runs in Node. The e2e pages that drive the browser through many launches and kills (the
// crash campaign, pool-crash, pool-loss, import-crash, sqlite-crash), built and minified and served by `vite preview` with the
// project's headers (playwright.config.ts, the third web server). Under the dev server
// every page load fetches each module of the hypervisor, dom0 and the guest runtime one by
// one: a crash-campaign round, which loads two pages in a fresh browser, took about 1.8 s
// per page that way on the 2-core CI machine, most of the campaign's time.
// Guest modules are entries at fixed paths (host/page/guest-runtime.ts, guestModuleUrl, names them), as in
// every build that spawns guests (scripts/build-options.ts).
import { defineConfig, mergeConfig, type UserConfig } from 'vite';
import base from '../../vite.config';
import { guestEntries } from '../../scripts/build-options';

/** Guest modules these pages spawn, by their path without extension. */
export const E2E_GUEST_MODULES = ['guest/workloads/session-guest', 'guest/workloads/sql-guest'];

/** The pages, by entry name. */
export const E2E_BUILT_PAGES = ['reliability-crash', 'pool-loss', 'pool-crash', 'import-crash', 'sqlite-crash'];

const GUESTS = guestEntries(E2E_GUEST_MODULES);

const config: UserConfig = mergeConfig(base as UserConfig, defineConfig({ build: { outDir: '.build-e2e-pages', emptyOutDir: true } }));
config.build!.rollupOptions = {
  ...config.build!.rollupOptions,
  input: {
    ...Object.fromEntries(E2E_BUILT_PAGES.map((p) => [p, `test/e2e/pages/${p}.html`])),
    ...GUESTS.input,
  },
  output: { ...(base.build?.rollupOptions?.output as object), entryFileNames: GUESTS.entryFileNames },
};
// These pages read neither the sample database nor the built-in image: not building the
// 38 MB tar and not copying 73 MB of assets keeps each e2e run's build short.
const SITE_ASSETS = new Set(['tabvisor:sqlite-sample', 'tabvisor:builtin-image']);
config.plugins = (config.plugins ?? []).filter((p) => !(p && typeof p === 'object' && 'name' in p && SITE_ASSETS.has(p.name)));
delete (config as { test?: unknown }).test;

export default config;
