// Runs on the console's main thread. Makes an imported tar dedup: in a plain tar every
// member's data starts 512 bytes after its header, at an offset that has nothing to do
// with the pool's 64 KiB blocks, so two identical files land at different offsets inside
// their blocks and no block matches. realignTar() re-packs the members with
// tar-writer.ts, which starts every member of 64 KiB or more on a block boundary (the
// padding is a pax comment every tar reader skips). Only plain archives are re-packed:
// regular files and directories, ustar or GNU long names, pax path records; anything else
// (links, devices, sparse files) is imported as it is, and the console says why.
import { buildTar, type TarMember } from './tar-writer';

const RECORD = 512;
const decoder = new TextDecoder();

export type AlignResult =
  | { kind: 'realigned'; bytes: Uint8Array; files: number; moved: number }
  | { kind: 'aligned'; files: number }
  | { kind: 'not-tar' }
  | { kind: 'unsupported'; reason: string };

function str(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return decoder.decode(end < 0 ? s : s.subarray(0, end));
}

function octal(b: Uint8Array, off: number, len: number): number {
  const t = str(b, off, len).trim();
  return t === '' ? 0 : parseInt(t, 8);
}

function checksumOk(hdr: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < RECORD; i++) sum += i >= 148 && i < 156 ? 0x20 : hdr[i]!;
  return sum === octal(hdr, 148, 8);
}

/** Re-pack `tar` so that members of at least `align` bytes start on an `align` boundary. */
export function realignTar(tar: Uint8Array, align: number): AlignResult {
  const members: TarMember[] = [];
  let off = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  let misaligned = 0;
  while (off + RECORD <= tar.length) {
    const hdr = tar.subarray(off, off + RECORD);
    if (hdr.every((x) => x === 0)) break;
    if (!checksumOk(hdr)) return off === 0 ? { kind: 'not-tar' } : { kind: 'unsupported', reason: `a damaged header at byte ${off}` };
    const size = octal(hdr, 124, 12);
    const type = String.fromCharCode(hdr[156] || 0x30);
    const dataAt = off + RECORD;
    if (dataAt + size > tar.length) return { kind: 'unsupported', reason: `a member runs past the end of the file at byte ${off}` };
    const data = tar.subarray(dataAt, dataAt + size);
    off = dataAt + Math.ceil(size / RECORD) * RECORD;
    if (type === 'L') {
      longName = str(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      for (const m of decoder.decode(data).matchAll(/\d+ path=([^\n]*)\n/g)) paxPath = m[1]!;
      continue;
    }
    if (type === 'g') continue;
    const prefix = str(hdr, 345, 155);
    const path = paxPath ?? longName ?? (prefix ? `${prefix}/${str(hdr, 0, 100)}` : str(hdr, 0, 100));
    longName = null;
    paxPath = null;
    if (type === '5') continue; // directories: implied by the file paths
    if (type !== '0') return { kind: 'unsupported', reason: `member ${path} is of tar type '${type}' (only regular files and directories are re-packed)` };
    if (size >= align && dataAt % align !== 0) misaligned++;
    members.push({ path, bytes: data, mtime: octal(hdr, 136, 12) });
  }
  if (members.length === 0) return { kind: 'not-tar' };
  if (misaligned === 0) return { kind: 'aligned', files: members.length };
  return { kind: 'realigned', bytes: buildTar(members, align), files: members.length, moved: misaligned };
}
