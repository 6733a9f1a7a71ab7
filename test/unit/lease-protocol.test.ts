// Node: the lease protocol between a guest's views and dom0's kept pins, through the real
// RingPort and the page-map words of a real control buffer, against a model guest that
// does with them what guest/block-device.ts does, one step at a time: page-map hits (a
// lease, no request), ring reads (the lease taken before the request), releases (the last
// one clears LEASE_KEPT and queues an UNMAP of every kept pin), and UNMAPs that reach dom0
// late, after other steps, as a ring delivers them. Around it: the guest's own rewrites
// (some with the bytes the block already holds, so the write dedups to a frame a view
// shows) and a second domain reading the same image through a small arena, so mappings
// are taken back and frames refilled.
//
// After every step: every live view's frame is pinned for the domain, and still shows the
// bytes it showed when the view was taken (a view never changes under an honest holder). After all views go and every UNMAP is
// delivered: no pin is left kept.
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Status } from '../../shared/protocol';
import { RingPort } from '../../host/dom0/ring-port';
import { domainLayout, LEASE_COUNT, LEASE_KEPT, PM_FRAME, PM_LEASE, PM_WORDS } from '../../shared/memory-layout';
import { decodeFrame } from '../../shared/ids';
import { propertySeed, seededRandom } from '../helpers/seed';

const BS = 4096;
const BLOCKS = 16;
const STEPS = 4000;
/** Views the model guest holds at most: past it, a step releases one. */
const MAX_VIEWS = 8;
const HOT = 4;

interface View {
  lba: number;
  frame: number;
  bytes: Uint8Array;
}

describe('lease protocol', () => {
  for (const offset of [0, 1, 2]) {
    it(`no live view changes and no pin outlives its views (seed ${offset} past the run's)`, async () => {
      const seed = propertySeed() + offset;
      const rnd = seededRandom(seed);
      const int = (n: number): number => Math.floor(rnd() * n);
      const store = new MemoryBlockStore();
      const image = new Map(Array.from({ length: BLOCKS }, (_, i) => [i, new Uint8Array(BS).fill((i % 5) + 1)] as const));
      store.addVolume('img@s', { blocks: BLOCKS, blockBytes: BS, readOnly: true, group: 'g' }, image);
      store.cloneVolume('img@s', 'a');
      store.cloneVolume('img@s', 'b');
      const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 6, shared: true });
      const attach = async (name: string) => {
        const d = await driver.createDomain(name);
        const layout = domainLayout(BLOCKS, BS, 8, 2);
        const control = new SharedArrayBuffer(layout.totalBytes);
        new RingPort(driver, d, control, layout);
        return { d, pm: new Int32Array(control, layout.pageMapByteOffset, BLOCKS * PM_WORDS) };
      };
      const { d: a, pm } = await attach('a');
      const { d: b } = await attach('b');
      const frameOf = (lba: number): number => pm[lba * PM_WORDS + PM_FRAME]!;
      const views: View[] = [];
      const unmaps: number[] = [];

      const take = (lba: number, frame: number): void => void views.push({ lba, frame, bytes: driver.frameView(a, frame).slice() });
      const leaseAdd = (lba: number): void => void Atomics.add(pm, lba * PM_WORDS + PM_LEASE, 1);
      // What ZeroCopyDevice.leaseSub does: the last lease with LEASE_KEPT clears it and asks.
      const leaseSub = (lba: number): void => {
        const at = lba * PM_WORDS + PM_LEASE;
        const was = Atomics.sub(pm, at, 1);
        if ((was & LEASE_COUNT) !== 1 || (was & LEASE_KEPT) === 0) return;
        Atomics.and(pm, at, LEASE_COUNT);
        unmaps.push(lba);
      };

      for (let step = 0; step < STEPS; step++) {
        // The model guest works on a few LBAs, so its steps meet on one LBA often.
        const lba = int(HOT);
        const r = rnd();
        let what: string;
        if (r < 0.25) {
          what = `hit ${lba}`;
          const f = frameOf(lba);
          if (f !== 0) {
            leaseAdd(lba);
            if (Atomics.load(pm, lba * PM_WORDS + PM_FRAME) === f) take(lba, decodeFrame(f));
            else leaseSub(lba);
          }
        } else if (r < 0.4) {
          what = `ring read ${lba}`;
          leaseAdd(lba);
          const c = await driver.read(a, lba);
          if (c.status === Status.OK && c.frame >= 0) take(lba, c.frame);
          else leaseSub(lba);
        } else if (r < 0.65 || views.length > MAX_VIEWS) {
          what = 'release';
          if (views.length > 0) leaseSub(views.splice(int(views.length), 1)[0]!.lba);
        } else if (r < 0.78) {
          what = 'deliver UNMAP';
          const u = unmaps.shift();
          if (u !== undefined) expect(driver.unmap(a, u, -1, true).status).toBe(Status.OK);
        } else if (r < 0.88) {
          // Often the bytes the block holds already, so the write dedups to that chunk.
          const fill = rnd() < 0.5 ? (lba % 5) + 1 : int(8) + 1;
          what = `write ${lba} with ${fill}`;
          expect((await driver.write(a, lba, new Uint8Array(BS).fill(fill))).status).toBe(Status.OK);
        } else {
          const other = int(BLOCKS);
          what = `other domain reads ${other}`;
          await driver.read(b, other);
          // b releases at once: its mappings are all takeable.
        }
        const arena = a.group.layout.frames;
        for (const v of views) {
          const pinned = v.frame < arena ? a.group.table.mappers(v.frame).has(a.id) : a.priv.mappers(v.frame - arena).has(a.id);
          if (!pinned) expect.fail(`seed ${seed}, step ${step} (${what}): a live view of LBA ${v.lba} (frame ${v.frame}) is not pinned`);
          const now = driver.frameView(a, v.frame);
          if (!Buffer.from(now.buffer, now.byteOffset, now.byteLength).equals(v.bytes)) expect.fail(`seed ${seed}, step ${step} (${what}): a live view of LBA ${v.lba} (frame ${v.frame}) changed under its holder`);
        }
      }
      while (views.length > 0) leaseSub(views.pop()!.lba);
      for (let u = unmaps.shift(); u !== undefined; u = unmaps.shift()) driver.unmap(a, u, -1, true);
      expect({ kept: a.kept.size, unasked: a.keptUnasked.size }, `seed ${seed}: pins left kept once every view went`).toEqual({ kept: 0, unasked: 0 });
      for (let lba = 0; lba < BLOCKS; lba++) expect(pm[lba * PM_WORDS + PM_LEASE], `seed ${seed}: LBA ${lba}'s lease word`).toBe(0);
      // What dom0 counts as pinned is exactly the frames the page map names.
      const t = a.group.table;
      let pinned = 0;
      for (let f = 0; f < t.layout.frames; f++) if (t.mappers(f).has(a.id)) pinned++;
      const mapped = new Set(Array.from({ length: BLOCKS }, (_, lba) => decodeFrame(frameOf(lba))).filter((f) => f >= 0 && f < t.layout.frames));
      expect(pinned, `seed ${seed}: group frames pinned against those mapped`).toBe(mapped.size);
    });
  }
});
