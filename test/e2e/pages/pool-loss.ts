// Runs in the page test/e2e/pages/pool-loss.html (main thread), driven by
// test/e2e/pool-loss.spec.ts, which damages the browser's IndexedDB files between runs.
// mode=fill: a pool with one volume of known bytes. mode=open: Pool.open, the datasets or
// the error. mode=accept: Pool.open with acceptLoss. mode=hv: Hypervisor.start, the
// datasets or the error as it crosses from dom0. mode=hvfill: a volume created through the
// hypervisor (dom0's worker opens the pool and records it in the registry). mode=delete:
// deletePool, the API's way to delete a pool.
import { Hypervisor } from '../../../host/page/hypervisor';
import { deletePool, Pool } from '../../../host/pool';

export interface PoolLossResult {
  names?: string[];
  error?: { name: string; code?: string; message: string };
}

declare global {
  interface Window {
    __poolLoss?: PoolLossResult;
  }
}

const params = new URLSearchParams(location.search);
const db = params.get('db') ?? 'pool-loss';
const mode = params.get('mode') ?? 'open';

async function run(): Promise<string[]> {
  if (mode === 'delete') {
    await deletePool(db);
    return [];
  }
  if (mode === 'hv' || mode === 'hvfill') {
    const hv = await Hypervisor.start({ poolName: db, arenaFrames: 16, storage: 'indexeddb' });
    if (mode === 'hvfill') await hv.pool.create('vol', 4 * 65536, { blockSize: 65536 });
    const names = (await hv.pool.list()).map((d) => d.name);
    await hv.shutdown();
    return names;
  }
  const pool = await Pool.open(db, mode === 'accept' ? { acceptLoss: true } : {});
  try {
    if (mode === 'fill') {
      await pool.createVolume('vol', { sizeBytes: 4 * 65536, blockSize: 65536 });
      for (let lba = 0; lba < 4; lba++) await pool.write('vol', lba, new Uint8Array(65536).fill(lba + 1));
      await pool.commit();
    }
    return pool.list().map((d) => d.name);
  } finally {
    pool.close();
  }
}

run().then(
  (names) => (window.__poolLoss = { names }),
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    const code = (err as Error & { code?: unknown }).code;
    window.__poolLoss = { error: { name: err.name, ...(typeof code === 'string' ? { code } : {}), message: err.message } };
  },
);
