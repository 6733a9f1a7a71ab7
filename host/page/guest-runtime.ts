// Runs on the page. Where a guest worker's script is: the hardened bootstrap, at a fixed
// path. Built, it is an entry of the same build as the guest modules it loads
// (scripts/build-options.ts, GUEST_BOOTSTRAP_ENTRY), so a guest realm has one instance of
// each module of ours. Under the dev server (and vitest) it is the source, asked for as
// Vite asks for a worker's script (`?worker_file&type=module`): vitest's browser mode wraps
// every other module's `import()` in a helper that exists only on its page.
export function guestBootstrapUrl(): URL {
  const path = import.meta.env.DEV ? 'guest/bootstrap.ts?worker_file&type=module' : 'guest/bootstrap.js';
  return new URL(`${import.meta.env.BASE_URL}${path}`, location.href);
}

/**
 * A guest module's URL (`path` without extension, e.g. 'guest/workloads/sql-guest'): its
 * source under the dev server, its built entry at the fixed path every build that spawns
 * guests gives it (scripts/build-options.ts, guestEntries).
 */
export function guestModuleUrl(path: string): URL {
  return new URL(`${import.meta.env.BASE_URL}${path}.${import.meta.env.DEV ? 'ts' : 'js'}`, location.href);
}
