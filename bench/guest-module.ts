// Runs in the benchmark page. A guest module's URL: its source under the dev server, its
// built entry (bench/vite.config.ts, BENCH_GUEST_MODULES) in the build the benchmark runs.
export function guestModule(path: string): URL {
  return new URL(`${import.meta.env.BASE_URL}${path}.${import.meta.env.DEV ? 'ts' : 'js'}`, location.href);
}
