// Runs in real Chromium (vitest project `browser`). The cold tier wired to the pool: the
// chunks of an old archived snapshot that a newer snapshot of the same volume superseded
// move to the compressed cold log (OPFS / IndexedDB, apart from the warm segments), the
// warm copies are cleaned away, bytes per tier are counted, and both snapshots still
// restore byte for byte — also after reopening, and after the pool volume is gone.
import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from '../../host/pool';
import { ArchiveService } from '../../host/archive/archive-service';
import { deleteDatabase } from '../helpers/idb';

const BS = 16 * 1024;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function freshPool(): Promise<Pool> {
  const name = `archive-tier-${crypto.randomUUID()}`;
  const pool = await Pool.open(name, { durability: 'relaxed' });
  cleanup.push(async () => {
    pool.close();
    await deleteDatabase(name);
  });
  return pool;
}

/** A compressible block (text-like), distinct per seed. */
function textBlock(seed: number): Uint8Array {
  return new TextEncoder().encode(`block ${seed} of a guest's filesystem; `.repeat(BS)).subarray(0, BS);
}

async function exported(pool: Pool, volume: string): Promise<Uint8Array> {
  return new Uint8Array(await (await pool.exportVolume(volume)).arrayBuffer());
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe.each(['opfs', 'indexeddb'] as const)('cold tier on %s', (backend) => {
  it('moves superseded chunks of old snapshots to the cold tier and still restores them', async () => {
    const pool = await freshPool();
    const name = `tier-${crypto.randomUUID()}`;
    const open = async () => {
      const s = await ArchiveService.open(pool, { name, backend, segmentBytes: 128 * 1024 });
      cleanup.push(() => s.close());
      return s;
    };
    cleanup.push(() => ArchiveService.destroy(name, backend));
    const blocks = 64;
    await pool.createVolume('vol', { sizeBytes: blocks * BS, blockSize: BS });
    for (let i = 0; i < blocks; i++) await pool.write('vol', i, textBlock(i));
    await pool.commit();
    await pool.snapshot('vol', 'vol@1');
    await pool.commit();
    const v1 = await exported(pool, 'vol');
    let svc = await open();
    await svc.archive('vol@1');
    // A quarter of the blocks change; vol@2 supersedes their old versions.
    const changed = 16;
    for (let i = 0; i < changed; i++) await pool.write('vol', i * 4, textBlock(1000 + i));
    await pool.commit();
    await pool.snapshot('vol', 'vol@2');
    await pool.commit();
    const v2 = await exported(pool, 'vol');
    await svc.archive('vol@2');

    // Too young: nothing moves.
    expect((await svc.tier(3600_000)).chunksMoved).toBe(0);
    const before = await svc.archiveStats();
    expect(before.tiers.cold).toMatchObject({ chunks: 0, liveBytes: 0 });

    const t = await svc.tier(0);
    expect(t.snapshots).toEqual(['vol@1']); // vol@2 is the newest of its lineage: stays warm
    expect(t.chunksMoved).toBe(changed);
    expect(t.bytesOut).toBeLessThan(t.bytesIn / 4); // gzip of text-like blocks
    const clean = await svc.clean('cost-benefit', { maxVictims: 64, passes: 4 });
    expect(clean.bytesFreed).toBeGreaterThan(0);
    const after = await svc.archiveStats();
    expect(after.tiers.cold.chunks).toBe(changed);
    expect(after.tiers.cold.bytes).toBeGreaterThanOrEqual(after.tiers.cold.liveBytes);
    expect(after.tiers.cold.liveBytes).toBe(t.bytesOut);
    expect(after.tiers.warm.liveBytes).toBeLessThan(before.tiers.warm.liveBytes - changed * BS);
    expect(after.tiers.warm.bytes).toBeLessThan(before.tiers.warm.bytes);
    expect(after.snapshots.map((s) => [s.name, s.coldChunks])).toEqual([
      ['vol@1', changed],
      ['vol@2', 0],
    ]);
    expect(after.counters).toMatchObject({ tierings: 2, chunksTiered: changed });

    // Fail-over from the archive, including the cold chunks, after a reopen.
    for (const d of ['vol@2', 'vol@1', 'vol']) await pool.destroy(d);
    await pool.commit();
    await svc.close();
    cleanup.pop();
    svc = await open();
    expect((await svc.archiveStats()).tiers.cold.chunks).toBe(changed);
    await svc.restore('vol@1', 'r1');
    await svc.restore('vol@2', 'r2');
    expect(same(await exported(pool, 'r1'), v1)).toBe(true);
    expect(same(await exported(pool, 'r2'), v2)).toBe(true);
  });
});

it('keeps a chunk warm while any non-tierable snapshot references it (dedup across volumes)', async () => {
  const pool = await freshPool();
  const name = `tier-share-${crypto.randomUUID()}`;
  const svc = await ArchiveService.open(pool, { name, backend: 'indexeddb', segmentBytes: 128 * 1024 });
  cleanup.push(() => ArchiveService.destroy(name, 'indexeddb'));
  cleanup.push(() => svc.close());
  for (const v of ['a', 'b']) {
    await pool.createVolume(v, { sizeBytes: 4 * BS, blockSize: BS });
    await pool.write(v, 0, textBlock(7)); // the same content in both volumes
    await pool.write(v, 1, textBlock(v === 'a' ? 1 : 2));
  }
  await pool.commit();
  await pool.snapshot('a', 'a@1');
  await pool.snapshot('b', 'b@1');
  await pool.commit();
  await svc.archive('a@1');
  await svc.archive('b@1');
  await pool.write('a', 0, textBlock(8));
  await pool.write('a', 1, textBlock(9));
  await pool.commit();
  await pool.snapshot('a', 'a@2');
  await pool.commit();
  await svc.archive('a@2');
  const t = await svc.tier(0);
  expect(t.snapshots).toEqual(['a@1']);
  // a@1's block 0 is superseded in a's lineage but b@1 (the newest of b) still uses it.
  expect(t.chunksMoved).toBe(1);
});
