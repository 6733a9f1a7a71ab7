// Runs in Node. The guest runtime, built, evaluates nothing but its own modules before
// harden() runs. The bootstrap is an entry of the site's build (scripts/build-options.ts),
// so the chunks it imports are shared with the page and the guest modules; a bundler that
// put page code into one of them would run that code in every guest realm first, where a
// module that keeps `indexedDB` or `fetch` at its top level would hand it to guest code
// that imports the same chunk. This builds the site with source maps and checks that every
// module in the chunks guest/bootstrap.js loads statically is one the bootstrap's own
// imports reach in the source (docs/isolation.md says why).
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import { build } from 'vite';
import { ROOT, importsOf } from './helpers/source-imports';

/** Repository paths the bootstrap reaches through relative imports in the source. */
function sourceGraph(entry: string): Set<string> {
  const seen = new Set<string>([entry]);
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    for (const to of importsOf(file, readFileSync(join(ROOT, file), 'utf8'))) {
      if (!seen.has(to)) {
        seen.add(to);
        todo.push(to);
      }
    }
  }
  return seen;
}

/** Chunks a built module loads statically (its static imports, transitively), as paths under `dir`. */
function builtGraph(dir: string, entry: string): string[] {
  const seen = new Set<string>([entry]);
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    const code = readFileSync(join(dir, file), 'utf8');
    for (const m of code.matchAll(/(?:from|import)\s*"(\.{1,2}\/[^"]+)"/g)) {
      const to = normalize(join(dirname(file), m[1]!));
      if (!seen.has(to)) {
        seen.add(to);
        todo.push(to);
      }
    }
  }
  return [...seen];
}

describe('the built guest runtime', () => {
  it("registers no pool or archive error classes: they cost every guest worker about 36 KiB and no guest raises them", () => {
    const graph = sourceGraph('guest/bootstrap.ts');
    expect(graph).toContain('shared/errors/error-transfer.ts');
    expect(graph).toContain('shared/errors/device-errors.ts');
    expect(graph).not.toContain('shared/errors/pool-errors.ts');
    expect(graph).not.toContain('shared/errors/archive-errors.ts');
  });

  it('loads, before harden(), only modules the bootstrap itself imports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tabvisor-guest-graph-'));
    try {
      await build({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), logLevel: 'silent', build: { outDir: out, emptyOutDir: true, sourcemap: true } });
      const allowed = sourceGraph('guest/bootstrap.ts');
      const chunks = builtGraph(out, 'guest/bootstrap.js');
      expect(chunks.length).toBeGreaterThan(1); // it does share chunks with the rest of the build
      const modules = chunks.flatMap((chunk) => {
        const mapFile = join(out, `${chunk}.map`);
        // The bundler's own runtime helpers (a chunk with no source behind it) are the one exception.
        if (!existsSync(mapFile)) return /^assets\/rolldown-runtime-[\w-]+\.js$/.test(chunk) ? [] : [`${chunk} (no source map)`];
        const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[] };
        return map.sources.map((s) => relative(ROOT, normalize(join(out, dirname(chunk), s))));
      });
      expect(modules).toContain('guest/harden.ts');
      const foreign = modules.filter((m) => !allowed.has(m) && !m.startsWith('node_modules/comlink/'));
      expect(foreign, `page or guest-module code in the guest runtime's chunks: ${foreign.join(', ')}`).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
