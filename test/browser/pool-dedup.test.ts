// Runs in real Chromium: dedup on write inside a trust group, the THN run threshold,
// no dedup across groups, and the logical/stored/ratio counters.
import { describe, expect, it } from 'vitest';
import type { Pool } from '../../host/pool';
import { concat } from '../helpers/bytes';
import { poolFixture } from '../helpers/pool-fixture';

const BS = 4096;
const { newName, open } = poolFixture('pool-dedup');
const freshPool = (opts: Parameters<typeof open>[1] = {}): Promise<Pool> => open(newName(), opts);

function block(seed: number): Uint8Array {
  const b = new Uint8Array(BS);
  b.fill(seed % 251 + 1);
  new DataView(b.buffer).setUint32(0, seed);
  return b;
}


describe('pool dedup', () => {
  it('stores a repeated block once within a trust group and counts references', async () => {
    const pool = await freshPool();
    await pool.createVolume('a', { sizeBytes: 64 * BS, blockSize: BS, group: 'g' });
    await pool.createVolume('b', { sizeBytes: 64 * BS, blockSize: BS, group: 'g' });
    await pool.write('a', 0, concat(block(1), block(1), block(2)));
    await pool.write('b', 5, block(1));
    await pool.commit();
    const s = pool.stats();
    expect(s.storedBytes).toBe(2 * BS);
    expect(s.logicalBytes).toBe(4 * BS);
    expect(s.dedupRatio).toBe(2);
    expect(s.counters).toMatchObject({ blocksStored: 2, blocksDeduped: 2 });
    const [ra] = await pool.resolve('a', [0]);
    const [rb] = await pool.resolve('b', [5]);
    expect(rb!.chunkId).toBe(ra!.chunkId);
    expect([rb!.metaslab, rb!.offset]).toEqual([ra!.metaslab, ra!.offset]);
    // Dropping one reference keeps the chunk; dropping the last frees it.
    await pool.destroy('a');
    await pool.commit();
    expect(pool.stats()).toMatchObject({ storedBytes: BS, logicalBytes: BS });
    expect((await pool.readBlocks('b', [5]))[0]).toEqual(block(1));
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('a write may reference a chunk that an earlier block of the same write frees (a block moved one LBA on)', async () => {
    const pool = await freshPool();
    await pool.createVolume('a', { sizeBytes: 8 * BS, blockSize: BS, group: 'g' });
    await pool.write('a', 0, block(1));
    await pool.commit();
    // Block 0's only reference goes first (a hole over it), then block 1 dedups against it.
    await pool.write('a', 0, concat(new Uint8Array(BS), block(1)));
    await pool.commit();
    const [b0, b1] = await pool.readBlocks('a', [0, 1]);
    expect(b0).toEqual(new Uint8Array(BS));
    expect(b1).toEqual(block(1));
    expect(pool.stats()).toMatchObject({ chunks: 1 });
    // And with other bytes over it instead of a hole.
    await pool.write('a', 1, concat(block(2), block(1)));
    await pool.commit();
    expect(await pool.readBlocks('a', [1, 2])).toEqual([block(2), block(1)]);
    expect(pool.stats()).toMatchObject({ chunks: 2 });
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('never dedups across trust groups', async () => {
    const pool = await freshPool();
    await pool.createVolume('a', { sizeBytes: 8 * BS, blockSize: BS, group: 'tenant-1' });
    await pool.createVolume('b', { sizeBytes: 8 * BS, blockSize: BS, group: 'tenant-2' });
    await pool.write('a', 0, block(7));
    await pool.write('b', 0, block(7));
    await pool.commit();
    const [ra] = await pool.resolve('a', [0]);
    const [rb] = await pool.resolve('b', [0]);
    expect(rb!.chunkId).not.toBe(ra!.chunkId);
    expect(ra!.group).toBe('tenant-1');
    expect(rb!.group).toBe('tenant-2');
    expect(pool.stats()).toMatchObject({ storedBytes: 2 * BS, dedupRatio: 1 });
  });

  it('a clone into another group shares its origin blocks but dedups only within its own group', async () => {
    const pool = await freshPool();
    await pool.createVolume('img', { sizeBytes: 8 * BS, blockSize: BS });
    await pool.write('img', 0, block(1));
    await pool.snapshot('img', 'img@1');
    await pool.clone('img@1', 'guest', { group: 'other' });
    await pool.commit();
    const [r] = await pool.resolve('guest', [0]);
    expect(r!.group).toBe('other'); // frames are keyed by (group, chunkId): no cross-group frame
    await pool.write('guest', 1, block(1)); // same content as img's block, other group: stored anew
    await pool.commit();
    const [r1] = await pool.resolve('guest', [1]);
    expect(r1!.chunkId).not.toBe(r!.chunkId);
    expect(pool.stats().storedBytes).toBe(2 * BS);
  });

  it('THN: dedups only runs of at least THN consecutive matching blocks', async () => {
    const pool = await freshPool({ dedupThreshold: 3 });
    await pool.createVolume('v', { sizeBytes: 64 * BS, blockSize: BS });
    await pool.write('v', 0, concat(block(1), block(2), block(3), block(4)));
    await pool.commit();
    expect(pool.stats().counters.blocksStored).toBe(4);
    // Run of 2 matching blocks (1,2), a new one, then a run of 2 (3,4): both too short.
    await pool.write('v', 10, concat(block(1), block(2), block(99), block(3), block(4)));
    await pool.commit();
    expect(pool.stats().counters).toMatchObject({ blocksStored: 9, blocksDeduped: 0 });
    // Run of 3: deduped.
    await pool.write('v', 20, concat(block(50), block(1), block(2), block(3)));
    await pool.commit();
    expect(pool.stats().counters).toMatchObject({ blocksStored: 10, blocksDeduped: 3 });
    // A zero block breaks a run.
    await pool.write('v', 30, concat(block(1), block(2), new Uint8Array(BS), block(3)));
    await pool.commit();
    expect(pool.stats().counters).toMatchObject({ blocksStored: 13, blocksDeduped: 3, zeroBlocks: 1 });
    // A per-write THN overrides the pool's.
    await pool.write('v', 40, block(4), { dedupThreshold: 1 });
    await pool.commit();
    expect(pool.stats().counters.blocksDeduped).toBe(4);
    expect(await pool.readBlocks('v', [10, 11, 12, 13, 14, 20, 23])).toEqual([block(1), block(2), block(99), block(3), block(4), block(50), block(3)]);
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('dedup index survives reopen', async () => {
    const name = newName();
    const p1 = await open(name);
    await p1.createVolume('v', { sizeBytes: 8 * BS, blockSize: BS });
    await p1.write('v', 0, block(5));
    await p1.commit();
    p1.close();
    const p2 = await open(name);
    await p2.write('v', 1, block(5));
    await p2.commit();
    expect(p2.stats()).toMatchObject({ storedBytes: BS, logicalBytes: 2 * BS });
  });
});
