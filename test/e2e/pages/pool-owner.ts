// Runs in the page test/e2e/pages/pool-owner.html (main thread), two copies of it driven by
// test/e2e/pool-owner.spec.ts on one pool: each tries to own the pool, clone a snapshot and
// stream guest writes into its clone; the test checks who owned it and what survived.
import { Hypervisor } from '../../../host/page/hypervisor';
import { Pool } from '../../../host/pool';
import type { SessionGuestApi } from '../../../guest/workloads/session-guest';
import { streamVersion } from '../../../guest/workloads/session-guest';

const BS = 65536;
const LBAS = Array.from({ length: 16 }, (_, i) => i);
const GUEST = new URL('../../../guest/workloads/session-guest.ts', import.meta.url);

export type StartResult = { ok: true } | { ok: false; name: string; code: string | undefined; message: string };

export interface PoolOwnerPage {
  start(pool: string): Promise<StartResult>;
  /** A second Hypervisor in this tab, beside the one `start` made. */
  startAnother(pool: string): Promise<StartResult>;
  /** Clone `base` as `clone` and stream writes into it; returns at once. */
  stream(clone: string): Promise<void>;
  acked(): number[];
  stop(): Promise<void>;
  shutdown(): Promise<void>;
  /** Open the pool directly (no hypervisor running): fsck with data, and each clone's versions. */
  verify(pool: string, clones: string[]): Promise<{ problems: string[]; verified: number; versions: Record<string, number[] | null> }>;
}

declare global {
  interface Window {
    __owner: PoolOwnerPage;
  }
}

let hv: Hypervisor | null = null;

async function tryStart(pool: string): Promise<{ hv: Hypervisor } | Extract<StartResult, { ok: false }>> {
  try {
    return { hv: await Hypervisor.start({ poolName: pool, arenaFrames: 64 }) };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { ok: false, name: err.name, code: err.code, message: err.message };
  }
}
let guest: Awaited<ReturnType<Hypervisor["guests"]["spawn"]>> | null = null;
let board: Int32Array | null = null;

window.__owner = {
  async start(pool) {
    const got = await tryStart(pool);
    if (!('hv' in got)) return got;
    hv = got.hv;
    if (!(await hv.pool.list()).some((d) => d.name === 'vol')) {
      await hv.pool.create('vol', 32 * BS, { blockSize: BS });
      await hv.pool.snapshot('vol', 'vol@0');
    }
    return { ok: true };
  },
  async startAnother(pool) {
    const got = await tryStart(pool);
    if (!('hv' in got)) return got;
    await got.hv.shutdown();
    return { ok: true };
  },
  async stream(clone) {
    if (!hv) throw new Error('no hypervisor');
    const g = await hv.guests.spawn<SessionGuestApi>({ base: 'vol@0', name: clone, module: GUEST });
    guest = g as typeof guest;
    const buf = new SharedArrayBuffer(4 * LBAS.length);
    board = new Int32Array(buf);
    await g.api.startStream({ lbas: LBAS, concurrency: 4, ackBoard: buf });
  },
  acked: () => (board ? Array.from(board) : []),
  async stop() {
    await (guest as { api: SessionGuestApi } | null)?.api.stopStream();
  },
  async shutdown() {
    await hv?.shutdown();
    hv = null;
  },
  async verify(pool, clones) {
    const p = await Pool.open(pool);
    try {
      const report = await p.fsck({ data: true });
      const versions: Record<string, number[] | null> = {};
      for (const c of clones) {
        versions[c] = p.list().some((d) => d.name === c) ? (await p.readBlocks(c, LBAS)).map(streamVersion) : null;
      }
      return { problems: report.problems, verified: report.verified, versions };
    } finally {
      p.close();
    }
  },
};
