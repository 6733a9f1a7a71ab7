// Real Chromium, real hardened guest workers: channels asked for through the host, subject
// to its policy; a zero-copy message between two guests; a transitive hand-off to a third
// with revocation and forged refs. The protocol's attacks are in test/unit/idc-channel.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import { Kind } from '../../shared/idc-layout';
import type { IdcGuestApi } from './fixtures/guests/idc-guest';

const BS = 65536;
const GUEST = new URL('./fixtures/guests/idc-guest.ts', import.meta.url);

let hv: Hypervisor;
let a: GuestHandle<IdcGuestApi>;
let b: GuestHandle<IdcGuestApi>;
let c: GuestHandle<IdcGuestApi>;

beforeAll(async () => {
  hv = await Hypervisor.start({ poolName: `idc-${crypto.randomUUID()}`, arenaFrames: 16 });
  const img = new Uint8Array(BS * 2);
  img.fill(0x42, BS); // block 1: real data (an all-zero block is a hole, never a frame)
  await hv.pool.import('img', img.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  const spawn = () => hv.guests.spawn<IdcGuestApi>({ base: 'img@base', module: GUEST });
  [a, b, c] = await Promise.all([spawn(), spawn(), spawn()]);
});
afterAll(async () => hv?.shutdown());

describe('channels between guests', () => {
  let ab = 0;
  let bc = 0;

  it('are refused by the host policy until it allows the pair, with a typed error', async () => {
    const r = await a.api.connect(b.id);
    expect(r).toMatchObject({ ok: false, name: 'IdcError', code: 'policy' });
    const nobody = await a.api.connect(9999);
    expect(nobody).toMatchObject({ ok: false, code: 'policy' });
    hv.channels.allow(a.id, b.id);
    const none = await a.api.connect(9999); // allowed by nobody, so still policy, never a leak of who exists
    expect(none.ok).toBe(false);
  });

  it('are set up by dom0 and handed to exactly the two guests', async () => {
    const r = await a.api.connect(b.id);
    if (!r.ok) throw new Error(r.message);
    ab = r.value;
    const accepted = await b.api.accept(5000);
    expect(accepted).toEqual({ ok: true, value: ab });
    const { channels } = await hv.channels.list();
    expect(channels).toEqual([expect.objectContaining({ id: ab, domains: [a.id, b.id], open: true })]);
    expect(hv.channels.heldBy(a.id)).toEqual([ab]);
    expect(hv.channels.heldBy(b.id)).toEqual([ab]);
    // The third guest holds none of it, by the host's record and by its own.
    expect(hv.channels.heldBy(c.id)).toEqual([]);
    expect(await c.api.holdings()).toEqual({ channels: [], buffers: 0 });
    expect(await a.api.holdings()).toEqual({ channels: [ab], buffers: 8 });
  });

  it('carry a message zero-copy: the receiver views the sender\'s buffer and gives it back', async () => {
    const id = await a.api.send(ab, 'hello from A');
    const got = await b.api.receive(ab, 5000);
    expect(got).toEqual({ channel: ab, kind: Kind.BUFFER, id, text: 'hello from A', shared: true });
    // Same memory: what B writes into its view is in A's buffer (and why a receiver must not).
    await b.api.scribble(ab, id, 'HELLO');
    expect(await a.api.peekOwn(ab, id, 12)).toBe('HELLO from A');
    await b.api.release(ab, id);
    const sa = await a.api.stats(ab);
    const sb = await b.api.stats(ab);
    expect(sb).toMatchObject({ received: 1, released: 1, bytesReceived: 12, bytesCopied: 0 });
    expect(sa).toMatchObject({ sent: 1, bytesSent: 12, bytesCopied: 0 });
  });

  it('hand a buffer on from B to C without a copy, under a grant B can revoke', async () => {
    hv.channels.allow(b.id, c.id);
    const r = await b.api.connect(c.id);
    if (!r.ok) throw new Error(r.message);
    bc = r.value;
    expect((await c.api.accept(5000)).ok).toBe(true);
    expect(await c.api.holdings()).toEqual({ channels: [bc], buffers: 8 }); // B–C's pool only, none of A–B's

    const id = await a.api.send(ab, 'payload for C');
    const got = await b.api.receive(ab, 5000);
    const fwd = await b.api.forward(ab, got!.id, bc);
    if (!fwd.ok) throw new Error(fwd.message);
    const ref = fwd.value;
    const atC = await c.api.receive(bc, 5000);
    expect(atC).toMatchObject({ kind: Kind.GRANT, id: ref, text: 'payload for C', shared: true });
    // C's view and A's buffer are the same bytes.
    await c.api.scribble(bc, ref, 'PAYLOAD');
    expect(await a.api.peekOwn(ab, id, 13)).toBe('PAYLOAD for C');
    expect((await b.api.stats(bc)).bytesCopied + (await c.api.stats(bc)).bytesCopied).toBe(0);

    // A grant ref is only the grantee's to map; a made-up one is nobody's.
    expect(await a.api.mapRef(ref)).toMatchObject({ ok: false, code: 'grant-unknown' });
    expect(await c.api.mapRef((ref ^ 0x1234567) || 1)).toMatchObject({ ok: false, code: 'grant-unknown' });
    // Only its owner revokes it.
    expect(await c.api.revoke(bc, ref)).toMatchObject({ ok: false, code: 'grant-unknown' });
    expect(await b.api.revoke(bc, ref)).toEqual({ ok: true });
    // C's view stops (the host tells it), and the ref no longer maps.
    await expect.poll(() => c.api.reread(bc, ref), { timeout: 5000 }).toMatchObject({ ok: false, code: 'grant-revoked' });
    expect(await c.api.mapRef(ref)).toMatchObject({ ok: false, code: 'grant-revoked' });
    // The buffer went back to A, which retires it (C still holds that SharedArrayBuffer)
    // and has dom0 renew it: a new SharedArrayBuffer under the same id, B told by the host.
    await expect.poll(async () => (await a.api.free(ab), (await a.api.stats(ab)).renewed), { timeout: 5000 }).toBe(1);
    expect((await a.api.stats(ab)).retired).toBe(1);
    expect(await a.api.free(ab)).toBe(4);
    // The renewed id carries A's next message to B, in the new memory; C's old view stays stopped.
    const again = await a.api.send(ab, 'after the renewal');
    expect(again).toBe(id);
    expect(await b.api.receive(ab, 5000)).toMatchObject({ id, text: 'after the renewal', shared: true });
    await b.api.release(ab, id);
    expect(await c.api.reread(bc, ref)).toMatchObject({ ok: false, code: 'grant-revoked' });
    expect((await b.api.stats(ab)).refused.garbage).toBe(0);
  });

  it('refuse to grant a buffer the asker does not hold', async () => {
    const id = await a.api.send(ab, 'once');
    const got = await b.api.receive(ab, 5000);
    // The honest runtime refuses a released view itself; dom0 refuses what a hostile one asks.
    await b.api.release(ab, got!.id);
    expect(await b.api.forward(ab, id, bc)).toMatchObject({ ok: false, code: 'buffer-state' });
    await expect.poll(() => a.api.free(ab), { timeout: 5000 }).toBe(4);
    expect(await b.api.grantRaw(ab, id, bc)).toMatchObject({ ok: false, code: 'grant-refused' });
    expect(await b.api.grantRaw(ab, 4, bc)).toMatchObject({ ok: false, code: 'grant-refused' }); // B's own buffer
    expect(await c.api.grantRaw(ab, id, bc)).toMatchObject({ ok: false, code: 'grant-refused' }); // not C's channel
  });

  it('carry a block read from the volume: as its arena frame inside the trust group, copied once across groups', async () => {
    const same = await hv.guests.spawn<IdcGuestApi>({ base: 'img@base', module: GUEST });
    const other = await hv.guests.spawn<IdcGuestApi>({ base: 'img@base', module: GUEST, group: 'elsewhere' });
    hv.channels.allow(a.id, same.id);
    hv.channels.allow(a.id, other.id);
    const toSame = await a.api.connect(same.id);
    const toOther = await a.api.connect(other.id);
    if (!toSame.ok || !toOther.ok) throw new Error('connect refused');
    await same.api.accept(5000);
    await other.api.accept(5000);

    expect(await a.api.sendBlock(toSame.value, 1)).toBe('frame');
    const f = await same.api.receive(toSame.value, 5000);
    expect(f).toMatchObject({ kind: Kind.FRAME, shared: true });
    expect(await same.api.peekView(toSame.value, f!.id)).toEqual({ first: 0x42, length: BS, kind: Kind.FRAME });
    await same.api.release(toSame.value, f!.id);
    expect(await a.api.stats(toSame.value)).toMatchObject({ framesSent: 1, bytesCopied: 0 });
    await expect.poll(async () => (await a.api.free(toSame.value), (await a.api.stats(toSame.value)).returned), { timeout: 5000 }).toBe(1);

    expect(await a.api.sendBlock(toOther.value, 1)).toBe('copied');
    const c2 = await other.api.receive(toOther.value, 5000);
    expect(await other.api.peekView(toOther.value, c2!.id)).toEqual({ first: 0x42, length: BS, kind: Kind.BUFFER });
    expect(await a.api.stats(toOther.value)).toMatchObject({ framesSent: 0, bytesCopied: BS });
    await same.kill();
    await other.kill();
  });

  it('close with a guest: its peer\'s grants and channels go', async () => {
    await c.kill();
    const { channels } = await hv.channels.list();
    expect(channels.map((ch) => ch.id)).toEqual([ab]);
    expect(hv.channels.heldBy(c.id)).toEqual([]);
    // B is told: the B–C channel leaves its list (its buffers can go) and A–B stays.
    await expect.poll(async () => (await b.api.holdings()).channels, { timeout: 3000 }).toEqual([ab]);
  });
});
