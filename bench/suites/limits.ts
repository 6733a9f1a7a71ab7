// Runs in the benchmark page (main thread). The platform's floors, measured in the same
// run and the same kind of threads as the product's paths (bench/workers/limits-worker.ts):
//   atomics_pingpong_ns        two dedicated workers pass one word through Atomics.wait /
//                              notify and back: the floor of a ring round trip
//   atomics_pingpong_spin_ns   the same with both ends spinning on Atomics.load (no sleep):
//                              the floor when both ends keep a core
//   raw_view_ns                three Atomics.loads on a page-map word + a SAB subarray, in a
//                              worker: the floor of a cached zero-copy hit
//   memcpy_64k_ns              copying 64 KiB from a SharedArrayBuffer, in a worker: what a
//                              copying read costs at least, and zero-copy saves
//   ring_blocking_noop_ops_per_s / ring_blocking_noop_qd1_ops_per_s / ring_blocking_rtt_ns
//                              not a floor but the measured alternative to dom0's ring loop:
//                              a domain's rings served by a dedicated worker that blocks in
//                              Atomics.wait when idle, the client the product's guest channel
//                              (batches of 128 no-ops, two in flight as the hypervisor suite
//                              sends them, and one at a time; one request). Before 2026-12-03
//                              the client was a loop of the worker's own that pushed each entry
//                              through a closure, which cost it about half its rate
//   ring_sched_noop_ops_per_s / ring_sched_noop_qd1_ops_per_s
//                              the same client and rings served by dom0's own loop and port
//                              (RingScheduler, RingPort) in a worker with nothing else in it:
//                              what the loop costs against the stand-in, apart from what
//                              dom0's thread adds (its other domains, heap, event loop)
//   ring_sched_noop_serve_ns   what serving a no-op cost that loop's thread, its spins,
//                              naps and yields apart (the product's: ring_noop_dom0_serve_ns)
//   ring_relay_noop_ops_per_s / ring_relay_noop_qd1_ops_per_s
//                              the same served by the product's ring worker loop and relay
//                              (RelayLoop, RingRelay: Dom0Config.ringWorker), which answers
//                              no-ops without dom0, in a worker with nothing else in it
// Each is the median of three batches; a pingpong batch runs on a fresh pair of workers.
// Each ring server's batches follow a million untimed no-ops, as the product's do (since
// 2026-12-03, session 36: before, its JIT was still warming through the timed batches).
import { RING_PAIR_BYTES, initRingPair, type LimitsCommand } from '../workers/limits-worker';

type Metrics = Record<string, { value: number; unit: string }>;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function worker(): Worker {
  return new Worker(new URL('../workers/limits-worker.ts', import.meta.url), { type: 'module' });
}

function ask<T>(w: Worker, c: LimitsCommand): Promise<T> {
  return new Promise((resolve, reject) => {
    w.onmessage = (ev: MessageEvent<T | { error: string }>) => {
      const d = ev.data;
      if (d !== null && typeof d === 'object' && 'error' in d) reject(new Error(`limits worker: ${d.error}`));
      else resolve(d);
    };
    w.onerror = (ev) => reject(new Error(`limits worker: ${ev.message}`));
    w.postMessage(c);
  });
}

async function pingpongOnce(iterations: number, spin: boolean): Promise<number> {
  const word = new SharedArrayBuffer(8);
  const server = worker();
  const client = worker();
  try {
    await ask(server, { cmd: 'pingpong-serve', word, spin });
    const done = new Promise<void>((resolve) => (server.onmessage = () => resolve()));
    const { ns } = await ask<{ ns: number }>(client, { cmd: 'pingpong', word, iterations, spin });
    await done;
    return ns;
  } finally {
    server.terminate();
    client.terminate();
  }
}

/** Who serves: the blocking stand-in, dom0's loop and port (ring-serve-sched), or the product's ring worker loop (ring-serve-relay). */
type RingServer = 'stand-in' | 'sched' | 'relay';

async function ringOnce(total: number, roundTrips: number, serverKind: RingServer = 'stand-in'): Promise<{ opsPerS: number[]; rttNs?: number; serveNs?: number }> {
  const buffer = new SharedArrayBuffer(RING_PAIR_BYTES);
  // dom0's loop and the ring worker nap on a doorbell the client rings; the stand-in waits on the ring itself.
  const doorbell = serverKind !== 'stand-in' ? new SharedArrayBuffer(8) : undefined;
  initRingPair(buffer);
  const server = worker();
  const client = worker();
  try {
    await ask(server, doorbell ? { cmd: serverKind === 'sched' ? 'ring-serve-sched' : 'ring-serve-relay', buffer, doorbell } : { cmd: 'ring-serve', buffer });
    // dom0's loop says, when it stops, how many entries its turns took and how long those turns took.
    const done = new Promise<{ servedEntries?: number; servingMs?: number }>((resolve) => (server.onmessage = (ev: MessageEvent<{ servedEntries?: number; servingMs?: number }>) => resolve(ev.data)));
    const r = await ask<{ opsPerS: number[]; rttNs?: number }>(client, { cmd: 'ring-client', buffer, total, batch: 128, depths: [1, 2], roundTrips, ...(doorbell ? { doorbell } : {}) });
    const served = await done;
    // Only dom0's loop says what its turns took; the other servers have no serve figure.
    return served.servedEntries ? { ...r, serveNs: ((served.servingMs ?? 0) * 1e6) / served.servedEntries } : r;
  } finally {
    server.terminate();
    client.terminate();
  }
}

export async function run(opts: { quick: boolean }): Promise<Metrics> {
  const n = opts.quick ? 1 : 3;
  const pp: number[] = [];
  const ppSpin: number[] = [];
  for (let i = 0; i < n; i++) {
    pp.push(await pingpongOnce(opts.quick ? 5_000 : 20_000, false));
    ppSpin.push(await pingpongOnce(opts.quick ? 20_000 : 100_000, true));
  }
  // Per server, its runs taken in turn with the others': one batch at a time, two in flight.
  const servers = { 'stand-in': 'blocking', sched: 'sched', relay: 'relay' } as const satisfies Record<RingServer, string>;
  const ring = new Map<RingServer, { qd1: number[]; ops: number[]; rtt: number[]; serve: number[] }>();
  for (let i = 0; i < n; i++) {
    for (const kind of Object.keys(servers) as RingServer[]) {
      // Only the stand-in's round trip is a metric: the floor the product's is compared with.
      const r = await ringOnce(opts.quick ? 100_000 : 1_000_000, kind === 'stand-in' ? (opts.quick ? 2_000 : 20_000) : 0, kind);
      const runs = ring.get(kind) ?? { qd1: [], ops: [], rtt: [], serve: [] };
      runs.qd1.push(r.opsPerS[0]!);
      runs.ops.push(r.opsPerS[1]!);
      if (r.rttNs !== undefined) runs.rtt.push(r.rttNs);
      if (r.serveNs !== undefined) runs.serve.push(r.serveNs);
      ring.set(kind, runs);
    }
  }
  const ringMetrics: Metrics = {};
  for (const [kind, runs] of ring) {
    ringMetrics[`ring_${servers[kind]}_noop_ops_per_s`] = { value: median(runs.ops), unit: 'ops/s' };
    ringMetrics[`ring_${servers[kind]}_noop_qd1_ops_per_s`] = { value: median(runs.qd1), unit: 'ops/s' };
  }
  ringMetrics.ring_blocking_rtt_ns = { value: median(ring.get('stand-in')!.rtt), unit: 'ns' };
  // dom0's loop alone: what serving a no-op cost its thread after the warm-up (one batch at a
  // time and two in flight), beside the product's own figure, ring_noop_dom0_serve_ns.
  ringMetrics.ring_sched_noop_serve_ns = { value: median(ring.get('sched')!.serve), unit: 'ns' };
  const w = worker();
  try {
    const views: number[] = [];
    const copies: number[] = [];
    for (let i = 0; i < n; i++) {
      views.push((await ask<{ ns: number }>(w, { cmd: 'view', iterations: opts.quick ? 1_000_000 : 5_000_000 })).ns);
      copies.push((await ask<{ ns: number }>(w, { cmd: 'memcpy', bytes: 65536, iterations: opts.quick ? 5_000 : 20_000 })).ns);
    }
    return {
      atomics_pingpong_ns: { value: median(pp), unit: 'ns' },
      atomics_pingpong_spin_ns: { value: median(ppSpin), unit: 'ns' },
      raw_view_ns: { value: median(views), unit: 'ns' },
      memcpy_64k_ns: { value: median(copies), unit: 'ns' },
      ...ringMetrics,
    };
  } finally {
    w.terminate();
  }
}
