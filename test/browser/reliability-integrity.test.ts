// Real Chromium: a guest writes into its view of the shared arena (which it can: a
// SharedArrayBuffer cannot be read-only for one realm). Its neighbour in the trust group
// sees the damage until dom0's scrub finds the frame by its checksum, quarantines it and
// reloads it from the pool; afterwards both read the right bytes again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/page/hypervisor';
import type { SessionGuestApi } from '../../guest/workloads/session-guest';

const BS = 65536;

describe('frame integrity in shared memory', () => {
  let hv: Hypervisor;
  beforeAll(async () => {
    // No background scrub here: this test drives scrub() itself.
    hv = await Hypervisor.start({ poolName: `rel-integrity-${crypto.randomUUID()}`, arenaFrames: 32, scrubEveryMs: 0 });
    const image = new Uint8Array(8 * BS);
    for (let b = 0; b < 8; b++) image.fill(b + 1, b * BS, (b + 1) * BS);
    await hv.pool.import('img', image.buffer, { blockSize: BS });
    await hv.pool.snapshot('img', 'img@base');
  });
  afterAll(async () => {
    await hv?.shutdown();
  });

  it('a scribbled frame is detected by a scrub and reloaded from the pool', async () => {
    const spawn = () => hv.guests.spawn<SessionGuestApi>({ base: 'img@base', module: new URL('../../guest/workloads/session-guest.ts', import.meta.url) });
    const [a, b] = [await spawn(), await spawn()];
    expect(await b.api.firstByte(3)).toBe(4);
    expect(await a.api.scribble(3, 0xee)).toBe(true); // a wrote into the shared frame
    expect(await b.api.firstByte(3)).toBe(0xee); // ...and b sees it: this is what must be caught
    const report = await hv.integrity.scrub();
    expect(report).toMatchObject({ corrupt: 1, repaired: 1 });
    expect(report.frames).toBeGreaterThanOrEqual(1);
    expect(await b.api.firstByte(3)).toBe(4);
    expect(await a.api.firstByte(3)).toBe(4);
    expect((await hv.integrity.scrub()).corrupt).toBe(0);
    // Chromium has WebAssembly SIMD and shared memories: the checks ran in place in WASM.
    expect(await hv.integrity.stats()).toMatchObject({ corrupt: 1, repaired: 1, repairFailed: 0, kernel: 'wasm-simd' });
  });
});

describe('background scrub', () => {
  it('repairs a scribbled frame without anyone asking', async () => {
    const hv = await Hypervisor.start({ poolName: `rel-bgscrub-${crypto.randomUUID()}`, arenaFrames: 16, scrubEveryMs: 100 });
    try {
      await hv.pool.import('img', new Uint8Array(4 * BS).fill(9).buffer, { blockSize: BS });
      await hv.pool.snapshot('img', 'img@base');
      const spawn = () => hv.guests.spawn<SessionGuestApi>({ base: 'img@base', module: new URL('../../guest/workloads/session-guest.ts', import.meta.url) });
      const [a, b] = [await spawn(), await spawn()];
      expect(await b.api.firstByte(1)).toBe(9);
      expect(await a.api.scribble(1, 0x55)).toBe(true);
      await expect.poll(() => b.api.firstByte(1), { timeout: 5000, interval: 50 }).toBe(9);
      expect((await hv.integrity.stats()).repaired).toBeGreaterThanOrEqual(1);
    } finally {
      await hv.shutdown();
    }
  });
});
