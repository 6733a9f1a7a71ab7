// Node: dom0's count of the frames each domain maps alone (what its fair share bounds) is
// kept incrementally by every path that moves a mapping. Checked after every step of
// random reads, writes, unmaps, leases and domain deaths against the count
// walked from the frame table.
import { describe, expect, it } from 'vitest';
import { Dom0Driver, type Domain } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { zeroCopy } from './helpers/zero-copy-domain';
import { propertySeed, seededRandom } from '../helpers/seed';

const BS = 4096;
const BLOCKS = 24;

describe('sole-frame count', () => {
  it('equals the walked count after every step of a random workload', async () => {
    const seed = propertySeed();
    const rnd = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const store = new MemoryBlockStore();
    // Some blocks repeat content, so one frame can back several LBAs of one domain.
    const image = new Map(Array.from({ length: BLOCKS }, (_, i) => [i, new Uint8Array(BS).fill((i % 17) + 1)] as const));
    store.addVolume('img@s', { blocks: BLOCKS, blockBytes: BS, readOnly: true, group: 'g' }, image);
    // A small arena and quota so eviction, reclaim and the share all bind.
    const driver = new Dom0Driver(store, { arenaFrames: 12, promoteAt: 2, quota: 6, shared: true });
    const live: (Domain & { guest: { lease: Int32Array } })[] = [];
    let next = 0;
    const spawn = async () => {
      const name = `c${next++}`;
      store.cloneVolume('img@s', name);
      live.push(zeroCopy(driver, await driver.createDomain(name)));
    };
    await spawn();
    await spawn();
    await spawn();
    for (let step = 0; step < 3000; step++) {
      const d = pick(live);
      const lba = Math.floor(rnd() * BLOCKS);
      const r = rnd();
      let what: string;
      if (r < 0.55) {
        what = `read ${lba}`;
        await driver.read(d, lba);
      } else if (r < 0.65) {
        what = `write ${lba}`;
        await driver.write(d, lba, new Uint8Array(BS).fill(Math.floor(rnd() * 4) + 1));
      } else if (r < 0.8) {
        // Drop the current mapping, or pins kept for views the guest held past one.
        const kept = d.kept.get(lba);
        what = `unmap ${lba}`;
        if (kept && rnd() < 0.5) driver.unmap(d, lba, [...kept.keys()][0]!, rnd() < 0.5);
        else driver.unmap(d, lba, -1);
      } else if (r < 0.93) {
        what = `lease ${lba}`;
        d.guest.lease[lba] = d.guest.lease[lba] ? 0 : 1;
      } else if (live.length > 1 && r < 0.97) {
        what = `destroy ${d.id}`;
        live.splice(live.indexOf(d), 1);
        if (rnd() < 0.5) driver.destroyDomain(d.id);
        else driver.fault(d, 'test');
      } else {
        what = 'spawn';
        await spawn();
      }
      for (const x of live) {
        if (driver.soleFrames(x) !== driver.soleFramesWalked(x))
          expect.fail(`seed ${seed}, step ${step} (${what}): domain ${x.id} sole ${driver.soleFrames(x)}, walked ${driver.soleFramesWalked(x)}`);
        // The quota's count of frames the domain pins, against the frame table itself.
        const t = x.group.table;
        let pinned = 0;
        for (let f = 0; f < t.layout.frames; f++) if (t.mappers(f).has(x.id)) pinned++;
        if (x.mapped !== pinned) expect.fail(`seed ${seed}, step ${step} (${what}): domain ${x.id} pins ${x.mapped} frames, the table says ${pinned}`);
        // The count that bounds a reclaim's turn of the hand, against the shadow.
        const lbas = x.shadow.reduce((n, e) => n + (e !== 0 ? 1 : 0), 0);
        if (x.mappedLbas !== lbas) expect.fail(`seed ${seed}, step ${step} (${what}): domain ${x.id} counts ${x.mappedLbas} mapped LBAs, its shadow holds ${lbas}`);
      }
    }
  });
});
