// Runs in the page test/e2e/pages/lifecycle.html (main thread), driven by
// test/e2e/lifecycle.spec.ts, which counts the page's workers (Playwright sees every
// dedicated worker the page runs) before and after each refused call.
import { Hypervisor, type SpawnOptions } from '../../../host/page/hypervisor';

const BS = 65536;
const GUEST = new URL('../../../guest/workloads/session-guest.ts', import.meta.url).href;

export interface Footprint {
  domains: number;
  datasets: string[];
  txg: number;
  guests: number;
}
export type Refusal = { refused: true; name: string; code: string | undefined; message: string } | { refused: false };

declare global {
  interface Window {
    __life: {
      start(pool: string): Promise<void>;
      footprint(): Promise<Footprint>;
      /** One of the refusals the spec names; resolves with how it was refused. */
      attempt(what: string): Promise<Refusal>;
      ownership(dataset: string): Promise<number[] | string>;
      destroy(dataset: string): Promise<void>;
      shutdown(): Promise<void>;
    };
  }
}

let hv: Hypervisor;

const attempts: Record<string, () => Promise<unknown>> = {
  'spawn on a snapshot': () => hv.guests.spawn({ dataset: 'vol@0', module: GUEST }),
  'spawn on an unknown base': () => hv.guests.spawn({ base: 'nope@0', module: GUEST }),
  'spawn under a taken clone name': () => hv.guests.spawn({ base: 'vol@0', name: 'vol', module: GUEST }),
  'spawn with a bad quota': () => hv.guests.spawn({ base: 'vol@0', name: 'vol/q', module: GUEST, quota: -1 } as SpawnOptions),
  'spawn of a module that does not load': () => hv.guests.spawn({ base: 'vol@0', name: 'vol/bad', module: '/test/e2e/pages/no-such-guest-module.ts' }),
  'import under a taken name': () => hv.pool.import('vol', new Uint8Array(2 * BS).fill(7).buffer, { blockSize: BS }),
  'destroy a snapshot with clones': () => hv.pool.destroy('img@1'),
};

window.__life = {
  async start(pool) {
    hv = await Hypervisor.start({ poolName: pool, arenaFrames: 32 });
    await hv.pool.create('vol', 8 * BS, { blockSize: BS });
    await hv.pool.snapshot('vol', 'vol@0');
    // img: 4 blocks, the third a hole; img@1 its snapshot; img/c a clone of that.
    const img = new Uint8Array(4 * BS);
    img.fill(1, 0, 2 * BS);
    img.fill(3, 3 * BS);
    await hv.pool.import('img', img.buffer, { blockSize: BS });
    await hv.pool.snapshot('img', 'img@1');
    await hv.pool.clone('img@1', 'img/c');
  },
  async footprint() {
    const s = await hv.pool.stats();
    return { domains: s.domains.length, datasets: (await hv.pool.list()).map((d) => d.name).sort(), txg: s.pool.txg, guests: hv.guests.list().length };
  },
  async attempt(what) {
    const f = attempts[what];
    if (!f) throw new Error(`no attempt named ${what}`);
    try {
      await f();
      return { refused: false };
    } catch (e) {
      const err = e as Error & { code?: string };
      return { refused: true, name: err.name, code: err.code, message: err.message };
    }
  },
  async ownership(dataset) {
    try {
      return Array.from(await hv.pool.ownership(dataset));
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  },
  async destroy(dataset) {
    await hv.pool.destroy(dataset);
  },
  async shutdown() {
    await hv.shutdown();
  },
};
