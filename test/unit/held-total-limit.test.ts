// Node: dom0's bound on held groups (WRITE_HELD) across domains. Each domain's group has
// its own limit; without one for all of them together, N guests could each make dom0 keep
// that much. Written as the attack: many domains each holding up to their own limit.
import { describe, expect, it } from 'vitest';
import { Dom0Driver, HELD_LIMIT_BYTES, HELD_TOTAL_LIMIT_BYTES } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Status } from '../../shared/protocol';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);

function setup(clones: number, limits: { heldLimitBytes?: number; heldTotalLimitBytes?: number }) {
  const store = new MemoryBlockStore();
  store.addVolume('base@snap', { blocks: 64, blockBytes: BS, readOnly: true, group: 'g1' }, new Map());
  for (let i = 0; i < clones; i++) store.cloneVolume('base@snap', `clone-${i}`);
  const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 64, shared: true, ...limits });
  return { store, driver };
}

describe('held groups across domains', () => {
  it('the default for all groups together is below what 32 domains at their own limit would hold', () => {
    expect(HELD_TOTAL_LIMIT_BYTES).toBeLessThan(32 * HELD_LIMIT_BYTES);
  });

  it('refuses the held write that would take all groups past the total, drops only that group, and frees room as groups end', async () => {
    const { store, driver } = setup(3, { heldLimitBytes: 4 * BS, heldTotalLimitBytes: 6 * BS });
    const [a, b, c] = await Promise.all([0, 1, 2].map(async (i) => zeroCopy(driver, await driver.createDomain(`clone-${i}`))));
    for (let lba = 0; lba < 4; lba++) expect(driver.writeHeld(a!, lba, block(0xa0 + lba)).status).toBe(Status.OK);
    expect(driver.writeHeld(b!, 0, block(0xb0)).status).toBe(Status.OK);
    expect(driver.writeHeld(b!, 1, block(0xb1)).status).toBe(Status.OK);
    expect(driver.heldTotal).toBe(6 * BS);
    // Rewriting a held LBA takes no more room.
    expect(driver.writeHeld(b!, 1, block(0xb2)).status).toBe(Status.OK);
    // c is within its own limit, but all groups together are full: refused, and its group is gone.
    expect(driver.writeHeld(c!, 0, block(0xc0)).status).toBe(Status.HELD_LIMIT);
    expect(driver.writeHeld(c!, 1, block(0xc1)).status).toBe(Status.HELD_LIMIT);
    expect((await driver.commitHeld(c!)).status).toBe(Status.HELD_LIMIT);
    // The others' groups are untouched and commit whole.
    expect((await driver.commitHeld(a!)).status).toBe(Status.OK);
    expect(driver.heldTotal).toBe(2 * BS);
    const [written] = await store.resolve('clone-0', [3]);
    expect((await store.read('clone-0', [written!]))[0]).toEqual(block(0xa3));
    // With a's group committed there is room again.
    expect(driver.writeHeld(c!, 0, block(0xc0)).status).toBe(Status.OK);
    expect(driver.heldTotal).toBe(3 * BS);
    // A domain that ends holding a group gives its bytes back: faulted (it stays known to
    // dom0, stopped) as well as destroyed.
    driver.fault(b!, 'killed holding a group');
    expect(b!.held, 'a faulted domain holds no group').toBeNull();
    expect(driver.heldTotal).toBe(BS);
    driver.destroyDomain(b!.id);
    expect(driver.heldTotal).toBe(BS);
    driver.discardHeld(c!);
    expect(driver.heldTotal).toBe(0);
  });

  it('a hostile crowd: 40 domains each filling their own group get no more than the total held', async () => {
    const n = 40;
    const { driver } = setup(n, { heldLimitBytes: 8 * BS, heldTotalLimitBytes: 64 * BS });
    const ds = await Promise.all(Array.from({ length: n }, async (_, i) => zeroCopy(driver, await driver.createDomain(`clone-${i}`))));
    let accepted = 0;
    for (const d of ds) for (let lba = 0; lba < 8; lba++) if (driver.writeHeld(d, lba, block(lba)).status === Status.OK) accepted++;
    expect(accepted * BS).toBeLessThanOrEqual(64 * BS);
    // The first eight fill the total exactly; every later domain was refused its first write.
    expect(driver.heldTotal).toBe(64 * BS);
    expect(ds.map((d) => d.heldBytes / BS)).toEqual([...Array<number>(8).fill(8), ...Array<number>(n - 8).fill(0)]);
  });
});
