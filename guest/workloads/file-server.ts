// Runs in a guest worker. A tiny request/response file server over an inter-domain channel
// (guest/idc.ts): the client sends a file name; the server answers with the file in as many
// messages as it takes, each `| status u32 | size u32 | data |`. Pure over an endpoint and
// a `readAt` callback, so the Node tests drive it without workers.
//
// Copies: the server's bytes live in its block device's views. Putting them in a channel
// buffer is one copy, counted on the endpoint (`bytesCopied`). The client reads the
// replies in place and copies nothing.
import type { IdcEndpoint, RxView } from '../idc';

export const FS_OK = 0;
export const FS_NOT_FOUND = 1;
const HEADER = 8;

export interface ServedFile {
  readonly name: string;
  readonly size: number;
  /** Byte offset of the file's data in the server's volume. */
  readonly dataOffset: number;
}

/** Copy `length` bytes of the volume at `offset` into `into`. */
export type ReadInto = (offset: number, length: number, into: Uint8Array) => Promise<void>;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Answer every request waiting on `ep`, then return how many were answered. A request that
 * names no file gets FS_NOT_FOUND; a reply waits for buffers the client gives back.
 */
export async function serveRequests(ep: IdcEndpoint, files: ReadonlyMap<string, ServedFile>, readInto: ReadInto, waitMs = 5000): Promise<number> {
  let answered = 0;
  for (const req of ep.poll()) {
    // Copy the name out before using it: the client can rewrite its buffer at any time.
    const name = decoder.decode(req.bytes.slice(0, 1024));
    req.release();
    const f = files.get(name);
    if (!f) {
      const b = await ep.allocAsync(waitMs);
      if (!b) throw new Error(`client on channel ${ep.channelId} holds every buffer`);
      header(b.bytes, FS_NOT_FOUND, 0);
      ep.send(b, HEADER);
    } else {
      const room = ep.bufferSize - HEADER;
      let done = 0;
      do {
        const b = await ep.allocAsync(waitMs);
        if (!b) throw new Error(`client on channel ${ep.channelId} holds every buffer`);
        const n = Math.min(room, f.size - done);
        header(b.bytes, FS_OK, f.size);
        await readInto(f.dataOffset + done, n, b.bytes.subarray(HEADER, HEADER + n));
        ep.recordCopy(n);
        ep.send(b, HEADER + n);
        done += n;
      } while (done < f.size);
    }
    answered++;
  }
  return answered;
}

function header(bytes: Uint8Array, status: number, size: number): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
  dv.setUint32(0, status, true);
  dv.setUint32(4, size, true);
}

export interface Fetched {
  status: number;
  size: number;
  /** FNV-1a over the file's bytes, read in place from the server's buffers. */
  hash: number;
  messages: number;
}

/** Ask for `name` and read the answer in place. */
export async function fetchFile(ep: IdcEndpoint, name: string, waitMs = 5000): Promise<Fetched> {
  const b = await ep.allocAsync(waitMs);
  if (!b) throw new Error(`server on channel ${ep.channelId} holds every buffer`);
  const n = encoder.encode(name);
  b.bytes.set(n);
  ep.send(b, n.length);
  let hash = 0x811c9dc5;
  let got = 0;
  let messages = 0;
  for (;;) {
    const v: RxView | null = await ep.receive(waitMs);
    if (!v) throw new Error(`no answer for ${name} within ${waitMs} ms`);
    messages++;
    const bytes = v.bytes;
    if (bytes.length < HEADER) {
      v.release();
      throw new Error(`short reply (${bytes.length} bytes) for ${name}`);
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
    const status = dv.getUint32(0, true);
    const size = dv.getUint32(4, true);
    for (let i = HEADER; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193) >>> 0;
    got += bytes.length - HEADER;
    v.release();
    if (status !== FS_OK || got >= size) return { status, size, hash, messages };
  }
}

/** FNV-1a of plain bytes, to check a fetched file against the original. */
export function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const b of bytes) hash = Math.imul(hash ^ b, 0x01000193) >>> 0;
  return hash;
}
