// Runs in real Chromium (vitest project `browser`): the pool ↔ archive wiring on the real
// backends. Archive a pool snapshot, destroy the source volume and all its snapshots,
// restore into a new volume and compare the export byte for byte; a second snapshot with
// 1 % of blocks changed writes exactly those chunks; holes stay holes; a torn segment at
// the end of the log (a crash mid-append) is dropped on reopen; a damaged chunk is
// reported and never written to the pool.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Pool } from '../../host/pool';
import { ArchiveService, type ArchiveBackendChoice } from '../../host/archive/archive-service';
import { ChunkHashMismatchError, CorruptRecordError, RestoreCorruptionError } from '../../shared/errors/archive-errors';
import { IdbSegmentStore } from '../../host/archive/idb-segment-store';
import { OpfsSegmentStore } from '../../host/archive/opfs-segment-store';
import { RecordKind, encodeRecord } from '../../host/archive/segment-format';
import { sha256Hex } from '../../host/archive/chunk-hash';
import type { SegmentStore } from '../../host/archive/segment-store';
import { seededRandom } from '../helpers/seed.ts';
import { deleteDatabase } from '../helpers/idb';

const BS = 16 * 1024;
const pools: Pool[] = [];
const poolNames: string[] = [];
const services: ArchiveService[] = [];
const archives: { name: string; backend: ArchiveBackendChoice }[] = [];

afterEach(async () => {
  for (const s of services.splice(0)) await s.close().catch(() => undefined);
  for (const a of archives.splice(0)) await ArchiveService.destroy(a.name, a.backend);
  for (const p of pools.splice(0)) p.close();
  for (const n of poolNames.splice(0)) await deleteDatabase(n);
});

async function freshPool(): Promise<Pool> {
  const name = `archive-pool-${crypto.randomUUID()}`;
  poolNames.push(name);
  const pool = await Pool.open(name, { durability: 'relaxed' });
  pools.push(pool);
  return pool;
}

async function openService(pool: Pool, backend: ArchiveBackendChoice, name?: string): Promise<ArchiveService> {
  const n = name ?? `t-${crypto.randomUUID()}`;
  if (!archives.some((a) => a.name === n)) archives.push({ name: n, backend });
  const svc = await ArchiveService.open(pool, { name: n, backend, segmentBytes: 256 * 1024 });
  services.push(svc);
  return svc;
}

async function closeService(svc: ArchiveService): Promise<void> {
  await svc.close();
  services.splice(services.indexOf(svc), 1);
}

/** Random, incompressible bytes with every `holeEvery`-th block zero (a hole in the pool). */
function image(bytes: number, holeEvery = 7): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let o = 0; o < bytes; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(bytes, o + 65536)));
  for (let b = 0; holeEvery > 0 && b * BS < bytes; b += holeEvery) out.fill(0, b * BS, Math.min(bytes, (b + 1) * BS));
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function exported(pool: Pool, volume: string): Promise<Uint8Array> {
  return new Uint8Array(await (await pool.exportVolume(volume)).arrayBuffer());
}

/** Create volume `name` from `bytes`, snapshot it as `name@1`, commit. */
async function volumeWithSnapshot(pool: Pool, name: string, bytes: Uint8Array): Promise<void> {
  await pool.createVolume(name, { sizeBytes: bytes.length, blockSize: BS });
  for (let o = 0; o < bytes.length; o += 64 * BS) {
    await pool.write(name, o / BS, bytes.subarray(o, Math.min(bytes.length, o + 64 * BS)));
  }
  await pool.commit();
  await pool.snapshot(name, `${name}@1`);
  await pool.commit();
}

function rawStore(backend: 'opfs' | 'indexeddb', name: string): Promise<SegmentStore> {
  return backend === 'opfs' ? OpfsSegmentStore.open(name) : IdbSegmentStore.open(name);
}

describe.each(['opfs', 'indexeddb'] as const)('archive ↔ pool on %s', (backend) => {
  it('restores an archived snapshot byte for byte after the source and its snapshots are destroyed', async () => {
    const pool = await freshPool();
    const bytes = image(2 * 1024 * 1024 + 1000); // partial last block
    await volumeWithSnapshot(pool, 'disk', bytes);
    const svc = await openService(pool, backend);
    const progress: number[] = [];
    const a = await svc.archive('disk@1', { onProgress: (p) => progress.push(p.blocksDone) });
    const blocks = Math.ceil(bytes.length / BS);
    expect(a.blocks).toBe(blocks);
    expect(a.holes).toBe(Math.ceil(blocks / 7));
    expect(a.chunksWritten).toBe(blocks - a.holes);
    expect(progress.at(-1)).toBe(blocks);

    await pool.destroy('disk@1');
    await pool.destroy('disk');
    await pool.commit();
    expect(pool.list()).toEqual([]);

    const commits: number[] = [];
    const r = await svc.restore('disk@1', 'disk-restored', {
      commitEveryBytes: 256 * 1024,
      batchBytes: 128 * 1024,
      onProgress: (p) => commits.push(p.txg),
    });
    expect(r.corrupt).toEqual([]);
    expect(r.holes).toBe(a.holes);
    // ~1.8 MiB of non-hole blocks, committed every ≥ 256 KiB: at least 6 commits.
    expect(r.commits).toBeGreaterThanOrEqual(6);
    expect(new Set(commits).size).toBeGreaterThanOrEqual(6);
    expect(r.volume.sizeBytes).toBe(bytes.length);
    expect(r.volume.writtenBlocks).toBe(blocks - a.holes); // holes restored as holes
    expect(firstDifference(await exported(pool, 'disk-restored'), bytes)).toBe(-1);
  });

  it('archiving a second snapshot with 1 % of blocks changed writes only those chunks', async () => {
    const pool = await freshPool();
    const bytes = image(8 * 1024 * 1024, 0); // 512 blocks, no holes
    await volumeWithSnapshot(pool, 'vm', bytes);
    const svc = await openService(pool, backend);
    // The first archive computes each chunk's SHA-256 once (the archive, as it takes the
    // chunk) and the pool keeps it: no second digest of the same bytes.
    const digest = vi.spyOn(crypto.subtle, 'digest');
    try {
      await svc.archive('vm@1');
      const chunkDigests = digest.mock.calls.filter(([, data]) => (data as ArrayBufferView | ArrayBuffer).byteLength === BS).length;
      expect(chunkDigests).toBe(bytes.length / BS);
    } finally {
      digest.mockRestore();
    }
    expect(pool.stats().counters.hashesKept).toBe(bytes.length / BS);
    const blocks = bytes.length / BS;
    const changed = Math.round(blocks / 100);
    const lbas = new Set<number>();
    const random = seededRandom();
    while (lbas.size < changed) lbas.add(Math.floor(random() * blocks));
    for (const lba of lbas) await pool.write('vm', lba, crypto.getRandomValues(new Uint8Array(BS)));
    await pool.commit();
    await pool.snapshot('vm', 'vm@2');
    await pool.commit();
    const poolReadsBefore = pool.stats().counters.chunksRead;
    const second = await svc.archive('vm@2');
    expect(second.chunksWritten).toBe(changed);
    expect(second.chunksReused).toBe(blocks - changed);
    expect(pool.stats().counters.chunksRead - poolReadsBefore).toBe(changed); // only changed chunks read
    // Chunk records + a manifest (32 B per block) + a catalogue record, nothing more.
    expect(second.bytesWritten).toBeLessThan(changed * (BS + 56) + blocks * 32 + 4096);
    const v2 = await exported(pool, 'vm');
    await pool.destroy('vm@2');
    await pool.destroy('vm@1');
    await pool.destroy('vm');
    await pool.commit();
    await svc.restore('vm@1', 'vm-1');
    await svc.restore('vm@2', 'vm-2');
    expect(firstDifference(await exported(pool, 'vm-1'), bytes)).toBe(-1);
    expect(firstDifference(await exported(pool, 'vm-2'), v2)).toBe(-1);
  });

  it('ignores a torn segment at the end of the log after a crash and keeps working', async () => {
    const pool = await freshPool();
    const bytes = image(512 * 1024);
    await volumeWithSnapshot(pool, 'd', bytes);
    const name = `torn-${crypto.randomUUID()}`;
    const svc = await openService(pool, backend, name);
    await svc.archive('d@1');
    const last = Math.max(...svc.core.log.segments());
    await closeService(svc);
    // The crash: half of the next record reached the store, then the tab died.
    const store = await rawStore(backend, `${name}-data`);
    const payload = crypto.getRandomValues(new Uint8Array(BS));
    const rec = encodeRecord(RecordKind.chunk, await sha256Hex(payload), 1, payload);
    await store.append(last as never, rec.subarray(0, 5000));
    await store.close();

    const reopened = await openService(pool, backend, name);
    expect(reopened.core.recovery).toMatchObject({ droppedBytes: 5000 });
    expect((await reopened.archiveStats()).recovery).toMatchObject({ droppedBytes: 5000 });
    await reopened.restore('d@1', 'd-back');
    expect(firstDifference(await exported(pool, 'd-back'), bytes)).toBe(-1);
    // The log continues cleanly after the cut.
    await pool.write('d', 0, payload);
    await pool.commit();
    await pool.snapshot('d', 'd@2');
    await pool.commit();
    expect((await reopened.archive('d@2')).chunksWritten).toBe(1);
    await reopened.restore('d@2', 'd2-back');
    expect(firstDifference(await exported(pool, 'd2-back'), await exported(pool, 'd'))).toBe(-1);
  });

  it('reports a damaged chunk on restore and never writes it', async () => {
    const pool = await freshPool();
    const bytes = image(1024 * 1024, 0);
    await volumeWithSnapshot(pool, 'c', bytes);
    const svc = await openService(pool, backend);
    await svc.archive('c@1');
    // Flip one payload byte of block 5's chunk in the store, behind the archive's back.
    const hash = (await svc.core.snapshotManifest('c@1')).chunks[5]!;
    const loc = svc.core.lsm.get(hash)!;
    await svc.core.log.flush();
    const store = svc.stores.data;
    const size = (await store.sizes()).get(loc.segment)!;
    const seg = await store.read(loc.segment, 0, size);
    seg[loc.offset + loc.length - 100]! ^= 0x40;
    await store.truncate(loc.segment, 0);
    await store.append(loc.segment, seg);

    const err = await svc.restore('c@1', 'c-bad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreCorruptionError);
    const bad = (err as RestoreCorruptionError).blocks;
    expect(bad.map((b) => b.lbas)).toEqual([[5]]);
    expect(bad[0]!.error).toSatisfy((e: unknown) => e instanceof CorruptRecordError || e instanceof ChunkHashMismatchError);
    expect(pool.list().map((d) => d.name)).not.toContain('c-bad'); // partial volume removed

    // Asked to carry on, the restore leaves that block a hole and says so.
    const r = await svc.restore('c@1', 'c-holed', { onCorruptChunk: 'hole' });
    expect(r.corrupt.map((b) => b.lbas)).toEqual([[5]]);
    const out = await exported(pool, 'c-holed');
    expect(out.subarray(5 * BS, 6 * BS).every((b) => b === 0)).toBe(true);
    out.set(bytes.subarray(5 * BS, 6 * BS), 5 * BS);
    expect(firstDifference(out, bytes)).toBe(-1);
  });
});

it('refuses to archive a writable volume, and a second opener of the same archive', async () => {
  const pool = await freshPool();
  await volumeWithSnapshot(pool, 'w', image(64 * 1024));
  const name = `lock-${crypto.randomUUID()}`;
  const svc = await openService(pool, 'auto', name);
  expect(svc.backend).toBe('opfs');
  await expect(svc.archive('w')).rejects.toThrow(/archive a snapshot/);
  await expect(ArchiveService.open(pool, { name })).rejects.toThrow(/open in another tab/);
});
