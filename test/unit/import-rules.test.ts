// Runs in Node. The layout rule of docs/design.md ("Who runs where"), checked on the
// source: which folder may import which, and no file-level import cycles in shipped code.
// Type-only imports count too: a type import from the page side into the guest is still a
// dependency a reader has to follow.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, importsOf } from './helpers/source-imports';

const SHIPPED = ['shared', 'guest', 'host', 'embed'];

function walk(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return walk(rel);
    return /\.(ts|mjs)$/.test(name) ? [rel] : [];
  });
}

/** The rule for an import from `from` to `to`, or null when it is allowed. */
export function violation(from: string, to: string): string | null {
  const top = (p: string): string => p.split('/')[0] ?? '';
  const engine = (p: string) => (p.startsWith('host/pool/') ? 'pool' : p.startsWith('host/archive/') ? 'archive' : null);
  if (top(from) === 'shared' && top(to) !== 'shared') return 'shared/ imports only shared/';
  if (top(from) === 'guest' && top(to) !== 'guest' && top(to) !== 'shared') return 'guest/ imports only guest/ and shared/';
  if (SHIPPED.includes(top(from)) && !SHIPPED.includes(top(to))) return 'shipped code imports no tests, benchmarks or scripts';
  if (from.startsWith('host/dom0/') && (to.startsWith('host/page/') || to.startsWith('host/console/'))) return 'the dom0 worker imports nothing from the page side';
  if (top(from) === 'guest' && !from.startsWith('guest/workloads/') && to.startsWith('guest/workloads/')) return 'the guest runtime imports no workload';
  const e = engine(from);
  if (e === 'pool' && to.startsWith('host/') && engine(to) !== 'pool') return 'host/pool imports nothing else from host/';
  if (e === 'archive' && to.startsWith('host/') && engine(to) === null) return 'host/archive imports only host/archive and host/pool from host/';
  return null;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const dir of SHIPPED) for (const f of walk(dir)) g.set(f, importsOf(f, readFileSync(join(ROOT, f), 'utf8')));
  return g;
}

/** Every elementary cycle found by a DFS (one per back edge), as a path of files. */
export function cycles(g: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of g.get(f) ?? []) {
      if (t === f) continue; // a worker naming its own URL (new URL(import.meta.url)) is no cycle
      if (state.get(t) === 'open') found.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of g.keys()) if (!state.has(f)) visit(f);
  return found;
}

describe('import rules', () => {
  const g = graph();

  it('finds the shipped modules and their imports (the checker itself works)', () => {
    expect(g.size).toBeGreaterThan(100);
    expect(g.get('guest/block-device.ts')).toContain('shared/protocol.ts');
    expect(violation('shared/ring.ts', 'guest/channel.ts')).not.toBeNull();
    expect(violation('guest/channel.ts', 'host/page/hypervisor.ts')).not.toBeNull();
    expect(violation('host/pool/pool.ts', 'host/dom0/driver.ts')).not.toBeNull();
    expect(violation('host/archive/archive.ts', 'host/dom0/driver.ts')).not.toBeNull();
    expect(violation('host/archive/archive.ts', 'host/pool/pool.ts')).toBeNull();
    expect(violation('host/dom0/driver.ts', 'host/page/hypervisor.ts')).not.toBeNull();
    expect(violation('guest/block-device.ts', 'guest/workloads/journal.ts')).not.toBeNull();
    expect(importsOf('host/console/main.ts', "import './console.css';\nimport { x } from './console-app';")).toEqual(['host/console/console.css', 'host/console/console-app.ts']);
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('every import follows the layout rule', () => {
    const bad: string[] = [];
    for (const [from, tos] of g) for (const to of tos) {
      const why = violation(from, to);
      if (why) bad.push(`${from} → ${relative(ROOT, join(ROOT, to))}: ${why}`);
    }
    expect(bad).toEqual([]);
  });

  it('no file-level import cycles in shipped code', () => {
    expect(cycles(g).map((c) => c.join(' → '))).toEqual([]);
  });
});
