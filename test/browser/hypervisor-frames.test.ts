// Real Chromium: frames under pressure. A small arena and a small quota: guests keep
// reading correct bytes while dom0 takes back mappings no view holds and frames are evicted
// and reused; a guest cannot pin more than its quota; frames mapped by several domains are
// promoted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';

const BS = 65536;
const BLOCKS = 24;
const GUEST = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);

let hv: Hypervisor;
beforeAll(async () => {
  hv = await Hypervisor.start({ poolName: `frames-${crypto.randomUUID()}`, arenaFrames: 8, quota: 4, promoteAt: 2 });
  const img = new Uint8Array(BS * BLOCKS);
  for (let b = 0; b < BLOCKS; b++) img.fill(b + 1, b * BS, (b + 1) * BS);
  await hv.pool.import('img', img.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
});
afterAll(async () => hv?.shutdown());

describe('frames under pressure', () => {
  let a: GuestHandle<ProbeGuestApi>;
  let b: GuestHandle<ProbeGuestApi>;

  it('reads stay correct while mappings are taken back and frames are evicted and reused', async () => {
    a = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: GUEST });
    for (let round = 0; round < 2; round++) {
      for (let lba = 0; lba < BLOCKS; lba++) expect((await a.api.read(lba)).first).toBe(lba + 1);
    }
    const s = await hv.pool.stats();
    const g = s.groups[0]!;
    expect(g.resident).toBeLessThanOrEqual(8);
    expect(g.evictions).toBeGreaterThan(0);
    expect(s.domains[0]!.mapped).toBeLessThanOrEqual(4);
    expect(s.domains[0]!.counters.revoked).toBeGreaterThan(0);
  });

  it('refuses a fifth pinned view past a quota of four, with a clear error', async () => {
    for (const lba of [0, 1, 2, 3]) await a.api.hold(lba);
    await expect(a.api.hold(4)).rejects.toThrow(/frame quota reached/);
    // The held views are intact, and releasing them lets reads go on.
    expect((await a.api.heldSummaries()).map((r) => r.first)).toEqual([1, 2, 3, 4]);
    await a.api.releaseAll();
    expect((await a.api.read(4)).first).toBe(5);
  });

  it('promotes a frame that two domains map', async () => {
    b = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: GUEST });
    await a.api.hold(10);
    await b.api.hold(10);
    const frames = await hv.memory.frames('img');
    const f = frames.find((x) => x.mappedBy.length === 2);
    expect(f).toBeDefined();
    expect(f!.promoted).toBe(true);
    expect(f!.mappedBy.map(([d]) => d).sort()).toEqual([a.id, b.id].sort());
    await a.api.releaseAll();
    await b.api.releaseAll();
  });
});
