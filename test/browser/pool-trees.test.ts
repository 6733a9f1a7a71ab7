// Runs in real Chromium (vitest browser mode): snapshot/clone semantics, holes and zero
// blocks, space reclamation, typed errors, persistence across reopen — on real IndexedDB.
import { describe, expect, it } from 'vitest';
import {
  DatasetExistsError,
  HasClonesError,
  InvalidArgumentError,
  OutOfRangeError,
  Pool,
  PoolClosedError,
  PoolFormatError,
  ReadOnlyDatasetError,
  StaleBlockRefError,
  UnknownDatasetError,
} from '../../host/pool';
import { poolFixture } from '../helpers/pool-fixture';

const BS = 4096;
const fixture = poolFixture('pool-trees');

async function freshPool(): Promise<{ pool: Pool; name: string }> {
  const name = fixture.newName();
  return { pool: await fixture.open(name), name };
}

const reopen = (name: string): Promise<Pool> => fixture.open(name);

function block(seed: number, size = BS): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i += 4) new DataView(b.buffer).setUint32(i, (seed * 2654435761 + i) >>> 0);
  return b;
}


describe('pool block trees', () => {
  it('reads unwritten blocks as zeros and stores nothing for them', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 1 << 30, blockSize: BS });
    await pool.commit();
    const [a, b] = await pool.readBlocks('v', [0, (1 << 30) / BS - 1]);
    expect(a).toEqual(new Uint8Array(BS));
    expect(b).toEqual(new Uint8Array(BS));
    expect(await pool.resolve('v', [5])).toEqual([null]);
    expect(pool.stats().storedBytes).toBe(0);
    expect(pool.info('v').writtenBlocks).toBe(0);
  });

  it('never stores all-zero blocks; a zero write punches a hole and frees the chunk', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 64 * BS, blockSize: BS });
    await pool.write('v', 0, new Uint8Array(4 * BS));
    await pool.commit();
    expect(pool.stats().chunks).toBe(0);
    await pool.write('v', 3, block(1));
    await pool.commit();
    expect(pool.stats().storedBytes).toBe(BS);
    await pool.write('v', 3, new Uint8Array(BS));
    await pool.commit();
    expect(pool.stats().storedBytes).toBe(0);
    expect(pool.stats().nodes).toBe(0); // emptied nodes freed too
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('snapshot and clone share every block; writes diverge copy-on-write', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('base', { sizeBytes: 1024 * BS, blockSize: BS });
    for (let i = 0; i < 600; i++) await pool.write('base', i, block(i));
    await pool.commit();
    const before = pool.stats();
    const nodesBefore = pool.stats().nodes;
    await pool.snapshot('base', 'base@1');
    await pool.clone('base@1', 'vm1');
    await pool.commit();
    // O(1): no new chunk, no new node.
    expect(pool.stats().storedBytes).toBe(before.storedBytes);
    expect(pool.stats().nodes).toBe(nodesBefore);
    const [r1] = await pool.resolve('base', [7]);
    const [r2] = await pool.resolve('vm1', [7]);
    expect(r2).toEqual(r1);

    await pool.write('vm1', 7, block(1000));
    await pool.write('base', 8, block(2000));
    await pool.commit();
    expect((await pool.readBlocks('vm1', [7]))[0]).toEqual(block(1000));
    expect((await pool.readBlocks('base@1', [7, 8]))).toEqual([block(7), block(8)]);
    expect((await pool.readBlocks('base', [7, 8]))).toEqual([block(7), block(2000)]);
    expect((await pool.readBlocks('vm1', [8]))[0]).toEqual(block(8));
    // Only the written leaf paths were copied: one leaf and one root per diverged dataset.
    expect(pool.stats().nodes).toBe(nodesBefore + 4);
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('destroying datasets frees exactly the blocks no one else references', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('base', { sizeBytes: 512 * BS, blockSize: BS });
    for (let i = 0; i < 300; i++) await pool.write('base', i, block(i));
    await pool.snapshot('base', 'base@1');
    await pool.clone('base@1', 'vm1');
    await pool.commit();
    for (let i = 0; i < 10; i++) await pool.write('vm1', i, block(5000 + i)); // 10 private to vm1
    for (let i = 10; i < 15; i++) await pool.write('base', i, block(6000 + i)); // 5 private to base
    await pool.commit();
    expect(pool.stats().storedBytes).toBe(315 * BS);

    await expect(pool.destroy('base@1')).rejects.toBeInstanceOf(HasClonesError);
    await pool.destroy('vm1');
    await pool.commit();
    expect(pool.stats().storedBytes).toBe(305 * BS); // vm1's own 10 went; shared stayed
    await pool.destroy('base');
    await pool.commit();
    expect(pool.stats().storedBytes).toBe(300 * BS); // base's own 5 went; the snapshot holds 300
    expect(await pool.readBlocks('base@1', [0, 299])).toEqual([block(0), block(299)]);
    await pool.destroy('base@1');
    await pool.commit();
    const s = pool.stats();
    expect(s.storedBytes).toBe(0);
    expect(s.chunks).toBe(0);
    expect(s.metaslabs.every((m) => m.liveBytes === 0 && m.liveChunks === 0)).toBe(true);
    expect(pool.stats().nodes).toBe(0);
    expect((await pool.fsck()).ok).toBe(true);
  });

  it('persists the last commit and drops staged changes on close', async () => {
    const { pool, name } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS });
    await pool.write('v', 1, block(1));
    const txg = await pool.commit();
    await pool.write('v', 2, block(2)); // never committed
    await pool.snapshot('v', 'v@x');
    pool.close();
    const again = await reopen(name);
    expect(again.txg).toBe(txg);
    expect(again.list().map((d) => d.name)).toEqual(['v']);
    expect(await again.readBlocks('v', [1, 2])).toEqual([block(1), new Uint8Array(BS)]);
    const report = await again.fsck({ data: true });
    expect(report).toMatchObject({ ok: true, verified: 1 });
  });

  it('reads its own staged writes before commit', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS });
    await pool.write('v', 0, block(9));
    const [b] = await pool.readBlocks('v', [0]);
    expect(b).toEqual(block(9));
    b![0] = 0xff; // the caller's copy; the staged bytes are untouched
    await pool.commit();
    expect((await pool.readBlocks('v', [0]))[0]).toEqual(block(9));
  });

  it('gives typed errors and changes nothing on bad input', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS });
    await pool.snapshot('v', 'v@1');
    await pool.commit();
    const txg = pool.txg;
    await expect(pool.readBlocks('nope', [0])).rejects.toBeInstanceOf(UnknownDatasetError);
    await expect(pool.readBlocks('v', [16])).rejects.toBeInstanceOf(OutOfRangeError);
    await expect(pool.readBlocks('v', [-1])).rejects.toBeInstanceOf(OutOfRangeError);
    await expect(pool.write('v', 15, block(1, 2 * BS))).rejects.toBeInstanceOf(OutOfRangeError);
    await expect(pool.write('v', 0, new Uint8Array(100))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(pool.write('v@1', 0, block(1))).rejects.toBeInstanceOf(ReadOnlyDatasetError);
    await expect(pool.createVolume('v', { sizeBytes: BS })).rejects.toBeInstanceOf(DatasetExistsError);
    await expect(pool.createVolume('w', { sizeBytes: BS, blockSize: 3000 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(pool.clone('v', 'c')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(pool.destroy('nope')).rejects.toBeInstanceOf(UnknownDatasetError);
    const e = await pool.readBlocks('v', [99]).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/block 99 is outside dataset "v"/);
    expect(await pool.commit()).toBe(txg); // nothing was staged
    expect(pool.list().map((d) => d.name)).toEqual(['v', 'v@1']);
  });

  it('applies concurrent writes in call order, whatever order their hashing finishes in', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 4096 * BS, blockSize: BS });
    const big = new Uint8Array(512 * BS).fill(7); // hashes slower than the one-block write after it
    const writes = [pool.write('v', 0, big), pool.write('v', 0, block(1)), pool.snapshot('v', 'v@1'), pool.write('v', 0, block(2))];
    await Promise.all(writes);
    await pool.commit();
    expect(await pool.readBlocks('v@1', [0, 1])).toEqual([block(1), new Uint8Array(BS).fill(7)]);
    expect((await pool.readBlocks('v', [0]))[0]).toEqual(block(2));
    expect((await pool.fsck()).ok).toBe(true);
  });

  it('refuses use after close, and steps aside when another connection upgrades the database', async () => {
    const { pool, name } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS });
    await pool.commit();
    // Another tab opens the database at a newer version: the pool closes itself instead of blocking it.
    const newer = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name, 99);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    newer.close();
    await expect(pool.readBlocks('v', [0])).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.commit()).rejects.toBeInstanceOf(PoolClosedError);
    expect(() => pool.list()).toThrow(PoolClosedError);
    await expect(Pool.open(name)).rejects.toBeInstanceOf(PoolFormatError);
  });

  it('accepts a partial last block at the end of the volume', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 2 * BS + 100, blockSize: BS });
    const tail = block(3).subarray(0, 100);
    await pool.write('v', 2, tail);
    await pool.commit();
    const [b] = await pool.readBlocks('v', [2]);
    expect(b!.subarray(0, 100)).toEqual(tail);
    expect(b!.subarray(100)).toEqual(new Uint8Array(BS - 100));
  });

  it('handles a multi-level tree (more blocks than one node spans)', async () => {
    const { pool } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 256 * 256 * 4 * BS, blockSize: BS }); // 3 levels
    const lbas = [0, 255, 256, 65535, 65536, 262143];
    for (const l of lbas) await pool.write('v', l, block(l));
    await pool.snapshot('v', 'v@1');
    await pool.write('v', 65536, block(1));
    await pool.commit();
    expect(await pool.readBlocks('v@1', lbas)).toEqual(lbas.map((l) => block(l)));
    expect((await pool.readBlocks('v', [65536]))[0]).toEqual(block(1));
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });
});

describe('pool resolve', () => {
  it('resolveSync agrees with resolve and BlockRefs carry chunk identity, group and, once computed, the SHA-256', async () => {
    const { pool, name } = await freshPool();
    await pool.createVolume('v', { sizeBytes: 16 * BS, blockSize: BS, group: 'g1' });
    await pool.write('v', 2, block(2));
    await pool.commit();
    const refs = await pool.resolve('v', [1, 2]);
    expect(pool.resolveSync('v', [1, 2])).toEqual(refs);
    expect(refs[0]).toBeNull();
    const ref = refs[1]!;
    expect(ref).toMatchObject({ group: 'g1', size: BS, metaslab: 0 });
    expect(ref.hash).toBeNull(); // writes do not hash (format 3)
    const sha = new Uint8Array(await crypto.subtle.digest('SHA-256', block(2) as BufferSource));
    const txg = pool.txg;
    // The pool reads the chunk and hands its bytes to the hash function (the archive's
    // putContent in production), then keeps what comes back under that chunk.
    const given: [number, Uint8Array][] = [];
    const digest = async (b: Uint8Array, chunkId: number): Promise<Uint8Array> => {
      given.push([chunkId, b.slice()]);
      return new Uint8Array(await crypto.subtle.digest('SHA-256', b as BufferSource));
    };
    expect(await pool.hashChunks([ref.chunkId], digest)).toBe(1);
    expect(given).toEqual([[ref.chunkId, block(2)]]);
    expect(pool.txg).toBe(txg + 1); // nothing else was staged: kept at once
    expect(pool.stats().counters.hashesKept).toBe(1);
    const again = (await pool.resolve('v', [2]))[0]!;
    expect(again.hash).toEqual(sha);
    again.hash![0]! ^= 0xff; // a copy: scribbling on it does not touch the pool
    expect((await pool.resolve('v', [2]))[0]!.hash).toEqual(sha);
    // A chunk's hash never changes: a second one is not kept.
    expect(await pool.hashChunks([ref.chunkId], async () => new Uint8Array(32))).toBe(0);
    expect((await pool.resolve('v', [2]))[0]!.hash).toEqual(sha);
    expect(pool.stats().counters.hashesKept).toBe(1);
    // A hash of the wrong size keeps nothing, not even the chunks hashed right before it;
    // neither does a hash function that fails.
    await pool.write('v', 3, block(3));
    await pool.write('v', 4, block(4));
    await pool.commit();
    const [r3, r4] = (await pool.resolve('v', [3, 4])) as [NonNullable<typeof ref>, NonNullable<typeof ref>];
    const short = async (b: Uint8Array, id: number): Promise<Uint8Array> => (id === r4.chunkId ? new Uint8Array(31) : digest(b, id));
    await expect(pool.hashChunks([r3.chunkId, r4.chunkId], short)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(pool.hashChunks([r3.chunkId], async () => Promise.reject(new Error('archive full')))).rejects.toThrow('archive full');
    expect((await pool.resolve('v', [3, 4])).map((r) => r!.hash)).toEqual([null, null]);
    expect(pool.stats().counters.hashesKept).toBe(1);
    // A chunk that is gone is refused by the read, as readChunks refuses it.
    await expect(pool.hashChunks([9999], digest)).rejects.toBeInstanceOf(StaleBlockRefError);
    // Kept on disk: a reopened pool has it, and fsck checks it against the bytes.
    pool.close();
    const reopened = await reopen(name);
    expect((await reopened.resolve('v', [2]))[0]!.hash).toEqual(sha);
    expect((await reopened.fsck({ data: true })).problems).toEqual([]);
  });
});
