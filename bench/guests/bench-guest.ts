// Guest module for the benchmark (runs in a hardened guest worker). Every timing is a
// batch (performance.now is coarsened to ~5 µs under isolation), taken inside the guest so
// that the zero-copy paths and the copy baselines are measured from the same place.
import { expose, wrap, type Remote } from 'comlink';
import { openBlockDevice } from '../../guest/block-device';
import type { GuestContext, GuestInit } from '../../shared/boot-protocol';
import type { CopyServer } from '../workers/copy-server';
import { batchedOpsPerS } from './queue-depth';

export interface BenchGuestApi {
  cachedHitNs(lba: number, iterations: number): Promise<number>;
  cachedHitUsingNs(lba: number, iterations: number): Promise<number>;
  awaitResolvedNs(iterations: number): Promise<number>;
  cachedHitSyncNs(lba: number, iterations: number): number;
  /** Reads `lbas` in order, each timed: the mean and percentiles of the round trips, in ns. */
  /** With `gapMs`, the guest computes that long (a busy loop) before each read, as a program between its reads does. */
  ringReadNs(lbas: number[], gapMs?: number): Promise<RoundTrips>;
  /** The same round trips through readSync(), which blocks the guest's thread in Atomics.wait. */
  ringReadSyncNs(lbas: number[]): RoundTrips;
  missNs(lbas: number[]): Promise<number>;
  /** Reads `lbas` in order, releasing each view at once; ms taken. */
  readLbas(lbas: number[]): Promise<number>;
  /** Reads every block `passes` times, releasing each view; ms taken. */
  readAllTimed(passes: number): Promise<number>;
  noopOpsPerS(total: number, batch: number, depth: number): Promise<number>;
  comlinkCopyNs(iterations: number): Promise<number>;
  postMessageCopyNs(iterations: number): Promise<number>;
  readAll(): Promise<number>;
  stats(): ReturnType<ReturnType<typeof openBlockDevice>['stats']>;
}

/** Round trips timed one by one, in ns: the mean, and where most of them fall. */
export interface RoundTrips {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

/** `each` in ms (sorted in place). */
function roundTrips(each: Float64Array): RoundTrips {
  const mean = (each.reduce((a, b) => a + b, 0) * 1e6) / each.length;
  each.sort();
  const at = (q: number) => each[Math.min(each.length - 1, Math.floor(q * each.length))]! * 1e6;
  return { mean, p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

export default function main(ctx: GuestContext): void {
  const init = ctx.init as GuestInit & { copyServer?: MessagePort; rawPort?: MessagePort };
  const dev = openBlockDevice(init.grant);
  const copyServer: Remote<CopyServer> | null = init.copyServer ? wrap<CopyServer>(init.copyServer) : null;
  const rawPort = init.rawPort ?? null;

  const api: BenchGuestApi = {
    async cachedHitNs(lba, iterations) {
      // A read and its release, written out: what the device costs. (A `using` block adds
      // the cost of however the build compiles it: cachedHitUsingNs.)
      (await dev.read(lba)).release(); // map it first
      let sink = 0;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        const v = await dev.read(lba);
        sink ^= v.bytes[i & 1023]!;
        v.release();
      }
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      return sink === -1 ? -1 : ns;
    },
    async cachedHitUsingNs(lba, iterations) {
      // The same with `using`, as the README shows it. The build lowers `using` to ES2022
      // (WebKit cannot parse it), so this includes the lowered form's helper per block.
      (await dev.read(lba)).release();
      let sink = 0;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        using v = await dev.read(lba);
        sink ^= v.bytes[i & 1023]!;
      }
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      return sink === -1 ? -1 : ns;
    },
    async awaitResolvedNs(iterations) {
      // The floor of any promise-returning call, cached or not: one await of a promise that
      // is already resolved, in the same kind of worker.
      const ready = { bytes: new Uint8Array(1024) };
      let sink = 0;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        const v = await Promise.resolve(ready);
        sink ^= v.bytes[i & 1023]!;
      }
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      return sink === -1 ? -1 : ns;
    },
    cachedHitSyncNs(lba, iterations) {
      // The same hit through readSync: no promise, so what is left is the page-map check,
      // the lease and the view.
      dev.readSync(lba).release();
      let sink = 0;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        const v = dev.readSync(lba);
        sink ^= v.bytes[i & 1023]!;
        v.release();
      }
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      return sink === -1 ? -1 : ns;
    },
    async ringReadNs(lbas, gapMs = 0) {
      // Blocks resident (another domain read them) but not mapped here: each read is one
      // request/completion round trip through dom0's walk of our clone. Each is timed on
      // its own (performance.now is ~5 µs coarse here, fine at this scale): a mean can hide
      // that most round trips are short and a few wait on dom0's event loop.
      const each = new Float64Array(lbas.length);
      for (let i = 0; i < lbas.length; i++) {
        if (gapMs > 0) for (const until = performance.now() + gapMs; performance.now() < until; );
        const s = performance.now();
        (await dev.read(lbas[i]!)).release();
        each[i] = performance.now() - s;
      }
      return roundTrips(each);
    },
    ringReadSyncNs(lbas) {
      const each = new Float64Array(lbas.length);
      for (let i = 0; i < lbas.length; i++) {
        const s = performance.now();
        dev.readSync(lbas[i]!).release();
        each[i] = performance.now() - s;
      }
      return roundTrips(each);
    },
    async missNs(lbas) {
      const t0 = performance.now();
      for (const lba of lbas) (await dev.read(lba)).release();
      return ((performance.now() - t0) * 1e6) / lbas.length;
    },
    async readLbas(lbas) {
      const t0 = performance.now();
      for (const lba of lbas) (await dev.read(lba)).release();
      return performance.now() - t0;
    },
    async readAllTimed(passes) {
      let sink = 0;
      const t0 = performance.now();
      for (let p = 0; p < passes; p++) {
        for (let lba = 0; lba < dev.blocks; lba++) {
          using v = await dev.read(lba);
          sink ^= v.bytes[lba & 1023]!;
        }
      }
      const ms = performance.now() - t0;
      return sink === -1 ? -1 : ms;
    },
    async noopOpsPerS(total, batch, depth) {
      // Batches of `batch` no-ops: one produce, one publish, one promise per batch, `depth`
      // of them in flight (bench/guests/queue-depth.ts). The first tenth, untimed, is the
      // warm-up (JIT) on both ends of the ring.
      const send = (count: number): Promise<void> => dev.nop(count);
      await batchedOpsPerS(total / 10, batch, depth, send);
      return batchedOpsPerS(total, batch, depth, send);
    },
    async comlinkCopyNs(iterations) {
      if (!copyServer) throw new Error('no copy server');
      let sink = 0;
      await copyServer.block(); // warm up
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) sink ^= (await copyServer.block())[i & 1023]!;
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      return sink === -1 ? -1 : ns;
    },
    async postMessageCopyNs(iterations) {
      if (!rawPort) throw new Error('no raw port');
      const port = rawPort;
      const once = (): Promise<Uint8Array> =>
        new Promise((resolve) => {
          port.onmessage = (ev: MessageEvent<Uint8Array>) => resolve(ev.data);
          port.postMessage(0);
        });
      await once();
      let sink = 0;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) sink ^= (await once())[i & 1023]!;
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      return sink === -1 ? -1 : ns;
    },
    async readAll() {
      let sink = 0;
      for (let lba = 0; lba < dev.blocks; lba++) {
        const v = await dev.read(lba);
        sink ^= v.bytes[0]!;
        v.release();
      }
      return sink;
    },
    stats: () => dev.stats(),
  };
  expose(api, init.control);
}
