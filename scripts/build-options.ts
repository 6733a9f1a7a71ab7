// Runs in Node (vite.config.ts, bench/vite.config.ts and their unit test). Build settings
// shared by the page builds and the worker builds.

/**
 * Vite's own minify settings (compress and mangle) with ASCII-only output: non-ASCII
 * characters in strings, templates and regexes are escaped. Blink keeps a script's source
 * text for as long as its functions live, as Latin-1 when every character fits and as
 * UTF-16 otherwise; one `…` in an error message made the guest bootstrap's 18 KB of source
 * take 36 KiB in every guest worker (V8 heap snapshot, 2026-11-30).
 */
export const ASCII_MINIFY = { compress: true, mangle: true, codegen: { asciiOnly: true } } as const;

/**
 * The guest runtime's entry, built at this fixed path (`guest/bootstrap.js`) as an entry of
 * the same build as the guest modules, never as a `?worker` bundle: a worker bundle is a
 * build of its own, so a guest realm would load two copies of every module both sides
 * import (comlink, the channels, the error classes), and the copy the bootstrap set up
 * (comlink's error transfer, the channels dom0's end closes) would not be the copy guest
 * code uses. host/page/guest-runtime.ts computes the URL the page starts workers from.
 */
export const GUEST_BOOTSTRAP_ENTRY = 'guest/bootstrap';

/**
 * Rollup input and entry file names for a build that runs guests: the guest runtime and
 * `modules` (paths without extension, e.g. 'guest/workloads/sql-guest'), each built at
 * its own path with `.js`, everything else under assets/ with a hash. Every build config
 * that spawns guests takes its guest entries from here, so none can leave the runtime out.
 */
export function guestEntries(modules: readonly string[]): {
  input: Record<string, string>;
  entryFileNames: (chunk: { name: string }) => string;
} {
  const fixed = [GUEST_BOOTSTRAP_ENTRY, ...modules];
  return {
    input: Object.fromEntries(fixed.map((m) => [m, `${m}.ts`])),
    entryFileNames: (chunk) => (fixed.includes(chunk.name) ? `${chunk.name}.js` : 'assets/[name]-[hash].js'),
  };
}
