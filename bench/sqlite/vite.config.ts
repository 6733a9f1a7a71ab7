// Runs in Node. The SQLite comparison as users run each layer: built and minified, served
// by Vite's preview server with the project's headers (bench/sqlite.mjs builds with this
// config unless given --dev). The SQL guest keeps its fixed path (guest/workloads/
// sql-guest.js, host/page/sqlite-tenants.ts loads it from there), beside the guest runtime
// it runs in (guest/bootstrap.js, scripts/build-options.ts).
import base from '../../vite.config.ts';
import { pagesBuild } from '../../scripts/pages-build.ts';

export default pagesBuild(base, {
  outDir: '.build-sqlite-bench',
  pages: { sqlite: 'bench/sqlite/sqlite-bench.html' },
  guestModules: ['guest/workloads/sql-guest'],
  // Every layer runs on the console's sample database (/sample/shop.db).
  siteAssets: ['sqlite-sample'],
});
