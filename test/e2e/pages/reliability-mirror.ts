// Runs in the page test/e2e/pages/reliability-mirror.html (main thread), two tabs of one
// origin driven by Playwright.
// role=source: a hypervisor on pool `db`, mirroring volume `vol` in sync mode over
//   BroadcastChannel `chan`; a guest streams journaled writes to it. window.__relMirror.acked() is
//   the highest version acknowledged per block; mirror() the mirror's stats.
// role=target: the remote fault domain: its own pool `db`, applying batches. window.__promote()
//   ends the mirror, starts a hypervisor on that pool, boots a guest on the mirrored volume
//   and returns the stream version each block holds.
import { Hypervisor } from '../../../host/page/hypervisor';
import { Pool } from '../../../host/pool';
import { broadcastLink } from '../../../host/mirror/mirror-protocol';
import { MirrorTarget, PoolMirrorSink, type MirrorTargetStats } from '../../../host/mirror/mirror-target';
import type { MirrorStats } from '../../../host/dom0/mirror-source';
import type { SessionGuestApi } from '../../../guest/workloads/session-guest';

export interface MirrorPage {
  ready?: boolean;
  error?: string;
  acked?: () => number[];
  mirror?: () => Promise<MirrorStats | null>;
  target?: () => MirrorTargetStats;
  promote?: () => Promise<number[]>;
}
declare global {
  interface Window {
    __relMirror: MirrorPage;
  }
}
window.__relMirror = {};
const page = window.__relMirror;

const BS = 65536;
const BLOCKS = 64;
const LBAS = Array.from({ length: 32 }, (_, i) => i);
const GUEST = new URL('../../../guest/workloads/session-guest.ts', import.meta.url);
const params = new URLSearchParams(location.search);
const db = params.get('db') ?? 'reliability-mirror';
const chan = params.get('chan') ?? 'reliability-mirror';
const mode = params.get('mode') === 'async' ? 'async' : 'sync';

async function source(): Promise<void> {
  const hv = await Hypervisor.start({ poolName: db, arenaFrames: 128 });
  await hv.pool.create('vol', BLOCKS * BS, { blockSize: BS });
  await hv.mirror.start({ channel: chan, mode, datasets: ['vol'] });
  const g = await hv.guests.spawn<SessionGuestApi>({ dataset: 'vol', module: GUEST });
  const board = new SharedArrayBuffer(4 * LBAS.length);
  await g.api.startStream({ lbas: LBAS, concurrency: 4, ackBoard: board });
  page.acked = () => Array.from(new Int32Array(board));
  page.mirror = () => hv.mirror.stats();
}

async function target(): Promise<void> {
  const pool = await Pool.open(db);
  const t = new MirrorTarget(broadcastLink(chan), new PoolMirrorSink(pool));
  page.target = () => structuredClone(t.stats);
  page.promote = async () => {
    await t.close();
    pool.close();
    const hv = await Hypervisor.start({ poolName: db, arenaFrames: 128 });
    const g = await hv.guests.spawn<SessionGuestApi>({ dataset: 'vol', module: GUEST });
    return g.api.versions(g.id, LBAS);
  };
}

(params.get('role') === 'target' ? target() : source()).then(
  () => (page.ready = true),
  (e: unknown) => {
    console.error('reliability-mirror page failed', e);
    page.error = String(e);
  },
);
