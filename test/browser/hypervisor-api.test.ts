// Real Chromium: the Hypervisor's facades against a real dom0 worker and real guest
// workers. Errors arrive as the project's classes with their code, from dom0 and from a
// guest; bad input rejects (never throws synchronously); progress callbacks are plain
// functions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/page/hypervisor';
import { DatasetExistsError, HasClonesError, InvalidArgumentError, PoolError, UnknownDatasetError } from '../../shared/errors/pool-errors';
import { BlockDeviceError } from '../../shared/errors/device-errors';
import { Status } from '../../shared/protocol';
import type { ProbeGuestApi } from './fixtures/guests/probe-guest';

const BS = 4096;
const BLOCKS = 8;
const GUEST = new URL('./fixtures/guests/probe-guest.ts', import.meta.url);

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

for (const transport of ['zero-copy', 'copy'] as const) {
  describe(`the hypervisor API (${transport})`, () => {
    let hv: Hypervisor;

    beforeAll(async () => {
      hv = await Hypervisor.start({ poolName: `hv-api-${transport}-${crypto.randomUUID()}`, arenaFrames: 32, forceCopy: transport === 'copy', scrubEveryMs: 0 });
      const seen: number[] = [];
      await hv.pool.import('img', new Uint8Array(BS * BLOCKS).fill(5).buffer, { blockSize: BS, onProgress: (p) => seen.push(p.bytesDone) });
      expect(seen.at(-1)).toBe(BS * BLOCKS);
      await hv.pool.snapshot('img', 'img@base');
    });
    afterAll(async () => {
      await hv?.shutdown();
    });

    it('an ArrayBuffer imported through dom0 is its own copy: stored exactly, none of it lent, the page keeps its buffer', async () => {
      const src = new Uint8Array(BS * 4);
      crypto.getRandomValues(src);
      const before = (await hv.pool.stats()).pool.counters;
      await hv.pool.import('random4', src.buffer, { blockSize: BS });
      const after = (await hv.pool.stats()).pool.counters;
      expect(after.blocksStored - before.blocksStored).toBe(4);
      expect(after.blocksLent - before.blocksLent, 'no block checked again at its commit').toBe(0);
      expect(src.byteLength, 'not transferred away from the page').toBe(BS * 4);
      const back = new Uint8Array(await (await hv.pool.export('random4')).arrayBuffer());
      expect(back.every((b, i) => b === src[i])).toBe(true);
    });

    it('an ArrayBuffer imported with transfer is handed to dom0 without a copy: detached on the page, stored exactly', async () => {
      const src = new Uint8Array(BS * 3);
      crypto.getRandomValues(src);
      const buf = src.slice().buffer;
      const before = (await hv.pool.stats()).pool.counters;
      const importing = hv.pool.import('moved3', buf, { blockSize: BS, transfer: true });
      expect(buf.byteLength, 'detached as the call posts it').toBe(0);
      await importing;
      const after = (await hv.pool.stats()).pool.counters;
      expect(after.blocksStored - before.blocksStored).toBe(3);
      expect(after.blocksLent - before.blocksLent).toBe(0);
      const back = new Uint8Array(await (await hv.pool.export('moved3')).arrayBuffer());
      expect(back.length).toBe(src.length);
      expect(back.every((b, i) => b === src[i])).toBe(true);
      // A SharedArrayBuffer cannot move: refused as the pool refuses it, nothing imported.
      const refused = await rejection(hv.pool.import('shared-moved', new SharedArrayBuffer(BS) as unknown as ArrayBuffer, { blockSize: BS, transfer: true }));
      expect(refused).toBeInstanceOf(InvalidArgumentError);
      expect((refused as Error).message).toMatch(/SharedArrayBuffer cannot be transferred/);
      expect((await hv.pool.list()).map((d) => d.name)).not.toContain('shared-moved');
    });

    it('pool errors cross from dom0 as their own classes, code and fields intact', async () => {
      const unknown = await rejection(hv.pool.snapshot('nope', 'nope@1'));
      expect(unknown).toBeInstanceOf(UnknownDatasetError);
      expect(unknown).toBeInstanceOf(PoolError);
      expect(unknown).toMatchObject({ name: 'UnknownDatasetError', code: 'unknown-dataset', dataset: 'nope' });
      expect((unknown as Error).message).toMatch(/no dataset "nope"/);

      const exists = await rejection(hv.pool.create('img', BS, { blockSize: BS }));
      expect(exists).toBeInstanceOf(DatasetExistsError);
      expect((exists as DatasetExistsError).code).toBe('dataset-exists');

      await hv.pool.clone('img@base', `c-${transport}`);
      const busy = await rejection(hv.pool.destroy('img@base'));
      expect(busy).toBeInstanceOf(HasClonesError);
      expect(busy).toMatchObject({ code: 'has-clones', clones: [`c-${transport}`] });
      await hv.pool.destroy(`c-${transport}`);
    });

    it('built-in error types stay what they are', async () => {
      const e = await rejection(hv.memory.frames('no-such-group'));
      expect(e).toBeInstanceOf(RangeError);
      expect((e as Error).message).toMatch(/unknown trust group/);
    });

    it("pool.compact rewrites a record that a guest's rewrites left mostly dead, with progress, and the guest reads its blocks after", async () => {
      await hv.pool.create('sparse', BS * 16, { blockSize: BS });
      await hv.pool.snapshot('sparse', 'sparse@0');
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'sparse@0', module: GUEST });
      try {
        const lbas = (n: number) => Array.from({ length: n }, (_, i) => i);
        expect(await g.api.writeAtomic(lbas(16), 0x10)).toBe('ok'); // one record of sixteen chunks
        expect(await g.api.writeAtomic(lbas(12), 0x80)).toBe('ok'); // twelve of them dead
        const seen: number[] = [];
        const report = await hv.pool.compact({ onProgress: (p) => seen.push(p.chunksMoved) });
        // Other tests' datasets share this pool: at least this record, and its four live chunks.
        expect(report.extentsRewritten).toBeGreaterThanOrEqual(1);
        expect(report.chunksMoved).toBeGreaterThanOrEqual(4);
        expect(seen.at(-1)).toBe(report.chunksMoved);
        for (const lba of lbas(16)) expect((await g.api.read(lba)).first).toBe(lba < 12 ? 0x80 + lba : 0x10 + lba);
        expect((await hv.pool.fsck({ data: true })).ok).toBe(true);
        expect((await hv.pool.compact()).extentsRewritten).toBe(0);
      } finally {
        await g.kill();
      }
    });

    it('a guest’s BlockDeviceError reaches the page as a BlockDeviceError with its code and status', async () => {
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: GUEST });
      try {
        const e = await rejection(g.api.read(BLOCKS));
        expect(e).toBeInstanceOf(BlockDeviceError);
        expect(e).toMatchObject({ code: 'out-of-range', status: Status.OUT_OF_RANGE });
        expect((await g.api.read(1)).first).toBe(5);
      } finally {
        await g.kill();
      }
    });

    it('every async block-device call rejects on bad input, none throws synchronously', async () => {
      const g = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module: GUEST });
      try {
        const outcomes = await g.api.badCallOutcomes();
        expect(outcomes).toEqual({
          'read(-1)': 'rejected',
          'read(blocks)': 'rejected',
          'read(1.5)': 'rejected',
          'write(blocks)': 'rejected',
          'write(short)': 'rejected',
          'nop(0)': 'rejected',
        });
      } finally {
        await g.kill();
      }
    });

    it('facade calls with bad arguments return rejected promises', async () => {
      const bad = undefined as unknown as string;
      const calls: [string, () => Promise<unknown>][] = [
        ['pool.import', () => hv.pool.import(bad, null as unknown as Blob)],
        ['pool.snapshot', () => hv.pool.snapshot(bad, bad)],
        ['pool.clone', () => hv.pool.clone(bad, bad)],
        ['pool.export', () => hv.pool.export(bad)],
        ['pool.ownership', () => hv.pool.ownership(bad)],
        ['guests.spawn', () => hv.guests.spawn({ module: GUEST })],
        ['guests.kill', () => hv.guests.kill(-1)],
        ['memory.pageMap', () => hv.memory.pageMap(-1)],
        ['archive.restore', () => hv.archive.restore('never-archived', 'x')],
      ];
      for (const [name, call] of calls) {
        let p: Promise<unknown> | undefined;
        expect(() => (p = call()), name).not.toThrow();
        expect(p, name).toBeInstanceOf(Promise);
        await expect(p, name).rejects.toBeInstanceOf(Error);
      }
    });
  });
}
