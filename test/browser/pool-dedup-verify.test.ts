// Runs in real Chromium (vitest project `browser`): dedup on write keyed by the read
// checksum and confirmed by comparing bytes (host/pool/write-path.ts, format 3). The read
// checksum is not cryptographic, so these tests write what an attacker in the trust group
// would: blocks crafted to share another block's checksum (test/helpers/checksum-collision.ts).
// A collision must cost a stored copy and a read, never a wrong block.
import { describe, expect, it } from 'vitest';
import type { Pool } from '../../host/pool';
import { chunkChecksum } from '../../host/pool/hash';
import { collidingBlock } from '../helpers/checksum-collision';
import { overwriteChunk } from '../helpers/idb';
import { poolFixture } from '../helpers/pool-fixture';
import { seededRandom } from '../helpers/seed.ts';
import { concat } from '../helpers/bytes';

const BS = 4096;
const fixture = poolFixture('pool-dedup-verify');

/** A fresh pool, or `name` opened again. */
async function open(name?: string, opts: Parameters<typeof Pool.open>[1] = {}): Promise<{ pool: Pool; name: string }> {
  const n = name ?? fixture.newName();
  return { pool: await fixture.open(n, opts), name: n };
}

/** Deterministic, distinct, never all-zero blocks. */
function block(seed: number): Uint8Array {
  const random = seededRandom(0xb10c + seed);
  const b = new Uint8Array(BS);
  for (let i = 0; i < BS; i += 4) new DataView(b.buffer).setUint32(i, Math.floor(random() * 2 ** 32));
  b[0] = 1;
  return b;
}

async function read(pool: Pool, lbas: number[]): Promise<Uint8Array[]> {
  return pool.readBlocks('v', lbas);
}

const counters = (pool: Pool) => {
  const c = pool.stats().counters;
  return { stored: c.blocksStored, deduped: c.blocksDeduped, compares: c.dedupCompares, collisions: c.dedupCollisions };
};

describe('dedup confirmed by comparing bytes', () => {
  it('the crafted block really collides: same read checksum, other bytes', () => {
    const a = block(1);
    const b = collidingBlock(a);
    expect(chunkChecksum(b)).toEqual(chunkChecksum(a));
    expect(b).not.toEqual(a);
  });

  it('a block crafted to collide with a committed chunk is stored, not referenced, and both read back as written', async () => {
    const { pool, name } = await open();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS });
    const a = block(1);
    const evil = collidingBlock(a);
    await pool.write('v', 0, a);
    await pool.commit();
    await pool.write('v', 1, evil);
    expect(counters(pool)).toEqual({ stored: 2, deduped: 0, compares: 1, collisions: 1 });
    expect(await read(pool, [0, 1])).toEqual([a, evil]); // staged
    await pool.commit();
    expect(await read(pool, [0, 1])).toEqual([a, evil]);
    const [ra, rb] = await pool.resolve('v', [0, 1]);
    expect(ra!.chunkId).not.toBe(rb!.chunkId);
    expect((await pool.fsck({ data: true })).problems).toEqual([]);
    // And after a reopen (the index is rebuilt from the chunk map): the same again.
    pool.close();
    const { pool: again } = await open(name);
    await again.write('v', 2, evil);
    await again.write('v', 3, a);
    await again.commit();
    expect(await read(again, [0, 1, 2, 3])).toEqual([a, evil, evil, a]);
    // `a` is indexed and dedups; `evil` shares its key, so it is compared with `a` and stored.
    expect(counters(again)).toEqual({ stored: 1, deduped: 1, compares: 2, collisions: 1 });
  });

  it('collisions with a staged chunk, and inside one write, are caught the same way', async () => {
    const { pool } = await open();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS });
    const a = block(2);
    const evil = collidingBlock(a);
    await pool.write('v', 0, a); // staged, not committed
    await pool.write('v', 1, evil);
    await pool.write('v', 4, concat(a, evil, evil, a)); // earlier blocks of the same write too
    await pool.commit();
    expect(await read(pool, [0, 1, 4, 5, 6, 7])).toEqual([a, evil, a, evil, evil, a]);
    expect((await pool.fsck({ data: true })).problems).toEqual([]);
  });

  it('a collision splits a run: THN counts only confirmed duplicates', async () => {
    const { pool } = await open(undefined, { dedupThreshold: 3 });
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    const run = [block(10), block(11), block(12), block(13)];
    await pool.write('v', 0, concat(...run));
    await pool.commit();
    const before = counters(pool);
    // Same as the stored run but block 2 replaced by a collider: two matches, one miss, one match.
    const forged = [run[0]!, run[1]!, collidingBlock(run[2]!), run[3]!];
    await pool.write('v', 8, concat(...forged));
    let c = counters(pool);
    expect(c.deduped - before.deduped).toBe(0); // no run of 3 confirmed matches
    expect(c.stored - before.stored).toBe(4);
    expect(c.collisions - before.collisions).toBe(1);
    // The unforged run dedups whole.
    await pool.write('v', 16, concat(...run));
    c = counters(pool);
    expect(c.deduped - before.deduped).toBe(4);
    await pool.commit();
    expect(await read(pool, [8, 9, 10, 11, 16, 17, 18, 19])).toEqual([...forged, ...run]);
  });

  it('a damaged candidate is not referenced: the write stores its own good copy', async () => {
    const { pool, name } = await open();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS });
    const a = block(3);
    await pool.write('v', 0, a);
    await pool.commit();
    const [ref] = await pool.resolve('v', [0]);
    pool.close();
    // Damage the stored bytes behind the pool's back.
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const bad = a.slice();
    bad[100]! ^= 1;
    await overwriteChunk(db, ref!, bad);
    db.close();
    const { pool: again } = await open(name);
    await again.write('v', 1, a);
    await again.commit();
    expect(counters(again)).toMatchObject({ stored: 1, deduped: 0 });
    expect((await read(again, [1]))[0]).toEqual(a);
  });

  it('importing the same image twice stores it once: every block compared, none collides', async () => {
    const { pool } = await open();
    const random = seededRandom(0x1ae);
    const bytes = new Uint8Array(64 * BS);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    await pool.importVolume(bytes.slice().buffer, { name: 'one', blockSize: BS, group: 'g' });
    const before = counters(pool);
    await pool.importVolume(bytes.slice().buffer, { name: 'two', blockSize: BS, group: 'g', commitEveryBytes: 16 * BS });
    const c = counters(pool);
    expect(c.stored - before.stored).toBe(0);
    expect(c.deduped - before.deduped).toBe(64);
    expect(c.compares - before.compares).toBe(64);
    expect(c.collisions - before.collisions).toBe(0);
    // Another trust group never matches (ARCHITECTURE invariant 3), so nothing is read to compare.
    await pool.importVolume(bytes.slice().buffer, { name: 'three', blockSize: BS, group: 'h' });
    expect(counters(pool).compares - c.compares).toBe(0);
    expect(counters(pool).stored - c.stored).toBe(64);
  });
});
