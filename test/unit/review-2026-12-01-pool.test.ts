// Node, the real pool on fake-indexeddb: after a failed commit the pool hands out the
// failed group's chunk ids again, and frames are keyed by chunk id. A frame filled from a
// chunk that was staged, read, then discarded by the failed commit still answers for that
// key when the id names another block (review of 2026-12-01, docs/isolation.md section 4).
import 'fake-indexeddb/auto';
import { expect, it } from 'vitest';
import { Pool } from '../../host/pool';
import { Dom0Driver } from '../../host/dom0/driver';
import { PoolBlockStore } from '../../host/dom0/pool-block-store';
import { Status } from '../../shared/protocol';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);

it('a block read from a write whose commit then failed is not served for the next block given its chunk id', async () => {
  let failNext = false;
  const pool = await Pool.open(`review-reuse-${Date.now()}`, {
    registry: null,
    durability: 'relaxed',
    hooks: {
      beforeComplete: () => {
        if (failNext) {
          failNext = false;
          throw new Error('injected commit failure');
        }
      },
    },
  });
  await pool.createVolume('img', { sizeBytes: 8 * BS, blockSize: BS });
  await pool.write('img', 0, block(9));
  await pool.commit();
  await pool.snapshot('img', 'img@s');
  await pool.clone('img@s', 'mine');
  await pool.commit();
  let onStaged = (): void => undefined;
  /** Tells the test when a write is staged (visible to resolveSync, not yet committed). */
  class SignallingStore extends PoolBlockStore {
    override write(dataset: string, lba: number, bytes: Uint8Array): Promise<number> {
      const p = super.write(dataset, lba, bytes);
      void p.then(() => onStaged());
      return p;
    }
  }
  const store = new SignallingStore(pool);
  const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
  const d = zeroCopy(driver, await driver.createDomain('mine'));

  failNext = true;
  let r1p: ReturnType<Dom0Driver['read']> | null = null;
  // The guest reads its write while the commit is in flight: served from the staged chunk.
  let staged: { key: string } | null = null;
  onStaged = () => {
    staged = store.resolveSync('mine', [3])[0] ?? null;
    r1p = driver.read(d, 3);
  };
  const w1 = driver.write(d, 3, block(0xaa));
  for (let i = 0; i < 200 && r1p === null; i++) await new Promise((r) => setTimeout(r, 0));
  onStaged = () => undefined;
  expect(staged).not.toBeNull();
  const r1 = await r1p!;
  expect(r1.status).toBe(Status.OK);
  expect((await w1).status).not.toBe(Status.OK); // the commit failed: nothing of it is durable
  driver.unmap(d, 3, -1);

  // Before the fix the next write got the same chunk id (the failed group's ids were
  // handed out again), and the frame still keyed by it held 0xaa.
  expect((await driver.write(d, 5, block(0xbb))).status).toBe(Status.OK);
  const r2 = await driver.read(d, 5);
  expect(r2.status).toBe(Status.OK);
  expect(driver.frameView(d, r2.frame)).toEqual(block(0xbb));
  expect(store.resolveSync('mine', [5])[0]!.key).not.toBe(staged!.key);
  // And the LBA whose write failed reads as the pool has it: a hole.
  const r3 = await driver.read(d, 3);
  expect(r3.frame).toBe(-1);
  pool.close();
});
