// Node: defects found in the review of 2026-12-01 (write-allocate, private frames), each
// test failing against the code before its fix (docs/isolation.md, section 4, item 12).
import { describe, expect, it } from 'vitest';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Status } from '../../shared/protocol';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);

async function setup() {
  const store = new MemoryBlockStore();
  store.addVolume('img@s', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g1' }, new Map([[0, block(9)]]));
  store.cloneVolume('img@s', 'mine');
  const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
  return { store, driver };
}

/** What the pool holds at `lba` of `dataset` (the authority). */
async function stored(store: MemoryBlockStore, dataset: string, lba: number): Promise<Uint8Array> {
  const [b] = store.resolveSync(dataset, [lba]);
  return (await store.read(dataset, [b!]))[0]!;
}

describe('write-allocate: two writes of one LBA in flight together', () => {
  // The first write's completion resolved the LBA after the second write had replaced the
  // block, and kept the *first* write's bytes under the *second* block's key: every later
  // read of the LBA mapped that frame and returned bytes the pool no longer held.
  it.each([
    ['zero-copy', true],
    ['copy', false],
  ] as const)('%s: reading back gives what the pool stored (the last write), not the first write', async (_t, zc) => {
    const { store, driver } = await setup();
    const created = await driver.createDomain('mine');
    const d = zc ? zeroCopy(driver, created) : created;
    const [wa, wb] = await Promise.all([driver.write(d, 3, block(0xaa)), driver.write(d, 3, block(0xbb))]);
    expect(wa.status).toBe(Status.OK);
    expect(wb.status).toBe(Status.OK);
    expect((await stored(store, 'mine', 3))[0]).toBe(0xbb);
    const r = await driver.read(d, 3);
    expect(r.status).toBe(Status.OK);
    const bytes = zc ? driver.frameView(d, r.frame) : r.bytes!;
    expect(bytes[0]).toBe(0xbb);
    expect(bytes).toEqual(block(0xbb));
  });

  it('a single write is still kept (the control)', async () => {
    const { store, driver } = await setup();
    const d = zeroCopy(driver, await driver.createDomain('mine'));
    expect((await driver.write(d, 3, block(0xaa))).status).toBe(Status.OK);
    expect(driver.counters.keptWrites).toBe(1);
    const reads = store.reads;
    const r = await driver.read(d, 3);
    expect(store.reads).toBe(reads);
    expect(driver.frameView(d, r.frame)).toEqual(block(0xaa));
  });
});

/**
 * Like the pool: a write is visible to resolveSync as soon as it is staged (the pool's
 * tree points at the new chunk before the commit), and commits wait for `open()`.
 */
class StagedVisibleStore extends MemoryBlockStore {
  private gate: Promise<void> | null = null;
  private opened = (): void => undefined;
  commitsStarted = 0;
  hold(): void {
    this.gate = new Promise((r) => (this.opened = r));
  }
  open(): void {
    this.gate = null;
    this.opened();
  }
  override async write(dataset: string, lba: number, bytes: Uint8Array): Promise<number> {
    const group = await super.write(dataset, lba, bytes);
    await super.commit(); // visible at once, as the pool's staging is
    return group;
  }
  override async commit(): Promise<void> {
    this.commitsStarted++;
    if (this.gate) await this.gate;
  }
}

it('a write whose commit is in flight when a later write of its LBA is staged keeps nothing of itself under the later block', async () => {
  const store = new StagedVisibleStore();
  store.addVolume('img@s', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g1' }, new Map([[0, block(9)]]));
  store.cloneVolume('img@s', 'mine');
  const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 8, shared: true });
  const d = zeroCopy(driver, await driver.createDomain('mine'));
  store.hold();
  const wa = driver.write(d, 3, block(0xaa));
  for (let i = 0; i < 50 && store.commitsStarted === 0; i++) await new Promise((r) => setTimeout(r, 0));
  expect(store.commitsStarted).toBe(1); // A's commit is in flight
  const wb = driver.write(d, 3, block(0xbb)); // staged, visible, in the next commit
  await new Promise((r) => setTimeout(r, 0));
  store.open();
  expect((await wa).status).toBe(Status.OK);
  expect((await wb).status).toBe(Status.OK);
  expect((await stored(store, 'mine', 3))[0]).toBe(0xbb);
  const r = await driver.read(d, 3);
  expect(driver.frameView(d, r.frame)).toEqual(block(0xbb));
});

// Fault injection: the private frame write-allocate takes cannot be reached (its buffer
// cannot grow: RangeError from FrameTable.view, as when a growable buffer's grow fails for
// lack of memory). The write is already durable; before the fix the WRITE's promise
// rejected (the ring port never completed it) and the frame stayed 'filling' for good, so
// every later read of the block was refused.
it('a durable write whose kept frame cannot be grown is acknowledged, and its block reads back from the pool', async () => {
  const { store, driver } = await setup();
  const d = zeroCopy(driver, await driver.createDomain('mine'));
  const view = d.priv.view.bind(d.priv);
  let failing = true; // every grow fails until the write is answered
  d.priv.view = (frame: number) => {
    if (failing) throw new RangeError(`frame ${frame} does not fit its buffer (injected)`);
    return view(frame);
  };
  const w = await driver.write(d, 3, block(0xaa));
  failing = false;
  expect(w.status).toBe(Status.OK);
  expect((await stored(store, 'mine', 3))[0]).toBe(0xaa);
  const r = await driver.read(d, 3);
  expect(r.status).toBe(Status.OK);
  expect(driver.frameView(d, r.frame)).toEqual(block(0xaa));
  for (let f = 0; f < d.priv.layout.frames; f++) expect(d.priv.stateOf(f)).not.toBe('filling');
});

// The same failure on the read path, where write-allocate's fix first stopped (found when
// the change was read again): a miss whose private frame cannot be grown left the frame
// 'filling' and its failed fill in the filling map, so every later read of the block, when
// memory was there again, awaited that failure and was refused.
it('a read whose private frame cannot be grown is refused once; the next read of the block succeeds', async () => {
  const { store, driver } = await setup();
  await store.write('mine', 5, block(0x5e)); // the domain's own block, not through dom0
  await store.commit();
  const d = zeroCopy(driver, await driver.createDomain('mine'));
  const view = d.priv.view.bind(d.priv);
  let failing = true;
  d.priv.view = (frame: number) => {
    if (failing) throw new RangeError(`frame ${frame} does not fit its buffer (injected)`);
    return view(frame);
  };
  expect((await driver.read(d, 5)).status).not.toBe(Status.OK);
  failing = false;
  const r = await driver.read(d, 5);
  expect(r.status).toBe(Status.OK);
  expect(driver.frameView(d, r.frame)).toEqual(block(0x5e));
  for (let f = 0; f < d.priv.layout.frames; f++) expect(d.priv.stateOf(f)).not.toBe('filling');
});

describe('IDC: a hostile holder asking dom0 to grant one buffer again and again', () => {
  // The grant-table word stays "lent" (with "forwarded") after the first grant, so every
  // later ask passed the check, and dom0 kept a record of each: memory in dom0 without bound.
  it('gets one live grant per buffer; the rest are refused', async () => {
    const { IdcBroker } = await import('../../host/dom0/idc-broker');
    const { IdcEndpoint } = await import('../../guest/idc');
    const { controlOf } = await import('./helpers/idc-control');
    const broker = new IdcBroker();
    const [gab, gba] = broker.createChannel(1, 2, { buffersPerSide: 4, bufferBytes: 4096 });
    const [gbc] = broker.createChannel(2, 3, { buffersPerSide: 4, bufferBytes: 4096 });
    const a = new IdcEndpoint(gab, controlOf(broker, 1));
    const buf = a.alloc()!;
    a.send(buf, 3);
    const first = broker.grant(2, gba.channelId, buf.id, gbc.channelId);
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      try {
        broker.grant(2, gba.channelId, buf.id, gbc.channelId);
      } catch (e) {
        expect(e).toMatchObject({ name: 'IdcError', code: 'grant-refused' });
        refused++;
      }
    }
    expect(refused).toBe(1000);
    expect(broker.grantList().map((g) => g.ref)).toEqual([first]);
    // Once it ends, the record goes (bounded by what is live, not by what was asked).
    broker.end(2, first);
    expect(broker.grantList()).toEqual([]);
  });
});
