// Node: the build's minified output is ASCII (scripts/build-options.ts says why it matters
// for every guest's memory), for pages and for workers.
import { describe, expect, it } from 'vitest';
import { minifySync } from 'rolldown/utils';
import config from '../../vite.config';
import benchConfig from '../../bench/vite.config';
import { ASCII_MINIFY } from '../../scripts/build-options';

const NON_ASCII = /[^\x00-\x7f]/;

describe('ASCII builds', () => {
  it('the minify settings escape non-ASCII in strings, templates and regexes, and keep their values', () => {
    const src = 'export const s = "expected a…b, read ☕"; export const t = `π=${1}`; export const r = /é+/u; export const emoji = "🙂";';
    const { code, errors } = minifySync('m.js', src, ASCII_MINIFY);
    expect(errors).toEqual([]);
    expect(code).not.toMatch(NON_ASCII);
    const run = (js: string) => new Function('exports', js.replace(/export const (\w+)\s*=/g, 'exports.$1 =') + '; return exports;')({}) as Record<string, unknown>;
    const a = run(src);
    const b = run(code);
    expect(b.s).toBe(a.s);
    expect(b.t).toBe(a.t);
    expect(b.emoji).toBe(a.emoji);
    expect((b.r as RegExp).test('éé')).toBe(true);
  });

  it('is what the page, worker and benchmark builds use', () => {
    const out = config.build?.rollupOptions?.output;
    expect(Array.isArray(out) ? null : out?.minify).toEqual(ASCII_MINIFY);
    const workerOut = config.worker?.rolldownOptions?.output;
    expect(Array.isArray(workerOut) ? null : workerOut?.minify).toEqual(ASCII_MINIFY);
    const benchOut = benchConfig.build?.rollupOptions?.output;
    expect(Array.isArray(benchOut) ? null : benchOut?.minify).toEqual(ASCII_MINIFY);
  });
});
