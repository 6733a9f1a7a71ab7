// Runs in the benchmark page. The extent cleaner (Pool.compact, host/pool/compact.ts): a
// volume of 64 KiB blocks imported whole (extents of four blocks, 256 KiB), then three
// blocks of every four rewritten with fresh bytes, a block per commit as a guest's writes
// come, so every imported record keeps one live block of four; then a full pass at the
// default threshold. Reported, no target (best of `reps` rounds, each on a fresh pool):
//   pool_compact_mb_s              bytes of records the pass read, per second of the pass
//   pool_compact_moved_mb_s        live bytes it wrote again, per second of the pass
//   pool_store_over_live_before    the data store's bytes ÷ the volume's bytes, before the pass
//   pool_store_over_live_after     the same after it
// The store's bytes are counted from the records themselves (a raw getAll of the data store).
import { Pool } from '../../host/pool';

type Metrics = Record<string, { value: number; unit: string }>;

const BLOCK = 64 * 1024;

function storeBytes(name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const r = db.transaction('data', 'readonly').objectStore('data').getAll();
      r.onerror = () => reject(r.error);
      r.onsuccess = () => {
        db.close();
        resolve((r.result as ArrayBuffer[]).reduce((n, v) => n + v.byteLength, 0));
      };
    };
  });
}

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

export async function run(opts: { quick: boolean; log?: (line: string) => void }): Promise<Metrics> {
  const blocks = opts.quick ? 64 : 256;
  const reps = opts.quick ? 1 : 3;
  const rounds: { readMbS: number; movedMbS: number; before: number; after: number }[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const name = `bench-compact-${crypto.randomUUID()}`;
    const pool = await Pool.open(name, { durability: 'default', registry: null });
    try {
      await pool.importVolume(randomBytes(blocks * BLOCK).buffer, { name: 'v', blockSize: BLOCK, transfer: true });
      for (let lba = 0; lba < blocks; lba++) {
        if (lba % 4 === 0) continue;
        await pool.write('v', lba, randomBytes(BLOCK));
        await pool.commit();
      }
      const before = await storeBytes(name);
      const t0 = performance.now();
      const report = await pool.compact();
      const ms = performance.now() - t0;
      const after = await storeBytes(name);
      if (report.chunksMoved !== blocks / 4 || report.damaged.length > 0) throw new Error(`compact moved ${report.chunksMoved} chunks, expected ${blocks / 4}`);
      const live = blocks * BLOCK;
      rounds.push({ readMbS: report.bytesRead / 1e6 / (ms / 1000), movedMbS: report.bytesMoved / 1e6 / (ms / 1000), before: before / live, after: after / live });
      opts.log?.(`compact round ${rep + 1}: ${(report.bytesRead / 2 ** 20).toFixed(1)} MiB of records read, ${(report.bytesMoved / 2 ** 20).toFixed(1)} MiB moved in ${ms.toFixed(0)} ms (${report.commits} commits); store ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB`);
    } finally {
      pool.close();
    }
  }
  const best = (f: (r: (typeof rounds)[number]) => number): number => Math.max(...rounds.map(f));
  return {
    pool_compact_mb_s: { value: best((r) => r.readMbS), unit: 'MB/s' },
    pool_compact_moved_mb_s: { value: best((r) => r.movedMbS), unit: 'MB/s' },
    pool_store_over_live_before: { value: rounds[0]!.before, unit: 'ratio' },
    pool_store_over_live_after: { value: rounds[0]!.after, unit: 'ratio' },
  };
}
