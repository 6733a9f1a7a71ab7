// Node: the file-server protocol over a real channel (both ends in one thread): files
// arrive whole and byte-exact, in several messages when they exceed a buffer; the server's
// copies are counted, the client's are 0; an unknown name is answered, not hung.
import { describe, expect, it } from 'vitest';
import { IdcBroker } from '../../host/dom0/idc-broker';
import { IdcEndpoint } from '../../guest/idc';
import { FS_NOT_FOUND, FS_OK, fetchFile, fnv1a, serveRequests, type ServedFile } from '../../guest/workloads/file-server';

function setup() {
  const [gc, gs] = new IdcBroker().createChannel(1, 2, { buffersPerSide: 2, bufferBytes: 256 });
  const client = new IdcEndpoint(gc, null);
  const server = new IdcEndpoint(gs, null);
  const volume = new Uint8Array(4096);
  let seed = 7;
  for (let i = 0; i < volume.length; i++) volume[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  const files = new Map<string, ServedFile>([
    ['small', { name: 'small', size: 10, dataOffset: 100 }],
    ['big', { name: 'big', size: 1500, dataOffset: 512 }], // 6 messages of 248 + 1 more
    ['empty', { name: 'empty', size: 0, dataOffset: 0 }],
  ]);
  const readInto = async (o: number, n: number, into: Uint8Array) => void into.set(volume.subarray(o, o + n));
  let stop = false;
  const loop = (async () => {
    while (!stop) if ((await serveRequests(server, files, readInto, 1000)) === 0) await new Promise((r) => setTimeout(r, 0));
  })();
  return { client, server, volume, files, finish: async () => ((stop = true), await loop) };
}

describe('file server over a channel', () => {
  it('serves files whole and byte-exact; copies counted on the server only', async () => {
    const s = setup();
    for (const name of ['small', 'big', 'empty', 'big']) {
      const f = s.files.get(name)!;
      const got = await fetchFile(s.client, name, 1000);
      expect(got, name).toMatchObject({ status: FS_OK, size: f.size, hash: fnv1a(s.volume.subarray(f.dataOffset, f.dataOffset + f.size)) });
      expect(got.messages).toBe(Math.max(1, Math.ceil(f.size / 248)));
    }
    await s.finish();
    expect(s.server.stats.bytesCopied).toBe(10 + 1500 + 0 + 1500);
    expect(s.client.stats.bytesCopied).toBe(0);
    expect(s.client.freeBuffers).toBe(2);
    expect(s.server.freeBuffers).toBe(2);
  });

  it('answers an unknown name with NOT_FOUND', async () => {
    const s = setup();
    expect(await fetchFile(s.client, 'nope', 1000)).toMatchObject({ status: FS_NOT_FOUND, size: 0 });
    expect((await fetchFile(s.client, 'small', 1000)).status).toBe(FS_OK);
    await s.finish();
  });
});
