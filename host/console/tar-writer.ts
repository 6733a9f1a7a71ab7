// Runs anywhere (the console's main thread builds the built-in image with it). Writes a
// POSIX ustar archive in which every member of at least `alignBytes` starts its data on
// an `alignBytes` boundary, so equal files dedup block for block in the pool. The padding
// is a pax extended header holding only a `comment` record, which every tar reader
// ignores (public/image/rfc/tvp-0002-image-format.txt explains the layout).

// With its extension: the Vite config loads this module (scripts/builtin-image.ts), and
// its config loader resolves only explicit paths.
import { concatBytes } from '../archive/bytes.ts';

export interface TarMember {
  /** Path inside the archive, '/'-separated, at most 255 bytes. */
  path: string;
  bytes: Uint8Array;
  /** Seconds since the epoch; fixed by default so the image is byte-for-byte reproducible. */
  mtime?: number;
}

const RECORD = 512;
const encoder = new TextEncoder();

function pad512(n: number): number {
  return Math.ceil(n / RECORD) * RECORD;
}

function putString(h: Uint8Array, offset: number, length: number, value: string): void {
  const b = encoder.encode(value);
  if (b.length > length) throw new RangeError(`tar field too long (${b.length} > ${length}): ${value}`);
  h.set(b, offset);
}

function putOctal(h: Uint8Array, offset: number, length: number, value: number): void {
  // length-1 octal digits and a NUL, as ustar wants.
  putString(h, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

/** Split a long path into ustar's prefix (155) and name (100) at a '/'. */
function splitPath(path: string): { prefix: string; name: string } {
  if (encoder.encode(path).length <= 100) return { prefix: '', name: path };
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) return { prefix, name };
  }
  throw new RangeError(`tar path cannot be stored in ustar: ${path}`);
}

function header(path: string, size: number, type: '0' | 'x', mtime: number): Uint8Array {
  const h = new Uint8Array(RECORD);
  const { prefix, name } = splitPath(path);
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, 0o644);
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  putString(h, 156, 1, type);
  putString(h, 257, 6, 'ustar\0');
  putString(h, 263, 2, '00');
  putString(h, 265, 32, 'tabvisor');
  putString(h, 297, 32, 'tabvisor');
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** A pax record "<len> comment=<filler>\n" of exactly `length` bytes (length ≥ 16). */
function commentRecord(length: number): Uint8Array {
  const fixed = ' comment=\n'.length;
  for (let digits = 1; digits < 8; digits++) {
    const fill = length - digits - fixed;
    if (fill >= 0 && String(length).length === digits) {
      return encoder.encode(`${length} comment=${'.'.repeat(fill)}\n`);
    }
  }
  throw new RangeError(`cannot make a pax comment of ${length} bytes`);
}

/** Build the archive. Members keep their order; large ones get aligned data. */
export function buildTar(members: readonly TarMember[], alignBytes = 65536): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    offset += b.length;
  };
  for (const m of members) {
    const mtime = m.mtime ?? 1_700_000_000;
    if (m.bytes.length >= alignBytes) {
      // Where this member's data would start without padding: after its own header.
      const misalign = (offset + RECORD) % alignBytes;
      if (misalign !== 0) {
        // A pax header (512) + its data (P, a multiple of 512) move the data by 512 + P.
        let p = (alignBytes - misalign - RECORD + alignBytes) % alignBytes;
        if (p === 0) p = alignBytes; // the pax header alone would overshoot by one record
        push(header(`PaxHeaders/${m.path}`.slice(0, 255), p, 'x', mtime));
        const data = new Uint8Array(p);
        data.set(commentRecord(p));
        push(data);
      }
    }
    push(header(m.path, m.bytes.length, '0', mtime));
    const data = new Uint8Array(pad512(m.bytes.length));
    data.set(m.bytes);
    push(data);
  }
  push(new Uint8Array(2 * RECORD));
  return concatBytes(parts, offset);
}
