// Real Chromium: a guest whose worker ends by itself (`self.close()`; a crash looks the same
// to the host) raises no event on its Worker object. The bootstrap's life lock and life
// port (guest/bootstrap.ts) are what let the host notice. On both transports: the host marks
// the guest ended, every outstanding and later call rejects with GuestEndedError
// (GUEST_ENDED) naming the cause, dom0 has no domain for it and none of its frames stays
// mapped. And as an attacker: the guest cannot let go of its life lock without dying.
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import type { LifecycleGuestApi } from './fixtures/guests/lifecycle-guest';

const BS = 65536;
const GUEST = new URL('./fixtures/guests/lifecycle-guest.ts', import.meta.url);
const CLOSING_GUEST = new URL('./fixtures/guests/closing-guest.ts', import.meta.url);
/** Generous for a loaded 2-core machine: the signal is an event, not a poll (measured: see the log line). */
const NOTICE_BOUND_MS = 5000;

let hv: Hypervisor | null = null;
afterEach(async () => {
  await hv?.shutdown();
  hv = null;
});

async function start(copy: boolean): Promise<Hypervisor> {
  hv = await Hypervisor.start({ poolName: `lifecycle-${crypto.randomUUID()}`, arenaFrames: 32, quota: 32, scrubEveryMs: 0, forceCopy: copy });
  const img = new Uint8Array(16 * BS);
  for (let b = 0; b < 16; b++) img.fill(b + 1, b * BS, (b + 1) * BS);
  await hv.pool.import('img', img.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@0');
  return hv;
}

async function heldLifeLocks(): Promise<string[]> {
  const q = await navigator.locks.query();
  return (q.held ?? []).map((l) => l.name ?? '').filter((n) => n.startsWith('tabvisor-guest:'));
}

describe.each(['zero-copy', 'copy'] as const)('a guest that ends itself (%s)', (transport) => {
  it('is noticed: marked ended, its pending and later calls reject typed, dom0 releases its domain and frames', async () => {
    const h = await start(transport === 'copy');
    const bystander = await h.guests.spawn<LifecycleGuestApi>({ base: 'img@0', module: GUEST });
    const g: GuestHandle<LifecycleGuestApi> = await h.guests.spawn<LifecycleGuestApi>({ base: 'img@0', module: GUEST });
    expect(await g.api.transport()).toBe(transport);
    expect(g.life.lock).toBe(true);
    expect(await g.api.hold(6, 12)).toBe(6);
    const group = (await h.pool.stats()).domains.find((d) => d.id === g.id)!.group;
    // Only the zero-copy transport maps frames into a guest; the copy transport copies out of them.
    if (transport === 'zero-copy') expect((await h.memory.frames(group)).some((f) => f.mappedBy.some(([dom]) => dom === g.id))).toBe(true);

    // Mid-stream: reads in flight, a call outstanding, then the worker closes itself.
    const streaming = g.api.stream();
    const pending = g.api.never();
    await expect.poll(() => g.api.reads(), { timeout: 20_000 }).toBeGreaterThan(20);
    // Measured from the request: the guest may be gone before its answer arrives.
    const t0 = performance.now();
    void g.api.closeSoon(0).catch(() => undefined);
    const ended = await g.ended;
    const noticedMs = performance.now() - t0;
    console.log(`${transport}: self.close() noticed ${noticedMs.toFixed(1)} ms after it was asked to close (${JSON.stringify(g.life)})`);
    expect(noticedMs).toBeLessThan(NOTICE_BOUND_MS);

    expect(g.state).toBe('ended');
    expect(ended).toMatchObject({ name: 'GuestEndedError', code: 'GUEST_ENDED', state: 'ended', guestId: g.id });
    expect(g.endReason).toMatch(/closed itself or died/);
    await expect(pending).rejects.toMatchObject({ name: 'GuestEndedError', code: 'GUEST_ENDED' });
    await expect(streaming).rejects.toMatchObject({ name: 'GuestEndedError', code: 'GUEST_ENDED' });
    await expect(g.api.reads()).rejects.toThrow(/guest \d+ ended: its worker closed itself or died/);
    expect(h.guests.get(g.id)).toBeUndefined();

    // dom0 released the domain: no domain, no mapping, its lock gone; the bystander goes on.
    await expect.poll(async () => (await h.pool.stats()).domains.map((d) => d.id), { timeout: 10_000 }).not.toContain(g.id);
    expect((await h.memory.frames(group)).filter((f) => f.mappedBy.some(([dom]) => dom === g.id))).toEqual([]);
    expect(await heldLifeLocks()).toHaveLength(1);
    expect(await bystander.api.hold(4, 13)).toBe(4);
    expect(bystander.state).toBe('running');
  });

  it('a guest that ends while its module loads fails the spawn with GUEST_ENDED and leaves no domain', async () => {
    const h = await start(transport === 'copy');
    const before = (await h.pool.list()).length;
    await expect(h.guests.spawn({ base: 'img@0', module: CLOSING_GUEST })).rejects.toMatchObject({
      name: 'GuestEndedError',
      code: 'GUEST_ENDED',
    });
    expect((await h.pool.stats()).domains).toEqual([]);
    expect((await h.pool.list()).length).toBe(before);
    expect(h.guests.list()).toEqual([]);
  });
});

describe('the life lock under attack', () => {
  it('a guest cannot release, steal or query its life lock: it stays held until the guest ends', async () => {
    const h = await start(false);
    const g = await h.guests.spawn<LifecycleGuestApi>({ base: 'img@0', module: GUEST });
    const tried = await g.api.undoLifeLock();
    expect(tried['navigator.locks']).toBe('ok: undefined');
    expect(tried['steal']).toMatch(/^TypeError/);
    expect(tried['LockManager.prototype.query']).toMatch(/^TypeError: .*Illegal invocation/);
    expect(tried['LockManager.prototype.request']).toMatch(/^TypeError: .*Illegal invocation/);
    expect(tried['prototype walk']).toBe('ok: none');
    // Still held, and the guest still runs: nothing it did released it.
    expect(await heldLifeLocks()).toHaveLength(1);
    expect(g.state).toBe('running');
    expect(await g.api.transport()).toBe('zero-copy');
    // Killed by the host: no life lock left behind, and the end is a kill, not an end.
    await g.kill();
    expect(g.state).toBe('destroyed');
    expect((await g.ended).code).toBe('GUEST_KILLED');
    await expect.poll(heldLifeLocks, { timeout: 10_000 }).toEqual([]);
  });
});
