// Real Chromium: handing a pool from the context that owns it to one that asks
// (host/page/pool-handover.ts). Two parties in one page stand in for the embedded console
// and the tab it opened: Web Locks and BroadcastChannel treat them as strangers too. A
// guest writes without pause while the hand-over happens; after it, the new owner finds
// every acknowledged write.
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/page/hypervisor';
import { askOwnerToYield, yieldOnRequest } from '../../host/page/pool-handover';
import { PoolLockedError, lockName } from '../../host/page/pool-lock';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';

const BS = 4096;
const BLOCKS = 8;
const GUEST = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);

describe('pool hand-over', () => {
  it('the owner stops when asked, the asker opens the saved pool, and no acknowledged write is lost', async () => {
    const pool = `handover-${crypto.randomUUID()}`;
    const owner = await Hypervisor.start({ poolName: pool, arenaFrames: 16, scrubEveryMs: 0 });
    await owner.pool.create('vol', BS * BLOCKS, { blockSize: BS });
    await owner.pool.snapshot('vol', 'vol@0');
    const guest = await owner.guests.spawn<ProbeGuestApi>({ base: 'vol@0', name: 'vol/g', module: GUEST });
    let stopped = 0;
    const stopListening = yieldOnRequest(pool, async () => {
      stopped++;
      await owner.shutdown();
    });

    // Block i holds the last round r written to it as the fill byte (rounds 1..250).
    const acked = new Array<number>(BLOCKS).fill(0);
    let ended: unknown = null;
    const writing = (async () => {
      for (let r = 1; ; r = (r % 250) + 1) {
        for (let lba = 0; lba < BLOCKS; lba++) {
          try {
            await guest.api.write(lba, r);
          } catch (e) {
            ended = e;
            return;
          }
          acked[lba] = r;
        }
      }
    })();
    while (acked[BLOCKS - 1] === 0) await new Promise((r) => setTimeout(r, 20));

    // A second start is refused while the owner has the pool: the hand-over is what frees it.
    await expect(Hypervisor.start({ poolName: pool, arenaFrames: 16, scrubEveryMs: 0 })).rejects.toBeInstanceOf(PoolLockedError);
    const result = await askOwnerToYield(pool);
    expect(result).toEqual({ kind: 'released' });
    await writing;
    expect(stopped).toBe(1);
    expect(ended).not.toBeNull(); // the owner's guest stopped with it
    const want = [...acked];

    const next = await Hypervisor.start({ poolName: pool, arenaFrames: 16, scrubEveryMs: 0 });
    try {
      expect(next.storage.kind).toBe('indexeddb');
      const bytes = new Uint8Array(await (await next.pool.export('vol/g')).arrayBuffer());
      for (let lba = 0; lba < BLOCKS; lba++) {
        const got = bytes[lba * BS]!;
        // The write in flight when the owner stopped may or may not have committed; every acknowledged one has.
        const inFlight = (want[lba]! % 250) + 1;
        expect([want[lba], inFlight], `block ${lba}: got round ${got}, last acknowledged ${want[lba]}`).toContain(got);
        expect(bytes.subarray(lba * BS, (lba + 1) * BS).every((b) => b === got), `block ${lba} is one write, not a torn one`).toBe(true);
      }
      expect((await next.pool.fsck()).problems).toEqual([]);
    } finally {
      stopListening();
      await next.shutdown();
    }
  });

  it('an owner that does not listen keeps the pool: the asker is told so, in time', async () => {
    const pool = `handover-deaf-${crypto.randomUUID()}`;
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    // Hold the pool's lock the way an old console would, with nobody answering hand-over requests.
    await new Promise<void>((granted) => void navigator.locks.request(lockName(pool), () => (granted(), held)));
    const t0 = performance.now();
    const result = await askOwnerToYield(pool, { answerMs: 500 });
    expect(result.kind).toBe('no-answer');
    expect(performance.now() - t0).toBeLessThan(5000);
    release();
    // Once the holder lets go there is nothing to ask.
    await expect.poll(() => askOwnerToYield(pool, { answerMs: 500 })).toEqual({ kind: 'released' });
  });

  it('an owner that agrees but cannot stop in time: the asker gives up with the reason', async () => {
    const pool = `handover-slow-${crypto.randomUUID()}`;
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    await new Promise<void>((granted) => void navigator.locks.request(lockName(pool), () => (granted(), held)));
    const stop = yieldOnRequest(pool, () => new Promise<void>(() => undefined)); // never finishes
    const result = await askOwnerToYield(pool, { answerMs: 2000, releaseMs: 600 });
    expect(result.kind).toBe('timeout');
    stop();
    release();
  });
});
