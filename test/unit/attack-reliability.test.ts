// Node: attacks on the reliability guarantees (docs/reliability.md), from the attack review
// of 2026-12-03: mirror page locks against multi-block groups, a destroyed dataset's dirty
// pages, the remote copy of a clone, and the session journal's bookkeeping under a full
// journal and after an owner died inside ack(). Each failed before its fix
// (mirror-source.ts: locks in LBA order, forget, queueWhole; journal.ts reclaimAll and
// hasRoom, session.ts's append).
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Status } from '../../shared/protocol';
import { Journal } from '../../guest/workloads/journal';
import { SessionServer, assumeIdentity, type SessionReply } from '../../guest/workloads/session';
import type { BlockDevice } from '../../guest/block-device';
import { mirrorTo } from './helpers/mirror-doubles';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


/** A store whose commits can be held at a gate (an IndexedDB commit that takes a while). */
class GatedStore extends MemoryBlockStore {
  gate: Promise<void> | null = null;
  override async commit(): Promise<void> {
    if (this.gate) await this.gate;
    return super.commit();
  }
}

/**
 * A session guest's block device over `disk` (each block stored as its fill byte), 16
 * blocks of `blockBytes`; `before` runs ahead of each write (a write held in flight).
 */
function sessionDevice(domainId: number, blockBytes: number, disk: Map<number, number>, before: () => Promise<void> = async () => {}): BlockDevice {
  const view = (lba: number) => ({ lba, bytes: new Uint8Array(blockBytes).fill(disk.get(lba) ?? 0), shared: false, release() {}, [Symbol.dispose]() {} });
  return {
    transport: 'copy',
    domainId,
    blocks: 16,
    blockBytes,
    async write(lba: number, bytes: Uint8Array) {
      await before();
      disk.set(lba, bytes[0]!);
    },
    async read(lba: number) {
      return view(lba);
    },
  } as unknown as BlockDevice;
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);

describe('mirror page locks vs a multi-block group (COMMIT_HELD)', () => {
  // Pages dirtied 5 then 3 deadlocked before the routine took its locks in LBA order; 3
  // then 5 never did (the control).
  it.each([[[5, 3]], [[3, 5]]])('a held group of two pages and the mirror routine never deadlock (pages dirtied in order %j); the mirror ends equal to the primary', async (order) => {
    const store = new GatedStore();
    store.addVolume('vm', { blocks: 16, blockBytes: BS, readOnly: false, group: 'g' });
    const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 16, shared: true });
    const { rel, sink } = await mirrorTo(driver, { channel: 't', mode: 'async', ackTimeoutMs: 5000 });
    const d = await driver.createDomain('vm');
    sink.delayMs = 80;
    // 1. A batch [7] is on its way to the remote (the routine is busy for 80 ms).
    expect((await driver.write(d, 7, block(7))).status).toBe(Status.OK);
    // 2. Pages 5 and 3 become dirty meanwhile, in `order`: the routine's queue.
    for (const lba of order) expect((await driver.write(d, lba, block(lba))).status).toBe(Status.OK);
    // 3. A single WRITE of page 3 holds its lock while its commit takes a while.
    let open = (): void => undefined;
    store.gate = new Promise<void>((r) => (open = r));
    const y = driver.write(d, 3, block(0x33));
    await sleep(1);
    // 4. A held group {3, 5} commits: takes locks in LBA order, waits for 3.
    expect(driver.writeHeld(d, 3, block(0x43)).status).toBe(Status.OK);
    expect(driver.writeHeld(d, 5, block(0x45)).status).toBe(Status.OK);
    const g = driver.commitHeld(d);
    // 5. The batch [7] is acknowledged; the routine picks [5, 3] and locks 5, waits for 3.
    await sleep(150);
    // 6. The slow commit ends.
    store.gate = null;
    open();
    expect((await within(y, 2000)) === 'timeout' ? 'timeout' : 'answered').toBe('answered');
    const gr = await within(g, 2000);
    expect(gr === 'timeout' ? 'COMMIT_HELD never answered (deadlock)' : gr.status).toBe(Status.OK);
    const drained = await within(rel.mirrorDrained(), 2000);
    expect(drained === 'timeout' ? 'mirror never drained' : 'drained').toBe('drained');
    expect(sink.volumes.get('vm')!.get(3)![0]).toBe(0x43);
    expect(sink.volumes.get('vm')!.get(5)![0]).toBe(0x45);
  }, 15_000);
});

describe('session appends racing for the last journal slot', () => {
  it('after a takeover, every append answered ok holds its bytes', async () => {
    const BB = 512;
    const journal = Journal.create(2, BB, 1);
    const disk = new Map<number, number>();
    const gates: (() => void)[] = [];
    // The dead guest's device: each write waits to be let through.
    const devA = sessionDevice(1, BB, disk, () => new Promise<void>((r) => gates.push(r)));
    const server = new SessionServer(1, devA, journal, 1);
    expect((await server.handle({ sid: 1, req: 1, op: 'open', base: 0, length: 8 })).ok).toBe(true);
    const replies: (SessionReply | string)[] = [];
    const go = (req: number, fill: number) =>
      server.handle({ sid: 1, req, op: 'append', handle: 1, fill }).then(
        (r) => void replies.push(r),
        (e: unknown) => void replies.push(`req ${req}: ${String(e)}`),
      );
    void go(2, 0xa2);
    void go(3, 0xa3);
    await sleep(5); // both journaled, writes in flight: the journal (2 slots) is full
    void go(4, 0xa4);
    void go(5, 0xa5);
    await sleep(5); // both wait for room
    gates.shift()!(); // req 2's write is durable: one slot frees, both waiters wake
    await sleep(5);
    gates.shift()!(); // req 3's write is durable
    await sleep(5);
    void go(6, 0xa6);
    await sleep(5);
    // The guest dies now (its pending writes never reach dom0); the partner takes over.
    const devB = sessionDevice(2, BB, disk);
    const { server: survivor, report } = await assumeIdentity(1, devB, { buffer: journal.buffer, capacity: 2, blockBytes: BB, blocks: 16 }, 2, 1000);
    survivor.journal.stopHeartbeat();
    const all = [...replies.filter((r): r is SessionReply => typeof r !== 'string'), ...report.answers];
    const fills: Record<number, number> = { 2: 0xa2, 3: 0xa3, 4: 0xa4, 5: 0xa5, 6: 0xa6 };
    const lies: string[] = [];
    for (const r of all) {
      if (!r.ok || fills[r.req] === undefined) continue;
      const got = disk.get(r.value!) ?? 0;
      if (got !== fills[r.req]) lies.push(`req ${r.req} answered ok (block ${r.value}) but the block holds ${got.toString(16)}`);
    }
    expect({ lies, rejected: replies.filter((r) => typeof r === 'string') }).toEqual({ lies: [], rejected: [] });
  });
});

describe('a dataset destroyed while it has dirty pages', () => {
  it('does not stop the mirroring of the other datasets', async () => {
    const store = new MemoryBlockStore();
    store.addVolume('vm1', { blocks: 16, blockBytes: BS, readOnly: false, group: 'g' });
    store.addVolume('vm2', { blocks: 16, blockBytes: BS, readOnly: false, group: 'g' });
    const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 16, shared: true });
    const { rel, sink } = await mirrorTo(driver, { channel: 't', mode: 'async' });
    const d1 = await driver.createDomain('vm1');
    const d2 = await driver.createDomain('vm2');
    sink.delayMs = 50;
    expect((await driver.write(d1, 7, block(7))).status).toBe(Status.OK); // batch in flight
    expect((await driver.write(d1, 1, block(1))).status).toBe(Status.OK); // dirty, queued
    // The guest exits; the host destroys its domain and its clone (as the pool's destroy does).
    driver.destroyDomain(d1.id);
    (store as unknown as { volumes: Map<string, unknown> }).volumes.delete('vm1');
    expect((await driver.write(d2, 2, block(0x22))).status).toBe(Status.OK);
    await sleep(1500);
    expect({ degraded: rel.mirrorStats()!.degraded, vm2: sink.volumes.get('vm2')?.get(2)?.[0] ?? null }).toEqual({ degraded: null, vm2: 0x22 });
  }, 10_000);
});

describe('takeover of a journal whose owner died inside ack()', () => {
  it('the survivor keeps serving appends (its adopted journal reclaims records)', async () => {
    const BB = 512;
    const journal = Journal.create(4, BB, 1);
    const disk = new Map<number, number>();
    const dev = sessionDevice(1, BB, disk, () => sleep(1));
    const owner = new SessionServer(1, dev, journal, 1);
    expect((await owner.handle({ sid: 1, req: 1, op: 'open', base: 0, length: 12 })).ok).toBe(true);
    expect((await owner.handle({ sid: 1, req: 2, op: 'append', handle: 1, fill: 0xb2 })).ok).toBe(true);
    // The owner is terminated inside its next ack(): the reclaimed slot's STATE is stored
    // EMPTY, the tail word not yet. (What ack() leaves between its two stores.)
    const header = new Int32Array(journal.buffer, 0, 16);
    const tailBefore = Atomics.load(header, 3);
    expect((await owner.handle({ sid: 1, req: 3, op: 'append', handle: 1, fill: 0xb3 })).ok).toBe(true);
    Atomics.store(header, 3, tailBefore);
    const { server, report } = await assumeIdentity(1, dev, { buffer: journal.buffer, capacity: 4, blockBytes: BB, blocks: 16 }, 2, 1000);
    server.journal.stopHeartbeat();
    expect(report.openHandles).toBe(1);
    const answers: (SessionReply | 'timeout')[] = [];
    for (let req = 10; req < 16; req++) answers.push(await within(server.handle({ sid: 1, req, op: 'append', handle: 1, fill: req }), 1000));
    expect(answers.map((a) => (a === 'timeout' ? 'timeout' : a.ok))).toEqual([true, true, true, true, true, true]);
  }, 15_000);
});

describe('mirror with the default options (every dataset a domain writes)', () => {
  it('the mirrored copy of a clone reads like the primary, not only its written pages', async () => {
    const store = new MemoryBlockStore();
    store.addVolume('base@snap', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g' }, new Map([[0, block(1)], [1, block(2)]]));
    store.cloneVolume('base@snap', 'vm');
    const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 16, shared: true });
    const { rel, sink } = await mirrorTo(driver, { channel: 't', mode: 'sync' });
    const d = await driver.createDomain('vm');
    expect((await driver.write(d, 5, block(5))).status).toBe(Status.OK);
    await rel.mirrorDrained();
    const v = sink.volumes.get('vm')!;
    // Primary: block 0 = 1, block 1 = 2, block 5 = 5. A promoted mirror must serve the same.
    expect([0, 1, 5].map((lba) => v.get(lba)?.[0] ?? 0)).toEqual([1, 2, 5]);
  });

  it('a sync write that makes the mirror copy its clone whole goes out in the first batch, ahead of the copy', async () => {
    const store = new MemoryBlockStore();
    const base = new Map<number, Uint8Array>();
    for (let lba = 0; lba < 32; lba++) base.set(lba, block(lba + 1));
    store.addVolume('base@snap', { blocks: 32, blockBytes: BS, readOnly: true, group: 'g' }, base);
    store.cloneVolume('base@snap', 'vm');
    const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 16, shared: true });
    const { rel, sink } = await mirrorTo(driver, { channel: 't', mode: 'sync', batchBlocks: 4 });
    const d = await driver.createDomain('vm');
    expect((await driver.write(d, 29, block(0x99))).status).toBe(Status.OK);
    // Acknowledged once its own page was mirrored: the first batch, not the eighth.
    expect(sink.batches[0]!.blocks.map((b) => b.lba)).toContain(29);
    await rel.mirrorDrained();
    const v = sink.volumes.get('vm')!;
    expect(Array.from({ length: 32 }, (_, lba) => v.get(lba)?.[0] ?? 0)).toEqual(Array.from({ length: 32 }, (_, lba) => (lba === 29 ? 0x99 : lba + 1)));
  });
});
