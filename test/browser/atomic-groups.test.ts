// Real Chromium: atomic groups of block writes (Op.WRITE_HELD / COMMIT_HELD / DISCARD_HELD;
// `writeAtomic` and `writeAtomicSync` in guest/block-device.ts). A group becomes durable
// whole, in one commit, or not at all; nothing of it is staged before its commit; a group
// past dom0's limit, or with a refused write in it, commits nothing, even for a guest that
// commits without looking at the answers; a guest that dies holding a group leaves nothing.
// On both transports through the guest runtime, and by hand on the ring.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor, type GuestHandle } from '../../host/page/hypervisor';
import { Pool } from '../../host/pool';
import { OutOfRangeError } from '../../shared/errors/pool-errors';
import { deleteDatabase } from '../helpers/idb';
import { Op, Status } from '../../shared/protocol';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';
import type { HostileRingApi } from './fixtures/guests/hostile-ring-guest';

const BS = 65536;
const BLOCKS = 16;
/** This hypervisor's held-group limit: four blocks. */
const LIMIT = 4 * BS;
const PROBE = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);
const HOSTILE = new URL('./fixtures/guests/hostile-ring-guest.ts', import.meta.url);

/** Image block b holds 1 + b in every byte. */
async function startWithImage(transport: 'zero-copy' | 'copy'): Promise<Hypervisor> {
  const hv = await Hypervisor.start({
    poolName: `atomic-${transport}-${crypto.randomUUID()}`,
    arenaFrames: 32,
    forceCopy: transport === 'copy',
    scrubEveryMs: 0,
    heldLimitBytes: LIMIT,
  });
  const bytes = new Uint8Array(BS * BLOCKS);
  for (let b = 0; b < BLOCKS; b++) bytes.fill(1 + b, b * BS, (b + 1) * BS);
  await hv.pool.import('img', bytes.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  return hv;
}

for (const transport of ['zero-copy', 'copy'] as const) {
  describe(`atomic groups through the guest runtime (${transport})`, () => {
    let hv: Hypervisor;
    beforeAll(async () => {
      hv = await startWithImage(transport);
    });
    afterAll(async () => hv?.shutdown());

    const firstBytes = async (g: GuestHandle<ProbeGuestApi>, lbas: number[]) => Promise.all(lbas.map(async (lba) => (await g.api.read(lba)).first));

    it('a group is durable whole, in one commit, and changes only its own blocks', async () => {
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
      try {
        expect(g.transport).toBe(transport);
        await firstBytes(g, [1, 3, 5]); // mapped before: the group must replace what the guest maps
        const c0 = (await hv.pool.stats()).driver.commits;
        // Block 3 twice: its last bytes win (0x40 + 3).
        expect(await g.api.writeAtomic([1, 3, 5, 3], 0x40)).toBe('ok');
        expect((await hv.pool.stats()).driver.commits - c0, 'pool commits for one group').toBe(1);
        expect(await firstBytes(g, [0, 1, 2, 3, 4, 5])).toEqual([1, 0x40, 3, 0x43, 5, 0x42]);
        const own = await hv.pool.ownership(g.dataset);
        expect([own[0], own[1], own[2], own[3], own[5]], 'ownership: 1 = shared with the image, 2 = written').toEqual([1, 2, 1, 2, 2]);
        if (transport === 'zero-copy') {
          expect(await g.api.writeAtomic([6, 7], 0x50, true)).toBe('ok');
          expect(await firstBytes(g, [6, 7])).toEqual([0x50, 0x51]);
        } else {
          expect(await g.api.writeAtomic([6, 7], 0x50, true)).toMatch(/^bad-request: writeAtomicSync needs the zero-copy transport/);
        }
      } finally {
        await g.kill();
      }
    });

    it('a group past the held limit is refused whole, and the guest goes on', async () => {
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
      try {
        expect(await g.api.writeAtomic([8, 9, 10, 11, 12], 0x60)).toMatch(/^held-limit: atomic write of 5 blocks/);
        expect(Array.from((await hv.pool.ownership(g.dataset)).slice(8, 13)), 'nothing of the refused group is written').toEqual([1, 1, 1, 1, 1]);
        expect(await firstBytes(g, [8, 12])).toEqual([9, 13]);
        if (transport === 'zero-copy') expect(await g.api.writeAtomic([8, 9, 10, 11, 12], 0x60, true)).toMatch(/^held-limit:/);
        expect(await g.api.writeAtomic([8, 9], 0x70)).toBe('ok');
        expect(await firstBytes(g, [8, 9, 10])).toEqual([0x70, 0x71, 11]);
      } finally {
        await g.kill();
      }
    });
  });
}

describe('a guest speaking the held-write protocol by hand', () => {
  let hv: Hypervisor;
  beforeAll(async () => {
    hv = await startWithImage('zero-copy');
  });
  afterAll(async () => hv?.shutdown());

  /** One request, its completion's status. */
  const status = async (h: GuestHandle<HostileRingApi>, entry: number[]): Promise<number | undefined> => (await h.api.batch([entry], 1, 3000))[0]?.[1];
  const written = async (dataset: string) => Array.from(await hv.pool.ownership(dataset)).flatMap((o, lba) => (o === 2 ? [lba] : []));

  it('held blocks are not staged until the commit; DISCARD drops them; a COMMIT of nothing is a flush', async () => {
    const h = await hv.guests.spawn<HostileRingApi>({ base: 'img@base', module: HOSTILE });
    try {
      await h.api.stage(0, 0xee);
      expect(await status(h, [Op.WRITE_HELD, 1, 2, 0, BS])).toBe(Status.OK);
      expect(await status(h, [Op.READ, 2, 2])).toBe(Status.OK);
      expect(await written(h.dataset), 'held, not committed').toEqual([]);
      expect(await status(h, [Op.DISCARD_HELD, 3])).toBe(Status.OK);
      expect(await status(h, [Op.COMMIT_HELD, 4])).toBe(Status.OK);
      expect(await written(h.dataset), 'discarded, then an empty commit').toEqual([]);
      expect(await status(h, [Op.WRITE_HELD, 5, 2, 0, BS])).toBe(Status.OK);
      expect(await status(h, [Op.WRITE_HELD, 6, 4, 0, BS])).toBe(Status.OK);
      expect(await status(h, [Op.COMMIT_HELD, 7])).toBe(Status.OK);
      expect(await written(h.dataset)).toEqual([2, 4]);
    } finally {
      await h.kill();
    }
  });

  it('a group with a refused write commits nothing, even when the guest commits without looking at the answers', async () => {
    const h = await hv.guests.spawn<HostileRingApi>({ base: 'img@base', module: HOSTILE });
    try {
      await h.api.stage(0, 0xee);
      // Past the limit (four blocks) on the fifth, then more held writes and the commit, all in one batch.
      const lbas = [1, 2, 3, 4, 5, 6, 7];
      const entries = [...lbas.map((lba, i) => [Op.WRITE_HELD, 10 + i, lba, 0, BS]), [Op.COMMIT_HELD, 99]];
      const answers = await h.api.batch(entries, entries.length, 3000);
      const byTag = new Map(answers.map((c) => [c[0], c[1]]));
      expect(lbas.map((_, i) => byTag.get(10 + i))).toEqual([0, 0, 0, 0, Status.HELD_LIMIT, Status.HELD_LIMIT, Status.HELD_LIMIT]);
      expect(byTag.get(99), 'the commit reports the refusal').toBe(Status.HELD_LIMIT);
      expect(await written(h.dataset)).toEqual([]);
      // Out of range refuses the group the same way; the next group starts clean.
      const oor = await h.api.batch([[Op.WRITE_HELD, 20, 1, 0, BS], [Op.WRITE_HELD, 21, BLOCKS + 3, 0, BS], [Op.COMMIT_HELD, 22]], 3, 3000);
      expect(oor.map((c) => c[1])).toEqual([Status.OK, Status.OUT_OF_RANGE, Status.OUT_OF_RANGE]);
      expect(await written(h.dataset)).toEqual([]);
      expect(await status(h, [Op.WRITE_HELD, 30, 9, 0, BS])).toBe(Status.OK);
      expect(await status(h, [Op.COMMIT_HELD, 31])).toBe(Status.OK);
      expect(await written(h.dataset)).toEqual([9]);
    } finally {
      await h.kill();
    }
  });

  it('a guest that dies holding a group leaves nothing of it', async () => {
    const h = await hv.guests.spawn<HostileRingApi>({ base: 'img@base', module: HOSTILE });
    await h.api.stage(0, 0xee);
    expect(await status(h, [Op.WRITE_HELD, 1, 3, 0, BS])).toBe(Status.OK);
    expect(await status(h, [Op.WRITE_HELD, 2, 5, 0, BS])).toBe(Status.OK);
    const dataset = h.dataset;
    const c0 = (await hv.pool.stats()).driver.commits;
    await h.kill();
    // Another guest's write commits after the death: the dead guest's group is not in it.
    const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: PROBE });
    await g.api.write(0, 0x11);
    expect((await hv.pool.stats()).driver.commits).toBeGreaterThan(c0);
    expect(await written(dataset)).toEqual([]);
    await g.kill();
  });
});

describe('Pool.writeBlocks, what COMMIT_HELD stages with', () => {
  it('stages a group in one step: a bad entry anywhere in it stages nothing', async () => {
    const name = `atomic-pool-${crypto.randomUUID()}`;
    const pool = await Pool.open(name);
    const block = (fill: number) => new Uint8Array(4096).fill(fill);
    try {
      await pool.createVolume('v', { sizeBytes: 8 * 4096, blockSize: 4096 });
      await expect(pool.writeBlocks('v', [{ lba: 0, bytes: block(1) }, { lba: 9, bytes: block(2) }, { lba: 2, bytes: block(3) }])).rejects.toBeInstanceOf(OutOfRangeError);
      await expect(pool.writeBlocks('v', [{ lba: 0, bytes: block(1) }, { lba: 1, bytes: new Uint8Array(100) }])).rejects.toThrow();
      await pool.commit();
      expect(await pool.readBlocks('v', [0, 1, 2])).toEqual([block(0), block(0), block(0)]);
      await pool.writeBlocks('v', [{ lba: 0, bytes: block(1) }, { lba: 5, bytes: block(5) }]);
      await pool.commit();
      expect(await pool.readBlocks('v', [0, 5, 6])).toEqual([block(1), block(5), block(0)]);
    } finally {
      pool.close();
      await deleteDatabase(name);
    }
  });
});
