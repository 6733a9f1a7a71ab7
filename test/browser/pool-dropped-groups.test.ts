// Runs in the browser (real IndexedDB). Every caller's staged changes share the pool's open
// transaction group, so one caller's failed commit drops the others' writes too. A writer
// must then learn that its writes were dropped: a later commit with nothing left to write
// used to resolve, and dom0 acknowledged a guest's write that was never stored, an import
// completed with a hole where a slice had been.
import { describe, expect, it } from 'vitest';
import { CommitError, GroupDroppedError, Pool, PoolClosedError } from '../../host/pool';
import { Dom0Driver } from '../../host/dom0/driver';
import { PoolBlockStore } from '../../host/dom0/pool-block-store';
import { Status } from '../../shared/protocol';
import { zeroCopy } from '../unit/helpers/zero-copy-domain';
import { poolFixture } from '../helpers/pool-fixture';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);
const { newName, open } = poolFixture('pool-dropped');

/** A pool whose next commit fails when `failNext()` was called. */
async function failingPool(): Promise<{ pool: Pool; failNext: () => void }> {
  let fail = false;
  const pool = await open(newName(), {
    registry: null,
    hooks: {
      beforeComplete: () => {
        if (!fail) return;
        fail = false;
        throw new Error('injected commit failure');
      },
    },
  });
  await pool.createVolume('v', { sizeBytes: 64 * BS, blockSize: BS });
  await pool.write('v', 0, block(1));
  await pool.commit();
  return { pool, failNext: () => (fail = true) };
}

describe('writes in a dropped transaction group', () => {
  it("commit({ groups }) rejects when another caller's failed commit dropped the caller's write", async () => {
    const { pool, failNext } = await failingPool();
    const g = await pool.write('v', 0, block(2));
    failNext();
    // Another caller commits and fails: the whole staged group goes, this write with it.
    await expect(pool.commit()).rejects.toBeInstanceOf(CommitError);
    const err: unknown = await pool.commit({ groups: [g] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroupDroppedError);
    expect((err as GroupDroppedError).group).toBe(g);
    expect((err as GroupDroppedError).cause).toBeInstanceOf(CommitError);
    expect((await pool.readBlocks('v', [0]))[0]![0]).toBe(1);
    // A write after the drop is in a new group and commits; the old group stays reported.
    const g2 = await pool.write('v', 1, block(3));
    expect(g2).toBeGreaterThan(g);
    const txg = pool.txg;
    await expect(pool.commit({ groups: [g2] })).resolves.toBe(txg + 1);
    expect((await pool.readBlocks('v', [1]))[0]![0]).toBe(3);
    // The dropped writer's commit still commits what others staged since, then reports.
    const g3 = await pool.write('v', 2, block(4));
    await expect(pool.commit({ groups: [g] })).rejects.toBeInstanceOf(GroupDroppedError);
    expect(pool.txg).toBe(txg + 2);
    expect((await pool.readBlocks('v', [2]))[0]![0]).toBe(4);
    // A group that committed is never reported, however many groups later it is asked about.
    await expect(pool.commit({ groups: [g2, g3] })).resolves.toBe(txg + 2);
  });

  it('discard() and close() drop the group as a failed commit does', async () => {
    const { pool } = await failingPool();
    const g = await pool.write('v', 2, block(4));
    await pool.discard();
    await expect(pool.commit({ groups: [g] })).rejects.toBeInstanceOf(GroupDroppedError);
    const g2 = await pool.write('v', 2, block(5));
    expect(g2).toBeGreaterThan(g);
    const name = pool.name;
    pool.close();
    await expect(pool.commit({ groups: [g2] })).rejects.toBeInstanceOf(PoolClosedError);
    const again = await open(name, { registry: null });
    expect((await again.readBlocks('v', [2]))[0]![0]).toBe(0);
  });

  it("an import whose slice another caller's failed commit dropped fails and leaves no volume, instead of completing with a hole", async () => {
    const { pool, failNext } = await failingPool();
    const src = new Uint8Array(8 * BS).map((_, i) => (i * 7 + 1) & 0xff);
    // Between staging the first slice and committing it, another caller's commit fails.
    const stage = pool.stagePreparedBlocks.bind(pool);
    let first = true;
    pool.stagePreparedBlocks = async (...args) => {
      const group = await stage(...args);
      if (first) {
        first = false;
        failNext();
        await pool.commit().catch(() => undefined);
      }
      return group;
    };
    const err: unknown = await pool.importVolume(src.slice().buffer, { name: 'img', blockSize: BS, commitEveryBytes: 2 * BS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroupDroppedError);
    expect(pool.list().map((d) => d.name)).toEqual(['v']);
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it("dom0 refuses a guest's write that a failed control-plane commit dropped, and the block reads as before", async () => {
    const { pool, failNext } = await failingPool();
    await pool.snapshot('v', 'v@base');
    await pool.clone('v@base', 'mine');
    await pool.commit();
    const driver = new Dom0Driver(new PoolBlockStore(pool), { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
    const d = zeroCopy(driver, await driver.createDomain('mine'));
    // The guest's write is staged at once; its group commit waits for the rest of the batch.
    const write = driver.write(d, 0, block(0xaa));
    // The control plane's snapshot commits first, and fails.
    failNext();
    await expect(pool.snapshotCommitted('mine', 'mine@1')).rejects.toBeInstanceOf(CommitError);
    expect((await write).status).toBe(Status.IO);
    expect((await pool.readBlocks('mine', [0]))[0]![0]).toBe(1);
    const r = await driver.read(d, 0);
    expect(r.status).toBe(Status.OK);
    expect(driver.frameView(d, r.frame)[0]).toBe(1);
    // The next write goes through.
    expect((await driver.write(d, 0, block(0xbb))).status).toBe(Status.OK);
    expect((await pool.readBlocks('mine', [0]))[0]![0]).toBe(0xbb);
  });
});
