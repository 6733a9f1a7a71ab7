// Runs in Node worker_threads, bundled and started by scripts/ring-node-probe.mjs. The
// real dom0 ring stack (Dom0Driver, RingPort, RingScheduler) in one thread and the real
// guest device (ZeroCopyDevice over RingChannel) in another, on an in-memory store: the
// ring round trip with no browser, no IndexedDB and no integrity hooks in the way, so a
// change to either end can be timed in seconds. Guest A reads every block (pool misses);
// guest B then reads each block once (resident, not mapped by B: the bench's
// read_hit_ring_ns), then single no-ops (the ring with nothing to serve) and batches of 128.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Dom0Driver } from '../host/dom0/driver';
import { MemoryBlockStore, type PhysicalBlock } from '../host/dom0/block-store';
import { RingPort } from '../host/dom0/ring-port';
import { RingScheduler } from '../host/dom0/ring-scheduler';
import { domainLayout } from '../shared/memory-layout';
import type { ZeroCopyGrant } from '../shared/grant';
import { openBlockDevice } from '../guest/block-device';

const BS = 65536;
const N = 2048;

/** MemoryBlockStore answers "is this block exclusive" by walking every volume; pay that once per LBA. */
class ResolvedOnce extends MemoryBlockStore {
  private readonly memo = new Map<string, PhysicalBlock | null>();
  override resolveSync(dataset: string, lbas: readonly number[]): (PhysicalBlock | null)[] {
    return lbas.map((lba) => {
      const k = `${dataset}:${lba}`;
      let r = this.memo.get(k);
      if (r === undefined) this.memo.set(k, (r = super.resolveSync(dataset, [lba])[0] ?? null));
      return r;
    });
  }
}

async function dom0(): Promise<void> {
  // Atomics.waitAsync does not keep a Node worker alive; the scheduler sleeps on it.
  setInterval(() => {}, 1 << 30);
  const store = new ResolvedOnce();
  const image = new Map<number, Uint8Array>();
  for (let i = 0; i < N; i++) {
    const b = new Uint8Array(BS);
    b[0] = i & 255;
    b[1] = i >> 8;
    b[2] = 7; // no block is all zeros (a hole)
    image.set(i, b);
  }
  store.addVolume('img@s', { blocks: N, blockBytes: BS, readOnly: true, group: 'g' }, image);
  for (const c of ['a', 'b']) {
    store.cloneVolume('img@s', c);
    for (let i = 0; i < N; i++) store.resolveSync(c, [i]);
  }
  const driver = new Dom0Driver(store, { arenaFrames: N + 64, promoteAt: 2, quota: N + 64, shared: true });
  const scheduler = new RingScheduler();
  const grants: ZeroCopyGrant[] = [];
  for (const c of ['a', 'b']) {
    const d = await driver.createDomain(c);
    const layout = domainLayout(N, BS, undefined, undefined, d.priv.layout.frames);
    const control = new SharedArrayBuffer(layout.totalBytes);
    scheduler.add(new RingPort(driver, d, control, layout));
    const arena = d.group.buffer;
    if (!(arena instanceof SharedArrayBuffer)) throw new Error('the arena is not shared memory');
    grants.push({ kind: 'zero-copy', domainId: d.id, blocks: N, blockBytes: BS, group: d.group.id, quota: d.quota, control, domainLayout: layout, arena, arenaLayout: d.group.layout });
  }
  parentPort!.postMessage({ grants });
}

async function guest(role: 'a' | 'b', grant: ZeroCopyGrant): Promise<void> {
  setInterval(() => {}, 1 << 30);
  const dev = openBlockDevice(grant);
  const perRead = async (first: number, n: number): Promise<number> => {
    const t0 = performance.now();
    for (let lba = first; lba < first + n; lba++) (await dev.read(lba)).release();
    return ((performance.now() - t0) * 1e6) / n;
  };
  const out: Record<string, number> = {};
  if (role === 'a') out.miss_ns = await perRead(0, N);
  else {
    out.warmup_ns = await perRead(0, 512); // JIT on both sides
    out.ring_read_ns = await perRead(512, N - 512);
    let t0 = performance.now();
    for (let i = 0; i < 5000; i++) await dev.nop(1);
    out.ring_noop_rtt_ns = ((performance.now() - t0) * 1e6) / 5000;
    t0 = performance.now();
    for (let i = 0; i < 2000; i++) await dev.nop(128);
    out.ring_noop_ops_per_s = (2000 * 128) / ((performance.now() - t0) / 1000);
  }
  parentPort!.postMessage(out);
}

if (isMainThread) {
  const self = new URL(import.meta.url);
  const d0 = new Worker(self, { workerData: { role: 'dom0' } });
  const { grants } = await new Promise<{ grants: ZeroCopyGrant[] }>((resolve, reject) => {
    d0.once('message', resolve);
    d0.once('error', reject);
  });
  const run = (role: 'a' | 'b', grant: ZeroCopyGrant) =>
    new Promise<Record<string, number>>((resolve, reject) => {
      const w = new Worker(self, { workerData: { role, grant } });
      w.once('error', reject);
      w.once('message', (m: Record<string, number>) => {
        resolve(m);
        void w.terminate();
      });
    });
  const a = await run('a', grants[0]!);
  const b = await run('b', grants[1]!);
  console.log(JSON.stringify(Object.fromEntries(Object.entries({ ...a, ...b }).map(([k, v]) => [k, Math.round(v)]))));
  await d0.terminate();
} else {
  const { role, grant } = workerData as { role: 'dom0' | 'a' | 'b'; grant?: ZeroCopyGrant };
  const started = role === 'dom0' ? dom0() : guest(role, grant!);
  started.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
