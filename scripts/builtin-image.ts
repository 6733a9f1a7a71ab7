// Runs in Node, inside Vite (dev server, `vite build`, vitest's browser server). Makes the
// console's built-in image: a block-aligned tar of real files, generated from what
// `npm ci` already put on disk, so tens of MiB of it never sit in git.
//
// Contents (all licensed for redistribution; each package's LICENSE goes in with it):
//  - usr/lib/typescript/: TypeScript's compiler, tsc and its lib.*.d.ts (Apache-2.0), ~19 MiB;
//  - srv/app-a and srv/app-b: two "applications" that each vendor the same compiler —
//    identical files, aligned to 64 KiB blocks by the tar writer, so the pool stores them
//    once and a trust group's arena holds one frame per block however many read them;
//  - usr/share/doc/tabvisor/: this project's own README, docs and the hand-written files
//    under public/image/ (RFC-style texts, CSVs).
// The image is byte-for-byte reproducible from the same node_modules (fixed mtimes).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { buildTar, type TarMember } from '../host/console/tar-writer.ts';

/** Where the console fetches it, under the site's base (dev middleware and build asset). */
export const BUILTIN_IMAGE_PATH = 'image/builtin.tar';
export const IMAGE_BLOCK_BYTES = 65536;
/** The plugin's name, for builds that leave it out (scripts/pages-build.ts). */
export const BUILTIN_IMAGE_PLUGIN = 'tabvisor:builtin-image';

function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, keep).map((f) => `${name}/${f}`));
    else if (keep(name)) out.push(name);
  }
  return out;
}

/** The members of the image, from the project at `root`. Throws if TypeScript is missing. */
export function builtinImageMembers(root: string): TarMember[] {
  const ts = join(root, 'node_modules/typescript');
  if (!existsSync(join(ts, 'lib/typescript.js'))) {
    throw new Error(`the built-in image is made from node_modules/typescript; run npm ci first (looked in ${ts})`);
  }
  const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
  const members: TarMember[] = [];
  const compiler = read(join(ts, 'lib/typescript.js'));
  const license = read(join(ts, 'LICENSE.txt'));
  members.push({ path: 'usr/lib/typescript/LICENSE.txt', bytes: license });
  members.push({ path: 'usr/lib/typescript/typescript.js', bytes: compiler });
  members.push({ path: 'usr/lib/typescript/_tsc.js', bytes: read(join(ts, 'lib/_tsc.js')) });
  for (const f of filesUnder(join(ts, 'lib'), (n) => /^lib\..*\.d\.ts$/.test(n) || n === 'typescript.d.ts')) {
    members.push({ path: `usr/lib/typescript/${f}`, bytes: read(join(ts, 'lib', f)) });
  }
  for (const app of ['app-a', 'app-b']) {
    members.push({ path: `srv/${app}/node_modules/typescript/LICENSE.txt`, bytes: license });
    members.push({ path: `srv/${app}/node_modules/typescript/lib/typescript.js`, bytes: compiler });
  }
  const docs: [string, string][] = [['README.md', 'README.md'], ...filesUnder(join(root, 'docs'), (n) => n.endsWith('.md')).map((f): [string, string] => [`docs/${f}`, `docs/${f}`])];
  for (const f of filesUnder(join(root, 'public/image'), (n) => n !== 'manifest.json')) docs.push([`public/image/${f}`, f]);
  for (const [src, dest] of docs) members.push({ path: `usr/share/doc/tabvisor/${dest}`, bytes: read(join(root, src)) });
  return members;
}

/** Serves the image in dev (generated once, on first request) and emits it into a build. */
export function builtinImage(): Plugin {
  let root = process.cwd();
  let cached: Uint8Array | null = null;
  const image = (): Uint8Array => (cached ??= buildTar(builtinImageMembers(root), IMAGE_BLOCK_BYTES));
  return {
    name: BUILTIN_IMAGE_PLUGIN,
    configResolved(config) {
      root = config.root;
    },
    configureServer(server) {
      const path = `${server.config.base}${BUILTIN_IMAGE_PATH}`;
      server.middlewares.use((req, res, next) => {
        if (req.url?.split('?')[0] !== path) return next();
        const body = image();
        res.setHeader('Content-Type', 'application/x-tar');
        res.setHeader('Content-Length', String(body.length));
        res.end(body);
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: BUILTIN_IMAGE_PATH, source: image() });
    },
  };
}
