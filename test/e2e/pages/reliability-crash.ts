// Runs in the page test/e2e/pages/reliability-crash.html (main thread), driven by the crash
// campaign, which SIGKILLs the whole browser at random moments.
// mode=write: a hypervisor on pool `db`; a guest streams writes (version k to block k % 32,
//   4 in flight) through the rings into volume `vol`, resuming after the highest version
//   present. window.__acked() = highest version acknowledged per block.
// mode=verify: opens the pool directly (no dom0), runs fsck with data verification and
//   returns, per block, the stream version it holds (-1: bytes that are no stream block).
import { Hypervisor } from '../../../host/page/hypervisor';
import { Pool } from '../../../host/pool';
import { streamVersion, type SessionGuestApi } from '../../../guest/workloads/session-guest';

declare global {
  interface Window {
    __crash?: { ready: boolean; error?: string; from?: number; acked?: () => number[]; verify?: { problems: string[]; versions: number[]; verified: number } };
  }
}

const BS = 65536;
const LBAS = Array.from({ length: 32 }, (_, i) => i);
const GUEST = new URL('../../../guest/workloads/session-guest.ts', import.meta.url);
const params = new URLSearchParams(location.search);
const db = params.get('db') ?? 'reliability-crash';
const state: NonNullable<Window['__crash']> = { ready: false };
window.__crash = state;

async function write(): Promise<void> {
  const hv = await Hypervisor.start({ poolName: db, arenaFrames: 128 });
  if (!(await hv.pool.list()).some((d) => d.name === 'vol')) await hv.pool.create('vol', 64 * BS, { blockSize: BS });
  const g = await hv.guests.spawn<SessionGuestApi>({ dataset: 'vol', module: GUEST });
  const present = await g.api.versions(g.id, LBAS);
  const from = Math.max(0, ...present) + 1;
  const board = new SharedArrayBuffer(4 * LBAS.length);
  await g.api.startStream({ lbas: LBAS, concurrency: 4, ackBoard: board, from });
  state.from = from;
  state.acked = () => Array.from(new Int32Array(board));
}

async function verify(): Promise<void> {
  const pool = await Pool.open(db);
  const problems: string[] = [];
  const report = await pool.fsck({ data: true });
  problems.push(...report.problems);
  let versions: number[] = LBAS.map(() => 0);
  if (pool.list().some((d) => d.name === 'vol')) {
    const blocks = await pool.readBlocks('vol', LBAS);
    versions = blocks.map(streamVersion);
  }
  pool.close();
  state.verify = { problems, versions, verified: report.verified };
}

(params.get('mode') === 'verify' ? verify() : write()).then(
  () => (state.ready = true),
  (e: unknown) => {
    console.error('reliability-crash page failed', e);
    state.error = String(e);
  },
);
