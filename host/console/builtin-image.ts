// Runs on the console's main thread. The built-in base image: a block-aligned tar of real
// files (TypeScript's compiler vendored by two "applications", its lib typings, this
// project's docs), generated from node_modules by the Vite plugin in
// scripts/builtin-image.ts — in dev on first request, in a build as an asset — so tens of
// MiB of it never sit in git. Imported into the pool as `image`, snapshotted `image@base`.
export const IMAGE = 'image';
export const IMAGE_BASE = 'image@base';
export const BLOCK_BYTES = 65536;

/** Where public assets are served: the site root in dev, the deploy base (vite `base`) in a build. */
function publicUrl(path: string): URL {
  return new URL(`${import.meta.env.BASE_URL}${path}`, location.href);
}

export async function fetchBuiltinImage(): Promise<Blob> {
  const res = await fetch(publicUrl('image/builtin.tar'));
  if (!res.ok) throw new Error(`cannot load the built-in image (image/builtin.tar): HTTP ${res.status}`);
  return res.blob();
}
