// Runs in real Chromium: streaming import from Blob/File/ArrayBuffer with progress and
// bounded commits, byte-identical export, and cleanup when an import fails.
import { describe, expect, it } from 'vitest';
import { PoolFullError, type ImportProgress, type Pool } from '../../host/pool';
import { poolFixture } from '../helpers/pool-fixture';

const fixture = poolFixture('pool-import');
const freshPool = (opts: Parameters<typeof Pool.open>[1] = {}): Promise<Pool> => fixture.open(fixture.newName(), opts);

/** Random bytes with some zero runs and some repeated blocks, of any length. */
function image(bytes: number, blockSize: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let o = 0; o < bytes; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(bytes, o + 65536)));
  const blocks = Math.floor(bytes / blockSize);
  for (let b = 0; b < blocks; b++) {
    if (b % 7 === 3) out.fill(0, b * blockSize, (b + 1) * blockSize); // holes
    if (b % 5 === 4) out.copyWithin(b * blockSize, 0, blockSize); // duplicates of block 0
  }
  return out;
}

async function sameBytes(blob: Blob, expected: Uint8Array): Promise<boolean> {
  const got = new Uint8Array(await blob.arrayBuffer());
  if (got.length !== expected.length) return false;
  for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return false;
  return true;
}

describe('pool import/export', () => {
  it('imports a File in bounded commits with progress and exports identical bytes', async () => {
    const pool = await freshPool();
    const bs = 16384;
    const src = image(3 * 1024 * 1024 + 12345, bs); // not a multiple of the block size
    const file = new File([src as BlobPart], 'disk.img');
    const progress: ImportProgress[] = [];
    const info = await pool.importVolume(file, { name: 'disk', blockSize: bs, commitEveryBytes: 1024 * 1024 }, (p) => progress.push(p));
    expect(info).toMatchObject({ name: 'disk', sizeBytes: src.length, blockSize: bs, kind: 'volume' });
    // One commit per MiB (4 slices), progress monotonic, ends at the total.
    expect(progress.map((p) => p.bytesDone)).toEqual([1 << 20, 2 << 20, 3 << 20, src.length]);
    expect(progress.every((p) => p.bytesTotal === src.length)).toBe(true);
    expect(progress.map((p) => p.txg)).toEqual([1, 2, 3, 4]);
    expect(pool.stats().counters.zeroBlocks).toBeGreaterThan(0);
    expect(pool.stats().dedupRatio).toBeGreaterThan(1);
    expect(await sameBytes(await pool.exportVolume('disk'), src)).toBe(true);
    // And after a snapshot + clone + a write, the snapshot still exports the original.
    await pool.snapshot('disk', 'disk@0');
    await pool.clone('disk@0', 'vm');
    await pool.write('vm', 0, new Uint8Array(bs).fill(0xaa));
    await pool.commit();
    expect(await sameBytes(await pool.exportVolume('disk@0'), src)).toBe(true);
    const vm = new Uint8Array(await (await pool.exportVolume('vm')).arrayBuffer());
    expect(vm.subarray(0, bs).every((b) => b === 0xaa)).toBe(true);
    expect(await sameBytes(new Blob([vm.subarray(bs) as BlobPart]), src.subarray(bs))).toBe(true); // not toEqual: slow on MiBs
    expect((await pool.fsck({ data: true })).ok).toBe(true);
  });

  it('imports an ArrayBuffer at the default block size', async () => {
    const pool = await freshPool();
    const src = image(2 * 1024 * 1024, 65536);
    const info = await pool.importVolume(src.buffer as ArrayBuffer, { name: 'v' });
    expect(info.blockSize).toBe(65536);
    expect(await sameBytes(await pool.exportVolume('v'), src)).toBe(true);
  });

  it('streams: reads the source in slices no larger than one commit', async () => {
    const pool = await freshPool();
    const slices: number[] = [];
    // A Blob that records every slice the importer takes of it.
    class CountingBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        slices.push((end ?? this.size) - (start ?? 0));
        return super.slice(start, end, type);
      }
    }
    const src = image(5 * 1024 * 1024, 65536);
    const commits: number[] = [];
    await pool.importVolume(new CountingBlob([src as BlobPart]), { name: 'v', commitEveryBytes: 1024 * 1024 }, (p) => commits.push(p.txg));
    expect(slices).toHaveLength(5);
    expect(Math.max(...slices)).toBe(1024 * 1024);
    expect(commits).toEqual([1, 2, 3, 4, 5]);
    expect(pool.stats().counters.commits).toBe(5);
  });

  it('a failed import leaves no volume behind', async () => {
    let commits = 0;
    const pool = await freshPool({
      hooks: {
        beforeComplete: () => {
          // Fail the third commit of the import, as a full disk would.
          if (++commits === 3) throw new DOMException('simulated', 'QuotaExceededError');
        },
      },
    });
    const src = image(4 * 65536 * 4, 65536);
    const e = await pool.importVolume(new Blob([src as BlobPart]), { name: 'v', commitEveryBytes: 4 * 65536 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PoolFullError);
    expect(pool.list()).toEqual([]);
    expect(pool.stats()).toMatchObject({ storedBytes: 0, chunks: 0 });
    expect((await pool.fsck()).ok).toBe(true);
  });

  it('a volume being imported has no name until its last commit: not listed, not found, its name taken', async () => {
    const pool = await freshPool();
    const src = image(6 * 65536, 65536);
    const seen: { listed: boolean; found: string }[] = [];
    const imported = await pool.importVolume(new Blob([src as BlobPart]), { name: 'big', commitEveryBytes: 2 * 65536 }, (p) => {
      if (p.bytesDone < p.bytesTotal) {
        seen.push({
          listed: pool.list().some((d) => d.name === 'big'),
          found: (() => { try { pool.info('big'); return 'found'; } catch (e) { return (e as Error).name; } })(),
        });
      }
    });
    expect(seen).toHaveLength(2); // a 6-block source in 2-block commits: two commits before the last
    for (const s of seen) expect(s).toMatchObject({ listed: false, found: 'UnknownDatasetError' });
    expect(pool.list().map((d) => d.name)).toEqual(['big']);
    expect(await sameBytes(await pool.exportVolume('big'), src)).toBe(true);
    expect(imported.name).toBe('big');
  });

  it('an import cut off after its first commit (the pool goes away) leaves nothing under its name; the next open frees it', async () => {
    const pool = await freshPool();
    const name = pool.name;
    const src = image(8 * 65536, 65536);
    let cut = false;
    const e = await pool
      .importVolume(new Blob([src as BlobPart]), { name: 'big', commitEveryBytes: 2 * 65536 }, () => {
        if (cut) return;
        cut = true;
        // What a crash does to the importer: nothing after this point reaches the disk.
        expect(pool.list()).toEqual([]);
        pool.close();
      })
      .catch((x: unknown) => x);
    expect((e as Error).name).toBe('PoolClosedError');
    const again = await fixture.open(name);
    expect(again.droppedAtOpen).toEqual(['big']);
    expect(again.list()).toEqual([]);
    expect(again.stats()).toMatchObject({ storedBytes: 0, chunks: 0, nodes: 0 });
    const report = await again.fsck({ data: true });
    expect(report.problems).toEqual([]);
    // The name is free again, and a full import under it works.
    await again.importVolume(new Blob([src as BlobPart]), { name: 'big', commitEveryBytes: 2 * 65536 });
    expect(await sameBytes(await again.exportVolume('big'), src)).toBe(true);
  });

  it('a second import under a name being imported is refused', async () => {
    const pool = await freshPool();
    const src = image(4 * 65536, 65536);
    let second: unknown = null;
    await pool.importVolume(new Blob([src as BlobPart]), { name: 'big', commitEveryBytes: 65536 }, (p) => {
      if (p.bytesDone === 65536) second = pool.createVolume('big', { sizeBytes: 65536 }).catch((x: unknown) => x);
    });
    expect(((await second) as Error).name).toBe('DatasetExistsError');
  });
});
