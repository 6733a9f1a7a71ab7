// Real Chromium: plain writes that dom0 refuses. Another tab deletes the pool while a guest
// runs: IndexedDB asks dom0's connection to step aside, the pool closes, and dom0 refuses
// every WRITE after that, and every read it would have to fetch, as `pool-closed` (a
// status of its own, so a guest can tell this from a storage fault). The guest's writeSync
// and write must fail with that error at once, give their staging slots back (a writeSync
// of more blocks than there are slots, then another: a leaked slot would turn the second
// into "every staging slot is held"), and leave what the guest already maps readable. The
// page's own calls say the same, and dom0 lives on. On both transports (writeSync on the
// ring only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/page/hypervisor';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';
import { deleteDatabase } from '../helpers/idb';

const BS = 4096;
const BLOCKS = 64;
const GUEST = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);

const closedWrite = /^pool-closed: write of block \d+: the storage pool was closed under dom0/;

for (const transport of ['zero-copy', 'copy'] as const) {
  describe(`plain writes refused by dom0, the pool deleted under it (${transport})`, () => {
    let hv: Hypervisor;
    const poolName = `write-refused-${crypto.randomUUID()}`;
    beforeAll(async () => {
      hv = await Hypervisor.start({ poolName, arenaFrames: 16, scrubEveryMs: 0, forceCopy: transport === 'copy' });
      await hv.pool.import('vol', new Uint8Array(BLOCKS * BS).fill(7).buffer, { blockSize: BS });
      await hv.pool.snapshot('vol', 'vol@base');
    });
    afterAll(async () => {
      await hv?.shutdown().catch(() => undefined);
      await deleteDatabase(poolName);
    });

    it('writes fail with pool-closed, give their slots back, mapped blocks stay readable, the page is told why', async () => {
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'vol@base', module: GUEST });
      const sync = transport === 'zero-copy'; // writeSync needs the ring
      try {
        expect(await g.api.transport()).toBe(transport);
        // Accepted while the pool is there, on both paths.
        if (sync) expect(await g.api.writePlain([1, 2], 0x10, true)).toBe('ok');
        expect(await g.api.writePlain([3], 0x20, false)).toBe('ok');
        const before = await g.api.read(0);

        await deleteDatabase(poolName);
        const commitsBefore = (await hv.pool.stats()).driver.commits;

        const all = Array.from({ length: 40 }, (_, i) => 4 + i);
        if (sync) {
          expect(await g.api.writePlain(all, 0x30, true)).toMatch(closedWrite);
          // The slots came back: the same again fails the same way, not for want of a slot.
          expect(await g.api.writePlain(all, 0x40, true)).toMatch(closedWrite);
        }
        expect(await g.api.writePlain([5], 0x50, false)).toMatch(closedWrite);
        if (sync) expect(await g.api.writePlain([6], 0x60, true)).toMatch(closedWrite);
        // An atomic group: held by dom0, refused at its commit, nothing left held.
        expect(await g.api.writeAtomic([7, 8, 9], 0x70)).toMatch(/^pool-closed: /);
        if (sync) expect(await g.api.writeAtomic([7, 8, 9], 0x80, true)).toMatch(/^pool-closed: /);
        expect((await hv.pool.stats()).driver.commits).toBe(commitsBefore);
        // What it holds is still its to read (a page-map hit or its own copy: dom0 is not asked)...
        expect(await g.api.read(0)).toEqual(before);
        // ...and a block dom0 would have to fetch says why it cannot be had.
        await expect(g.api.read(BLOCKS - 1)).rejects.toThrow(/read of block \d+: the storage pool was closed under dom0/);
        // The page's control plane says why too, and dom0 is still there to ask.
        const why = /pool write-refused-[\w-]+ is closed: another tab deleted it/;
        await expect(hv.pool.list()).rejects.toThrow(why);
        await expect(hv.pool.snapshot('vol', 'vol@later')).rejects.toThrow(why);
        await expect(hv.guests.spawn<ProbeGuestApi>({ base: 'vol@base', module: GUEST })).rejects.toThrow(why);
        expect((await hv.pool.stats()).driver.poolReads).toBeGreaterThan(0);
      } finally {
        await g.kill().catch(() => undefined);
      }
    });
  });
}
