// Real Chromium: a guest writes into its view of the shared arena (which it can: a
// SharedArrayBuffer cannot be read-only for one realm). Its neighbour in the trust group
// sees the damage until dom0's scrub finds the frame by its checksum, quarantines it and
// reloads it from the pool; afterwards both read the right bytes again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/hypervisor';
import type { SessionGuestApi } from '../../guest/session-guest';
import { run } from '../../bench/suites/reliability';

const BS = 65536;

describe('frame integrity in shared memory', () => {
  let hv: Hypervisor;
  beforeAll(async () => {
    hv = await Hypervisor.start({ poolName: `rel-integrity-${crypto.randomUUID()}`, arenaFrames: 32 });
    const image = new Uint8Array(8 * BS);
    for (let b = 0; b < 8; b++) image.fill(b + 1, b * BS, (b + 1) * BS);
    await hv.dom0.importImage('img', image.buffer, { blockSize: BS });
    await hv.dom0.snapshot('img', 'img@base');
  });
  afterAll(async () => {
    await hv?.shutdown();
  });

  it('a scribbled frame is detected by a scrub and reloaded from the pool', async () => {
    const spawn = () => hv.spawnGuest<SessionGuestApi>({ base: 'img@base', module: new URL('../../guest/session-guest.ts', import.meta.url) });
    const [a, b] = [await spawn(), await spawn()];
    expect(await b.api.firstByte(3)).toBe(4);
    expect(await a.api.scribble(3, 0xee)).toBe(true); // a wrote into the shared frame
    expect(await b.api.firstByte(3)).toBe(0xee); // ...and b sees it: this is what must be caught
    const report = await hv.dom0.scrub();
    expect(report).toMatchObject({ corrupt: 1, repaired: 1 });
    expect(report.frames).toBeGreaterThanOrEqual(1);
    expect(await b.api.firstByte(3)).toBe(4);
    expect(await a.api.firstByte(3)).toBe(4);
    expect((await hv.dom0.scrub()).corrupt).toBe(0);
    expect(await hv.dom0.integrityStats()).toMatchObject({ corrupt: 1, repaired: 1, repairFailed: 0 });
  });
});

describe('reliability benchmark suite (quick)', () => {
  it('produces every figure', async () => {
    const m = await run({ quick: true });
    console.log(JSON.stringify(m));
    for (const k of ['failover_takeover_ms', 'mirror_lag_ms', 'mirror_bytes_ratio', 'scrub_arena_ms_per_gib']) {
      expect(Number.isFinite(m[k]?.value), k).toBe(true);
    }
    expect(m.failover_takeover_ms!.value).toBeLessThan(1000);
    expect(m.mirror_bytes_ratio!.value).toBeLessThanOrEqual(1);
  }, 120_000);
});
