// Runs in Node (bench/vite.config.ts, bench/sqlite/vite.config.ts, test/e2e/vite.config.ts).
// A build of some pages of our own on top of the site's config (vite.config.ts): the same
// headers, minifier and plugins, the given pages as entries instead of the site's, and the
// guest runtime with the guest modules the pages spawn at their fixed paths
// (scripts/build-options.ts says why one build). One function, so the three builds
// cannot drift apart in how they do that.
import { mergeConfig, type UserConfig } from 'vite';
import { guestEntries } from './build-options.ts';
import { BUILTIN_IMAGE_PLUGIN } from './builtin-image.ts';
import { SQLITE_SAMPLE_PLUGIN } from './sqlite-sample-plugin.ts';

/** The site's asset plugins a pages build can leave out. */
export type SiteAsset = 'sqlite-sample' | 'builtin-image';
const PLUGIN_OF: Record<SiteAsset, string> = { 'sqlite-sample': SQLITE_SAMPLE_PLUGIN, 'builtin-image': BUILTIN_IMAGE_PLUGIN };

export interface PagesBuild {
  /** Where `vite build` writes (the scripts that build it may pass another). */
  outDir: string;
  /** Entry name → HTML file, relative to the project root. */
  pages: Record<string, string>;
  /** Guest modules the pages spawn, by path without extension (guestModuleUrl's argument). */
  guestModules: readonly string[];
  /**
   * The site's assets these pages fetch. The others' plugins are left out: the built-in
   * image is a 38 MB tar built on every `vite build`, and copying it and the 34 MiB sample
   * database into a build that never reads them made each build several seconds longer.
   */
  siteAssets: readonly SiteAsset[];
}

export function pagesBuild(base: UserConfig, opts: PagesBuild): UserConfig {
  const guests = guestEntries(opts.guestModules);
  const config: UserConfig = mergeConfig(base, { build: { outDir: opts.outDir, emptyOutDir: true } });
  const rollup = config.build!.rollupOptions ?? {};
  const output = rollup.output;
  if (Array.isArray(output)) throw new Error('pagesBuild: the site config has several outputs; expected one');
  config.build!.rollupOptions = {
    ...rollup,
    input: { ...opts.pages, ...guests.input },
    output: { ...output, entryFileNames: guests.entryFileNames },
  };
  const dropped = new Set((Object.keys(PLUGIN_OF) as SiteAsset[]).filter((a) => !opts.siteAssets.includes(a)).map((a) => PLUGIN_OF[a]));
  config.plugins = (config.plugins ?? []).filter((p) => !(p && typeof p === 'object' && 'name' in p && dropped.has(p.name)));
  // The vitest projects belong to the site's config alone.
  delete (config as { test?: unknown }).test;
  return config;
}
