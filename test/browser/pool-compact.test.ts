// Runs in the browser (real IndexedDB). The extent cleaner, Pool.compact: a volume
// rewritten in part keeps its dead chunks inside records that still hold live ones, until
// the cleaner moves the live chunks and deletes those records. Checked against the data
// store's own records (their count and bytes), a model of the volume's contents, a
// reopen, fsck with data, reads and writes running meanwhile, a damaged record and a
// failed commit.
import { describe, expect, it } from 'vitest';
import { CommitError, InvalidArgumentError, type Pool } from '../../host/pool';
import { overwriteChunk, rawDb } from '../helpers/idb';
import { poolFixture } from '../helpers/pool-fixture';
import { seededRandom } from '../helpers/seed';

const BS = 16 * 1024; // sixteen blocks to a default extent of 256 KiB
const BLOCKS = 64;
const { newName, open } = poolFixture('pool-compact');

/** Every record of the data store: how many and their bytes. */
async function records(name: string): Promise<{ count: number; bytes: number }> {
  const db = await rawDb(name);
  try {
    const all = await new Promise<unknown[]>((resolve, reject) => {
      const r = db.transaction('data', 'readonly').objectStore('data').getAll();
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    return { count: all.length, bytes: all.reduce<number>((n, v) => n + (v as ArrayBuffer).byteLength, 0) };
  } finally {
    db.close();
  }
}

let tag = 0;
function unique(): Uint8Array {
  const b = new Uint8Array(BS);
  new DataView(b.buffer).setUint32(0, ++tag);
  b.fill(tag & 0xff, 4);
  return b;
}

/**
 * A volume of BLOCKS blocks written whole, then three blocks of every four rewritten (in
 * an order drawn from `seed`), one block per commit, so each new record holds one chunk and
 * each old one keeps a quarter of its chunks live.
 */
async function sparseVolume(name: string, seed: number, opts: Parameters<typeof open>[1] = {}): Promise<{ pool: Pool; model: Uint8Array[] }> {
  const pool = await open(name, { registry: null, durability: 'relaxed', ...opts });
  await pool.createVolume('v', { sizeBytes: BLOCKS * BS, blockSize: BS });
  const model = Array.from({ length: BLOCKS }, unique);
  const whole = new Uint8Array(BLOCKS * BS);
  model.forEach((b, i) => whole.set(b, i * BS));
  await pool.write('v', 0, whole);
  await pool.commit();
  const rnd = seededRandom(seed);
  const lbas = Array.from({ length: BLOCKS }, (_, i) => i).filter((i) => i % 4 !== 0);
  for (let i = lbas.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [lbas[i], lbas[j]] = [lbas[j]!, lbas[i]!];
  }
  for (const lba of lbas) {
    model[lba] = unique();
    await pool.write('v', lba, model[lba]!);
    await pool.commit();
  }
  return { pool, model };
}

async function expectContents(pool: Pool, model: Uint8Array[]): Promise<void> {
  const got = await pool.readBlocks('v', model.map((_, i) => i));
  got.forEach((b, i) => {
    if (b.length !== BS || b.some((x, k) => x !== model[i]![k])) throw new Error(`block ${i} reads other bytes than were written`);
  });
}

describe('Pool.compact', () => {
  it('rewrites the records under half live and deletes them: the store shrinks to about the live bytes, every block reads back, a reopen and fsck agree', async () => {
    const name = newName();
    const { pool, model } = await sparseVolume(name, 1);
    const before = await records(name);
    // Four records of sixteen chunks with four live each, and 48 of one chunk.
    expect(before).toEqual({ count: 4 + 48, bytes: 4 * 16 * BS + 48 * BS });
    const progress: number[] = [];
    const report = await pool.compact({ stepBytes: 2 * 16 * BS, onProgress: (p) => progress.push(p.extentsRewritten) });
    expect(report).toMatchObject({ extentsRead: 4, extentsRewritten: 4, chunksMoved: 16, bytesMoved: 16 * BS, recordBytesFreed: 4 * 16 * BS, commits: 2, damaged: [] });
    expect(progress).toEqual([2, 4]);
    const after = await records(name);
    expect(after.bytes).toBe(BLOCKS * BS);
    expect(before.bytes - after.bytes).toBe(report.recordBytesFreed - report.bytesMoved);
    await expectContents(pool, model);
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true });
    // Nothing left to do.
    expect(await pool.compact()).toMatchObject({ extentsRead: 0, extentsRewritten: 0, commits: 0 });
    pool.close();
    const again = await open(name, { registry: null });
    await expectContents(again, model);
    expect(await again.fsck({ data: true })).toMatchObject({ ok: true });
  });

  it('reads see every block and writes land while the cleaner runs', async () => {
    const name = newName();
    const { pool, model } = await sparseVolume(name, 2);
    let stop = false;
    let rounds = 0;
    // Every block but 0, which the writer below changes meanwhile.
    const lbas = model.map((_, i) => i).slice(1);
    const reader = (async () => {
      while (!stop) {
        const got = await pool.readBlocks('v', lbas);
        got.forEach((b, k) => {
          if (b.some((x, j) => x !== model[lbas[k]!]![j])) throw new Error(`block ${lbas[k]} read other bytes during the compaction`);
        });
        rounds++;
        // Served from the pool's record cache, a read never waits for IndexedDB: without a
        // task boundary this loop would hold the thread, and the cleaner would never run.
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    // A writer in the middle: it waits for the cleaner's step, and its group is its own.
    const compaction = pool.compact({ stepBytes: 16 * BS });
    const fresh = unique();
    const g = await pool.write('v', 0, fresh);
    await pool.commit({ groups: [g] });
    model[0] = fresh;
    const report = await compaction;
    stop = true;
    await reader;
    expect(rounds).toBeGreaterThan(0);
    expect(report.extentsRewritten).toBe(4);
    await expectContents(pool, model);
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true });
  });

  it('leaves a record with a damaged chunk where it is, reports it, and cleans the rest', async () => {
    const name = newName();
    const { pool, model } = await sparseVolume(name, 3);
    // Block 4 is one of the four live chunks of the first old record: damage it on disk.
    const [ref] = await pool.resolve('v', [4]);
    const db = await rawDb(name);
    await overwriteChunk(db, ref!, new Uint8Array(BS).fill(0x5a));
    db.close();
    const report = await pool.compact();
    expect(report.damaged.map((d) => d.extent)).toEqual([`${ref!.metaslab}:${ref!.extent}`]);
    expect(report.damaged[0]).toMatchObject({ chunkId: ref!.chunkId, message: expect.stringMatching(/checksum mismatch/) });
    expect(report.extentsRewritten).toBe(3);
    // The damage is still found, not laundered into a new record under a good checksum.
    const fsck = await pool.fsck({ data: true });
    expect(fsck.ok).toBe(false);
    await expect(pool.readBlocks('v', [4])).rejects.toThrow(/checksum/);
    const rest = model.map((_, i) => i).filter((i) => i !== 4);
    const got = await pool.readBlocks('v', rest);
    rest.forEach((lba, k) => expect(got[k]).toEqual(model[lba]));
  });

  it('a failed commit of the cleaner drops only its moves: the records and contents stay as they were', async () => {
    let failTxg = -1;
    const name = newName();
    const { pool, model } = await sparseVolume(name, 4, {
      hooks: {
        beforeComplete: (_tx, txg) => {
          if (txg === failTxg) throw new Error('injected commit failure');
        },
      },
    });
    // A write staged by someone else before the cleaner starts: committed first, on its own.
    const fresh = unique();
    const g = await pool.write('v', 1, fresh);
    model[1] = fresh;
    const before = await records(name);
    const txg = pool.txg;
    // The others' commit comes first in the cleaner's step (txg + 1); the cleaner's own fails.
    failTxg = txg + 2;
    await expect(pool.compact()).rejects.toBeInstanceOf(CommitError);
    failTxg = -1;
    await expect(pool.commit({ groups: [g] })).resolves.toBe(txg + 1);
    // The write's record came and block 1's old one went; the cleaner's changed nothing.
    expect(await records(name)).toEqual(before);
    await expectContents(pool, model);
    expect(await pool.fsck({ data: true })).toMatchObject({ ok: true });
    expect((await pool.compact()).extentsRewritten).toBe(4);
    await expectContents(pool, model);
  });

  it('refuses bad options before it starts', async () => {
    const pool = await open(newName(), { registry: null });
    await expect(pool.compact({ liveBelow: 2 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(pool.compact({ stepBytes: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
