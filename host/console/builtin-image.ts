// Runs on the console's main thread. The built-in base image: real text files shipped
// under public/image/ (listed in its manifest.json), packed here into a block-aligned tar
// (tar-writer.ts), imported into the pool as `image` and snapshotted as `image@base`.
// Built at runtime rather than by a build step so the files stay readable in the repo
// and any static host serves them as they are.
import { buildTar, type TarMember } from './tar-writer';

export const IMAGE = 'image';
export const IMAGE_BASE = 'image@base';
export const BLOCK_BYTES = 65536;

interface Manifest {
  files: { path: string; src: string }[];
}

/** Where public/ is served: the site root in dev, the deploy base (vite `base`) in a build. */
function publicUrl(path: string): URL {
  return new URL(`${import.meta.env.BASE_URL}${path}`, location.href);
}

export async function buildBuiltinImage(): Promise<Uint8Array> {
  const res = await fetch(publicUrl('image/manifest.json'));
  if (!res.ok) throw new Error(`cannot load the built-in image's manifest: HTTP ${res.status}`);
  const manifest = (await res.json()) as Manifest;
  const cache = new Map<string, Promise<Uint8Array>>();
  const load = (src: string): Promise<Uint8Array> => {
    let p = cache.get(src);
    if (!p) {
      p = fetch(publicUrl(`image/${src}`)).then(async (r) => {
        if (!r.ok) throw new Error(`cannot load image file ${src}: HTTP ${r.status}`);
        return new Uint8Array(await r.arrayBuffer());
      });
      cache.set(src, p);
    }
    return p;
  };
  const members: TarMember[] = await Promise.all(manifest.files.map(async (f) => ({ path: f.path, bytes: await load(f.src) })));
  return buildTar(members, BLOCK_BYTES);
}
