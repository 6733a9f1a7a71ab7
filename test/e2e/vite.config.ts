// Runs in Node. The e2e pages that drive the browser through many launches and kills (the
// crash campaign, pool-crash, pool-loss, import-crash, sqlite-crash), built and minified
// and served by `vite preview` with the project's headers (playwright.config.ts, the third
// web server). Under the dev server every page load fetches each module of the hypervisor,
// dom0 and the guest runtime one by one: a crash-campaign round, which loads two pages in a
// fresh browser, took about 1.8 s per page that way on the 2-core CI machine, most of the
// campaign's time.
import base from '../../vite.config.ts';
import { pagesBuild } from '../../scripts/pages-build.ts';

/** Guest modules these pages spawn, by their path without extension. */
export const E2E_GUEST_MODULES = ['guest/workloads/session-guest', 'guest/workloads/sql-guest'];

/** The pages, by entry name. */
export const E2E_BUILT_PAGES = ['reliability-crash', 'pool-loss', 'pool-crash', 'import-crash', 'sqlite-crash'];

export default pagesBuild(base, {
  outDir: '.build-e2e-pages',
  pages: Object.fromEntries(E2E_BUILT_PAGES.map((p) => [p, `test/e2e/pages/${p}.html`])),
  guestModules: E2E_GUEST_MODULES,
  // These pages make their own volumes and databases.
  siteAssets: [],
});
