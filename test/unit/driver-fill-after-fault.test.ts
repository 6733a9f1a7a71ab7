// Node: a pool read into a domain's private frame that is still in flight when the domain
// is faulted or destroyed lands nowhere. Its private frames were zeroed at release, and
// "frames are zeroed when released" must hold for a fill that finishes later too (found by
// reading, hostile-guest review 2026-11-30: the bytes landed in the zeroed frame).
import { describe, expect, it } from 'vitest';
import { Dom0Driver, type Domain } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { Status } from '../../shared/protocol';
import { zeroCopy } from './helpers/zero-copy-domain';

const BS = 4096;
const SECRET = 0xab;

/** A store whose reads wait until `open()`: the pool read is in flight as long as the test likes. */
class GatedStore extends MemoryBlockStore {
  private gate: Promise<void> | null = null;
  private opened = (): void => undefined;
  readsStarted = 0;
  hold(): void {
    this.gate = new Promise((r) => (this.opened = r));
  }
  open(): void {
    this.opened();
  }
  override async read(dataset: string, blocks: Parameters<MemoryBlockStore['read']>[1]): Promise<Uint8Array[]> {
    this.readsStarted++;
    if (this.gate) await this.gate;
    return super.read(dataset, blocks);
  }
}

async function setup() {
  const store = new GatedStore();
  store.addVolume('base@snap', { blocks: 8, blockBytes: BS, readOnly: true, group: 'g1' }, new Map([[3, new Uint8Array(BS).fill(1)]]));
  store.cloneVolume('base@snap', 'clone-a');
  // A block only clone-a references: it is served from the domain's private frames.
  await store.write('clone-a', 5, new Uint8Array(BS).fill(SECRET));
  await store.commit();
  expect(store.resolveSync('clone-a', [5])[0]!.exclusive).toBe(true);
  const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota: 64, shared: true });
  const d = zeroCopy(driver, await driver.createDomain('clone-a'));
  return { store, driver, d };
}

/** Whether any byte of the domain's private frames is not zero. */
function privateBytesLeft(d: ReturnType<typeof zeroCopy>): number {
  const { buffer, layout } = d.guest;
  const frames = new Uint8Array(buffer, layout.framesByteOffset, layout.frames * layout.frameBytes);
  return frames.reduce((n, b) => n + (b !== 0 ? 1 : 0), 0);
}

async function untilRead(store: GatedStore): Promise<void> {
  for (let i = 0; i < 50 && store.readsStarted === 0; i++) await new Promise((r) => setTimeout(r, 0));
  expect(store.readsStarted).toBe(1);
}

describe.each([
  ['faulted', (driver: Dom0Driver, d: Domain) => driver.fault(d, 'killed mid-read')],
  ['destroyed', (driver: Dom0Driver, d: Domain) => driver.destroyDomain(d.id)],
] as const)('a private fill in flight when its domain is %s', (_how, end) => {
  it('writes nothing into the zeroed private frames and the read is refused', async () => {
    const { store, driver, d } = await setup();
    store.hold();
    const r = driver.read(d, 5);
    await untilRead(store);
    end(driver, d);
    store.open();
    const c = await r;
    expect(c.status).not.toBe(Status.OK);
    expect(privateBytesLeft(d)).toBe(0);
    // And the frame went back: the table holds nothing resident or filling.
    expect(d.priv.stats().resident).toBe(0);
  });
});

it('a live domain\'s private fill lands in its private frame (the control)', async () => {
  const { store, driver, d } = await setup();
  store.hold();
  const r = driver.read(d, 5);
  await untilRead(store);
  store.open();
  const c = await r;
  expect(c.status).toBe(Status.OK);
  expect(privateBytesLeft(d)).toBe(BS);
});
