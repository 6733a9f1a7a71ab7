// Real Chromium, real hardened guest workers: a grant ref maps once (docs/design.md,
// "Inter-domain channels"). Before, a hostile owner B that posted one ref on two channels
// to C, or twice on one, had C's runtime map it twice, and B's revocation stopped only one
// of the views (review of 2026-11-30). B asks dom0 for the grant through its IDC port and
// writes the GRANT descriptors by hand (fixtures/guests/idc-raw-guest.ts); A and C are the
// honest runtime (fixtures/guests/idc-guest.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import { Kind } from '../../shared/idc-layout';
import type { IdcGuestApi } from './fixtures/guests/idc-guest';
import type { IdcRawApi } from './fixtures/guests/idc-raw-guest';

const BS = 65536;
const HONEST = new URL('./fixtures/guests/idc-guest.ts', import.meta.url);
const RAW = new URL('./fixtures/guests/idc-raw-guest.ts', import.meta.url);

let hv: Hypervisor;
let a: GuestHandle<IdcGuestApi>;
let b: GuestHandle<IdcRawApi>;
let c: GuestHandle<IdcGuestApi>;
let ab = 0;
let bc1 = 0;
let bc2 = 0;

beforeAll(async () => {
  hv = await Hypervisor.start({ poolName: `idc-grant-once-${crypto.randomUUID()}`, arenaFrames: 16 });
  await hv.pool.import('img', new Uint8Array(BS).buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  a = await hv.guests.spawn<IdcGuestApi>({ base: 'img@base', module: HONEST });
  b = await hv.guests.spawn<IdcRawApi>({ base: 'img@base', module: RAW });
  c = await hv.guests.spawn<IdcGuestApi>({ base: 'img@base', module: HONEST });
  hv.channels.allow(a.id, b.id);
  hv.channels.allow(b.id, c.id);
  const r = await a.api.connect(b.id);
  if (!r.ok) throw new Error(r.message);
  ab = r.value;
  expect(await b.api.accept(5000)).toBe(ab);
  // Two channels from B to C.
  bc1 = await b.api.connect(c.id, 4);
  expect(await c.api.accept(5000)).toEqual({ ok: true, value: bc1 });
  bc2 = await b.api.connect(c.id, 4);
  expect(await c.api.accept(5000)).toEqual({ ok: true, value: bc2 });
});
afterAll(async () => hv?.shutdown());

/** A sends `text` to B, B keeps it and asks dom0 to grant it to C for channel `to`. */
async function grantedToC(text: string, to: number): Promise<number> {
  await a.api.send(ab, text);
  const id = await b.api.receive(ab, 5000);
  if (id === null) throw new Error('B received nothing');
  const g = await b.api.grant(ab, id, to);
  if (!g.ok) throw new Error(g.message);
  return g.value;
}

describe('a hostile owner posting one grant ref twice to the same grantee', () => {
  it('on two channels: C views it once, the second is refused; after B revokes, no view of it reads', async () => {
    const ref = await grantedToC('for C only', bc1);
    expect(await b.api.post(bc1, [[Kind.GRANT, ref, 0, 10]])).toBe(1);
    expect(await b.api.post(bc2, [[Kind.GRANT, ref, 0, 10]])).toBe(1);
    expect(await c.api.receive(bc1, 5000)).toMatchObject({ kind: Kind.GRANT, id: ref, text: 'for C only' });
    expect(await c.api.receive(bc2, 1000), 'a second view of the same grant').toBeNull();
    expect((await c.api.stats(bc2)).refused.grantRefused).toBe(1);

    expect(await b.api.end(ref)).toEqual({ ok: true });
    await expect.poll(() => c.api.reread(bc1, ref), { timeout: 5000 }).toMatchObject({ ok: false, code: 'grant-revoked' });
    expect(await c.api.reread(bc2, ref)).toMatchObject({ ok: false });
    expect(await c.api.mapRef(ref)).toMatchObject({ ok: false, code: 'grant-revoked' });
  });

  it('twice in one batch on one channel, the first map still in flight: one view, and B\'s revocation stops it', async () => {
    const ref = await grantedToC('once', bc2);
    const mappedBefore = (await c.api.stats(bc2)).grantsMapped;
    expect(await b.api.post(bc2, [[Kind.GRANT, ref, 0, 4], [Kind.GRANT, ref, 0, 4]])).toBe(2);
    expect(await c.api.receive(bc2, 5000)).toMatchObject({ kind: Kind.GRANT, id: ref, text: 'once' });
    expect(await c.api.receive(bc2, 1000), 'a second view of the same grant').toBeNull();
    expect((await c.api.stats(bc2)).grantsMapped - mappedBefore).toBe(1);

    expect(await b.api.end(ref)).toEqual({ ok: true });
    await expect.poll(() => c.api.reread(bc2, ref), { timeout: 5000 }).toMatchObject({ ok: false, code: 'grant-revoked' });
  });

  it('dom0 refuses the grantee a second map of a ref it mapped, as grant-mapped', async () => {
    const ref = await grantedToC('mapped', bc1);
    expect((await c.api.mapRef(ref)).ok).toBe(true);
    expect(await c.api.mapRef(ref)).toMatchObject({ ok: false, code: 'grant-mapped' });
    expect(await b.api.end(ref)).toEqual({ ok: true });
  });
});
