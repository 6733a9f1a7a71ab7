// Runs anywhere. Byte arrays laid end to end: the archive's buffered segment tail
// (segment-log.ts), a restored run of blocks (pool-archive.ts), the console's tar image
// (host/console/tar-writer.ts).

/** `parts` end to end in one new array; a single part is returned as it is, not copied. */
export function concatBytes(parts: readonly Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
