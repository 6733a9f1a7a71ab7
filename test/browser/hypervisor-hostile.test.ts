// Real Chromium: hostile guests. Each misbehaviour is refused (a status the guest sees) or
// faults that guest alone (its worker is terminated with a reason); dom0 and the other
// guests go on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import { Status } from '../../shared/protocol';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';
import { FaultLog } from '../helpers/guest-faults';

const BS = 65536;
const BLOCKS = 8;
const PROBE = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);
const HOSTILE = new URL('./fixtures/guests/hostile-guest.ts', import.meta.url);

interface HostileApi {
  garbageIndex(): void;
  badOpcode(): Promise<void>;
  badSlot(): Promise<void>;
  ungrownSlot(): Promise<number>;
  stormDoorbell(ms: number): Promise<{ stores: number; endAt: number }>;
  growToMax(): Promise<{ bytes: number; max: number; past: string; readBack: number }>;
  forgeUnmap(frame: number): Promise<number>;
  unmapUnmapped(lba: number): Promise<number>;
  forgeKept(rounds: number): Promise<Record<string, number>>;
  readStatus(lba: number): Promise<number>;
  forgePageMap(lba: number): Promise<number>;
  flood(n: number, ms: number): Promise<number>;
  arenaFrames(): number;
  reachable(): Record<string, string>;
}

let hv: Hypervisor;
let bystander: GuestHandle<ProbeGuestApi>;
/** Per hypervisor: guest ids start again in each. */
let faults = new FaultLog();

async function hostile(): Promise<GuestHandle<HostileApi>> {
  return hv.guests.spawn<HostileApi>({ base: 'img@base', module: HOSTILE });
}

/** Every attack runs twice: against the ring worker (the default) and against dom0 serving the rings itself. */
async function start(ringWorker: boolean): Promise<void> {
  hv = await Hypervisor.start({ poolName: `hostile-${crypto.randomUUID()}`, arenaFrames: 32, ringWorker });
  faults = new FaultLog();
  hv.onGuestFault = faults.record;
  const img = new Uint8Array(BS * BLOCKS);
  for (let b = 0; b < BLOCKS; b++) img.fill(b + 1, b * BS, (b + 1) * BS);
  await hv.pool.import('img', img.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  bystander = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
  expect((await bystander.api.read(1)).first).toBe(2);
}

/** How a call ended, captured at once (a rejection must have a handler before it happens). */
function settled(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)),
  );
}

async function bystanderStillServed(lba: number): Promise<void> {
  expect((await bystander.api.read(lba)).first).toBe(lba + 1);
  expect(bystander.state).toBe('running');
}

for (const ringWorker of [true, false]) describe(`hostile guests, ${ringWorker ? 'ring worker' : 'dom0 serving the rings'}`, () => {
  beforeAll(() => start(ringWorker));
  afterAll(async () => hv?.shutdown());

  it(ringWorker ? 'the ring worker serves the rings' : 'dom0 serves the rings', async () => {
    expect((await hv.pool.stats()).ringWorker).toBe(ringWorker);
  });
  it('garbage producer index in its ring: faulted with the reason, others go on', async () => {
    const g = await hostile();
    // dom0 may fault the guest before its reply to this call gets out: either end is fine.
    const call = settled(g.api.garbageIndex());
    expect(await faults.of(g)).toMatch(/request ring: producer index .* capacity is 256/);
    expect(await call).toMatch(/^resolved$|^GuestEndedError: guest \d+ faulted: request ring/);
    expect(g.state).toBe('faulted');
    await bystanderStillServed(2);
  });

  it('an unknown opcode: faulted', async () => {
    const g = await hostile();
    // The call cannot complete (dom0 faults the guest and its worker ends): it rejects with why.
    const call = settled(g.api.badOpcode());
    expect(await faults.of(g)).toMatch(/unknown opcode 99/);
    expect(await call).toMatch(/GuestEndedError: guest \d+ faulted: unknown opcode 99/);
    await bystanderStillServed(3);
  });

  it('a write naming a staging slot that does not exist: faulted', async () => {
    const g = await hostile();
    const call = settled(g.api.badSlot());
    expect(await faults.of(g)).toMatch(/staging slot 99/);
    expect(await call).toMatch(/GuestEndedError: .*staging slot 99/);
    await bystanderStillServed(4);
  });

  it('a guest rewriting dom0’s doorbell cannot stall another guest: its requests are served during the storm', async () => {
    const g = await hostile();
    const storm = g.api.stormDoorbell(1500);
    await new Promise((r) => setTimeout(r, 100));
    expect(await bystander.api.nops(500)).toBe(500);
    const doneAt = performance.timeOrigin + performance.now();
    const s = await storm;
    expect(s.stores).toBeGreaterThan(100_000);
    // Served while the storm ran, not after it: a lost wake-up costs at most one nap.
    expect(doneAt).toBeLessThan(s.endAt);
    await bystanderStillServed(5);
  });

  it('a write naming a staging slot its buffer was never grown to hold: faulted, with the reason', async () => {
    const g = await hostile();
    const call = settled(g.api.ungrownSlot());
    expect(await faults.of(g)).toMatch(/staging slot 0, which does not exist or was never allocated/);
    expect(await call).toMatch(/GuestEndedError/);
    await bystanderStillServed(4);
  });

  it('a guest growing its own control buffer gets no further than the maximum dom0 chose, and only costs itself', async () => {
    const g = await hostile();
    const r = await g.api.growToMax();
    expect(r.bytes).toBe(r.max);
    expect(r.past).toBe('RangeError');
    expect(r.readBack).toBe(0x77);
    const s = await hv.pool.stats();
    expect(s.domains.find((d) => d.id === g.id)!.controlBytes).toBe(r.max);
    await bystanderStillServed(4);
  });

  it('forged frame numbers and releases of what it does not hold: refused, not served', async () => {
    const g = await hostile();
    // The bystander maps frame(s); the hostile guest tries to drop pins on them.
    const frames = await g.api.arenaFrames();
    for (const f of [0, 1, frames - 1]) expect(await g.api.forgeUnmap(f)).toBe(Status.BAD_REQUEST);
    expect(await g.api.forgeUnmap(frames + 5)).toBe(Status.BAD_REQUEST);
    expect(await g.api.unmapUnmapped(0)).toBe(Status.BAD_REQUEST);
    expect(await g.api.readStatus(BLOCKS)).toBe(Status.OUT_OF_RANGE);
    // The bystander's mapping survived the attempts.
    const s = await hv.pool.stats();
    expect(s.domains.find((d) => d.id === bystander.id)!.mapped).toBeGreaterThan(0);
    expect(g.state).toBe('running');
    await bystanderStillServed(1);
  });

  it('a forged LEASE_KEPT and a flood of requests for kept pins give back nothing it does not hold', async () => {
    // The bystander holds a view of block 2 (its frame pinned for it) while the hostile
    // guest, mapping the same frames, claims dom0 kept pins everywhere and asks for them.
    const held = await bystander.api.hold(2);
    const g = await hostile();
    const seen = await g.api.forgeKept(4);
    expect(seen, 'every request answered OK: there was nothing to give back').toEqual({ [Status.OK]: 2 * 4 * BLOCKS });
    expect(g.state).toBe('running');
    const s = await hv.pool.stats();
    const hs = s.domains.find((d) => d.id === g.id)!;
    expect(hs.kept).toBe(0);
    // What dom0 counts as mapped is exactly the group frames each page map names: no pin
    // went that a mapping holds.
    for (const d of [g, bystander]) {
      const frames = new Set([...(await hv.memory.pageMap(d.id))].filter((f) => f >= 0 && f < 32));
      expect(s.domains.find((x) => x.id === d.id)!.mapped, `domain ${d.id}`).toBe(frames.size);
    }
    expect((await bystander.api.heldSummaries())[0]).toEqual(held);
    await bystander.api.releaseAll();
    await bystanderStillServed(2);
  });

  it('a forged page-map entry is not trusted by the guest runtime', async () => {
    const g = await hostile();
    expect(await g.api.forgePageMap(5)).toBe(6);
  });

  it('flooding requests without collecting completions: faulted, dom0 holds bounded work', async () => {
    const g = await hostile();
    const call = settled(g.api.flood(5000, 3000));
    expect(await faults.of(g, 5000)).toMatch(/stopped consuming completions/);
    expect(await call).toMatch(/GuestEndedError/);
    await bystanderStillServed(6);
  });

  it('storage, network and nested-worker APIs are gone before guest code runs', async () => {
    const g = await hostile();
    const seen = await g.api.reachable();
    for (const [name, type] of Object.entries(seen)) expect(type, name).toBe('undefined');
  });
});
