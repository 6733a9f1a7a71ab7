// Node: a WRITE that waits for the mirror's page lock (DriverHooks.beforeWrite) while its
// domain is faulted or destroyed stores nothing: failover fences a guest by faulting its
// domain, and a fenced guest must write nothing more. Found by reading (hostile-guest
// review, 2026-11-30): the write used to be stored after the lock was granted.
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Status } from '../../shared/protocol';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;

async function setup() {
  const store = new MemoryBlockStore();
  store.addVolume('base@snap', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g1' }, new Map([[3, new Uint8Array(BS).fill(1)]]));
  store.cloneVolume('base@snap', 'clone-a');
  const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 64, shared: true });
  let grant = (): void => undefined;
  const afterWrites: boolean[] = [];
  driver.hooks.beforeWrite = () => new Promise<void>((r) => (grant = r));
  driver.hooks.afterWrite = (_d, _lba, durable) => void afterWrites.push(durable);
  const d = zeroCopy(driver, await driver.createDomain('clone-a'));
  return { store, driver, d, grant: () => grant(), afterWrites };
}

describe.each([
  ['faulted', (driver: Dom0Driver, d: Parameters<Dom0Driver['fault']>[0]) => driver.fault(d, 'fenced by failover')],
  ['destroyed', (driver: Dom0Driver, d: Parameters<Dom0Driver['fault']>[0]) => driver.destroyDomain(d.id)],
] as const)('a WRITE waiting for its page lock when its domain is %s', (_how, end) => {
  it('is refused and stores nothing; the lock is released', async () => {
    const { store, driver, d, grant, afterWrites } = await setup();
    const w = driver.write(d, 3, new Uint8Array(BS).fill(0xee));
    await Promise.resolve();
    end(driver, d);
    grant();
    expect((await w).status).not.toBe(Status.OK);
    expect(afterWrites).toEqual([false]);
    await store.commit();
    const [blk] = await store.resolve('clone-a', [3]);
    const [bytes] = await store.read('clone-a', [blk!]);
    expect(bytes![0]).toBe(1);
  });
});

it('a WRITE of a live domain waiting for its page lock is stored once the lock is granted (the control)', async () => {
  const { store, driver, d, grant, afterWrites } = await setup();
  const w = driver.write(d, 3, new Uint8Array(BS).fill(0xee));
  grant();
  expect((await w).status).toBe(Status.OK);
  expect(afterWrites).toEqual([true]);
  await store.commit();
  const [blk] = await store.resolve('clone-a', [3]);
  expect((await store.read('clone-a', [blk!]))[0]![0]).toBe(0xee);
});
