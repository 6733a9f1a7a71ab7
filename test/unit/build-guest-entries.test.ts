// Node: every build that runs guests builds the guest runtime as an entry beside its guest
// modules, each at its fixed path (scripts/build-options.ts says why one build matters:
// a bootstrap built apart gives each guest realm two copies of our modules). The sqlite
// benchmark's config once lost both, and `npm run bench:sqlite` could not add a tenant.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UserConfig } from 'vite';
import config from '../../vite.config';
import benchConfig, { BENCH_GUEST_MODULES } from '../../bench/vite.config';
import sqliteBenchConfig from '../../bench/sqlite/vite.config';
import e2ePagesConfig, { E2E_GUEST_MODULES } from '../../test/e2e/vite.config';
import { ASCII_MINIFY, GUEST_BOOTSTRAP_ENTRY } from '../../scripts/build-options';
import { BUILTIN_IMAGE_PLUGIN } from '../../scripts/builtin-image';
import { SQLITE_SAMPLE_PLUGIN } from '../../scripts/sqlite-sample-plugin';
import { guestBootstrapUrl, guestModuleUrl } from '../../host/page/guest-runtime';

type EntryFileNames = (chunk: { name: string }) => string;

function entries(c: UserConfig): { input: Record<string, string>; fileName: EntryFileNames } {
  const rollup = c.build?.rollupOptions;
  const out = rollup?.output;
  const fileName = (Array.isArray(out) ? undefined : out?.entryFileNames) as EntryFileNames | string | undefined;
  if (typeof fileName !== 'function') throw new Error('entryFileNames is not a function');
  return { input: rollup?.input as Record<string, string>, fileName };
}

function pluginNames(c: UserConfig): string[] {
  return (c.plugins ?? []).flatMap((p) => (p && typeof p === 'object' && 'name' in p ? [p.name] : []));
}

describe.each([
  ['the site', config, ['guest/workloads/tar-guest', 'guest/workloads/file-server-guest', 'guest/workloads/sql-guest'], [SQLITE_SAMPLE_PLUGIN, BUILTIN_IMAGE_PLUGIN]],
  ['the benchmark', benchConfig, BENCH_GUEST_MODULES, []],
  ['the sqlite benchmark', sqliteBenchConfig, ['guest/workloads/sql-guest'], [SQLITE_SAMPLE_PLUGIN]],
  ['the e2e pages', e2ePagesConfig, E2E_GUEST_MODULES, []],
] as const)('%s build', (_name, c, modules, assets) => {
  it('builds the site assets it reads and not the others (the built-in image is a 38 MB tar), with the site\'s other plugins and ASCII minifier', () => {
    const names = pluginNames(c as UserConfig);
    for (const a of [SQLITE_SAMPLE_PLUGIN, BUILTIN_IMAGE_PLUGIN]) expect(names.includes(a), a).toBe((assets as readonly string[]).includes(a));
    const site = pluginNames(config as UserConfig).filter((n) => n !== SQLITE_SAMPLE_PLUGIN && n !== BUILTIN_IMAGE_PLUGIN);
    expect(site.length).toBeGreaterThan(0);
    for (const n of site) expect(names, n).toContain(n);
    const out = (c as UserConfig).build?.rollupOptions?.output;
    expect(Array.isArray(out) ? null : out?.minify).toEqual(ASCII_MINIFY);
  });

  it('has the guest runtime and each guest module as entries at their fixed paths', () => {
    const { input, fileName } = entries(c as UserConfig);
    for (const m of [GUEST_BOOTSTRAP_ENTRY, ...modules]) {
      expect(input[m], m).toBe(`${m}.ts`);
      expect(fileName({ name: m })).toBe(`${m}.js`);
    }
    expect(fileName({ name: 'main' })).toMatch(/^assets\/\[name\]-\[hash\]\.js$/);
  });
});

describe('the page', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.unstubAllGlobals();
  });

  it('starts guest workers, and loads guest modules, from the paths the site build gives them, and from the sources under the dev server', () => {
    vi.stubGlobal('location', { href: 'https://docs.example/tabvisor/index.html' });
    vi.stubEnv('BASE_URL', '/tabvisor/');
    vi.stubEnv('DEV', false);
    const built = entries(config as UserConfig).fileName({ name: GUEST_BOOTSTRAP_ENTRY });
    expect(guestBootstrapUrl().href).toBe(`https://docs.example/tabvisor/${built}`);
    expect(guestModuleUrl('guest/workloads/sql-guest').href).toBe(`https://docs.example/tabvisor/${entries(config as UserConfig).fileName({ name: 'guest/workloads/sql-guest' })}`);
    vi.stubEnv('DEV', true);
    expect(guestBootstrapUrl().href).toBe('https://docs.example/tabvisor/guest/bootstrap.ts?worker_file&type=module');
    expect(guestModuleUrl('guest/workloads/sql-guest').href).toBe('https://docs.example/tabvisor/guest/workloads/sql-guest.ts');
  });
});
