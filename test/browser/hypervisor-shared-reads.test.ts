// Real Chromium: the hypervisor end to end — dom0 worker, IndexedDB pool, hardened guest
// workers — on both transports. The same functional tests run zero-copy and copy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';

const BS = 65536;
const BLOCKS = 16;
const GUEST = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);

/** An image whose block i starts with byte i+1 (block 7 is a hole, 9 duplicates 2). */
function image(): ArrayBuffer {
  const bytes = new Uint8Array(BS * BLOCKS);
  for (let b = 0; b < BLOCKS; b++) {
    if (b === 7) continue;
    const fill = b === 9 ? 3 : b + 1;
    bytes.fill(fill, b * BS, (b + 1) * BS);
  }
  return bytes.buffer;
}

for (const transport of ['zero-copy', 'copy'] as const) {
  describe(`hypervisor over the ${transport} transport`, () => {
    let hv: Hypervisor;
    const spawned: GuestHandle<ProbeGuestApi>[] = [];
    const spawn = async (group?: string) => {
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: GUEST, ...(group ? { group } : {}) });
      spawned.push(g);
      return g;
    };

    beforeAll(async () => {
      const poolName = `hv-test-${transport}-${crypto.randomUUID()}`;
      hv = await Hypervisor.start({ poolName, arenaFrames: 64, forceCopy: transport === 'copy' });
      await hv.pool.import('img', image(), { blockSize: BS });
      await hv.pool.snapshot('img', 'img@base');
    });
    afterAll(async () => {
      await hv?.shutdown();
    });

    it('boots guests on the expected transport', async () => {
      const a = await spawn();
      expect(a.state).toBe('running');
      expect(a.transport).toBe(transport);
      expect(await a.api.transport()).toBe(transport);
    });

    it('reads a block once from the pool however many domains of a group read it', async () => {
      const [a, b] = [spawned[0]!, await spawn()];
      const before = (await hv.pool.stats()).driver.poolReads;
      const ra = await a.api.read(3);
      const rb = await b.api.read(3);
      expect(ra).toMatchObject({ first: 4, length: BS, shared: transport === 'zero-copy' });
      expect(rb).toEqual(ra);
      const s = await hv.pool.stats();
      expect(s.driver.poolReads - before).toBe(1);
      const da = s.domains.find((d) => d.id === a.id)!;
      const db = s.domains.find((d) => d.id === b.id)!;
      expect(da.counters.misses).toBe(1);
      expect(db.counters.hits).toBe(1);
      if (transport === 'zero-copy') {
        // Both page maps point at the same frame, and no byte crossed the boundary.
        expect((await hv.memory.pageMap(a.id))[3]).toBe((await hv.memory.pageMap(b.id))[3]);
        expect(s.driver.bytesCopied).toBe(0);
        expect(s.groups[0]!.resident).toBe(1);
      } else {
        expect(s.driver.bytesCopied).toBe(2 * BS);
      }
    });

    it('answers a repeated read from the mapping cache, with no request', async () => {
      const a = spawned[0]!;
      const before = (await hv.pool.stats()).domains.find((d) => d.id === a.id)!.counters.requests;
      const statsBefore = await a.api.stats();
      await a.api.read(3);
      const after = (await hv.pool.stats()).domains.find((d) => d.id === a.id)!.counters.requests;
      expect(after).toBe(before);
      expect((await a.api.stats()).cachedReads).toBe(statsBefore.cachedReads + 1);
    });

    it('reads holes as zeros without a frame, and dedups equal blocks to one frame', async () => {
      const a = spawned[0]!;
      const before = await hv.pool.stats();
      expect(await a.api.read(7)).toMatchObject({ first: 0, sum: 0, shared: false });
      await a.api.read(2);
      await a.api.read(9); // same bytes as block 2: one chunk, one frame
      const after = await hv.pool.stats();
      expect(after.driver.poolReads - before.driver.poolReads).toBe(1);
      if (transport === 'zero-copy') expect((await hv.memory.pageMap(a.id))[9]).toBe((await hv.memory.pageMap(a.id))[2]);
    });

    it('copy-on-write: a write diverges one clone only, and is durable when acknowledged', async () => {
      const [a, b] = spawned;
      await a!.api.write(5, 0xab);
      expect((await a!.api.read(5)).first).toBe(0xab);
      expect((await b!.api.read(5)).first).toBe(6);
      const exported = new Uint8Array(await (await hv.pool.export(a!.dataset)).arrayBuffer());
      expect(exported[5 * BS]).toBe(0xab);
      expect(exported[4 * BS]).toBe(5);
      await a!.api.flush();
    });

    it('keeps a view valid while the guest rewrites the block under it', async () => {
      const a = spawned[0]!;
      const held = await a.api.hold(6);
      expect(held.first).toBe(7);
      await a.api.write(6, 0x11);
      expect((await a.api.read(6)).first).toBe(0x11);
      expect((await a.api.heldSummaries())[0]).toEqual(held); // the old frame was not reused
      await a.api.releaseAll();
      // Rewrite a block that is mapped but has no live view, and one whose last view is
      // released while the write is in flight.
      await a.api.read(4);
      await a.api.write(4, 0x12);
      await a.api.rewriteReleasingDuring(11, 0x13);
      expect((await a.api.read(11)).first).toBe(0x13);
      // No pin outlives its views: nothing kept, and what dom0 counts as mapped is exactly
      // the group frames of the page map.
      const pinsLeft = async () => {
        const d = (await hv.pool.stats()).domains.find((x) => x.id === a.id)!;
        const frames = new Set([...(await hv.memory.pageMap(a.id))].filter((f) => f >= 0 && f < 64));
        return [d.kept, d.mapped - frames.size];
      };
      await expect.poll(pinsLeft, { timeout: 2000 }).toEqual([0, 0]);
    });

    it('gives back the pin kept for a view when the block is rewritten with the bytes it held and read again', async () => {
      // The rewrite dedups to the chunk the view shows, so the LBA is mapped again to the
      // very frame dom0 kept for the view: the page map looks as if the mapping never
      // moved. The kept pin must still go back when the view does.
      const a = spawned[0]!;
      const held = await a.api.hold(12);
      expect(held.first).toBe(13);
      await a.api.write(12, 13);
      expect((await a.api.read(12)).first).toBe(13);
      const kept = async () => (await hv.pool.stats()).domains.find((x) => x.id === a.id)!.kept;
      if (transport === 'zero-copy') expect(await kept(), 'a pin kept for the live view').toBe(1);
      await a.api.releaseAll();
      await expect.poll(kept, { timeout: 2000 }).toBe(0);
    });

    it('never shares frames across trust groups: the other group reads the pool like any miss', async () => {
      const x = await spawn('other');
      const before = await hv.pool.stats();
      const rx = await x.api.read(3); // resident in the default group only
      const after = await hv.pool.stats();
      expect(rx.first).toBe(4);
      expect(after.driver.poolReads - before.driver.poolReads).toBe(1);
      const dx = after.domains.find((d) => d.id === x.id)!;
      expect(dx.group).toBe('other');
      expect(dx.counters).toMatchObject({ misses: 1, hits: 0 });
      expect(after.groups.map((g) => g.id).sort()).toEqual(['img', 'other']);
    });

    it('gives clear errors for bad input, in the guest, without harming the domain', async () => {
      const a = spawned[0]!;
      expect(await a.api.tryError('range')).toMatch(/BlockDeviceError: block 16 is outside this volume/);
      expect(await a.api.tryError('short-write')).toMatch(/BlockDeviceError: a write must be one whole block/);
      expect((await a.api.read(1)).first).toBe(2);
    });

    it('readSync works in workers on zero-copy, and says why not on copy', async () => {
      const a = spawned[0]!;
      if (transport === 'zero-copy') {
        expect((await a.api.readSync(10)).first).toBe(11);
      } else {
        await expect(a.api.readSync(10)).rejects.toThrow(/readSync needs the zero-copy transport/);
      }
    });

    it('a killed guest goes away; the others go on', async () => {
      const [a, b] = spawned;
      await a!.kill();
      expect(a!.state).toBe('destroyed');
      await expect(a!.api.read(1)).rejects.toThrow(/guest \d+ was destroyed/);
      expect((await hv.pool.stats()).domains.some((d) => d.id === a!.id)).toBe(false);
      expect((await b!.api.read(12)).first).toBe(13);
    });
  });
}
