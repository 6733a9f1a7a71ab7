// Runs in the page test/e2e/pages/import-crash.html (main thread), driven by
// test/e2e/import-crash.spec.ts, which SIGKILLs the browser in the middle of the import.
// mode=import: a hypervisor imports 48 MiB of known bytes as `big` (16 MiB per commit);
//   window.__importCrash.committed = source bytes committed so far (from the progress).
// mode=check: opens the pool directly and reports what the open cleaned up, the datasets,
//   fsck with data verification, and whether `big` (if present) holds every byte.
import { Hypervisor } from '../../../host/page/hypervisor';
import { Pool } from '../../../host/pool';

export interface ImportCrashState {
  committed: number;
  done: boolean;
  error?: string;
  check?: { dropped: string[]; names: string[]; problems: string[]; chunks: number; bigWhole: boolean | null };
}

declare global {
  interface Window {
    __importCrash?: ImportCrashState;
  }
}

const BS = 65536;
const BYTES = 48 * 1024 * 1024;
const params = new URLSearchParams(location.search);
const db = params.get('db') ?? 'import-crash';
const state: ImportCrashState = { committed: 0, done: false };
window.__importCrash = state;

/** Every 64 KiB block distinct (no dedup), derived from its index so check can recompute it. */
function source(): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(BYTES);
  const w = new Uint32Array(b.buffer);
  for (let i = 0; i < w.length; i++) w[i] = Math.imul(i + 1, 2654435761) >>> 0;
  return b;
}

async function importBig(): Promise<void> {
  const hv = await Hypervisor.start({ poolName: db, arenaFrames: 16 });
  await hv.pool.import('big', source().buffer, { blockSize: BS, onProgress: (p) => (state.committed = p.bytesDone) });
  state.done = true;
}

async function check(): Promise<void> {
  const pool = await Pool.open(db);
  try {
    const report = await pool.fsck({ data: true });
    const names = pool.list().map((d) => d.name);
    let bigWhole: boolean | null = null;
    if (names.includes('big')) {
      const got = new Uint8Array(await (await pool.exportVolume('big')).arrayBuffer());
      const want = source();
      bigWhole = got.length === want.length && got.every((v, i) => v === want[i]);
    }
    state.check = { dropped: [...pool.droppedAtOpen], names, problems: report.problems, chunks: pool.stats().chunks, bigWhole };
  } finally {
    pool.close();
  }
}

(params.get('mode') === 'check' ? check() : importBig()).catch((e: unknown) => {
  state.error = String(e);
});
