// Dedicated worker for the benchmark's platform floors (bench/suites/limits.ts). Each
// command measures what the product's paths cannot beat, in the same kind of thread:
//   pingpong   one word through Atomics.wait/notify to a second worker and back (the
//              floor of a ring round trip), and the same with spinning loads instead of
//              sleeping (the floor when both ends keep a core)
//   view       three Atomics.loads on a page-map word and a subarray of a SharedArrayBuffer
//              (the floor of a cached zero-copy hit)
//   memcpy     copying 64 KiB out of a SharedArrayBuffer into a private buffer (what one
//              copying read costs, at the least, and what zero-copy saves)
//   ring-*     the alternative to dom0's event-loop ring service: a domain's rings as the
//              product lays them out, served by a dedicated worker that blocks in
//              Atomics.wait when idle and answers no-ops as dom0's ring port writes its
//              completions; the client is the product's guest channel (RingChannel), which
//              measures batched no-ops per second and the one-request round trip
//   ring-serve-sched  the same rings served by dom0's own RingScheduler and RingPort in a
//              worker with nothing else in it (no-ops only)
//   ring-serve-relay  the same rings served by the product's ring worker loop (RelayLoop and
//              RingRelay, host/dom0/relay-loop.ts), which answers no-ops itself
// Timings are batches: performance.now is coarsened to ~5 µs under cross-origin isolation.
import { RingConsumer, RingProducer, initRing } from '../../shared/ring';
import { CPL_FRAME, CPL_GEN, CPL_OP, CPL_STATUS, CPL_TAG, CPL_USED, ENTRY_WORDS, Op, REQ_OP, REQ_TAG, Status } from '../../shared/protocol';
import { domainLayout } from '../../shared/memory-layout';
import { encodeFrame } from '../../shared/ids';
import { RingChannel } from '../../guest/channel';
import { batchedOpsPerS } from '../guests/queue-depth';
import { RingScheduler } from '../../host/dom0/ring-scheduler';
import { RingPort } from '../../host/dom0/ring-port';
import type { Dom0Driver, Domain } from '../../host/dom0/driver';
import { RingRelay, RELAY_ALIVE_I32, innerRings } from '../../host/dom0/ring-relay';
import { RelayLoop } from '../../host/dom0/relay-loop';

export type LimitsCommand =
  | { cmd: 'pingpong-serve'; word: SharedArrayBuffer; spin: boolean }
  | { cmd: 'pingpong'; word: SharedArrayBuffer; iterations: number; spin: boolean }
  | { cmd: 'view'; iterations: number }
  | { cmd: 'memcpy'; bytes: number; iterations: number }
  | { cmd: 'ring-serve'; buffer: SharedArrayBuffer }
  | { cmd: 'ring-serve-sched'; buffer: SharedArrayBuffer; doorbell: SharedArrayBuffer }
  | { cmd: 'ring-serve-relay'; buffer: SharedArrayBuffer; doorbell: SharedArrayBuffer }
  | { cmd: 'ring-client'; buffer: SharedArrayBuffer; total: number; batch: number; depths: readonly number[]; roundTrips: number; doorbell?: SharedArrayBuffer };

/**
 * A domain's two rings as the product lays them out (capacity 256, one block), followed by
 * a stop word where the page map would begin.
 */
const layout = domainLayout(1, 4096);
const STOP_BYTE = layout.pageMapByteOffset;
/**
 * Set by the client when its warm-up is over: a server that counts its serving time counts
 * from there, as dom0's figure in the product leaves out the million no-ops before it.
 */
const MARK_BYTE = STOP_BYTE + 4;
/** Bytes of the two rings plus the stop and mark words. */
export const RING_PAIR_BYTES = STOP_BYTE + 64;

export function initRingPair(buffer: SharedArrayBuffer): void {
  initRing(buffer, layout.requestRing);
  initRing(buffer, layout.completionRing);
}

/** Spin this many empty polls before sleeping, like dom0's loop spins before it sleeps. */
const SPIN_POLLS = 2000;
/** Entries per poll, as dom0's ring port takes them (host/dom0/ring-port.ts, BATCH). */
const SERVE_BATCH = 64;

/**
 * The server: consumes requests and writes each completion the way dom0's ring port does
 * (RingPort.fillCompletion: tag, status, frame, generation, opcode, the rest zeroed), one
 * `produce` per entry, one publish per poll. No-ops only: it says what the loop costs when
 * the thread that serves may block, not what serving a READ costs.
 */
function ringServe(buffer: SharedArrayBuffer): void {
  const req = new RingConsumer(buffer, layout.requestRing);
  const cpl = new RingProducer(buffer, layout.completionRing);
  const stop = new Int32Array(buffer, STOP_BYTE, 1);
  let tag = 0;
  let op = 0;
  let status = 0;
  const fill = (w: Int32Array, base: number): void => {
    w[base + CPL_TAG] = tag;
    w[base + CPL_STATUS] = status;
    w[base + CPL_FRAME] = encodeFrame(-1);
    w[base + CPL_GEN] = 0;
    w[base + CPL_OP] = op;
    for (let k = base + CPL_USED; k < base + ENTRY_WORDS; k++) w[k] = 0;
  };
  const handle = (entry: Int32Array): void => {
    tag = entry[REQ_TAG]!;
    op = entry[REQ_OP]!;
    status = op === Op.NOOP ? Status.OK : Status.BAD_REQUEST;
    while (cpl.produce(1, fill) === 0) {
      cpl.publish();
      cpl.waitForSpace(10);
    }
  };
  let idle = 0;
  while (!Atomics.load(stop, 0)) {
    const n = req.consume(SERVE_BATCH, handle);
    if (n > 0) {
      cpl.publish();
      idle = 0;
    } else if (++idle > SPIN_POLLS) {
      req.waitForEntries(50);
      idle = 0;
    }
  }
}

/**
 * dom0's own ring service, RingScheduler and RingPort, in a worker of its own with nothing
 * else in it: the product's loop (its spin, naps on the doorbell, yields to the event loop
 * every millisecond) and its port (one `serve` and one `produce` per entry), without dom0's
 * other domains, heap, IndexedDB or control plane. Between the stand-in above and dom0 in
 * the product, it says how much of dom0's shortfall is the loop and how much the thread it
 * runs in (docs/design.md, "The product's loop in a worker of its own"). No-ops only: the
 * domain and driver below have just what a NOOP touches (RingPort's constructor attaches
 * the port; `serve` checks `alive` and counts the request).
 */
function schedServe(buffer: SharedArrayBuffer, doorbell: SharedArrayBuffer): void {
  const d = { alive: true, counters: { requests: 0 } };
  const driver = { attachZeroCopy: () => undefined, fault: () => undefined, counters: { bytesShared: 0 } };
  // The casts stand for the two objects' NOOP-path members only (see above).
  const sched = new RingScheduler(doorbell);
  sched.add(new RingPort(driver as unknown as Dom0Driver, d as unknown as Domain, buffer, layout));
  // The scheduler yields to the event loop at least every millisecond, so a timer sees the stop.
  // What serving cost its thread after the client's warm-up, as dom0 counts it in the
  // product (ring_noop_dom0_serve_ns).
  let from = { servedEntries: 0, servingMs: 0 };
  whenStopped(
    buffer,
    () => (d.alive = false),
    () => ({ servedEntries: sched.servedEntries - from.servedEntries, servingMs: sched.servingMs - from.servingMs }),
    () => (from = { servedEntries: sched.servedEntries, servingMs: sched.servingMs }),
  );
}

/**
 * The ring worker's loop and relay (host/dom0/relay-loop.ts, ring-relay.ts) in a worker of
 * their own, as the product starts them, with the inner rings to dom0 made but unserved: a
 * NOOP never reaches dom0. What the product's ring worker costs without the product's
 * threads around it.
 */
function relayServe(buffer: SharedArrayBuffer, doorbell: SharedArrayBuffer): void {
  const inner = innerRings(layout).buffer;
  const loop = new RelayLoop(doorbell, new SharedArrayBuffer(4));
  loop.add(new RingRelay(buffer, layout, inner, null));
  // The loop sleeps on its event loop once the rings have been idle 20 ms: a timer sees the stop then.
  whenStopped(buffer, () => Atomics.store(new Int32Array(inner, 0, 1), RELAY_ALIVE_I32, 0));
}

/**
 * For a server that returns to its event loop: once the client sets the mark word, `mark`;
 * once it sets the stop word, `stop` the server and say done, with what `report` gives.
 */
function whenStopped(buffer: SharedArrayBuffer, stop: () => void, report: () => Record<string, number> = () => ({}), mark: () => void = () => undefined): void {
  const word = new Int32Array(buffer, STOP_BYTE, 1);
  const markWord = new Int32Array(buffer, MARK_BYTE, 1);
  let marked = false;
  const t = setInterval(() => {
    if (!marked && Atomics.load(markWord, 0)) {
      marked = true;
      mark();
    }
    if (!Atomics.load(word, 0)) return;
    clearInterval(t);
    stop();
    postMessage({ done: true, ...report() });
  }, 5);
}

/**
 * The client is the product's guest channel (guest/channel.ts, RingChannel), as a guest's
 * block device uses it: `submitBatch` for batched no-ops (one tag, one promise per batch)
 * and `submit` for the round trip (a promise per request), with its poll-then-block wait.
 */
async function ringClient(buffer: SharedArrayBuffer, total: number, batch: number, depths: readonly number[], roundTrips: number, doorbell?: SharedArrayBuffer): Promise<{ opsPerS: number[]; rttNs?: number }> {
  const channel = new RingChannel(buffer, layout, doorbell);
  const noop = { op: Op.NOOP, lba: 0 };
  const send = async (count: number): Promise<void> => {
    const ok = count === 1 ? ((await channel.submit(noop)).words[CPL_STATUS] === Status.OK ? 1 : 0) : await channel.submitBatch(noop, count);
    if (ok !== count) throw new Error(`${count - ok} of ${count} no-ops failed`);
  };
  try {
    // The product's no-op phase measures after a million untimed no-ops (suites/hypervisor.ts),
    // and so do these. Without them dom0's loop alone measured 3.8–4.3 M/s one batch at a
    // time and 8.0–8.5 two in flight (two runs, seventh host, 2026-12-03); with them 5.2–7.3
    // and 8.6–10.4 (three runs); with a million before each depth 7.4–8.0 and 11.7–14.3 (two
    // runs). The rate still climbs with the no-ops served before, as the product's did in
    // session 34: the same warm-up on both sides is what makes the two comparable.
    await batchedOpsPerS(total, batch, 2, send);
    Atomics.store(new Int32Array(buffer, MARK_BYTE, 1), 0, 1);
    // The server's timer looks every 5 ms (whenStopped).
    await new Promise((r) => setTimeout(r, 20));
    const opsPerS: number[] = [];
    for (const depth of depths) {
      await batchedOpsPerS(100 * batch, batch, depth, send); // this depth's own warm-up
      opsPerS.push(await batchedOpsPerS(total, batch, depth, send));
    }
    if (roundTrips === 0) return { opsPerS };
    for (let i = 0; i < 100; i++) await send(1);
    const t1 = performance.now();
    for (let i = 0; i < roundTrips; i++) await send(1);
    const rttNs = ((performance.now() - t1) * 1e6) / roundTrips;
    return { opsPerS, rttNs };
  } finally {
    channel.close('DOM0_GONE', 'measurement over');
    Atomics.store(new Int32Array(buffer, STOP_BYTE, 1), 0, 1);
  }
}

/** Word 0: 1 = the ball is with the server, 0 = with the client; word 1: stop. */
const BALL = 0;
const STOP = 1;

function serve(w: Int32Array, spin: boolean): void {
  for (;;) {
    if (spin) {
      while (Atomics.load(w, BALL) === 0) if (Atomics.load(w, STOP)) return;
    } else {
      Atomics.wait(w, BALL, 0);
    }
    if (Atomics.load(w, STOP)) return;
    Atomics.store(w, BALL, 0);
    if (!spin) Atomics.notify(w, BALL);
  }
}

function pingpong(w: Int32Array, iterations: number, spin: boolean): number {
  const once = (): void => {
    Atomics.store(w, BALL, 1);
    if (spin) {
      while (Atomics.load(w, BALL) === 1);
    } else {
      Atomics.notify(w, BALL);
      Atomics.wait(w, BALL, 1);
    }
  };
  for (let i = 0; i < Math.min(1000, iterations); i++) once(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) once();
  const ns = ((performance.now() - t0) * 1e6) / iterations;
  Atomics.store(w, STOP, 1);
  Atomics.store(w, BALL, 1);
  Atomics.notify(w, BALL);
  return ns;
}

/** Page-map word layout of the product (FRAME+1, GEN), one LBA, frames of 64 KiB. */
function view(iterations: number): number {
  const frames = 64;
  const frameBytes = 65536;
  const arena = new SharedArrayBuffer(frames * frameBytes + 4 * frames);
  const gen = new Int32Array(arena, frames * frameBytes, frames);
  const pm = new Int32Array(new SharedArrayBuffer(8 * 2 * 4));
  for (let lba = 0; lba < 8; lba++) pm[lba * 2] = lba + 1;
  let sink = 0;
  const loop = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const lba = i & 7;
      const f1 = Atomics.load(pm, lba * 2);
      const g = Atomics.load(gen, f1 - 1);
      const f2 = Atomics.load(pm, lba * 2);
      if (f1 !== f2 || g !== 0) continue;
      const bytes = new Uint8Array(arena, (f1 - 1) * frameBytes, frameBytes).subarray(0, frameBytes);
      sink ^= bytes[i & 1023]!;
    }
  };
  loop(Math.min(100_000, iterations));
  const t0 = performance.now();
  loop(iterations);
  const ns = ((performance.now() - t0) * 1e6) / iterations;
  return sink === -1 ? -1 : ns;
}

function memcpy(bytes: number, iterations: number): number {
  const src = new Uint8Array(new SharedArrayBuffer(bytes * 8));
  for (let i = 0; i < src.length; i += 61) src[i] = i & 0xff;
  const dst = new Uint8Array(bytes);
  let sink = 0;
  const loop = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const o = (i & 7) * bytes;
      dst.set(src.subarray(o, o + bytes));
      sink ^= dst[i & 1023]!;
    }
  };
  loop(Math.min(1000, iterations));
  const t0 = performance.now();
  loop(iterations);
  const ns = ((performance.now() - t0) * 1e6) / iterations;
  return sink === -1 ? -1 : ns;
}

self.onmessage = (ev: MessageEvent<LimitsCommand>) => {
  const c = ev.data;
  switch (c.cmd) {
    case 'pingpong-serve':
      postMessage({ ready: true });
      serve(new Int32Array(c.word), c.spin);
      postMessage({ done: true });
      return;
    case 'pingpong':
      postMessage({ ns: pingpong(new Int32Array(c.word), c.iterations, c.spin) });
      return;
    case 'view':
      postMessage({ ns: view(c.iterations) });
      return;
    case 'ring-serve':
      postMessage({ ready: true });
      ringServe(c.buffer);
      postMessage({ done: true });
      return;
    case 'ring-client':
      void ringClient(c.buffer, c.total, c.batch, c.depths, c.roundTrips, c.doorbell).then(postMessage, (err: unknown) => postMessage({ error: String(err) }));
      return;
    case 'ring-serve-sched':
      postMessage({ ready: true });
      schedServe(c.buffer, c.doorbell);
      return;
    case 'ring-serve-relay':
      postMessage({ ready: true });
      relayServe(c.buffer, c.doorbell);
      return;
    case 'memcpy':
      postMessage({ ns: memcpy(c.bytes, c.iterations) });
      return;
  }
};
