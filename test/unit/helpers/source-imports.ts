// Runs in Node (unit tests). Relative imports of a source file, resolved to repository paths:
// the layout rule (import-rules.test.ts) and the guest runtime's build graph
// (guest-runtime-graph.test.ts) both follow them.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

export const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..');

const SPECIFIER = /(?:^|[^\w.])(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]|new URL\(\s*['"](\.[^'"]+)['"]|(?:^|[^\w.])import\s*['"](\.[^'"]+)['"]/g;

/** Relative imports of one file, resolved to repository paths (query strings dropped). */
export function importsOf(file: string, source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(SPECIFIER)) {
    const spec = (m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').replace(/[?#].*$/, '');
    const base = normalize(join(dirname(file), spec));
    const found = [base, `${base}.ts`, `${base}.mjs`, join(base, 'index.ts')].find((c) => existsSync(join(ROOT, c)) && statSync(join(ROOT, c)).isFile());
    if (found) out.push(found);
  }
  return out;
}
