// Node: the dirty-page mirror routine (seed 002) over the real driver and an in-memory
// store, with an in-memory link to a target whose sink records what arrives.
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { MirrorTarget } from '../../host/mirror/mirror-target';
import { Dom0Reliability } from '../../host/dom0/dom0-reliability';
import { Status } from '../../shared/protocol';
import { linkPair, MemorySink, mirrorTo } from './helpers/mirror-doubles';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);


async function setup(mode: 'sync' | 'async', opts: { datasets?: string[] } = {}) {
  const store = new MemoryBlockStore();
  store.addVolume('base@snap', { blocks: 64, blockBytes: BS, readOnly: true, group: 'g' }, new Map([[0, block(1)], [1, block(2)]]));
  store.cloneVolume('base@snap', 'vm');
  const driver = new Dom0Driver(store, { arenaFrames: 32, promoteAt: 2, quota: 64, shared: true });
  const { rel, sink, target } = await mirrorTo(driver, { channel: 'test', mode, ...(opts.datasets ? { datasets: opts.datasets } : {}) });
  const d = await driver.createDomain('vm');
  return { store, driver, rel, sink, target, d };
}

describe('dirty-page mirroring', () => {
  it('mirrors the pages writes made dirty, after one copy of what the clone held; clean pages are not sent again', async () => {
    const { driver, rel, sink, d } = await setup('async');
    for (const lba of [3, 7, 9]) expect((await driver.write(d, lba, block(lba + 10))).status).toBe(Status.OK);
    await driver.read(d, 0); // reads do not dirty anything
    await rel.mirrorDrained();
    const sent = sink.batches.flatMap((b) => b.blocks.map((x) => x.lba)).sort((a, b) => a - b);
    // The clone's first write made the mirror copy its allocated pages once (0 and 1, from
    // its snapshot): the remote's copy must read like the primary (docs/reliability.md, 3).
    expect(sent).toEqual([0, 1, 3, 7, 9]);
    expect(sink.volumes.get('vm')!.get(7)![0]).toBe(17);
    expect(sink.volumes.get('vm')!.get(1)![0]).toBe(2);
    const s = rel.mirrorStats()!;
    expect(s).toMatchObject({ dirty: 0, writes: 3, bytesWritten: 3 * BS, bytesMirrored: 3 * BS, bytesResync: 2 * BS });
    expect(s.lagMs.samples).toBe(3);
    // Nothing dirty: another drain sends nothing.
    const before = sink.batches.length;
    await rel.mirrorDrained();
    await new Promise((r) => setTimeout(r, 10));
    expect(sink.batches.length).toBe(before);
  });

  it('sync mode acknowledges a write only after the remote has it', async () => {
    const { driver, sink, d } = await setup('sync');
    sink.delayMs = 30;
    const t0 = performance.now();
    await driver.write(d, 5, block(55));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(sink.volumes.get('vm')!.get(5)![0]).toBe(55);
  });

  it('coalesces rewrites of a dirty page: bytes mirrored < bytes written', async () => {
    const { driver, rel, sink, d } = await setup('async');
    sink.delayMs = 20; // the first batch is in flight while the page is rewritten
    await driver.write(d, 4, block(1));
    await Promise.all([2, 3, 4, 5].map((f) => driver.write(d, 4, block(f))));
    await rel.mirrorDrained();
    const s = rel.mirrorStats()!;
    expect(s.bytesWritten).toBe(5 * BS);
    expect(s.bytesMirrored).toBeLessThan(s.bytesWritten);
    expect(sink.volumes.get('vm')!.get(4)![0]).toBe(5); // the last write wins in the mirror
  });

  it('holds the page lock while a page is being mirrored: a write to it waits, then is mirrored again', async () => {
    const { driver, rel, sink, d } = await setup('async');
    sink.delayMs = 40;
    await driver.write(d, 8, block(1));
    await new Promise((r) => setTimeout(r, 5)); // the routine has taken page 8's lock and is sending
    expect(sink.batches.length).toBe(0); // the first copy of page 8 is still on its way
    await driver.write(d, 8, block(2));
    // The write could not stage until the remote had the first copy and the lock was released.
    expect(sink.batches.length).toBe(1);
    expect(sink.batches[0]!.blocks[0]!.bytes![0]).toBe(1);
    expect(rel.mirrorStats()!.lockWaits).toBeGreaterThanOrEqual(1);
    await rel.mirrorDrained();
    expect(sink.volumes.get('vm')!.get(8)![0]).toBe(2);
  });

  it('an initial sync of a listed dataset sends its allocated pages once, counted apart from writes', async () => {
    const { rel, sink } = await setup('async', { datasets: ['vm'] });
    await rel.mirrorDrained();
    expect([...sink.volumes.get('vm')!.keys()].sort()).toEqual([0, 1]);
    expect(rel.mirrorStats()).toMatchObject({ bytesResync: 2 * BS, bytesMirrored: 0 });
  });

  it('degrades to async instead of blocking writes when no remote answers, and catches up when one does', async () => {
    const store = new MemoryBlockStore();
    store.addVolume('vm', { blocks: 8, blockBytes: BS, readOnly: false, group: 'g' });
    const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
    const rel = new Dom0Reliability(driver);
    const [src, dst] = linkPair();
    await rel.startMirror({ channel: 't', mode: 'sync', ackTimeoutMs: 50 }, src);
    const d = await driver.createDomain('vm');
    expect((await driver.write(d, 1, block(9))).status).toBe(Status.OK);
    expect(rel.mirrorStats()!.degraded).toMatch(/no mirror acknowledged/);
    expect(rel.mirrorStats()!.dirty).toBe(1);
    const sink = new MemorySink();
    new MirrorTarget(dst, sink);
    await new Promise((r) => setTimeout(r, 700)); // the retry finds the remote
    expect(rel.mirrorStats()).toMatchObject({ degraded: null, dirty: 0 });
    expect(sink.volumes.get('vm')!.get(1)![0]).toBe(9);
  });

  it('the target refuses malformed batches and does not apply them', async () => {
    const [src, dst] = linkPair();
    const sink = new MemorySink();
    const target = new MirrorTarget(dst, sink);
    const acks: unknown[] = [];
    src.onmessage = (m) => acks.push(m);
    dst.onmessage!({ t: 'mirror-batch', source: 's', seq: 1, dataset: 'v', volumeBlocks: 4, blockBytes: BS, blocks: [{ lba: 9, bytes: null }] });
    dst.onmessage!({ t: 'mirror-batch', source: 's', seq: 1, dataset: 'v', volumeBlocks: 4, blockBytes: BS, blocks: [{ lba: 1, bytes: new Uint8Array(3) }] });
    await new Promise((r) => setTimeout(r, 10));
    expect(sink.batches).toEqual([]);
    expect(target.stats.rejected).toBe(2);
    expect(acks).toEqual([]);
  });
});
