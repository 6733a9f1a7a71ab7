// Runs in real Chromium. Staged blocks are views, not copies (host/pool/write-path.ts): of
// bytes lent by an internal caller (dom0's own copy of a guest's write) or of the import's
// own copy of each slice, and the commit copies every block through one reused buffer into
// IndexedDB. What must hold: lent bytes changed after they were checksummed are never
// stored or handed out under the old checksum; a caller of Pool.write may reuse its buffer
// at once; an import's source (ArrayBuffer or SharedArrayBuffer) may change while it runs
// and every slice holds the bytes it was copied with.
import { describe, expect, it } from 'vitest';
import { ChecksumError, CommitError, DatasetExistsError, InvalidArgumentError, type Pool } from '../../host/pool';
import { prepareBlocks } from '../../host/pool/write-path';
import { importVolume, type VolumeStore } from '../../host/pool/import-export';
import { poolFixture } from '../helpers/pool-fixture';

const fixture = poolFixture('pool-views');
const BS = 16384;

const freshPool = (): Promise<Pool> => fixture.open(fixture.newName());

function random(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

async function blockOf(pool: Pool, ds: string, lba: number): Promise<Uint8Array> {
  return (await pool.readBlocks(ds, [lba]))[0]!;
}

describe('staged blocks are views', () => {
  it('a lent block changed between its checksum and its commit fails the commit; nothing of the group is stored', async () => {
    const pool = await freshPool();
    const base = random(4 * BS);
    await pool.importVolume(base.slice().buffer, { name: 'v', blockSize: BS });
    const next = random(4 * BS);
    const id = pool.info('v').id;
    await pool.stagePreparedBlocks(id, 0, await prepareBlocks(next, BS, { owned: true }));
    next[BS + 5] = next[BS + 5]! ^ 0xff; // block 1, after it was checksummed
    // The staged read is refused too: it would hand out bytes the checksum does not name.
    await expect(pool.readBlocks('v', [1])).rejects.toBeInstanceOf(ChecksumError);
    const err = await pool.commit().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CommitError);
    expect((err as CommitError).cause).toBeInstanceOf(InvalidArgumentError);
    expect(String((err as CommitError).cause)).toMatch(/changed after it was checksummed/);
    // The failed group is dropped whole: every block reads as before, and fsck is clean.
    for (let b = 0; b < 4; b++) expect(await blockOf(pool, 'v', b)).toEqual(base.subarray(b * BS, (b + 1) * BS));
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('the same bytes unchanged commit and read back', async () => {
    const pool = await freshPool();
    await pool.importVolume(random(4 * BS).buffer, { name: 'v', blockSize: BS });
    const next = random(4 * BS);
    await pool.stagePreparedBlocks(pool.info('v').id, 0, await prepareBlocks(next, BS, { owned: true }));
    expect(await blockOf(pool, 'v', 2)).toEqual(next.subarray(2 * BS, 3 * BS)); // staged read
    await pool.commit();
    for (let b = 0; b < 4; b++) expect(await blockOf(pool, 'v', b)).toEqual(next.subarray(b * BS, (b + 1) * BS));
  });

  it('Pool.write takes its bytes when called: the caller may reuse its buffer before the commit', async () => {
    const pool = await freshPool();
    await pool.importVolume(random(4 * BS).buffer, { name: 'v', blockSize: BS });
    const buf = random(2 * BS);
    const want = buf.slice();
    const staged = pool.write('v', 1, buf);
    buf.fill(7); // reused at once, before the write is even staged
    await staged;
    await pool.commit();
    expect(await blockOf(pool, 'v', 1)).toEqual(want.subarray(0, BS));
    expect(await blockOf(pool, 'v', 2)).toEqual(want.subarray(BS));
  });

  it('an import from a SharedArrayBuffer is copied: changing the source afterwards changes nothing', async () => {
    const pool = await freshPool();
    const sab = new SharedArrayBuffer(6 * BS);
    const src = new Uint8Array(sab);
    src.set(random(6 * BS));
    const want = src.slice();
    const progress: number[] = [];
    // The type says ArrayBuffer; the import takes a SharedArrayBuffer too (by its tag).
    await pool.importVolume(sab as unknown as ArrayBuffer, { name: 'v', blockSize: BS, commitEveryBytes: 2 * BS }, (p) => {
      progress.push(p.bytesDone);
      src.fill(0x5a); // every later slice's source changes after it was read
    });
    expect(progress).toEqual([2 * BS, 4 * BS, 6 * BS]);
    // Slices read after the first progress call hold the new bytes: each slice is whatever
    // the source held when it was read, and never a block whose bytes disagree with its hash.
    expect(await blockOf(pool, 'v', 0)).toEqual(want.subarray(0, BS));
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('an ArrayBuffer source changed while it is imported fails the import and leaves nothing', async () => {
    const pool = await freshPool();
    const src = random(6 * BS);
    const progress: number[] = [];
    const err = await pool
      .importVolume(src.buffer, { name: 'v', blockSize: BS, commitEveryBytes: 2 * BS }, (p) => {
        progress.push(p.bytesDone);
        src[2 * BS + 9] = src[2 * BS + 9]! ^ 1; // slice 1: checksummed while slice 0 committed
      })
      .then(() => null, (e: unknown) => e);
    expect(progress).toEqual([2 * BS]);
    expect(err).toBeInstanceOf(CommitError);
    expect(String((err as CommitError).cause)).toMatch(/changed after it was checksummed/);
    expect(pool.list()).toEqual([]);
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it.each(['arraybuffer', 'blob'] as const)("an import (%s) whose commits wait in the pool's queue while the next slice is read stores exactly its source", async (kind) => {
    const pool = await freshPool();
    const src = random(8 * BS);
    // The pool's queue busy before each commit (another writer's stage reading its dedup
    // candidates, say): the next slice is read meanwhile, and the waiting commit must still
    // store its own slice's bytes.
    const busy: VolumeStore = {
      beginVolume: (n, o) => pool.beginVolume(n, o),
      completeVolume: (id) => pool.completeVolume(id),
      stagePreparedBlocks: (id, lba, p) => pool.stagePreparedBlocks(id, lba, p),
      commit: (o) => new Promise<void>((r) => setTimeout(r, 20)).then(() => pool.commit(o)),
      info: (ds) => pool.info(ds),
      list: () => pool.list(),
      has: (id) => pool.has(id),
      destroy: (ds) => pool.destroy(ds),
      readBlocks: (ds, lbas) => pool.readBlocks(ds, lbas),
    };
    await importVolume(busy, kind === 'blob' ? new Blob([src.slice()]) : src.slice().buffer, { name: 'v', blockSize: BS, commitEveryBytes: 2 * BS });
    const out = new Uint8Array(await (await pool.exportVolume('v')).arrayBuffer());
    expect(out.every((b, i) => b === src[i])).toBe(true);
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('an ArrayBuffer the caller keeps is lent block by block and checked at each commit; a Blob and a transferred ArrayBuffer are not', async () => {
    const src = random(6 * BS);
    const lentBy = async (source: Blob | ArrayBuffer, transfer = false): Promise<number> => {
      const pool = await freshPool();
      await pool.importVolume(source, { name: 'v', blockSize: BS, commitEveryBytes: 2 * BS, ...(transfer ? { transfer: true } : {}) });
      const out = new Uint8Array(await (await pool.exportVolume('v')).arrayBuffer());
      expect(out.every((b, i) => b === src[i])).toBe(true);
      return pool.stats().counters.blocksLent;
    };
    expect(await lentBy(src.slice().buffer)).toBe(6);
    expect(await lentBy(new Blob([src.slice()]))).toBe(0);
    expect(await lentBy(src.slice().buffer, true)).toBe(0);
    expect(await lentBy(new Blob([src.slice()]), true), 'transfer means nothing for a Blob').toBe(0);
    // A SharedArrayBuffer is copied a slice at a time.
    const shared = new Uint8Array(new SharedArrayBuffer(src.length));
    shared.set(src);
    expect(await lentBy(shared.buffer as unknown as ArrayBuffer)).toBe(0);
  });

  it('a transferred ArrayBuffer is detached from its caller once the import starts, and changing a view of it afterwards cannot reach the volume', async () => {
    const pool = await freshPool();
    const src = random(6 * BS);
    const buf = src.slice().buffer;
    const view = new Uint8Array(buf);
    const importing = pool.importVolume(buf, { name: 'v', blockSize: BS, commitEveryBytes: 2 * BS, transfer: true }, () => {
      // A caller's old view is of a detached buffer: length 0, writes go nowhere.
      view[9] = view[9]! ^ 1;
    });
    await importing;
    expect(buf.detached).toBe(true);
    expect(buf.byteLength).toBe(0);
    expect(view.length).toBe(0);
    const out = new Uint8Array(await (await pool.exportVolume('v')).arrayBuffer());
    expect(out.length).toBe(src.length);
    expect(out.every((b, i) => b === src[i])).toBe(true);
    expect(pool.stats().counters.blocksLent).toBe(0);
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('an import with transfer refused before it starts leaves the caller its buffer; bad transfers are refused with clear errors', async () => {
    const pool = await freshPool();
    await pool.importVolume(random(2 * BS).buffer, { name: 'taken', blockSize: BS });
    const keep = random(2 * BS);
    const buf = keep.slice().buffer;
    await expect(pool.importVolume(buf, { name: 'taken', blockSize: BS, transfer: true })).rejects.toThrow(DatasetExistsError);
    await expect(pool.importVolume(buf, { name: 'odd', blockSize: 3000, transfer: true })).rejects.toThrow(InvalidArgumentError);
    await expect(pool.importVolume(buf, { name: 'small', sizeBytes: BS, blockSize: BS, transfer: true })).rejects.toThrow(InvalidArgumentError);
    expect(buf.byteLength, 'still the caller\'s').toBe(2 * BS);
    expect(new Uint8Array(buf).every((b, i) => b === keep[i])).toBe(true);

    const shared = new SharedArrayBuffer(2 * BS);
    await expect(pool.importVolume(shared as unknown as ArrayBuffer, { name: 's', blockSize: BS, transfer: true })).rejects.toThrow(/SharedArrayBuffer cannot be transferred/);
    const gone = random(2 * BS).buffer;
    gone.transfer();
    await expect(pool.importVolume(gone, { name: 'd', blockSize: BS })).rejects.toThrow(/detached/);
    expect(pool.list().map((d) => d.name)).toEqual(['taken']);

    // Taken away by its caller after the call, before the import took it over: refused by
    // name, and the volume the import had begun is gone.
    const racing = random(2 * BS).buffer;
    const importing = pool.importVolume(racing, { name: 'raced', blockSize: BS, transfer: true });
    racing.transfer();
    const err = await importing.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/changed before the import took it over \(detached\)/);
    expect(pool.list().map((d) => d.name)).toEqual(['taken']);
    await pool.importVolume(random(BS).buffer, { name: 'raced', blockSize: BS, transfer: true });
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('a mid-sized commit of an imported ArrayBuffer stores exactly its bytes (views into one source, many slices)', async () => {
    const pool = await freshPool();
    const src = random(13 * BS + 100);
    await pool.importVolume(src.slice().buffer, { name: 'v', blockSize: BS, commitEveryBytes: 3 * BS });
    const out = new Uint8Array(await (await pool.exportVolume('v')).arrayBuffer());
    expect(out.length).toBe(src.length);
    expect(out.every((b, i) => b === src[i])).toBe(true);
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });
});

describe('importing a Blob', () => {
  it('a source whose slice comes back short fails the import with a clear error and leaves nothing', async () => {
    const pool = await freshPool();
    const whole = new Blob([random(4 * BS)]);
    class Shrinking extends Blob {
      override slice(start?: number, end?: number): Blob {
        return whole.slice(start, (start ?? 0) >= 2 * BS ? (start ?? 0) + 100 : end);
      }
    }
    const err = await pool
      .importVolume(new Shrinking([new Uint8Array(4 * BS)]), { name: 'v', blockSize: BS, commitEveryBytes: 2 * BS })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(String(err)).toMatch(/changed while it was read/);
    expect(pool.list()).toEqual([]);
  });

  it('a File import in several slices stores exactly the file', async () => {
    const pool = await freshPool();
    const src = random(9 * BS + 777);
    await pool.importVolume(new File([src], 'x.img'), { name: 'v', blockSize: BS, commitEveryBytes: 2 * BS });
    const out = new Uint8Array(await (await pool.exportVolume('v')).arrayBuffer());
    expect(out.length).toBe(src.length);
    expect(out.every((x, i) => x === src[i])).toBe(true);
  });
});
