// Node: every module a guest loads must sit under a path the dev server's guest policy
// allows (scripts/guest-csp.ts, DEV_GUEST_SCRIPT_PATHS), or the browser refuses the
// guest's import and the guest never boots. The build has no such policy, so `npm run
// bench` (which serves the build) does not see a bad import; only a test on the dev
// server does, late (2026-12-03: the bench guest imported a helper from bench/workers/,
// and the e2e spin-gauge test was the first to fail). This walks the static import graph
// of every guest module from the source, the way the dev server would serve it.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_GUEST_SCRIPT_PATHS } from '../../scripts/guest-csp';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Directories whose .ts files are guest modules (what a guest's boot imports). */
const GUEST_DIRS = ['guest/workloads', 'bench/guests', 'test/browser/fixtures/guests'];

/** Relative specifiers a module loads at run time: static imports and re-exports that are not type-only, and literal dynamic imports. */
function runtimeImports(source: string): string[] {
  const out: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(statement)) if (!m[2]) out.push(m[4]!);
  for (const m of source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out.filter((s) => s.startsWith('.'));
}

function resolveModule(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate) && candidate.endsWith('.ts')) return candidate;
  throw new Error(`${relative(root, from)}: cannot resolve ${spec}`);
}

/** Every project module `entry` loads, directly or not, as server paths ('/guest/channel.ts'). */
function closure(entry: string): Map<string, string> {
  const seen = new Map<string, string>(); // server path -> the module that imported it
  const todo: Array<[string, string]> = [[entry, '(entry)']];
  while (todo.length > 0) {
    const [file, by] = todo.pop()!;
    const path = `/${relative(root, file)}`;
    if (seen.has(path)) continue;
    seen.set(path, by);
    for (const spec of runtimeImports(readFileSync(file, 'utf8'))) todo.push([resolveModule(file, spec), path]);
  }
  return seen;
}

const allowed = (path: string): boolean => DEV_GUEST_SCRIPT_PATHS.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p));

describe('what guest modules import', () => {
  it('finds the imports that load at run time, not the type-only ones', () => {
    const src = [
      "import { a } from './a';",
      "import type { B } from '../b';",
      "export { c } from './c';",
      "export type { D } from './d';",
      "import { type E, f } from './ef';",
      "import './side-effect';",
      "import { x } from 'comlink';",
      "const m = await import('./lazy');",
    ].join('\n');
    expect(runtimeImports(src).sort()).toEqual(['./a', './c', './ef', './lazy', './side-effect']);
  });

  const entries = GUEST_DIRS.flatMap((d) => readdirSync(join(root, d)).filter((f) => f.endsWith('.ts')).map((f) => join(root, d, f)));

  it('covers every guest module directory', () => {
    for (const d of GUEST_DIRS) expect(entries.some((e) => e.startsWith(join(root, d)))).toBe(true);
    // The walk follows imports through the runtime: the bench guest reaches the ring channel.
    expect([...closure(join(root, 'bench/guests/bench-guest.ts')).keys()]).toEqual(expect.arrayContaining(['/guest/block-device.ts', '/guest/channel.ts', '/shared/ring.ts']));
  });

  it.each(entries.map((e) => [relative(root, e), e]))('%s loads only what the dev server lets a guest load', (_name, entry) => {
    const outside = [...closure(entry)].filter(([path]) => !allowed(path)).map(([path, by]) => `${path} (imported by ${by})`);
    expect(outside).toEqual([]);
  });
});
