// Runs in real Chromium: extents (format 4) on IndexedDB. A commit stores the chunks it
// allocated back to back as one record of up to `extentBytes`; a record goes only with its
// last live chunk, and fsck finds a record that no chunk holds. Checked against the data
// store's own keys, read behind the pool's back.
import { describe, expect, it } from 'vitest';
import { ChecksumError } from '../../host/pool';
import { Hypervisor } from '../../host/page/hypervisor';
import { overwriteChunk, rawDb } from '../helpers/idb';
import { poolFixture } from '../helpers/pool-fixture';
import { seededRandom } from '../helpers/seed.ts';
import { concat } from '../helpers/bytes';

const BS = 64 * 1024;
const MIB = 1 << 20;
// Relaxed commits and no OPFS registry entry: these tests look at records, not durability.
const { newName, open } = poolFixture('pool-extents', { durability: 'relaxed', registry: null });

/** `n` blocks of bytes no two alike, from this run's seed. */
function randomBlocks(n: number): Uint8Array<ArrayBuffer> {
  const rnd = seededRandom();
  const out = new Uint8Array(n * BS);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < words.length; i++) words[i] = (rnd() * 0x100000000) >>> 0;
  return out;
}

function rawReq<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** The data store's keys and each record's length, as "metaslab:offset+bytes". */
async function records(name: string): Promise<string[]> {
  const db = await rawDb(name);
  try {
    const store = db.transaction('data', 'readonly').objectStore('data');
    const [keys, values] = await Promise.all([rawReq(store.getAllKeys()), rawReq(store.getAll())]);
    return keys.map((k, i) => `${(k as number[]).join(':')}+${(values[i] as ArrayBuffer).byteLength}`);
  } finally {
    db.close();
  }
}

describe('pool extents', () => {
  it('by default a record holds four 64 KiB blocks (256 KiB) or sixteen 4 KiB ones', async () => {
    const name = newName();
    const pool = await open(name);
    await pool.importVolume(randomBlocks(10).buffer, { name: 'v', blockSize: BS });
    expect(await records(name)).toEqual([`0:0+${4 * BS}`, `0:${4 * BS}+${4 * BS}`, `0:${8 * BS}+${2 * BS}`]);
    const small = randomBlocks(2).map((b) => b ^ 0x33); // 32 blocks of 4 KiB
    await pool.importVolume(small.buffer, { name: 's', blockSize: 4096 });
    expect((await records(name)).slice(3)).toEqual([`0:${10 * BS}+${16 * 4096}`, `0:${11 * BS}+${16 * 4096}`]);
    expect(await pool.readBlocks('s', [0, 31])).toEqual([small.subarray(0, 4096), small.subarray(31 * 4096)]);
  });

  it('a reader going block by block fetches each record once (the record cache); fsck reads past it', async () => {
    const name = newName();
    const pool = await open(name);
    const src = randomBlocks(8);
    await pool.importVolume(src.slice().buffer, { name: 'v', blockSize: BS });
    pool.close();
    const again = await open(name);
    for (let lba = 0; lba < 8; lba++) expect((await again.readBlocks('v', [lba]))[0]).toEqual(src.subarray(lba * BS, (lba + 1) * BS));
    expect(again.stats().counters).toMatchObject({ recordsRead: 2, recordCacheHits: 6 });
    // What a caller does to the bytes it was handed (views of the cached record) is never
    // served, nor reported as damage: the record is dropped and read again.
    const [view] = await again.readBlocks('v', [1]);
    view![0]! ^= 0xff;
    expect((await again.readBlocks('v', [0, 1]))).toEqual([src.subarray(0, BS), src.subarray(BS, 2 * BS)]);
    expect(again.stats().counters.recordsRead).toBe(3);
    const [moved] = await again.readBlocks('v', [2]);
    structuredClone(moved!.buffer, { transfer: [moved!.buffer as ArrayBuffer] });
    expect((await again.readBlocks('v', [3]))[0]).toEqual(src.subarray(3 * BS, 4 * BS));
    expect(again.stats().counters.recordsRead).toBe(4);
    // Damaged on disk after it was cached: the cached copy was verified when read, and fsck,
    // which reads past the cache, finds the damage.
    const [ref] = await again.resolve('v', [2]);
    const db = await rawDb(name);
    const bad = src.slice(2 * BS, 3 * BS);
    bad[9]! ^= 1;
    await overwriteChunk(db, ref!, bad);
    db.close();
    const report = await again.fsck({ data: true });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(new RegExp(`chunk ${ref!.chunkId} .*checksum mismatch`));
  });

  it('an import stores sixteen 64 KiB blocks per record (extentBytes 1 MiB), and a record goes only with its last live chunk', async () => {
    const name = newName();
    const pool = await open(name, { extentBytes: MIB });
    const src = randomBlocks(40);
    await pool.importVolume(src.slice().buffer, { name: 'v', blockSize: BS });
    expect(await records(name)).toEqual([`0:0+${MIB}`, `0:${MIB}+${MIB}`, `0:${2 * MIB}+${8 * BS}`]);
    const refs = await pool.resolve('v', [0, 17, 39]);
    expect(refs.map((r) => [r!.offset, r!.extent])).toEqual([[0, 0], [17 * BS, MIB], [39 * BS, 2 * MIB]]);
    // Whole, and one block out of the middle of a record.
    expect(concat(...await pool.readBlocks('v', Array.from({ length: 40 }, (_, i) => i)))).toEqual(src);
    expect((await pool.readBlocks('v', [17]))[0]).toEqual(src.subarray(17 * BS, 18 * BS));
    // Two records with one between them that nothing asks for: not one key range.
    expect(await pool.readBlocks('v', [3, 32])).toEqual([src.subarray(3 * BS, 4 * BS), src.subarray(32 * BS, 33 * BS)]);

    // A block of the second record overwritten: the record stays (fifteen chunks live).
    await pool.write('v', 17, randomBlocks(1).map((b) => b ^ 0x5a));
    await pool.commit();
    expect(await records(name)).toEqual([`0:0+${MIB}`, `0:${MIB}+${MIB}`, `0:${2 * MIB}+${8 * BS}`, `0:${40 * BS}+${BS}`]);
    // The other fifteen punched out, in two commits: the record goes with the last.
    await pool.write('v', 16, new Uint8Array(BS));
    await pool.write('v', 18, new Uint8Array(13 * BS));
    await pool.commit();
    expect(await records(name)).toHaveLength(4);
    await pool.write('v', 31, new Uint8Array(BS));
    await pool.commit();
    expect(await records(name)).toEqual([`0:0+${MIB}`, `0:${2 * MIB}+${8 * BS}`, `0:${40 * BS}+${BS}`]);
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true, problems: [] });
    expect((await pool.readBlocks('v', [15, 32]))).toEqual([src.subarray(15 * BS, 16 * BS), src.subarray(32 * BS, 33 * BS)]);

    // A snapshot holds the chunks a destroy of the volume would free.
    await pool.snapshot('v', 's');
    await pool.destroy('v');
    await pool.commit();
    expect(await records(name)).toHaveLength(3);
    await pool.destroy('s');
    await pool.commit();
    expect(await records(name)).toEqual([]);
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true, problems: [] });
  });

  it('a damaged chunk inside a record is named, and its neighbours in the record still read', async () => {
    const name = newName();
    let pool = await open(name, { extentBytes: MIB });
    const src = randomBlocks(16);
    await pool.importVolume(src.slice().buffer, { name: 'v', blockSize: BS });
    const [ref] = await pool.resolve('v', [5]);
    expect(ref!.extent).toBe(0);
    pool.close();
    const db = await rawDb(name);
    const bad = src.slice(5 * BS, 6 * BS);
    bad[1000]! ^= 0x10;
    await overwriteChunk(db, ref!, bad);
    db.close();
    pool = await open(name);
    const e = await pool.readBlocks('v', [4, 5, 6]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    expect((e as ChecksumError).detail).toMatchObject({ dataset: 'v', lba: 5, chunkId: ref!.chunkId, offset: 5 * BS });
    expect(await pool.readBlocks('v', [4, 6])).toEqual([src.subarray(4 * BS, 5 * BS), src.subarray(6 * BS, 7 * BS)]);
  });

  it('fsck reports a data record that no chunk holds (leaked space)', async () => {
    const name = newName();
    let pool = await open(name);
    await pool.importVolume(randomBlocks(2).buffer, { name: 'v', blockSize: BS });
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true });
    pool.close();
    const db = await rawDb(name);
    const tx = db.transaction('data', 'readwrite');
    tx.objectStore('data').put(new ArrayBuffer(BS), [0, 50 * BS]);
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
    pool = await open(name);
    const report = await pool.fsck({ data: true });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([`data record 0:${50 * BS} holds no live chunk (leaked)`]);
  });

  it('opens a format-3 pool (a record per chunk) as it is: old records and new extents read, free and check clean, and the first commit records format 4', async () => {
    const name = newName();
    let pool = await open(name, { extentBytes: 0 });
    await pool.createVolume('v', { sizeBytes: 64 * BS, blockSize: BS });
    const old = randomBlocks(4);
    await pool.write('v', 0, old);
    await pool.commit();
    pool.close();
    expect(await records(name)).toEqual([0, 1, 2, 3].map((i) => `0:${i * BS}+${BS}`));
    // What format 3 wrote: no extent column, superblock format 3.
    let db = await rawDb(name);
    {
      const tx = db.transaction(['chunkmap', 'meta'], 'readwrite');
      const page = (await rawReq(tx.objectStore('chunkmap').get(0))) as Record<string, unknown>;
      delete page.extent;
      tx.objectStore('chunkmap').put(page);
      const sup = (await rawReq(tx.objectStore('meta').get('super'))) as Record<string, unknown>;
      tx.objectStore('meta').put({ ...sup, formatVersion: 3 }, 'super');
      await new Promise((resolve) => (tx.oncomplete = resolve));
    }
    db.close();

    pool = await open(name, { extentBytes: MIB });
    expect(concat(...await pool.readBlocks('v', [0, 1, 2, 3]))).toEqual(old);
    const fresh = randomBlocks(6).map((b) => b ^ 0xa5);
    await pool.write('v', 10, fresh);
    await pool.write('v', 1, new Uint8Array(2 * BS)); // frees two format-3 records
    await pool.commit();
    expect(await records(name)).toEqual([`0:0+${BS}`, `0:${3 * BS}+${BS}`, `0:${4 * BS}+${6 * BS}`]);
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true, problems: [] });
    pool.close();
    db = await rawDb(name);
    expect(((await rawReq(db.transaction('meta', 'readonly').objectStore('meta').get('super'))) as { formatVersion: number }).formatVersion).toBe(4);
    db.close();
    pool = await open(name);
    expect(concat(...await pool.readBlocks('v', [0, 3, 10, 11, 12, 13, 14, 15]))).toEqual(concat(old.subarray(0, BS), old.subarray(3 * BS), fresh));
  });
});

describe('the hypervisor passes extentBytes to its pool', () => {
  it('Hypervisor.start({ extentBytes: 0 }) stores a record per block; without it, extents', async () => {
    for (const [extentBytes, want] of [[0, [BS, BS, BS, BS]], [undefined, [4 * BS]]] as const) {
      const name = newName();
      const hv = await Hypervisor.start({ poolName: name, arenaFrames: 16, scrubEveryMs: 0, ...(extentBytes !== undefined ? { extentBytes } : {}) });
      try {
        await hv.pool.import('v', randomBlocks(4).buffer, { blockSize: BS });
      } finally {
        await hv.shutdown();
      }
      expect((await records(name)).map((r) => Number(r.split('+')[1]))).toEqual(want);
    }
  });
});

describe('fsck while the pool is written', () => {
  it('sees one state: a write and commit issued while it runs wait for it, and nothing is reported that is not there', async () => {
    const name = newName();
    const pool = await open(name);
    await pool.createVolume('v', { sizeBytes: 8 * BS, blockSize: BS });
    await pool.write('v', 0, randomBlocks(1));
    // fsck lists the staged chunk; the hole written over it before fsck reads its bytes
    // would free it in the same group, so it would never reach the disk.
    const report = pool.fsck({ data: true });
    await pool.write('v', 0, new Uint8Array(BS));
    await pool.commit();
    expect((await report).problems).toEqual([]);
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true, problems: [] });
  });
});
