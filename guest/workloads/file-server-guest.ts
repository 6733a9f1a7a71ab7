// Guest module (runs in a hardened guest worker): the console's file-server demo, either
// role. The server walks the tar archive on its volume and answers file requests on every
// channel a client opens to it; the client connects, then fetches the archive's files
// round robin. Both count messages and copies for the console.
import { expose } from 'comlink';
import { openBlockDevice } from '../block-device';
import { openIdc, type IdcEndpoint } from '../idc';
import { listTar } from './tar-reader';
import { fetchFile, serveRequests, type Fetched, type ServedFile } from './file-server';
import type { GuestContext, GuestInit } from '../../shared/boot-protocol';

export interface FileServerStats {
  /** Messages sent and received on this guest's channels. */
  messages: number;
  /** Payload bytes this guest copied into channel buffers. */
  bytesCopied: number;
  /** Payload bytes sent. */
  bytesSent: number;
  files: number;
  refused: number;
  error: string | null;
}

export interface FileServerGuestApi {
  /** Server: the files it serves. */
  files(): Promise<{ name: string; size: number }[]>;
  /** Server: accept channels and answer requests until told to stop. */
  serve(on: boolean): void;
  /** Client: open a channel to the server (the host's policy must allow it). */
  connect(server: number): Promise<number>;
  /** Client: one file. */
  fetch(name: string): Promise<Fetched>;
  /** Client: fetch `names` round robin until told to stop. */
  run(names: string[] | null): void;
  stats(): FileServerStats;
}

export default function main(ctx: GuestContext): void {
  const init = ctx.init as GuestInit;
  if (!init.idc) throw new Error('file-server-guest needs its IDC port');
  const idc = openIdc(init.idc);
  const dev = openBlockDevice(init.grant);
  const bs = dev.blockBytes;
  let files: Map<string, ServedFile> | null = null;
  let serving = false;
  let running = false;
  let fetched = 0;
  let error: string | null = null;
  let client: IdcEndpoint | null = null;

  const readInto = async (offset: number, length: number, into: Uint8Array): Promise<void> => {
    for (let done = 0; done < length; ) {
      const at = offset + done;
      using v = await dev.read(Math.floor(at / bs));
      const start = at % bs;
      const n = Math.min(bs - start, length - done);
      into.set(v.bytes.subarray(start, start + n), done);
      done += n;
    }
  };
  const catalogue = async (): Promise<Map<string, ServedFile>> => {
    if (!files) {
      const entries = await listTar(async (o, n) => {
        const out = new Uint8Array(n);
        await readInto(o, n, out);
        return out;
      }, dev.blocks * bs);
      files = new Map(entries.filter((e) => e.type === '0').map((e) => [e.name, { name: e.name, size: e.size, dataOffset: e.dataOffset }]));
    }
    return files;
  };

  const serveLoop = async (): Promise<void> => {
    const cat = await catalogue();
    while (serving) {
      let answered = 0;
      for (const ep of idc.channels()) if (!ep.fault) answered += await serveRequests(ep, cat, readInto);
      const first = idc.channels()[0];
      if (answered === 0) await (first ? first.waitForMessages(20) : new Promise((r) => setTimeout(r, 20)));
    }
  };
  const acceptLoop = async (): Promise<void> => {
    while (serving) await idc.accept(1000).catch(() => undefined);
  };
  const runLoop = async (names: string[]): Promise<void> => {
    for (let i = 0; running; i++) {
      if (!client) throw new Error('not connected');
      await fetchFile(client, names[i % names.length]!);
      fetched++;
    }
  };
  const fail = (err: unknown): void => {
    error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    serving = running = false;
  };

  const api: FileServerGuestApi = {
    async files() {
      return [...(await catalogue()).values()].map((f) => ({ name: f.name, size: f.size }));
    },
    serve(on) {
      if (on === serving) return;
      serving = on;
      if (on) {
        void serveLoop().catch(fail);
        void acceptLoop();
      }
    },
    async connect(server) {
      client = await idc.connect(server, { buffersPerSide: 8, bufferBytes: 16 * 1024 });
      return client.channelId;
    },
    async fetch(name) {
      if (!client) throw new Error('not connected');
      const f = await fetchFile(client, name);
      fetched++;
      return f;
    },
    run(names) {
      running = !!names && names.length > 0;
      if (names && running) void runLoop(names).catch(fail);
    },
    stats() {
      const s: FileServerStats = { messages: 0, bytesCopied: 0, bytesSent: 0, files: fetched, refused: 0, error };
      for (const ep of idc.channels()) {
        s.messages += ep.stats.sent + ep.stats.received;
        s.bytesCopied += ep.stats.bytesCopied;
        s.bytesSent += ep.stats.bytesSent;
        s.refused += Object.values(ep.stats.refused).reduce((a, b) => a + b, 0);
      }
      return s;
    },
  };
  expose(api, init.control);
}
