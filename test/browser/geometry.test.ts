// Real Chromium: writes at the end of a volume whose last block is partial. One rule on
// every path (docs/design.md, "Geometry"): a block past the last is refused; in the partial
// last block, bytes past the end of the volume are truncated — stored and read back as
// zeros. Checked through the pool API, and through a guest on both transports (async
// write on the zero-copy ring and the copy port; writeSync on the ring).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from '../../host/pool';
import { OutOfRangeError } from '../../shared/errors/pool-errors';
import { Hypervisor } from '../../host/page/hypervisor';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';
import { deleteDatabase } from '../helpers/idb';

const BS = 4096;
const TAIL = 100; // bytes of the volume in its last block
const SIZE = 2 * BS + TAIL; // blocks 0, 1 whole; block 2 partial
const GUEST = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);

/** What the probe guest reports for a block: the sum of every 64th byte. */
const sumOf = (bytes: Uint8Array): number => {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 64) sum = (sum + bytes[i]!) | 0;
  return sum;
};
const truncatedBlock = (fill: number): Uint8Array => {
  const b = new Uint8Array(BS);
  b.fill(fill, 0, TAIL);
  return b;
};

describe('the pool API', () => {
  it('truncates a whole-block write to the partial last block; refuses the block after', async () => {
    const name = `geometry-${crypto.randomUUID()}`;
    const pool = await Pool.open(name);
    try {
      await pool.createVolume('odd', { sizeBytes: SIZE, blockSize: BS });
      await pool.write('odd', 2, new Uint8Array(BS).fill(0xab));
      await pool.write('odd', 1, new Uint8Array(2 * BS).fill(0xcd)); // ends past the end, inside block 2
      await expect(pool.write('odd', 3, new Uint8Array(BS).fill(1))).rejects.toBeInstanceOf(OutOfRangeError);
      await expect(pool.write('odd', 2, new Uint8Array(2 * BS).fill(1))).rejects.toBeInstanceOf(OutOfRangeError);
      await pool.commit();
      expect(await pool.readBlocks('odd', [1, 2])).toEqual([new Uint8Array(BS).fill(0xcd), truncatedBlock(0xcd)]);
      const exported = new Uint8Array(await (await pool.exportVolume('odd')).arrayBuffer());
      expect(exported.length).toBe(SIZE);
      expect(exported.subarray(2 * BS).every((b) => b === 0xcd)).toBe(true);
    } finally {
      pool.close();
      await deleteDatabase(name);
    }
  });
});

for (const transport of ['zero-copy', 'copy'] as const) {
  describe(`a guest (${transport})`, () => {
    let hv: Hypervisor;
    beforeAll(async () => {
      hv = await Hypervisor.start({ poolName: `geometry-${transport}-${crypto.randomUUID()}`, arenaFrames: 16, forceCopy: transport === 'copy', scrubEveryMs: 0 });
      await hv.pool.import('odd', new Uint8Array(SIZE).fill(7).buffer, { blockSize: BS });
      await hv.pool.snapshot('odd', 'odd@base');
    });
    afterAll(async () => {
      await hv?.shutdown();
    });

    it('a whole-block write to the partial last block keeps only the bytes inside the volume', async () => {
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'odd@base', module: GUEST });
      try {
        expect((await g.api.read(2)).sum).toBe(sumOf(truncatedBlock(7))); // the import's tail
        await g.api.write(2, 0xab);
        expect((await g.api.read(2)).sum).toBe(sumOf(truncatedBlock(0xab)));
        await g.api.write(1, 0xcd);
        expect((await g.api.read(1)).sum).toBe(sumOf(new Uint8Array(BS).fill(0xcd)));
        if (transport === 'zero-copy') {
          await g.api.writeSync(2, 0x5e);
          expect((await g.api.read(2)).sum).toBe(sumOf(truncatedBlock(0x5e)));
        }
        await expect(g.api.write(3, 1)).rejects.toThrow();
      } finally {
        await g.kill();
      }
    });
  });
}
