// Runs on the main thread of a page that bundles Tabvisor: import this module once and
// use <tabvisor-console> in the page (host/console/console-element.ts has the attributes).
export { TabvisorConsoleElement } from '../host/console/console-element';
