// Runs in the benchmark page (main thread of a cross-origin-isolated window; OPFS and
// IndexedDB). The archive wired to the pool (host/archive/archive-service.ts):
//
//   archive_second_snapshot_bytes_ratio  bytes appended to the archive when archiving a
//       second snapshot of a volume in which 1 % of the blocks changed, ÷ the volume's
//       bytes (64 MiB volume, 16 MiB in quick mode, 64 KiB blocks, random contents).
//       Ideal ≈ 0.01: the changed chunks, plus a manifest (32 B per block) and a
//       catalogue record.
//   archive_first_snapshot_mbps / archive_restore_mbps  throughput of archiving the first
//       snapshot (every chunk new) and of restoring it into a new volume (verified).
//   archive_warm_bytes / archive_cold_bytes  bytes per tier after tiering the first
//       snapshot's superseded chunks and cleaning (random data: gzip cannot shrink it).
//
// MB/s is 10^6 bytes per second. Each run uses a fresh pool database and archive, deleted
// afterwards. Pool commits use 'relaxed' durability, as the pool suite's default variant.
import { Pool } from '../../host/pool';
import { ArchiveService } from '../../host/archive/archive-service';

type Metrics = Record<string, { value: number; unit: string }>;

const BLOCK_BYTES = 64 * 1024;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  });
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

export async function run(opts: { quick: boolean; log?: (line: string) => void }): Promise<Metrics> {
  const log = opts.log ?? (() => undefined);
  const volumeBytes = (opts.quick ? 16 : 64) * 1024 * 1024;
  const blocks = volumeBytes / BLOCK_BYTES;
  const poolName = `bench-archive-pool-${crypto.randomUUID()}`;
  const archiveName = `bench-${crypto.randomUUID()}`;
  const pool = await Pool.open(poolName, { durability: 'relaxed' });
  let svc: ArchiveService | null = null;
  try {
    await pool.importVolume(randomBytes(volumeBytes).buffer as ArrayBuffer, { name: 'vol', blockSize: BLOCK_BYTES });
    await pool.snapshot('vol', 'vol@1');
    await pool.commit();
    svc = await ArchiveService.open(pool, { name: archiveName });
    log('archive: first snapshot');

    let t0 = performance.now();
    await svc.archive('vol@1');
    const firstMs = performance.now() - t0;

    log('archive: second snapshot, 1 % changed');
    // Change 1 % of the blocks (distinct, spread over the volume).
    const changed = Math.max(1, Math.round(blocks / 100));
    const stride = Math.floor(blocks / changed);
    for (let i = 0; i < changed; i++) await pool.write('vol', i * stride, randomBytes(BLOCK_BYTES));
    await pool.commit();
    await pool.snapshot('vol', 'vol@2');
    await pool.commit();
    const second = await svc.archive('vol@2');
    if (second.chunksWritten !== changed) {
      throw new Error(`second archive wrote ${second.chunksWritten} chunks for ${changed} changed blocks`);
    }

    log('archive: restore');
    t0 = performance.now();
    await svc.restore('vol@1', 'restored');
    const restoreMs = performance.now() - t0;

    log('archive: tier to cold');
    await svc.tier(0);
    log('archive: clean');
    await svc.clean('cost-benefit', { maxVictims: 64, passes: 8 });
    log('archive: stats');
    const stats = await svc.archiveStats();
    return {
      archive_second_snapshot_bytes_ratio: { value: round(second.bytesWritten / volumeBytes, 5), unit: 'ratio' },
      archive_first_snapshot_mbps: { value: round(volumeBytes / 1e6 / (firstMs / 1000), 1), unit: 'MB/s' },
      archive_restore_mbps: { value: round(volumeBytes / 1e6 / (restoreMs / 1000), 1), unit: 'MB/s' },
      archive_warm_bytes: { value: stats.tiers.warm.bytes, unit: 'bytes' },
      archive_cold_bytes: { value: stats.tiers.cold.bytes, unit: 'bytes' },
    };
  } finally {
    await svc?.close().catch(() => undefined);
    await ArchiveService.destroy(archiveName).catch(() => undefined);
    pool.close();
    await deleteDb(poolName);
  }
}
