// Runs in a guest worker (guest side of the boundary). Lists the members of a ustar
// archive that lies at offset 0 of the guest's block device, reading only headers.
// Pure over a `readAt` callback so it does not care how bytes arrive.

export interface TarEntry {
  name: string;
  size: number;
  /** Byte offset of the member's data in the volume. */
  dataOffset: number;
  /** '0' regular file, '5' directory, … (pax 'x'/'g' records are skipped, never listed). */
  type: string;
}

const RECORD = 512;
const decoder = new TextDecoder();

function field(h: Uint8Array, offset: number, length: number): string {
  const raw = h.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
}

function octal(h: Uint8Array, offset: number, length: number): number {
  const s = field(h, offset, length).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function isZero(h: Uint8Array): boolean {
  for (const b of h) if (b !== 0) return false;
  return true;
}

/** Does this 512-byte record look like a tar header (its checksum matches)? */
export function isTarHeader(h: Uint8Array): boolean {
  if (h.length < RECORD || isZero(h)) return false;
  let sum = 0;
  for (let i = 0; i < RECORD; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === octal(h, 148, 8);
}

/**
 * Walk the archive. Stops at two zero records, at the end of the volume, or at the first
 * record that is not a header (a volume that is not a tar yields an empty list).
 */
export async function listTar(readAt: (offset: number, length: number) => Promise<Uint8Array>, volumeBytes: number): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  let offset = 0;
  let paxPath: string | null = null;
  while (offset + RECORD <= volumeBytes) {
    const h = await readAt(offset, RECORD);
    if (!isTarHeader(h)) break;
    const size = octal(h, 124, 12);
    const type = field(h, 156, 1) || '0';
    const prefix = field(h, 345, 155);
    const name = prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100);
    const dataOffset = offset + RECORD;
    if (type === 'x') {
      paxPath = paxPathOf(await readAt(dataOffset, Math.min(size, 4096)));
    } else if (type !== 'g') {
      out.push({ name: paxPath ?? name, size, dataOffset, type });
      paxPath = null;
    }
    offset = dataOffset + Math.ceil(size / RECORD) * RECORD;
  }
  return out;
}

/** A pax `path=` record overrides the ustar name; other records (our `comment`) are ignored. */
function paxPathOf(data: Uint8Array): string | null {
  const text = decoder.decode(data);
  const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
  return m ? m[1]! : null;
}
