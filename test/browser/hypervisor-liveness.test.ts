// Real Chromium: dom0 goes away under running guests (hv.abort, which is also what an
// uncaught error in dom0's worker triggers). Every guest request outstanding at that moment
// and every later one must settle with ChannelClosedError (code DOM0_GONE) naming the
// cause, on both transports; every control call must reject with Dom0GoneError; shutdown
// must still finish. A hang is a failure (the test's timeout), never a slow pass.
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/page/hypervisor';

const BS = 65536;
const GUEST = new URL('./fixtures/guests/liveness-guest.ts', import.meta.url);

interface Failure {
  name: string;
  code: string | undefined;
  message: string;
}
interface LivenessApi {
  transport(): string;
  start(loops: number): void;
  progress(): number;
  result(): Promise<{ ok: number; failures: Failure[] }>;
  readOnce(lba: number): Promise<Failure | 'ok'>;
  readSyncOnce(lba: number): Failure | 'ok' | 'unsupported';
}

describe.each(['zero-copy', 'copy'] as const)('dom0 gone (%s)', (transport) => {
  it('every outstanding and later guest request rejects with the cause; control calls reject; shutdown finishes', async () => {
    const hv = await Hypervisor.start({ poolName: `liveness-${crypto.randomUUID()}`, arenaFrames: 32, forceCopy: transport === 'copy' });
    try {
      const img = new Uint8Array(8 * BS).fill(9);
      await hv.pool.import('img', img.buffer, { blockSize: BS });
      await hv.pool.snapshot('img', 'img@0');
      const g = await hv.guests.spawn<LivenessApi>({ base: 'img@0', module: GUEST });
      expect(await g.api.transport()).toBe(transport);
      await g.api.start(4);
      await expect.poll(() => g.api.progress(), { timeout: 20_000 }).toBeGreaterThan(12);

      hv.abort('pulled by the liveness test');

      const r = await g.api.result();
      // Each of the 4 loops ended at its first failure: the request it had outstanding.
      expect(r.failures).toHaveLength(4);
      for (const f of r.failures) {
        expect(f).toMatchObject({ name: 'ChannelClosedError', code: 'DOM0_GONE' });
        expect(f.message).toContain('dom0 is gone');
      }
      expect(await g.api.readOnce(0)).toMatchObject({ name: 'ChannelClosedError', code: 'DOM0_GONE' });
      const sync = await g.api.readSyncOnce(0);
      if (transport === 'zero-copy') expect(sync).toMatchObject({ name: 'ChannelClosedError', code: 'DOM0_GONE' });

      await expect(hv.pool.list()).rejects.toMatchObject({ name: 'Dom0GoneError', code: 'DOM0_GONE' });
      await expect(hv.pool.list()).rejects.toThrow(/pulled by the liveness test/);
      await expect(hv.guests.spawn({ base: 'img@0', module: GUEST })).rejects.toMatchObject({ name: 'Dom0GoneError' });
    } finally {
      await hv.shutdown();
    }
  });
});
