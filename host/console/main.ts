// Runs on the host page's main thread (index.html): the full hypervisor console.
import { ConsoleApp } from './console-app';

const root = document.getElementById('console');
if (!root) throw new Error('index.html has no #console element');
// Exposed for the e2e tests and for poking at the machine from DevTools.
window.__tabvisor = await ConsoleApp.mount(root, { poolName: 'tabvisor-console' });

declare global {
  interface Window {
    __tabvisor?: ConsoleApp;
  }
}
