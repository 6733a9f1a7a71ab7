// Runs on the main thread of sql.html: the SQL tenants console.
import { SqlConsole } from './sql-console';

const root = document.getElementById('sql-console');
if (!root) throw new Error('sql.html has no #sql-console element');
// Exposed for the e2e tests and for poking at the machine from DevTools.
window.__tabvisorSql = await SqlConsole.mount(root, { poolName: 'tabvisor-sql' });

declare global {
  interface Window {
    __tabvisorSql?: SqlConsole;
  }
}
