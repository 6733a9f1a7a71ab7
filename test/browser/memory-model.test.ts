// Real Chromium: the memory model under attack and under pressure (docs/design.md "Memory
// model", docs/isolation.md "Trust groups"). Each test is an attack by a hostile guest of
// the same trust group, or a workload that used to fail:
//   - confidentiality: a guest's own writes never sit in memory another guest holds;
//   - integrity: nothing certifies bytes a guest planted in shared memory, readers of a
//     corrupt frame are moved, not faulted, and the mirror is sourced from the pool;
//   - overcommit: dom0 takes back mappings no view holds, quotas are reserved and fair,
//     and no guest can stop another's mapping cache from hitting;
//   - coherence: a read racing the guest's own overwrite, two guests on one clone.
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import { Pool } from '../../host/pool';
import type { MemoryGuestApi } from './fixtures/guests/memory-guest';
import { domainLayout } from '../../shared/memory-layout';

const BS = 65536;
const GUEST = new URL('./fixtures/guests/memory-guest.ts', import.meta.url);

/** Block i is filled with i + 1. */
function image(blocks: number): ArrayBuffer {
  const img = new Uint8Array(BS * blocks);
  for (let b = 0; b < blocks; b++) img.fill((b + 1) & 0xff, b * BS, (b + 1) * BS);
  return img.buffer;
}

/** What memory-guest's readAll() gives for block i of image(): a sum over every 64th byte. */
function lineSumOf(fill: number): number {
  let s = 0;
  for (let i = 0; i < BS; i += 64) s = (s + fill * (i + 1)) | 0;
  return s;
}

const marker = (tag: string): Uint8Array => {
  const m = new Uint8Array(16);
  crypto.getRandomValues(m);
  m.set(new TextEncoder().encode(tag).subarray(0, 8));
  return m;
};

let hv: Hypervisor | null = null;
afterEach(async () => {
  await hv?.shutdown();
  hv = null;
});

async function start(opts: { arenaFrames: number; quota?: number; blocks: number; copy?: boolean; scrubEveryMs?: number }): Promise<Hypervisor> {
  hv = await Hypervisor.start({
    poolName: `memory-${crypto.randomUUID()}`,
    arenaFrames: opts.arenaFrames,
    quota: opts.quota ?? opts.arenaFrames,
    scrubEveryMs: opts.scrubEveryMs ?? 0,
    forceCopy: !!opts.copy,
  });
  await hv.pool.import('img', image(opts.blocks), { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  return hv;
}

const spawn = (h: Hypervisor) => h.guests.spawn<MemoryGuestApi>({ base: 'img@base', module: GUEST });

describe('confidentiality: a guest’s own blocks stay out of every other guest’s memory', () => {
  it('B scans every buffer it holds and never finds A’s secret, before or after A is killed', async () => {
    const h = await start({ arenaFrames: 32, blocks: 16 });
    const [a, b] = [await spawn(h), await spawn(h)];
    expect(a.transport).toBe('zero-copy');
    const secret = marker('SECRET-A');
    const rewritten = marker('OLD-A');
    expect(await a.api.writeSecret(3, secret)).toBe(true);
    // A secret A overwrote (its chunk is freed) is no more visible than a live one.
    expect(await a.api.writeSecret(4, rewritten)).toBe(true);
    await a.api.write(4, 0x44);
    // B reads the whole volume (every block it may read comes into the arena), then scans.
    await b.api.readAll();
    const seen = await b.api.scan(secret);
    expect(Object.keys(seen).length).toBeGreaterThanOrEqual(2); // arena and control buffer at least
    expect(Object.values(seen).reduce((x, y) => x + y, 0)).toBe(0);
    expect(Object.values(await b.api.scan(rewritten)).reduce((x, y) => x + y, 0)).toBe(0);
    // A itself still reads its secret, from memory only it holds.
    expect((await a.api.scan(secret))['init.grant.control']).toBeGreaterThan(0);
    expect((await a.api.scan(secret))['init.grant.arena']).toBe(0);
    const s = await h.pool.stats();
    expect(s.domains.find((d) => d.id === a.id)!.privateResident).toBeGreaterThan(0);
    // A dies; B, and a guest booted afterwards, still find nothing.
    await h.guests.kill(a.id);
    const c = await spawn(h);
    await c.api.readAll();
    for (const g of [b, c]) {
      expect(Object.values(await g.api.scan(secret)).reduce((x, y) => x + y, 0)).toBe(0);
      expect(Object.values(await g.api.scan(rewritten)).reduce((x, y) => x + y, 0)).toBe(0);
    }
  });
});

describe('memory per guest: what a domain does not use, it does not hold', () => {
  it('a reading guest holds only its rings and page map; a write adds one staging slot and one private frame, where its block is kept for reading back', async () => {
    const h = await start({ arenaFrames: 32, blocks: 16 });
    const [a, b] = [await spawn(h), await spawn(h)];
    expect(a.transport).toBe('zero-copy');
    // The geometry dom0 gives a 16-block domain (default rings, staging slots, private frames).
    const l = domainLayout(16, BS, 256, 4, 16);
    const control = async (id: number) => (await h.pool.stats()).domains.find((d) => d.id === id)!.controlBytes;
    await a.api.readAll();
    await b.api.readAll();
    expect(await control(a.id)).toBe(l.eagerBytes);
    expect(await control(b.id)).toBe(l.eagerBytes);
    expect(l.totalBytes - l.eagerBytes).toBeGreaterThan(1_000_000); // what each reader no longer holds
    await a.api.write(2, 0x5a);
    // Block 2 is A's alone now: dom0 keeps it in A's first private frame (write-allocate).
    expect(await control(a.id)).toBe(l.privateFrames.framesByteOffset + BS);
    // Read back, it is served from that frame, without a pool read.
    const poolReads = (await h.pool.stats()).driver.poolReads;
    expect((await a.api.readAll())[2]).toBe(lineSumOf(0x5a));
    expect((await h.pool.stats()).driver.poolReads).toBe(poolReads);
    expect(await control(a.id)).toBe(l.privateFrames.framesByteOffset + BS);
    expect(await control(b.id)).toBe(l.eagerBytes);
    expect((await h.pool.stats()).domains.find((d) => d.id === a.id)!.privateResident).toBe(1);
  });
});

describe('the guest’s frame-view cache', () => {
  it('frames that share a cache slot (256 apart) never alias: every re-read sees its own block', async () => {
    const blocks = 600;
    hv = await Hypervisor.start({ poolName: `memory-${crypto.randomUUID()}`, arenaFrames: blocks, quota: blocks, scrubEveryMs: 0 });
    // Every block distinct (so no two share a chunk or a frame): byte 64 holds b's high byte.
    const img = new Uint8Array(BS * blocks);
    for (let b = 0; b < blocks; b++) {
      img.fill(b & 0xff, b * BS, (b + 1) * BS);
      img[b * BS + 64] = b >> 8;
    }
    await hv.pool.import('img', img.buffer, { blockSize: BS });
    await hv.pool.snapshot('img', 'img@base');
    const a = await spawn(hv);
    const want = Array.from({ length: blocks }, (_, b) => (lineSumOf(b & 0xff) - (b & 0xff) * 65 + (b >> 8) * 65) | 0);
    expect(await a.api.readAll()).toEqual(want); // fills frames 0..599 in order
    expect(await a.api.readAll()).toEqual(want); // cached hits: a slot holds frame f, f + 256, f + 512 in turn
  });
});

describe('integrity: nothing trusts shared memory', () => {
  it('fill-time poisoning: bytes a guest writes into frames while dom0 fills them are never certified', async () => {
    const h = await start({ arenaFrames: 64, blocks: 48 });
    const [m, v] = [await spawn(h), await spawn(h)];
    // M scribbles every frame, all the time, while V's reads fill the arena.
    const storm = m.api.scribble(0xee, 1500);
    const during = v.api.readAll();
    expect(await storm).toBeGreaterThan(0);
    await during;
    // The scribbling stopped. One scrub must find every frame that differs from the pool.
    await h.integrity.scrub();
    const want = Array.from({ length: 48 }, (_, b) => lineSumOf(b + 1));
    expect(await v.api.readAll()).toEqual(want);
    // A guest booted afterwards reads genuine bytes too.
    const w = await spawn(h);
    expect(await w.api.readAll()).toEqual(want);
  });

  it('continuous scribbling on frames the attacker never mapped: readers keep being served, never faulted', async () => {
    const faults: string[] = [];
    const h = await start({ arenaFrames: 32, blocks: 16, scrubEveryMs: 50 });
    h.onGuestFault = (_g, reason) => faults.push(reason);
    const [m, r1, r2] = [await spawn(h), await spawn(h), await spawn(h)];
    await r1.api.readAll();
    await r2.api.readAll();
    const storm = m.api.scribble(0x5a, 2000);
    const lbas = Array.from({ length: 16 }, (_, i) => i);
    const [x1, x2] = await Promise.all([r1.api.readFor(lbas, 1800), r2.api.readFor(lbas, 1800)]);
    await storm;
    expect(x1.errors + x2.errors).toBe(0);
    expect(faults).toEqual([]);
    expect([r1.state, r2.state]).toEqual(['running', 'running']);
    // Caught and counted for the group, visible in stats.
    // The 50 ms scrub keeps finding the bytes the storm left until it repairs them, so the
    // count may grow between two calls: the integrity count must sit between two pool counts.
    const s = await h.pool.stats();
    expect(s.groups[0]!.incidents).toBeGreaterThan(0);
    const counted = (await h.integrity.stats()).incidents[s.groups[0]!.id];
    const later = (await h.pool.stats()).groups[0]!.incidents;
    expect(counted).toBeGreaterThanOrEqual(s.groups[0]!.incidents);
    expect(counted).toBeLessThanOrEqual(later);
    // Once it stops, the next check restores genuine bytes for every reader.
    await h.integrity.scrub();
    const want = Array.from({ length: 16 }, (_, b) => lineSumOf(b + 1));
    expect(await r1.api.readAll()).toEqual(want);
    expect(await r2.api.readAll()).toEqual(want);
  });

  it('the sync mirror after poisoning: the mirror pool equals the primary', async () => {
    const h = await start({ arenaFrames: 64, blocks: 32 });
    const [m, v] = [await spawn(h), await spawn(h)];
    // Poison the arena while V fills it, then mirror V's clone (initial sync + writes).
    const storm = m.api.scribble(0xee, 1200);
    await v.api.readAll();
    await storm;
    const id = crypto.randomUUID();
    const target = new Worker(new URL('../../host/mirror/mirror-target-worker.ts', import.meta.url), { type: 'module' });
    try {
      const ready = new Promise<{ ready?: boolean; error?: string }>((res) => target.addEventListener('message', (ev) => res(ev.data), { once: true }));
      target.postMessage({ db: `mirror-${id}`, channel: `poison-${id}` });
      expect(await ready).toEqual({ ready: true });
      await h.mirror.start({ channel: `poison-${id}`, mode: 'sync', datasets: [v.dataset] });
      await v.api.write(5, 0x55);
      await h.mirror.drained();
      h.mirror.stop();
    } finally {
      target.terminate();
    }
    const mirror = await Pool.open(`mirror-${id}`);
    try {
      const lbas = Array.from({ length: 32 }, (_, i) => i);
      const got = await mirror.readBlocks(v.dataset, lbas);
      const primary = new Uint8Array(await (await h.pool.export(v.dataset)).arrayBuffer());
      for (const lba of lbas) expect(got[lba]!.every((x, i) => x === primary[lba * BS + i]), `block ${lba}`).toBe(true);
    } finally {
      mirror.close();
    }
  });
});

describe('overcommit: dom0 takes back what no view holds; no guest can starve another', () => {
  it('the hoarding burst: a guest grabbing every block at once gets its share, the bystander keeps streaming', async () => {
    // The console's setting: quota = arena size.
    const h = await start({ arenaFrames: 16, quota: 16, blocks: 48 });
    const [hoarder, bystander] = [await spawn(h), await spawn(h)];
    const all = Array.from({ length: 48 }, (_, i) => i);
    const grab = await hoarder.api.hoard(all);
    // Two domains in the group: a fair share is half the arena.
    const hs = (await h.pool.stats()).domains.find((d) => d.id === hoarder.id)!;
    expect(hs.mapped).toBeLessThanOrEqual(8);
    expect(grab.got).toBeLessThanOrEqual(8);
    expect(grab.errors.every((e) => /frame quota reached/.test(e))).toBe(true);
    expect(await bystander.api.stream(2)).toEqual({ reads: 96, wrong: 0, errors: [] });
    await hoarder.api.releaseAll();
    expect(await hoarder.api.stream(1)).toEqual({ reads: 48, wrong: 0, errors: [] });
  });

  it('lease words are guest-written: a guest claiming leases on everything keeps no more than its share of frames only it maps, and is faulted before it can starve the group', async () => {
    const h = await start({ arenaFrames: 16, quota: 16, blocks: 48 });
    const [liar, bystander] = [await spawn(h), await spawn(h)];
    const faults: string[] = [];
    h.onGuestFault = (g, reason) => void (g.id === liar.id && faults.push(reason));
    expect(await liar.api.stream(1)).toEqual({ reads: 48, wrong: 0, errors: [] });
    await liar.api.lieLeases(1_000_000); // dom0 can take none of its mappings back now
    expect(await bystander.api.stream(2)).toEqual({ reads: 96, wrong: 0, errors: [] });
    const s = (await h.pool.stats()).domains.find((d) => d.id === liar.id)!;
    expect(s.sole).toBeLessThanOrEqual(s.share);
    // Blocks no one else maps count against its share of 8; past it the liar is refused.
    let refused = '';
    for (let lba = 0; lba < 16 && !refused; lba++) {
      refused = await liar.api.first(lba).then(() => '', (e: unknown) => String(e));
    }
    expect(refused).toMatch(/frame quota reached/);
    const after = (await h.pool.stats()).domains.find((d) => d.id === liar.id)!;
    expect(after.sole).toBe(after.share);
    // The liar now pins the whole arena: its own share, plus the frames it shared with the
    // bystander, which the bystander gives back as it streams on. Rather than fail the
    // bystander, dom0 faults the domain over its share.
    expect(await bystander.api.stream(1)).toEqual({ reads: 48, wrong: 0, errors: [] });
    await expect.poll(() => faults.length).toBe(1);
    expect(faults[0]).toMatch(/over its fair share of 8, while the arena is exhausted/);
    expect(await bystander.api.stream(1)).toEqual({ reads: 48, wrong: 0, errors: [] });
  });

  it('the generation-word storm: a bystander’s mapping cache keeps hitting', async () => {
    const h = await start({ arenaFrames: 32, blocks: 16 });
    const [m, b] = [await spawn(h), await spawn(h)];
    const lbas = [1, 2, 3, 4];
    await b.api.readFor(lbas, 100); // warm: the four blocks are mapped
    const quiet = await b.api.readFor(lbas, 400);
    const storm = m.api.genStorm(900);
    const under = await b.api.readFor(lbas, 800);
    await storm;
    expect(quiet.errors + under.errors).toBe(0);
    expect(quiet.cached / (quiet.cached + quiet.ring)).toBeGreaterThan(0.99);
    // Every read under the storm still answered from the cache, with no round trip.
    expect(under.cached / (under.cached + under.ring)).toBeGreaterThan(0.99);
  });

  for (const transport of ['zero-copy', 'copy'] as const) {
    for (const n of [2, 8]) {
      it(`${n} guests each streaming a volume 4× the arena all complete (${transport})`, async () => {
        const h = await start({ arenaFrames: 16, quota: 16, blocks: 64, copy: transport === 'copy' });
        const guests: GuestHandle<MemoryGuestApi>[] = [];
        for (let i = 0; i < n; i++) guests.push(await spawn(h));
        expect(guests[0]!.transport).toBe(transport);
        const results = await Promise.all(guests.map((g) => g.api.stream(2)));
        for (const r of results) expect(r).toEqual({ reads: 128, wrong: 0, errors: [] });
      });
    }
  }
});

describe('coherence', () => {
  for (const transport of ['zero-copy', 'copy'] as const) {
    it(`a read racing the same guest’s overwrite returns the old or the new bytes, never an error (${transport})`, async () => {
      const h = await start({ arenaFrames: 32, blocks: 16, copy: transport === 'copy' });
      const g = await spawn(h);
      const outcomes: string[] = [];
      for (let i = 0; i < 24; i++) outcomes.push(await g.api.raceReadWrite(5 + (i % 4), 2 * i + 1, 2 * i + 2));
      expect(outcomes.filter((o) => o !== 'old' && o !== 'new')).toEqual([]);
    });

    it(`a second guest on one clone is refused with a clear, typed error (${transport})`, async () => {
      const h = await start({ arenaFrames: 16, blocks: 8, copy: transport === 'copy' });
      const a = await spawn(h);
      await expect(h.guests.spawn<MemoryGuestApi>({ dataset: a.dataset, module: GUEST })).rejects.toThrow(/DatasetInUseError|in use by domain/);
      // The first guest is untouched, and after it goes the clone can be served again.
      expect(await a.api.first(2)).toBe(3);
      await h.guests.kill(a.id);
      const b = await h.guests.spawn<MemoryGuestApi>({ dataset: a.dataset, module: GUEST });
      expect(await b.api.first(2)).toBe(3);
    });
  }
});
