// Runs in real Chromium: corruption detection (a data record altered behind the pool's
// back through raw IndexedDB) and the failed-commit contract (quota and constraint
// failures leave memory and disk at the last commit).
import { describe, expect, it } from 'vitest';
import { ChecksumError, CommitError, Pool, PoolFormatError, PoolFullError, StaleBlockRefError } from '../../host/pool';
import { overwriteChunk, rawDb } from '../helpers/idb';
import { poolFixture } from '../helpers/pool-fixture';

const BS = 4096;
const { newName, open } = poolFixture('pool-integrity');

function block(seed: number): Uint8Array {
  const b = new Uint8Array(BS);
  for (let i = 0; i < BS; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  b[0] = 1;
  return b;
}

function rawPut(db: IDBDatabase, store: string, value: unknown, key?: IDBValidKey): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, 'readwrite');
    tx.objectStore(store).put(value, key);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

function rawDelete(db: IDBDatabase, store: string, key: IDBValidKey): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, 'readwrite');
    tx.objectStore(store).delete(key);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}


describe('pool integrity', () => {
  it('detects a corrupted data record and names dataset, block and chunk', async () => {
    const name = newName();
    let pool = await open(name);
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    for (let i = 0; i < 8; i++) await pool.write('v', i, block(i));
    await pool.commit();
    const [ref] = await pool.resolve('v', [5]);
    pool.close();

    const db = await rawDb(name);
    const bad = block(5);
    bad[100]! ^= 1; // one bit
    await overwriteChunk(db, ref!, bad);
    db.close();

    pool = await open(name);
    const e = await pool.readBlocks('v', [3, 4, 5, 6]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    const ce = e as ChecksumError;
    expect(ce.detail).toMatchObject({ dataset: 'v', lba: 5, chunkId: ref!.chunkId, metaslab: ref!.metaslab, offset: ref!.offset });
    expect(ce.message).toMatch(/dataset "v" block 5, chunk \d+ at metaslab 0 offset \d+: checksum mismatch/);
    // readChunks (the dom0 path) detects it too; good blocks still read.
    await expect(pool.readChunks([ref!])).rejects.toBeInstanceOf(ChecksumError);
    expect((await pool.readBlocks('v', [4]))[0]).toEqual(block(4));
    const report = await pool.fsck({ data: true });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/checksum mismatch/);
  });

  it('detects a missing data record', async () => {
    const name = newName();
    let pool = await open(name);
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    await pool.write('v', 0, block(1));
    await pool.commit();
    const [ref] = await pool.resolve('v', [0]);
    pool.close();
    const db = await rawDb(name);
    await rawDelete(db, 'data', [ref!.metaslab, ref!.offset]);
    db.close();
    pool = await open(name);
    const e = await pool.readBlocks('v', [0]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    expect((e as ChecksumError).detail.actual).toBeNull();
  });

  it('a clone alone commits relaxed; with writes staged beside it, with the pool\'s durability (they are acknowledged by it)', async () => {
    const name = newName();
    const seen: string[] = [];
    const pool = await open(name, { hooks: { beforeComplete: (tx) => void seen.push(tx.durability) } });
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    await pool.write('v', 0, block(1));
    await pool.snapshot('v', 'v@1');
    await pool.commit();
    expect(seen).toEqual(['strict']);
    await pool.cloneCommitted('v@1', 'c1');
    expect(seen).toEqual(['strict', 'relaxed']);
    await pool.write('v', 1, block(2)); // staged, not yet committed
    await pool.cloneCommitted('v@1', 'c2');
    expect(seen).toEqual(['strict', 'relaxed', 'strict']);
    expect(pool.stats().datasets).toBe(4);
    // Both clones and the write are there after a reopen.
    pool.close();
    const again = await open(name);
    expect([again.info('c1').kind, again.info('c2').kind]).toEqual(['clone', 'clone']);
    expect((await again.readBlocks('v', [1]))[0]).toEqual(block(2));
  });

  it('a commit that hits QuotaExceededError gives PoolFullError and the pool stays at its last commit', async () => {
    const name = newName();
    let fail = false;
    const pool = await open(name, {
      hooks: {
        beforeComplete: () => {
          if (fail) throw new DOMException('simulated: the quota has been exceeded', 'QuotaExceededError');
        },
      },
    });
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    await pool.write('v', 0, block(1));
    const txg = await pool.commit();
    const before = pool.stats();

    fail = true;
    await pool.write('v', 0, block(2)); // overwrite: would free block(1)'s chunk
    await pool.write('v', 1, block(3));
    await pool.snapshot('v', 'v@1');
    const e = await pool.commit().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PoolFullError);
    expect((e as PoolFullError).cause).toBeInstanceOf(DOMException);
    expect((e as Error).message).toMatch(/stays at txg 1/);

    // In memory: the last commit.
    expect(pool.txg).toBe(txg);
    expect(pool.list().map((d) => d.name)).toEqual(['v']);
    expect(await pool.readBlocks('v', [0, 1])).toEqual([block(1), new Uint8Array(BS)]);
    expect(pool.stats()).toMatchObject({ storedBytes: before.storedBytes, chunks: before.chunks, metaslabs: before.metaslabs });
    expect((await pool.fsck({ data: true })).ok).toBe(true);
    // On disk: the last commit.
    fail = false;
    pool.close();
    const again = await open(name);
    expect(again.txg).toBe(txg);
    expect(await again.readBlocks('v', [0, 1])).toEqual([block(1), new Uint8Array(BS)]);
    expect((await again.fsck({ data: true })).ok).toBe(true);
    // And the pool keeps working.
    await again.write('v', 1, block(3));
    expect(await again.commit()).toBe(txg + 1);
  });

  it('a clone commits while another connection holds a readonly transaction on the block data', async () => {
    // A guest's pool read is a readonly transaction on 'data'. A commit whose scope took in
    // every store would queue behind it; a clone writes no data, so it must not wait.
    const name = newName();
    const pool = await open(name);
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    await pool.write('v', 0, block(1));
    await pool.commit();
    await pool.snapshot('v', 'v@s');
    await pool.commit();
    const [ref] = await pool.resolve('v', [0]);
    const db = await rawDb(name);
    // Keep one readonly transaction on 'data' busy for up to 1.5 s, one get after another.
    const holdUntil = performance.now() + 1500;
    let stop = false;
    const readerDone = new Promise<number>((resolve, reject) => {
      const tx = db.transaction('data', 'readonly');
      const store = tx.objectStore('data');
      const next = (): void => {
        const r = store.get([ref!.metaslab, ref!.offset]);
        r.onsuccess = () => {
          if (!stop && performance.now() < holdUntil) next();
        };
      };
      next();
      tx.oncomplete = () => resolve(performance.now());
      tx.onabort = () => reject(tx.error);
    });
    await new Promise((r) => setTimeout(r, 20)); // the reader's transaction is running
    await pool.clone('v@s', 'c');
    await pool.commit();
    const committedAt = performance.now();
    stop = true;
    const readerEnded = await readerDone;
    db.close();
    expect(committedAt).toBeLessThan(readerEnded);
    expect(committedAt).toBeLessThan(holdUntil);
    // And the narrower transaction made the clone durable: a reopened pool has it.
    pool.close();
    const again = await open(name);
    expect(again.list().map((d) => d.name)).toContain('c');
    expect(await again.readBlocks('c', [0])).toEqual([block(1)]);
  });

  it('a commit whose request fails inside IndexedDB aborts whole (CommitError)', async () => {
    const name = newName();
    let fail = false;
    const pool = await open(name, {
      hooks: {
        // A real failing request: add() of an existing key → ConstraintError → the transaction aborts.
        beforeComplete: (tx) => {
          if (fail) tx.objectStore('meta').add({}, 'super');
        },
      },
    });
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    await pool.write('v', 0, block(1));
    const txg = await pool.commit();
    fail = true;
    await pool.write('v', 0, block(9));
    const e = await pool.commit().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CommitError);
    expect(((e as CommitError).cause as DOMException).name).toBe('ConstraintError');
    fail = false;
    pool.close();
    const again = await open(name);
    expect(again.txg).toBe(txg);
    expect((await again.readBlocks('v', [0]))[0]).toEqual(block(1));
    expect((await again.fsck({ data: true })).ok).toBe(true);
  });

  it('a BlockRef to a freed chunk is refused as stale', async () => {
    const pool = await open(newName());
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    await pool.write('v', 0, block(1));
    await pool.commit();
    const [ref] = await pool.resolve('v', [0]);
    await pool.write('v', 0, new Uint8Array(BS));
    await pool.commit();
    await expect(pool.readChunks([ref!])).rejects.toBeInstanceOf(StaleBlockRefError);
  });

  // The read checksum (hash.ts chunkChecksum) and the format-1 → 2 → 3 upgrades (schema.ts).

  const sha256 = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.digest('SHA-256', b as BufferSource));

  /**
   * Chunk-map page 0 as format 2 wrote it: every chunk's SHA-256, no hasHash column, no
   * extent column (the pool must have written every chunk as a record of its own: opened
   * with `extentBytes: 0`, as formats before 4 wrote).
   */
  async function asFormat2Page(db: IDBDatabase, contents: Map<number, Uint8Array>): Promise<Record<string, unknown>> {
    const { hasHash: _hh, extent: _e, ...page } = await rawGet<Record<string, unknown> & { hash: Uint8Array }>(db, 'chunkmap', 0);
    for (const [chunkId, bytes] of contents) page.hash.set(await sha256(bytes), (chunkId % 256) * 32);
    return page;
  }

  function rawGet<T>(db: IDBDatabase, store: string, key: IDBValidKey): Promise<T> {
    return new Promise((resolve, reject) => {
      const r = db.transaction(store, 'readonly').objectStore(store).get(key);
      r.onsuccess = () => resolve(r.result as T);
      r.onerror = () => reject(r.error);
    });
  }

  it('reads are verified by the 128-bit read checksum: any one corrupted word of a chunk is detected', async () => {
    const name = newName();
    let pool = await open(name);
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    for (let i = 0; i < 4; i++) await pool.write('v', i, block(i));
    await pool.commit();
    const [ref] = await pool.resolve('v', [2]);
    pool.close();
    // A fixed-seed draw of words to damage, one at a time, each in a different way.
    let seed = 0x5eed16;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let trial = 0; trial < 6; trial++) {
      const bad = block(2);
      const words = new Uint32Array(bad.buffer);
      const at = trial === 0 ? 0 : trial === 1 ? words.length - 1 : rnd(words.length);
      words[at] = trial === 2 ? 0 : (words[at]! + 1 + rnd(0xfffffffe)) >>> 0;
      const db = await rawDb(name);
      await overwriteChunk(db, ref!, bad);
      db.close();
      pool = await open(name);
      const e = await pool.readBlocks('v', [2]).catch((x: unknown) => x);
      expect(e, `seed 0x5eed16, trial ${trial}, word ${at}`).toBeInstanceOf(ChecksumError);
      // 16 bytes: the read checksum, not SHA-256, caught it.
      expect((e as ChecksumError).detail.expected).toHaveLength(32);
      expect((await pool.readBlocks('v', [1]))[0]).toEqual(block(1));
      pool.close();
    }
  });

  it('fsck checks the SHA-256 identity as well: a chunk-map hash that no longer matches the bytes is reported', async () => {
    const name = newName();
    let pool = await open(name);
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    await pool.write('v', 0, block(1));
    await pool.commit();
    const [ref] = await pool.resolve('v', [0]);
    // What the archive's first store of the chunk does: it computes the hash, the pool keeps it.
    const sha = new Uint8Array(await crypto.subtle.digest('SHA-256', block(1) as BufferSource));
    expect(await pool.hashChunks([ref!.chunkId], async () => sha)).toBe(1);
    pool.close();
    const db = await rawDb(name);
    const page = await rawGet<{ hash: Uint8Array }>(db, 'chunkmap', 0);
    page.hash[(ref!.chunkId % 256) * 32]! ^= 0x80;
    await rawPut(db, 'chunkmap', page);
    db.close();
    pool = await open(name);
    // The read checksum still matches the bytes, so reads succeed...
    expect((await pool.readBlocks('v', [0]))[0]).toEqual(block(1));
    // ...but the archive would trust a wrong address: fsck says so.
    const report = await pool.fsck({ data: true });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/checksum mismatch/);
  });

  it('opens a format-1 pool, verifies its chunks by SHA-256, checksums new chunks, and records format 4', async () => {
    const name = newName();
    let pool = await open(name, { extentBytes: 0 });
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    for (let i = 0; i < 4; i++) await pool.write('v', i, block(i));
    await pool.commit();
    const refs = await pool.resolve('v', [0, 1, 2, 3]);
    const ref = refs[3];
    pool.close();
    // Make it what format 1 wrote: pages with every SHA-256 and without the checksum
    // columns, superblock format 1.
    let db = await rawDb(name);
    const { check: _c, hasCheck: _h, ...v1page } = await asFormat2Page(db, new Map(refs.map((r, i) => [r!.chunkId, block(i)])));
    await rawPut(db, 'chunkmap', v1page);
    const sup = await rawGet<Record<string, unknown>>(db, 'meta', 'super');
    await rawPut(db, 'meta', { ...sup, formatVersion: 1 }, 'super');
    db.close();

    pool = await open(name);
    expect((await pool.readBlocks('v', [0, 1, 2, 3])).map((b) => b[5])).toEqual([0, 1, 2, 3].map((i) => block(i)[5]));
    expect((await pool.fsck({ data: true })).ok).toBe(true);
    await pool.write('v', 8, block(8));
    await pool.commit();
    pool.close();

    db = await rawDb(name);
    expect((await rawGet<{ formatVersion: number }>(db, 'meta', 'super')).formatVersion).toBe(4);
    const page = await rawGet<{ hasCheck: Uint8Array; hasHash: Uint8Array }>(db, 'chunkmap', 0);
    // Old chunks stay without a read checksum (verified by SHA-256); the new one has one,
    // and no SHA-256 (formats 3 and 4 write none).
    expect(Array.from(page.hasCheck.subarray(1, 6))).toEqual([0, 0, 0, 0, 1]);
    expect(Array.from(page.hasHash.subarray(1, 6))).toEqual([1, 1, 1, 1, 0]);
    // An old chunk, corrupted, is still caught: by its SHA-256 (32 bytes).
    const bad = block(3);
    bad[7]! ^= 4;
    await overwriteChunk(db, ref!, bad);
    db.close();
    pool = await open(name);
    const e = await pool.readBlocks('v', [3]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    expect((e as ChecksumError).detail.expected).toHaveLength(64);
    expect((await pool.readBlocks('v', [8]))[0]).toEqual(block(8));
  });

  it('opens a format-2 pool as it is: its chunks keep their SHA-256, dedup matches them by read checksum, and the first commit records format 4', async () => {
    const name = newName();
    let pool = await open(name, { extentBytes: 0 });
    await pool.createVolume('v', { sizeBytes: 32 * BS, blockSize: BS });
    const three = new Uint8Array(3 * BS);
    for (let i = 0; i < 3; i++) three.set(block(i), i * BS);
    await pool.write('v', 0, three);
    await pool.commit();
    const refs = await pool.resolve('v', [0, 1, 2]);
    pool.close();
    let db = await rawDb(name);
    await rawPut(db, 'chunkmap', await asFormat2Page(db, new Map(refs.map((r, i) => [r!.chunkId, block(i)]))));
    const sup = await rawGet<Record<string, unknown>>(db, 'meta', 'super');
    await rawPut(db, 'meta', { ...sup, formatVersion: 2 }, 'super');
    db.close();

    pool = await open(name);
    const old = await pool.resolve('v', [0, 1, 2]);
    for (let i = 0; i < 3; i++) expect(old[i]!.hash).toEqual(await sha256(block(i)));
    // The same bytes written again reference the format-2 chunks (compared, not trusted).
    await pool.write('v', 10, three);
    const c = pool.stats().counters;
    expect([c.blocksDeduped, c.blocksStored, c.dedupCompares, c.dedupCollisions]).toEqual([3, 0, 3, 0]);
    await pool.write('v', 20, block(9));
    await pool.commit();
    expect((await pool.resolve('v', [10, 11, 12])).map((r) => r!.chunkId)).toEqual(old.map((r) => r!.chunkId));
    expect((await pool.fsck({ data: true })).problems).toEqual([]);
    pool.close();
    db = await rawDb(name);
    expect((await rawGet<{ formatVersion: number }>(db, 'meta', 'super')).formatVersion).toBe(4);
    db.close();
    pool = await open(name);
    expect((await pool.readBlocks('v', [10, 11, 12, 20])).map((b) => b[9])).toEqual([0, 1, 2, 9].map((i) => block(i)[9]));
  });

  it('refuses a pool of a newer format (what format-3 code does with a format-4 pool)', async () => {
    const name = newName();
    const pool = await open(name);
    await pool.createVolume('v', { sizeBytes: 4 * BS, blockSize: BS });
    await pool.commit();
    pool.close();
    const db = await rawDb(name);
    const sup = await rawGet<Record<string, unknown>>(db, 'meta', 'super');
    expect(sup.formatVersion).toBe(4);
    await rawPut(db, 'meta', { ...sup, formatVersion: 5 }, 'super');
    db.close();
    await expect(Pool.open(name)).rejects.toBeInstanceOf(PoolFormatError);
  });
});
