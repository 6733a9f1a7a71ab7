// Real Chromium: the ring worker (Dom0Config.ringWorker, host/dom0/ring-worker-host.ts), a
// dedicated worker dom0 starts, serving two guests' rings in front of dom0. Everything a
// guest does through its rings (no-ops, reads, writes, synchronous and atomic writes,
// flushes) works as when dom0 serves the rings itself, and killing one guest does not
// disturb the others. Hostile guests against it: hypervisor-hostile.test.ts runs every
// attack in both modes; the relay itself against dom0 alone: test/unit/ring-relay.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';

const BS = 65536;
const BLOCKS = 8;
const PROBE = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);

let hv: Hypervisor;
let a: GuestHandle<ProbeGuestApi>;
let b: GuestHandle<ProbeGuestApi>;

beforeAll(async () => {
  hv = await Hypervisor.start({ poolName: `ring-worker-${crypto.randomUUID()}`, arenaFrames: 32, ringWorker: true });
  const img = new Uint8Array(BS * BLOCKS);
  for (let i = 0; i < BLOCKS; i++) img.fill(i + 1, i * BS, (i + 1) * BS);
  await hv.pool.import('img', img.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  a = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
  b = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
});
afterAll(async () => hv?.shutdown());

describe('the ring worker', () => {
  it('serves the rings of zero-copy guests', async () => {
    expect(await a.api.transport()).toBe('zero-copy');
    expect((await hv.pool.stats()).ringWorker).toBe(true);
  });

  it('answers no-ops, counted as the domain’s requests though dom0 never sees them', async () => {
    const before = await hv.pool.stats();
    expect(await a.api.nops(5000)).toBe(5000);
    const after = await hv.pool.stats();
    const requests = (s: typeof before): number => s.domains.find((d) => d.id === a.id)!.counters.requests;
    expect(requests(after) - requests(before)).toBe(5000);
    expect(after.scheduler.servedEntries - before.scheduler.servedEntries, 'entries dom0 took off its rings').toBe(0);
  });

  it('relays reads and writes to dom0: each guest sees its own writes and the base for the rest', async () => {
    for (let lba = 0; lba < BLOCKS; lba++) expect((await a.api.read(lba)).first).toBe(lba + 1);
    await a.api.write(3, 0x33);
    await a.api.writeSync(4, 0x44);
    expect(await a.api.writeAtomic([5, 6], 0x56)).toBe('ok');
    await a.api.flush();
    expect((await a.api.read(3)).first).toBe(0x33);
    expect(await a.api.readSync(4)).toMatchObject({ first: 0x44 });
    expect((await a.api.read(5)).first).toBe(0x56);
    expect((await a.api.read(6)).first, 'an atomic group fills block i with fill + i').toBe(0x57);
    for (const lba of [3, 4, 5, 6]) expect((await b.api.read(lba)).first, `b's block ${lba}`).toBe(lba + 1);
    expect(await b.api.readAll(), 'sum of b’s first bytes: the base image').toBe((BLOCKS * (BLOCKS + 1)) / 2);
  });

  it('without it, dom0 serves each no-op itself and counts what serving them took', async () => {
    const plain = await Hypervisor.start({ poolName: `ring-worker-off-${crypto.randomUUID()}`, arenaFrames: 32 });
    try {
      await plain.pool.import('img', new Uint8Array(BS * BLOCKS).buffer, { blockSize: BS });
      await plain.pool.snapshot('img', 'img@base');
      const g = await plain.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
      const before = (await plain.pool.stats()).scheduler;
      expect(await g.api.nops(2000)).toBe(2000);
      const after = (await plain.pool.stats()).scheduler;
      expect(after.servedEntries - before.servedEntries).toBe(2000);
      expect(after.servingMs - before.servingMs).toBeGreaterThan(0);
    } finally {
      await plain.shutdown();
    }
  });

  it('a guest killed while relayed does not disturb the others', async () => {
    const c = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
    expect(await c.api.nops(10)).toBe(10);
    await c.kill();
    expect(c.state).toBe('destroyed');
    expect(await b.api.nops(1000)).toBe(1000);
    expect((await b.api.read(2)).first).toBe(3);
  });
});
