// Node: the dom0 driver's read-sharing path, trust groups, quota, copy-on-write and
// durability, over an in-memory block store that counts pool reads.
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Status } from '../../shared/protocol';
import { decodeFrame } from '../../shared/ids';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);

function setup(opts: Partial<{ arenaFrames: number; quota: number; promoteAt: number }> = {}) {
  const store = new MemoryBlockStore();
  const image = new Map<number, Uint8Array>([[0, block(1)], [1, block(2)], [2, block(1)], [5, block(5)]]);
  store.addVolume('base@snap', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g1' }, image);
  store.cloneVolume('base@snap', 'clone-a');
  store.cloneVolume('base@snap', 'clone-b');
  store.cloneVolume('base@snap', 'clone-x', 'g2');
  const driver = new Dom0Driver(store, { arenaFrames: opts.arenaFrames ?? 16, promoteAt: opts.promoteAt ?? 2, quota: opts.quota ?? 64, shared: true });
  return { store, driver };
}

describe('dom0 driver', () => {
  it('maps the same frame for the second domain of a group, with no second pool read', async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    const ra = await driver.read(a, 1);
    expect(ra.status).toBe(Status.OK);
    expect(store.reads).toBe(1);
    const rb = await driver.read(b, 1);
    expect(rb.frame).toBe(ra.frame);
    expect(store.reads).toBe(1);
    expect(a.counters).toMatchObject({ misses: 1, hits: 0 });
    expect(b.counters).toMatchObject({ misses: 0, hits: 1 });
    expect(driver.groups.get('g1')!.table.view(ra.frame)[0]).toBe(2);
    expect(driver.groups.get('g1')!.table.info(ra.frame).promoted).toBe(true);
  });

  it('shares one frame between two LBAs of one domain that hold the same content (dedup)', async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const r0 = await driver.read(a, 0);
    const r2 = await driver.read(a, 2);
    expect(r2.frame).toBe(r0.frame);
    expect(store.reads).toBe(1);
  });

  it('gathers concurrent misses of one block into a single pool read', async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    const [ra, rb] = await Promise.all([driver.read(a, 5), driver.read(b, 5)]);
    expect(ra.frame).toBe(rb.frame);
    expect(store.reads).toBe(1);
  });

  it('never shares frames across trust groups: the other group goes to the pool like any miss', async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const x = zeroCopy(driver, await driver.createDomain('clone-x'));
    await driver.read(a, 1);
    const rx = await driver.read(x, 1);
    expect(store.reads).toBe(2);
    expect(x.counters).toMatchObject({ misses: 1, hits: 0 });
    expect(driver.groups.get('g2')).toBeDefined();
    expect(driver.groups.get('g2')!.buffer).not.toBe(driver.groups.get('g1')!.buffer);
    expect(driver.groups.get('g2')!.table.view(rx.frame)[0]).toBe(2);
  });

  it('reads holes as zeros without a frame or a pool read', async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const r = await driver.read(a, 3);
    expect(r).toMatchObject({ status: Status.OK, frame: -1 });
    expect(store.reads).toBe(0);
    expect(a.mapped).toBe(0);
  });

  it('refuses out-of-range blocks; past the quota takes back unleased mappings, refuses leased ones', async () => {
    const { driver } = setup({ quota: 1 });
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    expect((await driver.read(a, 8)).status).toBe(Status.OUT_OF_RANGE);
    expect((await driver.read(a, -1)).status).toBe(Status.OUT_OF_RANGE);
    expect((await driver.read(a, 1.5)).status).toBe(Status.OUT_OF_RANGE);
    expect((await driver.read(a, 0)).status).toBe(Status.OK);
    a.guest.lease[0] = 1; // the guest holds a view of block 0
    expect((await driver.read(a, 1)).status).toBe(Status.QUOTA);
    expect(a.guest.pageMap[0]).not.toBe(0); // the leased mapping was put back
    a.guest.lease[0] = 0;
    expect((await driver.read(a, 1)).status).toBe(Status.OK);
    expect(a.shadow[0]).toBe(0); // taken back
    expect(a.counters.revoked).toBe(1);
    expect(a.mapped).toBe(1);
  });

  it('says ARENA_FULL when every frame is leased by another domain, and recovers once the lease goes', async () => {
    const { driver } = setup({ arenaFrames: 1 });
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    await driver.read(a, 0);
    a.guest.lease[0] = 1;
    expect((await driver.read(b, 1)).status).toBe(Status.ARENA_FULL);
    a.guest.lease[0] = 0;
    expect((await driver.read(b, 1)).status).toBe(Status.OK);
    expect(a.counters.revoked).toBe(1);
  });

  it('reserves the quota when a READ is accepted: a burst cannot overshoot it', async () => {
    const { driver } = setup({ quota: 2, arenaFrames: 16 });
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    a.guest.lease.fill(1); // every read is in flight, so nothing can be taken back
    const replies = await Promise.all([0, 1, 5].map((lba) => driver.read(a, lba)));
    expect(replies.map((r) => r.status).sort()).toEqual([Status.OK, Status.OK, Status.QUOTA].sort());
    expect(a.mapped).toBeLessThanOrEqual(2);
  });

  it('caps each domain at a fair share of the arena', async () => {
    const { driver } = setup({ quota: 64, arenaFrames: 4 });
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    expect(driver.share(a)).toBe(4);
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    expect([driver.share(a), driver.share(b)]).toEqual([2, 2]);
    driver.destroyDomain(b.id);
    expect(driver.share(a)).toBe(4);
  });

  it('charges the fair share only for frames no other domain maps: readers of one image keep every mapping, a hoarder is still held to its share', async () => {
    const store = new MemoryBlockStore();
    const image = new Map(Array.from({ length: 16 }, (_, i) => [i, block(i + 1)] as const));
    store.addVolume('img@s', { blocks: 16, blockBytes: BS, readOnly: true, group: 'g1' }, image);
    store.cloneVolume('img@s', 'ca');
    store.cloneVolume('img@s', 'cb');
    // A roomy arena, so what binds is the share (quota 7), never a full arena.
    const driver = new Dom0Driver(store, { arenaFrames: 64, promoteAt: 2, quota: 7, shared: true });
    const a = zeroCopy(driver, await driver.createDomain('ca'));
    const b = zeroCopy(driver, await driver.createDomain('cb'));
    expect(driver.share(a)).toBe(7);
    // Both read the same six blocks, then b more of its own: b maps more frames than its share of 7, a as many.
    for (const lba of [0, 1, 2, 3]) expect((await driver.read(a, lba)).status).toBe(Status.OK);
    for (const lba of [0, 1, 2, 3, 4, 5]) expect((await driver.read(b, lba)).status).toBe(Status.OK);
    for (const lba of [4, 5]) expect((await driver.read(a, lba)).status).toBe(Status.OK);
    for (const lba of [6, 7]) expect((await driver.read(b, lba)).status).toBe(Status.OK);
    expect([a.mapped, b.mapped]).toEqual([6, 8]);
    expect(a.counters.revoked + b.counters.revoked).toBe(0);
    // Blocks only a reads count against its share: the eighth such block takes back one of them, never a shared mapping.
    for (const lba of [8, 9, 10, 11, 12, 13, 14]) expect((await driver.read(a, lba)).status).toBe(Status.OK);
    expect(driver.soleFrames(a)).toBe(7);
    expect(a.counters.revoked).toBe(0);
    expect((await driver.read(a, 15)).status).toBe(Status.OK);
    expect(driver.soleFrames(a)).toBe(7);
    expect(a.counters.revoked).toBe(1);
    for (const lba of [0, 1, 2, 3, 4, 5]) expect(a.shadow[lba]).not.toBe(0);
    // With every frame leased, the hoarder is refused rather than let past its share.
    a.guest.lease.fill(1);
    expect((await driver.read(a, 8)).status).toBe(Status.QUOTA);
    expect(b.counters.revoked).toBe(0);
  });

  it('keeps a block only this clone references out of the group arena, in private frames', async () => {
    const { driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    await driver.write(a, 3, block(0x5e));
    // Kept in a private frame and mapped at once: the read back is a mapping hit.
    expect(decodeFrame(a.shadow[3]!)).toBeGreaterThanOrEqual(16);
    const r = await driver.read(a, 3);
    expect(r.frame).toBeGreaterThanOrEqual(16);
    expect(driver.frameView(a, r.frame)[0]).toBe(0x5e);
    const g = driver.groups.get('g1')!;
    for (let f = 0; f < 16; f++) expect(g.table.view(f).includes(0x5e)).toBe(false);
    expect(a.counters.privateReads).toBe(0);
    expect(driver.counters.poolReads).toBe(0);
    // The same bytes written by another clone are deduplicated: shared, so the group arena.
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    await driver.write(b, 4, block(0x5e));
    expect((await driver.read(b, 4)).frame).toBeLessThan(16);
  });

  it('maps a written block from its private frame at once; with every private frame mapped it takes back unleased mappings, and keeps nothing when all are leased', async () => {
    const store = new MemoryBlockStore();
    store.addVolume('big@snap', { blocks: 32, blockBytes: BS, readOnly: true, group: 'g1' });
    store.cloneVolume('big@snap', 'big-a');
    store.cloneVolume('big@snap', 'big-b');
    const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 64, shared: true });
    const a = zeroCopy(driver, await driver.createDomain('big-a', undefined, undefined, 16 * BS));
    expect(a.priv.layout.frames).toBe(16);
    for (let lba = 0; lba < 20; lba++) expect((await driver.write(a, lba, block(100 + lba))).status).toBe(Status.OK);
    expect(driver.counters.keptWrites).toBe(20);
    expect(a.counters.revoked).toBeGreaterThan(0); // mappings of earlier writes, taken back for later ones
    for (let lba = 16; lba < 20; lba++) expect(a.guest.pageMap[lba], `LBA ${lba} mapped at once`).toBeGreaterThan(16);
    for (let lba = 0; lba < 20; lba++) expect(driver.frameView(a, (await driver.read(a, lba)).frame)[0], `LBA ${lba}`).toBe(100 + lba);
    // Every private frame mapped and leased: the write is durable and acknowledged, kept nowhere, mapped nowhere.
    const b = zeroCopy(driver, await driver.createDomain('big-b', undefined, undefined, 16 * BS));
    for (let lba = 0; lba < 16; lba++) await driver.write(b, lba, block(50 + lba));
    b.guest.lease.fill(1);
    const kept = driver.counters.keptWrites;
    expect((await driver.write(b, 20, block(70))).status).toBe(Status.OK);
    expect(driver.counters.keptWrites).toBe(kept);
    expect(b.guest.pageMap[20]).toBe(0);
    b.guest.lease.fill(0);
    const r = await driver.read(b, 20);
    expect(driver.frameView(b, r.frame)[0]).toBe(70);
  });

  it('with every private frame leased, a write looks at a bounded stretch of a large page map, not all of it', async () => {
    const store = new MemoryBlockStore();
    const blocks = 1 << 16;
    store.addVolume('huge@snap', { blocks, blockBytes: BS, readOnly: true, group: 'g1' });
    store.cloneVolume('huge@snap', 'huge-a');
    const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 64, shared: true });
    const a = zeroCopy(driver, await driver.createDomain('huge-a', undefined, undefined, 16 * BS));
    // 16 writes far apart fill every private frame, each mapped at once; then every view is leased.
    for (let i = 0; i < 16; i++) await driver.write(a, i * 4000, block(i + 1));
    a.guest.lease.fill(1);
    const before = a.reclaimHand;
    expect((await driver.write(a, blocks - 1, block(0x77))).status).toBe(Status.OK);
    const moved = (a.reclaimHand - before + blocks) % blocks;
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThanOrEqual(4096);
    // The write is durable all the same, and readable once the views go.
    a.guest.lease.fill(0);
    expect(driver.frameView(a, (await driver.read(a, blocks - 1)).frame)[0]).toBe(0x77);
  });

  it('maps nothing on a write over the copy transport (no mapping outlives a request there)', async () => {
    const { driver } = setup();
    const a = await driver.createDomain('clone-a');
    expect(a.copies).toBe(true);
    await driver.write(a, 3, block(0x5e));
    expect(a.shadow[3]).toBe(0);
    expect(driver.counters.keptWrites).toBe(1);
  });

  it('refuses a second live domain on one clone, with a typed error', async () => {
    const { driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    await expect(driver.createDomain('clone-a')).rejects.toMatchObject({ name: 'DatasetInUseError', dataset: 'clone-a', domainId: a.id });
    driver.destroyDomain(a.id);
    expect((await driver.createDomain('clone-a')).dataset).toBe('clone-a');
  });

  it('copy-on-write diverges one clone only and acknowledges after the commit', async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    const before = await driver.read(a, 1);
    await driver.read(b, 1);
    const w = await driver.write(a, 1, block(9));
    expect(w.status).toBe(Status.OK);
    expect(store.commits).toBe(1);
    // a's old mapping was dropped; the new block is mapped from a private frame.
    expect(decodeFrame(a.shadow[1]!)).toBeGreaterThanOrEqual(16);
    const after = await driver.read(a, 1);
    expect(after.frame).not.toBe(before.frame);
    expect(driver.frameView(a, after.frame)[0]).toBe(9);
    const rb = await driver.read(b, 1);
    expect(rb.frame).toBe(before.frame);
    expect(driver.groups.get('g1')!.table.view(rb.frame)[0]).toBe(2);
  });

  it('truncates a whole-block write to the partial last block at the end of the volume; refuses the block after', async () => {
    const store = new MemoryBlockStore();
    // 3 blocks, the last holding 100 bytes of volume.
    store.addVolume('odd', { blocks: 3, blockBytes: BS, sizeBytes: 2 * BS + 100, readOnly: false, group: 'g1' });
    const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
    const d = zeroCopy(driver, await driver.createDomain('odd'));
    const payload = block(0xab);
    expect((await driver.write(d, 2, payload)).status).toBe(Status.OK);
    expect(payload[BS - 1]).toBe(0xab); // the caller's buffer is left alone
    const r = await driver.read(d, 2);
    expect(r.status).toBe(Status.OK);
    const back = driver.frameView(d, r.frame);
    expect(Array.from(back.subarray(0, 100))).toEqual(new Array(100).fill(0xab));
    expect(back.subarray(100).every((b) => b === 0), 'bytes past the end of the volume read back as zeros').toBe(true);
    // A full block before the end is whole; the block after the last is refused.
    expect((await driver.write(d, 1, block(0xcd))).status).toBe(Status.OK);
    expect(driver.frameView(d, (await driver.read(d, 1)).frame).every((b) => b === 0xcd)).toBe(true);
    expect((await driver.write(d, 3, block(0xee))).status).toBe(Status.OUT_OF_RANGE);
  });

  it('keeps a pin on the old frame while the guest holds views, and drops only pins it holds', async () => {
    const { driver } = setup({ arenaFrames: 2 });
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const r = await driver.read(a, 1);
    a.guest.lease[1] = 1; // a view of the old block is live
    await driver.write(a, 1, block(7));
    expect(a.kept.get(1)?.get(r.frame)).toBe(1);
    expect(driver.groups.get('g1')!.table.isMapped(r.frame)).toBe(true);
    expect(driver.unmap(a, 1, 5).status).toBe(Status.BAD_REQUEST); // a pin it does not hold
    expect(driver.unmap(a, 0, r.frame).status).toBe(Status.BAD_REQUEST); // a pin for another LBA
    expect(driver.unmap(a, 0, -1).status).toBe(Status.BAD_REQUEST); // an LBA it does not map
    expect(driver.unmap(a, 1, r.frame).status).toBe(Status.OK);
    expect(driver.groups.get('g1')!.table.isMapped(r.frame)).toBe(false);
    // Every pin kept for an LBA at once, when the guest holds no view of it any more.
    a.guest.lease[5] = 1;
    const r2 = await driver.read(a, 5);
    await driver.write(a, 5, block(8));
    const r3 = await driver.read(a, 5);
    await driver.write(a, 5, block(6));
    expect([...a.kept.get(5)!.keys()].sort()).toEqual([r2.frame, r3.frame].sort());
    expect(a.guest.kept[5], 'the lease word says pins were kept').toBe(1);
    a.guest.lease[5] = 0; // the last view goes: the guest clears the bit and asks
    a.guest.kept[5] = 0;
    expect(driver.unmap(a, 5, -1, true).status).toBe(Status.OK);
    expect(a.kept.size).toBe(0);
    expect(a.keptUnasked.size).toBe(0);
    expect(a.mapped).toBe(0);
    // Nothing left to give back is not an error (a guest may ask after a bit it saw for nothing).
    expect(driver.unmap(a, 5, -1, true).status).toBe(Status.OK);
    expect(driver.unmap(a, 99, -1, true).status).toBe(Status.BAD_REQUEST);
  });

  it('gives back only the pins kept before the guest asked: the UNMAP may arrive after a new view was taken and its frame kept', async () => {
    // The guest's last view of LBA 2 goes and it sends UNMAP(all kept); before dom0 gets
    // to it, the guest reads LBA 2 again from its page map (a new lease, no request), and
    // dom0 takes that mapping back too (the guest's write): the pin kept for the new view
    // must outlive the UNMAP that was sent before it.
    const { driver } = setup({ arenaFrames: 4 });
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const old = await driver.read(a, 2);
    a.guest.lease[2] = 1;
    await driver.write(a, 2, block(0x41)); // the old view's frame is kept
    const fresh = await driver.read(a, 2);
    expect(fresh.frame).not.toBe(old.frame);
    a.guest.lease[2] = 0; // the old view goes: the guest clears LEASE_KEPT, sends UNMAP(all) ...
    a.guest.kept[2] = 0;
    a.guest.lease[2] = 1; // ... and takes a new view of the fresh mapping, from its page map
    await driver.write(a, 2, block(0x42)); // dom0 keeps the fresh frame for that view
    expect([...a.kept.get(2)!.keys()].sort()).toEqual([old.frame, fresh.frame].sort());
    expect(driver.unmap(a, 2, -1, true).status).toBe(Status.OK); // the UNMAP sent before
    expect([...a.kept.get(2)!], 'the old view’s pin went, the live view’s stays').toEqual([[fresh.frame, 1]]);
    expect(a.guest.kept[2], 'the guest will ask again').toBe(1);
    a.guest.lease[2] = 0;
    a.guest.kept[2] = 0;
    expect(driver.unmap(a, 2, -1, true).status).toBe(Status.OK);
    expect(a.kept.size).toBe(0);
    expect(a.keptUnasked.size).toBe(0);
  });

  it('batches writes from many domains into one commit, and acknowledges none when it fails', async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    const done = await Promise.all([driver.write(a, 3, block(3)), driver.write(b, 4, block(4)), driver.flush(a)]);
    expect(done.map((c) => c.status)).toEqual([Status.OK, Status.OK, Status.OK]);
    expect(store.commits).toBe(1);
    store.failNextCommit = Object.assign(new Error('quota'), { name: 'PoolFullError' });
    const failed = await driver.write(a, 6, block(6));
    expect(failed.status).toBe(Status.IO);
    const r = await driver.read(a, 6);
    expect(r.frame).toBe(-1); // nothing of the failed write is visible
  });

  it("refuses a write that another caller's failed commit dropped before the group commit came (never acknowledges it)", async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    // The write is staged at once; its group commit waits for the rest of the batch.
    const pending = driver.write(a, 6, block(6));
    // Meanwhile the control plane (a snapshot, an import's slice) commits and fails: the
    // store drops everything staged, this write included.
    store.failNextCommit = Object.assign(new Error('quota'), { name: 'PoolFullError' });
    await expect(store.commit()).rejects.toThrow('quota');
    // The group commit then finds nothing staged; the write must still fail, not resolve OK.
    expect((await pending).status).toBe(Status.IO);
    const r = await driver.read(a, 6);
    expect(r.frame).toBe(-1); // a hole, as before the write
    // A write after the drop commits as usual.
    expect((await driver.write(a, 7, block(7))).status).toBe(Status.OK);
    // The store, as the pool, says which group was dropped and which committed.
    const w = store.write('clone-a', 3, block(9)); // LBAs 3 and 4 are holes in the image
    store.failNextCommit = Object.assign(new Error('quota'), { name: 'PoolFullError' });
    const dropped = await w;
    await expect(store.commit()).rejects.toThrow('quota');
    const kept = await store.write('clone-a', 4, block(8));
    await store.commit();
    expect(store.droppedGroup(dropped)).toMatchObject({ message: 'quota' });
    expect(store.droppedGroup(kept)).toBeUndefined();
    expect(store.resolveSync('clone-a', [3, 4]).map((b) => b !== null)).toEqual([false, true]);
  });

  it("in one group commit, only the write whose group was dropped fails: the others are durable and acknowledged, a FLUSH is answered", async () => {
    const { store, driver } = setup();
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    const wa = driver.write(a, 3, block(3));
    store.failNextCommit = Object.assign(new Error('quota'), { name: 'PoolFullError' });
    await expect(store.commit()).rejects.toThrow('quota');
    // b writes after the drop, before the group commit runs: the same batch as a's write.
    const [ra, rb, fb] = await Promise.all([wa, driver.write(b, 4, block(4)), driver.flush(b)]);
    expect([ra.status, rb.status, fb.status]).toEqual([Status.IO, Status.OK, Status.OK]);
    expect(store.commits).toBe(1);
    expect(store.resolveSync('clone-a', [3])[0]).toBeNull();
    expect(store.resolveSync('clone-b', [4])[0]).not.toBeNull();
  });

  it('destroying a domain releases its mappings; a faulted domain is reported once', async () => {
    const { driver } = setup({ arenaFrames: 1 });
    const a = zeroCopy(driver, await driver.createDomain('clone-a'));
    const b = zeroCopy(driver, await driver.createDomain('clone-b'));
    await driver.read(a, 0);
    driver.destroyDomain(a.id);
    expect((await driver.read(b, 1)).status).toBe(Status.OK);
    const reasons: string[] = [];
    driver.onFault = (_d, why) => reasons.push(why);
    driver.fault(b, 'garbage in ring');
    driver.fault(b, 'again');
    expect(reasons).toEqual(['garbage in ring']);
    expect(b.mapped).toBe(0);
    await expect(driver.createDomain('base@snap')).rejects.toThrow(/read-only/);
  });

  it('reads ahead of near-sequential misses in the same pool reads, and never takes a mapping back to do it', async () => {
    const store = new MemoryBlockStore();
    const image = new Map(Array.from({ length: 64 }, (_, i) => [i, block(i + 1)] as const));
    store.addVolume('img@s', { blocks: 64, blockBytes: BS, readOnly: true, group: 'g1' }, image);
    store.cloneVolume('img@s', 'scan');
    store.cloneVolume('img@s', 'other');
    // An arena with room for two windows in its eighth, where the next window is read early.
    const driver = new Dom0Driver(store, { arenaFrames: 512, promoteAt: 2, quota: 64, shared: true });
    const a = zeroCopy(driver, await driver.createDomain('scan'));
    for (let lba = 0; lba < 64; lba++) {
      const r = await driver.read(a, lba);
      expect(r.status).toBe(Status.OK);
      expect(driver.frameView(a, r.frame)[0]).toBe(lba + 1);
    }
    // Without readahead: 64 misses, 64 pool reads in 64 batches.
    expect(driver.counters.readAhead).toBeGreaterThan(0);
    // The next window is read when the guest reaches the second half of the last one, so
    // a sequential reader misses only while the window grows (9 misses without that).
    expect(a.counters.misses).toBeLessThanOrEqual(3);
    // In a small arena (64 frames: both windows do not fit its eighth) it waits for the miss.
    const tight = new Dom0Driver(store, { arenaFrames: 64, promoteAt: 2, quota: 64, shared: true });
    const t = zeroCopy(tight, await tight.createDomain('other'));
    for (let lba = 0; lba < 64; lba++) expect((await tight.read(t, lba)).status).toBe(Status.OK);
    expect(t.counters.misses).toBeGreaterThan(a.counters.misses + 3);
    expect(driver.counters.poolReadBatches).toBeLessThan(20);
    expect(driver.counters.poolReads).toBe(64);

    // An arena whose every frame is mapped and leased: readahead finds no frame and takes none.
    const small = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
    const o = zeroCopy(small, await small.createDomain('other'));
    for (let lba = 56; lba < 62; lba++) expect((await small.read(o, lba)).status).toBe(Status.OK);
    o.guest.lease.fill(1);
    const s = zeroCopy(small, await small.createDomain('scan'));
    s.guest.lease.fill(1);
    for (let lba = 0; lba < 2; lba++) expect((await small.read(s, lba)).status).toBe(Status.OK);
    for (let lba = 56; lba < 62; lba++) expect(o.shadow[lba]).not.toBe(0);
    expect(o.counters.revoked).toBe(0);
    expect(o.fault).toBeNull();
  });

  it('keeps a block the domain wrote in a private frame: reading it back is no pool read, and holds what the pool stored', async () => {
    const store = new MemoryBlockStore();
    store.addVolume('img@s', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g1' }, new Map([[0, block(9)]]));
    store.cloneVolume('img@s', 'mine');
    const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
    const a = zeroCopy(driver, await driver.createDomain('mine'));
    const slot = block(7);
    const w = driver.write(a, 3, slot);
    slot.fill(0xee); // the guest scribbles on its staging slot while the write is in flight
    expect((await w).status).toBe(Status.OK);
    expect(driver.counters.keptWrites).toBe(1);
    const reads = store.reads;
    const r = await driver.read(a, 3);
    expect(r.status).toBe(Status.OK);
    expect(r.frame).toBeGreaterThanOrEqual(8); // private
    expect(store.reads).toBe(reads); // before write-allocate: a pool read
    expect(driver.frameView(a, r.frame)).toEqual(block(7));
    expect((await store.read('mine', store.resolveSync('mine', [3]) as never))[0]).toEqual(block(7));
    // A write of bytes another dataset holds too is not this domain's alone: nothing kept.
    expect((await driver.write(a, 4, block(9))).status).toBe(Status.OK);
    expect(driver.counters.keptWrites).toBe(1);
    expect(a.group.table.stats().resident).toBe(0);
  });

  it('gives each domain 8 MiB of private frames by default, whatever its block size, at least 16', async () => {
    const store = new MemoryBlockStore();
    for (const [name, bs, blocks] of [['pages', 4096, 100_000], ['blocks', 65536, 1000], ['huge', 1 << 20, 100], ['tiny', 4096, 4]] as const) {
      store.addVolume(`${name}@s`, { blocks, blockBytes: bs, readOnly: true, group: name }, new Map());
      store.cloneVolume(`${name}@s`, name);
    }
    const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 16, shared: true });
    expect((await driver.createDomain('pages')).priv.layout.frames).toBe(2048);
    expect((await driver.createDomain('blocks')).priv.layout.frames).toBe(128);
    expect((await driver.createDomain('huge')).priv.layout.frames).toBe(16);
    const set = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 16, shared: true, privateFrames: 5 });
    expect((await set.createDomain('pages')).priv.layout.frames).toBe(5);
    // Per domain (a SQL tenant asks for more), over the driver's setting.
    expect((await set.createDomain('blocks', undefined, undefined, 32 << 20)).priv.layout.frames).toBe(512);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(set.createDomain('huge', undefined, undefined, bad), String(bad)).rejects.toThrow(/privateBytes must be a positive number of bytes/);
    }
    // Never more frames than the volume has blocks, however many bytes are asked for: each
    // frame costs dom0 bookkeeping up front.
    expect((await driver.createDomain('tiny')).priv.layout.frames).toBe(4);
    driver.destroyDomain([...driver.domains.values()].find((d) => d.dataset === 'pages')!.id);
    expect((await driver.createDomain('pages', undefined, undefined, 2 ** 40)).priv.layout.frames).toBe(100_000);
  });

  it('reads ahead of near-sequential misses of the domain\'s own blocks into its private frames', async () => {
    // A SQLite tenant re-reading pages it wrote: its own blocks, served from private frames.
    const store = new MemoryBlockStore();
    store.addVolume('img@s', { blocks: 64, blockBytes: BS, readOnly: true, group: 'g1' }, new Map());
    store.cloneVolume('img@s', 'mine');
    for (let lba = 0; lba < 64; lba++) await store.write('mine', lba, block(lba + 1));
    await store.commit();
    const driver = new Dom0Driver(store, { arenaFrames: 64, promoteAt: 2, quota: 64, shared: true, privateFrames: 128 });
    const a = zeroCopy(driver, await driver.createDomain('mine'));
    for (let lba = 0; lba < 64; lba++) {
      const r = await driver.read(a, lba);
      expect(r.status).toBe(Status.OK);
      expect(r.frame).toBeGreaterThanOrEqual(64); // a private frame
      expect(driver.frameView(a, r.frame)[0]).toBe(lba + 1);
    }
    // Without it: 64 misses, 64 pool reads in 64 batches (it was so before 2026-12-01).
    expect(driver.counters.readAhead).toBeGreaterThan(0);
    expect(driver.counters.poolReadBatches).toBeLessThan(20);
    expect(driver.counters.poolReads).toBe(64);
    expect(a.group.table.stats().resident).toBe(0); // nothing of it reached the group's arena
  });
});

