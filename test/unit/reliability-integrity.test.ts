// Node: frame checksums. A frame corrupted in shared memory (as a guest can) is found by a
// scrub and before it is mirrored, quarantined, and reloaded from the store in place.
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Dom0Reliability } from '../../host/dom0/dom0-reliability';
import { checksumKey, frameChecksum } from '../../host/dom0/checksum';
import type { MirrorLink } from '../../host/mirror/mirror-protocol';
import { Status } from '../../shared/protocol';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);

async function setup() {
  const store = new MemoryBlockStore();
  store.addVolume('base@snap', { blocks: 16, blockBytes: BS, readOnly: true, group: 'g' }, new Map([[0, block(1)], [1, block(2)], [2, block(3)]]));
  store.cloneVolume('base@snap', 'vm-a');
  store.cloneVolume('base@snap', 'vm-b');
  const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 16, shared: true });
  const rel = new Dom0Reliability(driver);
  const a = await driver.createDomain('vm-a');
  const b = await driver.createDomain('vm-b');
  return { store, driver, rel, a, b, g: driver.groups.get('g')! };
}

describe('frame integrity', () => {
  it('the checksum changes when any single byte of a frame changes, and depends on a secret key', () => {
    const key = checksumKey();
    const bytes = new Uint8Array(BS).fill(7);
    const words = new Int32Array(bytes.buffer);
    const base = frameChecksum(key, words);
    for (const i of [0, 1, 2, 3, 1000, BS - 1]) {
      bytes[i] = bytes[i]! ^ 0x40;
      expect(frameChecksum(key, words)).not.toBe(base);
      bytes[i] = bytes[i]! ^ 0x40;
    }
    expect(frameChecksum(checksumKey(), words)).not.toBe(base);
  });

  it('a scrub finds a frame a guest scribbled on, reloads it from the pool, bumps its generation and keeps the mapping', async () => {
    const { driver, rel, a, b, g } = await setup();
    const ra = await driver.read(a, 1);
    await driver.read(b, 1);
    const pageMaps: [number, number, number][] = [];
    a.pageMapSink = (lba, frame, gen) => pageMaps.push([lba, frame, gen]);
    const genBefore = g.table.generation(ra.frame);
    expect((await rel.scrub()).corrupt).toBe(0);
    // The guest writes into its view of the shared arena.
    g.table.view(ra.frame)[100] = 0xee;
    const report = await rel.scrub();
    expect(report).toMatchObject({ frames: 1, corrupt: 1, repaired: 1 });
    expect(g.table.view(ra.frame)[100]).toBe(2);
    expect(g.table.generation(ra.frame)).toBe(genBefore + 1);
    // Unpublished during the reload, then republished with the new generation.
    expect(pageMaps).toEqual([[1, -1, 0], [1, ra.frame, genBefore + 1]]);
    const again = await driver.read(b, 1);
    expect(again).toMatchObject({ status: Status.OK, frame: ra.frame, generation: genBefore + 1 });
    expect(rel.integrityStats()).toMatchObject({ corrupt: 1, repaired: 1 });
  });

  it('a read of a quarantined frame waits for the reload and never returns before the bytes are right', async () => {
    const { driver, rel, a, b, g, store } = await setup();
    const ra = await driver.read(a, 2);
    g.table.view(ra.frame).fill(0);
    const realRead = store.read.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    store.read = async (ds, blocks) => {
      await gate;
      return realRead(ds, blocks);
    };
    const scrub = rel.scrub();
    await new Promise((r) => setTimeout(r, 5));
    let answered = false;
    const rb = Promise.resolve(driver.read(b, 2)).then((c) => ((answered = true), c));
    await new Promise((r) => setTimeout(r, 5));
    expect(answered).toBe(false);
    release();
    expect((await rb).frame).toBe(ra.frame);
    expect(g.table.view(ra.frame)[0]).toBe(3);
    expect((await scrub).repaired).toBe(1);
  });

  it('a corrupted resident frame is detected before it is mirrored; the mirror gets the pool bytes', async () => {
    const { driver, rel, a, g } = await setup();
    const sent: Uint8Array[] = [];
    const link: MirrorLink = {
      onmessage: null,
      close: () => {},
      post: (m) => {
        if (m.t !== 'mirror-batch') return;
        for (const x of m.blocks) if (x.bytes) sent.push(x.bytes);
        setTimeout(() => link.onmessage?.({ t: 'mirror-ack', source: m.source, seq: m.seq, target: 't', ok: true }), 0);
      },
    };
    await rel.startMirror({ channel: 'x', mode: 'sync' }, link);
    await driver.write(a, 5, block(9), false);
    const r = await driver.read(a, 5); // the written block is now resident
    g.table.view(r.frame)[0] = 0x55;
    await driver.write(a, 6, block(9), false); // same content, same frame: mirrored from it
    expect(rel.mirrorStats()).toMatchObject({ framesCorrupt: 1 });
    expect(sent.at(-1)![0]).toBe(9);
    expect(g.table.view(r.frame)[0]).toBe(9);
  });

  it('a frame the pool cannot give back faults the domains mapping it instead of serving it', async () => {
    const { driver, rel, a, g, store } = await setup();
    const ra = await driver.read(a, 0);
    g.table.view(ra.frame)[0] = 0x77;
    store.read = async () => {
      throw Object.assign(new Error('checksum mismatch in pool'), { name: 'ChecksumError' });
    };
    const report = await rel.scrub();
    expect(report).toMatchObject({ corrupt: 1, repaired: 0 });
    expect(a.fault).toMatch(/could not be reloaded/);
  });
});
