// Node: a pool closed under dom0 (another tab deleted it: the pool's IndexedDB connection
// steps aside) is refused to the guest as POOL_CLOSED, not taken for dom0's own error,
// which faults the domain. Every place a READ meets the pool: the LBA lookup when the
// request comes in, the read of the block, and the lookup after that read. Found by a browser test
// (test/browser/write-refused.test.ts): the lookup's throw faulted the guest.
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { PoolClosedError } from '../../shared/errors/pool-errors';
import { Status } from '../../shared/protocol';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;

async function setup() {
  const store = new MemoryBlockStore();
  store.addVolume('base@snap', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g1' }, new Map([[3, new Uint8Array(BS).fill(1)], [4, new Uint8Array(BS).fill(2)]]));
  store.cloneVolume('base@snap', 'clone-a');
  const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 64, shared: true });
  const d = zeroCopy(driver, await driver.createDomain('clone-a'));
  return { store, driver, d };
}

/** Refused POOL_CLOSED, the domain alive, its reservation returned. */
function expectRefusedClosed(c: { status: number }, d: { alive: boolean; reserved: number }): void {
  expect(c.status).toBe(Status.POOL_CLOSED);
  expect(d.alive).toBe(true);
  expect(d.reserved).toBe(0);
}

const closed = (): never => {
  throw new PoolClosedError('pool p is closed');
};

describe('a READ when the pool has closed under dom0', () => {
  it('is refused POOL_CLOSED at the lookup; the domain lives on and its reservation is returned', async () => {
    const { store, driver, d } = await setup();
    store.resolveSync = closed;
    const c = await driver.read(d, 3);
    expectRefusedClosed(c, d);
  });

  it('is refused POOL_CLOSED when the block read fails that way', async () => {
    const { store, driver, d } = await setup();
    store.read = () => Promise.reject(new PoolClosedError('pool p is closed'));
    const c = await driver.read(d, 4);
    expectRefusedClosed(c, d);
  });

  it('is refused POOL_CLOSED when the pool closes while the block is being read (the lookup after the fill)', async () => {
    const { store, driver, d } = await setup();
    const read = store.read.bind(store);
    store.read = async (ds, blocks) => {
      const bytes = await read(ds, blocks);
      store.resolveSync = closed; // closed while the read was out
      return bytes;
    };
    const c = await driver.read(d, 4);
    expectRefusedClosed(c, d);
  });

  it('is refused POOL_CLOSED at the readahead marker: the window read next meets the closed pool, not the guest', async () => {
    // Found by CI (console-pool-deleted.spec.ts): a guest listing its image sequentially
    // when another tab deleted the pool faulted, because the READ that reached the marker
    // started the next window's lookup before its own, outside the guard.
    const store = new MemoryBlockStore();
    const blocks = new Map(Array.from({ length: 64 }, (_, l) => [l, new Uint8Array(BS).fill(l + 1)] as const));
    store.addVolume('base@snap', { blocks: 64, blockBytes: BS, readOnly: true, group: 'g1' }, blocks);
    store.cloneVolume('base@snap', 'clone-a');
    const driver = new Dom0Driver(store, { arenaFrames: 256, promoteAt: 2, quota: 256, shared: true });
    const d = zeroCopy(driver, await driver.createDomain('clone-a'));
    expect((await driver.read(d, 0)).status).toBe(Status.OK);
    expect((await driver.read(d, 1)).status).toBe(Status.OK); // sequential: a window is read ahead
    expect(d.raMarker).toBeGreaterThan(1);
    const marker = d.raMarker;
    await new Promise((r) => setTimeout(r, 0)); // the window's fills land
    store.resolveSync = closed;
    const c = await driver.read(d, marker);
    expectRefusedClosed(c, d);
  });

  it('a write the pool took, answered after the pool closed, is acknowledged (what it keeps for reading back is only a cache)', async () => {
    const { store, driver, d } = await setup();
    const write = store.write.bind(store);
    store.write = async (ds, lba, bytes) => {
      const seq = await write(ds, lba, bytes);
      store.resolveSync = closed; // closed after the write was staged and committed
      return seq;
    };
    const c = await driver.write(d, 5, new Uint8Array(BS).fill(9));
    expect(c.status).toBe(Status.OK);
    expect(d.alive).toBe(true);
  });

  it('any other error there is still dom0 failing: it throws (the dispatcher faults the domain)', async () => {
    const { store, driver, d } = await setup();
    store.resolveSync = () => {
      throw new Error('a bug');
    };
    expect(() => driver.read(d, 3)).toThrow('a bug');
  });
});
