// Real Chromium, real hardened guest workers: the channel window (docs/design.md,
// "Inter-domain channels", "Flow control"). Before it, a hostile sender could make an honest
// receiver queue FRAME and GRANT messages without limit (review of 2026-11-30). The hostile
// sender writes its tx ring by hand (fixtures/guests/idc-raw-guest.ts); the honest guests
// use the runtime only (fixtures/guests/idc-window-guest.ts). The ring-level attacks, and
// forward waiting for credit, are in test/unit/idc-flow-control.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/page/hypervisor';
import { Kind } from '../../shared/idc-layout';
import type { IdcRawApi } from './fixtures/guests/idc-raw-guest';
import type { IdcWindowApi } from './fixtures/guests/idc-window-guest';

const BS = 65536;
const BLOCKS = 8;
/** Buffers per side of every channel here, and so the window. */
const N = 4;
const RAW = new URL('./fixtures/guests/idc-raw-guest.ts', import.meta.url);
const HONEST = new URL('./fixtures/guests/idc-window-guest.ts', import.meta.url);

let hv: Hypervisor;

beforeAll(async () => {
  hv = await Hypervisor.start({ poolName: `idc-window-${crypto.randomUUID()}`, arenaFrames: 64 });
  // Block b holds b + 1 (an all-zero block is a hole, never a frame).
  const img = new Uint8Array(BS * BLOCKS);
  for (let b = 0; b < BLOCKS; b++) img.fill(b + 1, b * BS, (b + 1) * BS);
  await hv.pool.import('img', img.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  hv.channels.allowAll();
});
afterAll(async () => hv?.shutdown());

const spawnRaw = () => hv.guests.spawn<IdcRawApi>({ base: 'img@base', module: RAW });
const spawnHonest = () => hv.guests.spawn<IdcWindowApi>({ base: 'img@base', module: HONEST });

describe('a sender that ignores the window', () => {
  it('FRAME flood at a receiver taking one message every 10 ms: it takes at most the window, faults that channel with window-exceeded, and its channel with an honest peer goes on', async () => {
    const recv = await spawnHonest();
    const bad = await spawnRaw();
    const good = await spawnHonest();
    const ch = await bad.api.connect(recv.id, N);
    expect(await recv.api.accept(5000)).toBe(ch);
    const other = await good.api.connect(recv.id, N);
    expect(await recv.api.accept(5000)).toBe(other);

    // Same trust group, so frame descriptors are in order; ids 1..15 are inside the arena.
    const [sent, taken] = await Promise.all([bad.api.flood(ch, Kind.FRAME, 1, 1, 16, BS, 1500), recv.api.trickle(ch, 100, 10)]);
    const queued = await recv.api.drainNow(ch);
    expect(sent, 'descriptors the attacker published').toBeGreaterThan(N);
    expect(taken + queued, 'FRAME messages the receiver took from the attacker').toBeLessThanOrEqual(N);
    const st = await recv.api.status(ch);
    expect(st.faultCode).toBe('window-exceeded');
    expect(st.fault).toMatch(/past the window/);

    await good.api.sendText(other, 'still here');
    expect(await recv.api.receiveText(other, 5000)).toBe('still here');
    await Promise.all([recv.kill(), bad.kill(), good.kill()]);
  });

  it('forged GRANT refs, returns never read: the receiver asks dom0 to map a bounded number, then faults the channel', async () => {
    const recv = await spawnHonest();
    const bad = await spawnRaw();
    const ch = await bad.api.connect(recv.id, N);
    expect(await recv.api.accept(5000)).toBe(ch);
    const [sent] = await Promise.all([bad.api.flood(ch, Kind.GRANT, 0x1234567, 7919, 0x7fff_ffff, 8, 1500), recv.api.trickle(ch, 100, 10)]);
    await recv.api.drainNow(ch);
    const st = await recv.api.status(ch);
    expect(sent).toBeGreaterThan(N);
    // Every forged ref is one round trip through the host to dom0. Refused ones are
    // returned, and unread returns still count: the ret ring's 2N slots plus one window.
    expect(st.grantRefused, 'map requests the attacker caused').toBeLessThanOrEqual(2 * N + N);
    expect(st.faultCode).toBe('window-exceeded');
    await Promise.all([recv.kill(), bad.kill()]);
  });
});

describe('an honest sender and a slow receiver', () => {
  const lbas = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7];

  for (const mode of ['retry', 'async'] as const) {
    it(`${mode === 'retry' ? 'sendBlock refuses past the window and a retry goes later' : 'sendBlockAsync waits for credit'}: every block arrives once, in order, as its frame; the receiver never has more than the window queued`, async () => {
      const s = await spawnHonest();
      const r = await spawnHonest();
      const ch = await s.api.connect(r.id, N);
      expect(await r.api.accept(5000)).toBe(ch);
      // 15 ms of work per message: the sender is far faster and must be held back.
      const [hows, got] = await Promise.all([s.api.sendBlocks(ch, lbas, mode), r.api.receiveSlowly(ch, lbas.length, 15)]);
      expect(hows).toEqual(lbas.map(() => 'frame'));
      expect(got.firsts).toEqual(lbas.map((l) => l + 1));
      expect(got.mostQueued, 'messages queued at the receiver at once').toBeLessThanOrEqual(N);
      expect((await r.api.status(ch)).fault).toBeNull();
      expect((await s.api.status(ch)).fault).toBeNull();
      await Promise.all([s.kill(), r.kill()]);
    });
  }
});
