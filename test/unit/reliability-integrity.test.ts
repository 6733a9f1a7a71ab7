// Node: frame checksums. A frame corrupted in shared memory (as a guest can) is found by a
// scrub or before it is mapped into another domain, retired, and its readers moved to a
// freshly filled frame; the mirror never reads frames at all.
import { describe, expect, it, vi } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Dom0Reliability } from '../../host/dom0/dom0-reliability';
import { CHECK_FRESH_MS } from '../../host/dom0/integrity';
import { checksumKey, frameChecksum } from '../../host/dom0/checksum';
import type { MirrorLink } from '../../host/mirror/mirror-protocol';
import { Status } from '../../shared/protocol';
import { ChecksumError } from '../../shared/errors/pool-errors';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);

async function setup() {
  const store = new MemoryBlockStore();
  store.addVolume('base@snap', { blocks: 16, blockBytes: BS, readOnly: true, group: 'g' }, new Map([[0, block(1)], [1, block(2)], [2, block(3)]]));
  store.cloneVolume('base@snap', 'vm-a');
  store.cloneVolume('base@snap', 'vm-b');
  const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 16, shared: true });
  const rel = new Dom0Reliability(driver);
  const a = zeroCopy(driver, await driver.createDomain('vm-a'));
  const b = zeroCopy(driver, await driver.createDomain('vm-b'));
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

  it('a scrub finds a frame a guest scribbled on, retires it and moves both readers to a freshly filled frame', async () => {
    const { driver, rel, a, b, g } = await setup();
    const ra = await driver.read(a, 1);
    await driver.read(b, 1);
    expect((await rel.scrub()).corrupt).toBe(0);
    // A guest writes into its view of the shared arena.
    g.table.view(ra.frame)[100] = 0xee;
    const report = await rel.scrub();
    // (The fresh frame may be filled in time to be checked by the same scrub.)
    expect(report).toMatchObject({ corrupt: 1, repaired: 1 });
    const fresh = a.shadow[1]! - 1;
    expect(fresh).not.toBe(ra.frame);
    expect(b.shadow[1]! - 1).toBe(fresh);
    expect(a.guest.pageMap[1]).toBe(fresh + 1);
    expect(g.table.view(fresh)[100]).toBe(2);
    // Nobody held a view of the old frame: zeroed and freed at once.
    expect(g.table.info(ra.frame).state).toBe('free');
    expect(g.table.view(ra.frame).every((x) => x === 0)).toBe(true);
    expect(a.fault).toBeNull();
    expect(b.fault).toBeNull();
    expect(rel.integrityStats()).toMatchObject({ corrupt: 1, repaired: 1, incidents: { g: 1 } });
  });

  it('a scrub that finds nothing new still waits for a repair an earlier check started: when it resolves, readers are on genuine bytes', async () => {
    const { store, driver, rel, a, g } = await setup();
    const ra = await driver.read(a, 1);
    g.table.view(ra.frame)[100] = 0xee;
    // The first scrub finds the frame; its refill from the pool is slow.
    const read = store.read.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const spy = vi.spyOn(store, 'read').mockImplementation(async (ds, blocks) => {
      await gate;
      return read(ds, blocks);
    });
    const first = rel.scrub();
    await new Promise((r) => setTimeout(r, 0));
    expect(g.table.info(ra.frame).state).toBe('retired');
    // A second scrub now skips the retired frame; it must not resolve before the repair.
    let secondDone = false;
    const second = rel.scrub().then((rep) => ((secondDone = true), rep));
    await new Promise((r) => setTimeout(r, 20));
    expect(secondDone).toBe(false);
    release();
    await second;
    expect(a.shadow[1]! - 1).not.toBe(ra.frame);
    expect(g.table.view(a.shadow[1]! - 1)[100]).toBe(2);
    await first;
    spy.mockRestore();
  });

  it('a reader holding a view keeps the retired frame until it lets go; then it is zeroed and freed', async () => {
    const { driver, rel, a, g } = await setup();
    const ra = await driver.read(a, 1);
    a.guest.lease[1] = 1;
    g.table.view(ra.frame)[0] = 0xee;
    expect((await rel.scrub()).repaired).toBe(1);
    expect(g.table.info(ra.frame).state).toBe('retired');
    expect(driver.read(a, 1)).toMatchObject({ status: Status.OK, frame: a.shadow[1]! - 1 });
    expect(driver.unmap(a, 1, ra.frame).status).toBe(Status.OK);
    expect(g.table.info(ra.frame).state).toBe('free');
    expect(g.table.view(ra.frame).every((x) => x === 0)).toBe(true);
  });

  it('a resident frame is checked before it is mapped into another domain, unless it was checked in the last second', async () => {
    const { driver, rel, a, b, g } = await setup();
    const ra = await driver.read(a, 2);
    g.table.view(ra.frame)[7] = 0x99;
    const now = performance.now();
    const clock = vi.spyOn(performance, 'now').mockReturnValue(now + CHECK_FRESH_MS + 1);
    const rb = await driver.read(b, 2);
    clock.mockRestore();
    expect(rb.frame).not.toBe(ra.frame);
    expect(g.table.view(rb.frame)[7]).toBe(3);
    expect(a.shadow[2]! - 1).toBe(rb.frame); // the first reader was moved too
    expect(rel.integrityStats().corrupt).toBe(1);
  });

  it('the mirror sends pool bytes, never a frame, even one a guest scribbled on', async () => {
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
    const r = await driver.read(a, 0);
    g.table.view(r.frame).fill(0x55);
    await driver.write(a, 6, block(1)); // same content as block 0's frame
    expect(sent.at(-1)!.every((x) => x === 1)).toBe(true);
  });

  it('a frame the pool cannot give back: its readers are not faulted, their next read reports the error', async () => {
    const { driver, rel, a, g, store } = await setup();
    const ra = await driver.read(a, 0);
    g.table.view(ra.frame)[0] = 0x77;
    store.read = async () => {
      throw new ChecksumError({ chunkId: 1, metaslab: 0, offset: 0, expected: '00', actual: '01' });
    };
    const report = await rel.scrub();
    expect(report).toMatchObject({ corrupt: 1, repaired: 0 });
    expect(a.fault).toBeNull();
    expect(a.shadow[0]).toBe(0);
    expect((await driver.read(a, 0)).status).toBe(Status.CHECKSUM);
    expect(rel.integrityStats().repairFailed).toBe(1);
  });
});
