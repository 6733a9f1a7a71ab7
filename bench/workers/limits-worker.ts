// Dedicated worker for the benchmark's platform floors (bench/suites/limits.ts). Each
// command measures what the product's paths cannot beat, in the same kind of thread:
//   pingpong   one word through Atomics.wait/notify to a second worker and back (the
//              floor of a ring round trip), and the same with spinning loads instead of
//              sleeping (the floor when both ends keep a core)
//   view       three Atomics.loads on a page-map word and a subarray of a SharedArrayBuffer
//              (the floor of a cached zero-copy hit)
//   memcpy     copying 64 KiB out of a SharedArrayBuffer into a private buffer (what one
//              copying read costs, at the least, and what zero-copy saves)
//   ring-*     the alternative to dom0's event-loop ring service: the product's rings
//              (shared/ring.ts, same geometry) served by a dedicated worker that blocks in
//              Atomics.wait when idle, answering no-ops; a client worker measures batched
//              no-ops per second and the one-request round trip, blocking too
// Timings are batches: performance.now is coarsened to ~5 µs under cross-origin isolation.
import { RingConsumer, RingProducer, initRing } from '../../shared/ring';
import { ringBytes, ringGeometry } from '../../shared/ring-layout';
import { ENTRY_WORDS } from '../../shared/protocol';

export type LimitsCommand =
  | { cmd: 'pingpong-serve'; word: SharedArrayBuffer; spin: boolean }
  | { cmd: 'pingpong'; word: SharedArrayBuffer; iterations: number; spin: boolean }
  | { cmd: 'view'; iterations: number }
  | { cmd: 'memcpy'; bytes: number; iterations: number }
  | { cmd: 'ring-serve'; buffer: SharedArrayBuffer }
  | { cmd: 'ring-client'; buffer: SharedArrayBuffer; total: number; batch: number; roundTrips: number };

const RING_CAPACITY = 256;
const reqRing = ringGeometry(0, RING_CAPACITY, ENTRY_WORDS);
const cplRing = ringGeometry(Math.ceil(ringBytes(RING_CAPACITY, ENTRY_WORDS) / 64) * 64, RING_CAPACITY, ENTRY_WORDS);
/** Bytes of the two rings plus a stop word. */
export const RING_PAIR_BYTES = cplRing.byteOffset + ringBytes(RING_CAPACITY, ENTRY_WORDS) + 64;

export function initRingPair(buffer: SharedArrayBuffer): void {
  initRing(buffer, reqRing);
  initRing(buffer, cplRing);
}

/** Spin this many empty polls before sleeping, like dom0's loop spins before it sleeps. */
const SPIN_POLLS = 2000;

function ringServe(buffer: SharedArrayBuffer): void {
  const req = new RingConsumer(buffer, reqRing);
  const cpl = new RingProducer(buffer, cplRing);
  const stop = new Int32Array(buffer, RING_PAIR_BYTES - 64, 1);
  let idle = 0;
  while (!Atomics.load(stop, 0)) {
    const n = req.consume(RING_CAPACITY, (entry) => {
      // Echo the request's id word back as its completion, as dom0 answers a no-op.
      while (!cpl.tryPush(entry)) cpl.waitForSpace(10);
    });
    if (n > 0) {
      cpl.publish();
      idle = 0;
    } else if (++idle > SPIN_POLLS) {
      req.waitForEntries(50);
      idle = 0;
    }
  }
}

function ringClient(buffer: SharedArrayBuffer, total: number, batch: number, roundTrips: number): { opsPerS: number; rttNs: number } {
  const req = new RingProducer(buffer, reqRing);
  const cpl = new RingConsumer(buffer, cplRing);
  const entry = new Int32Array(ENTRY_WORDS);
  const send = (count: number): void => {
    for (let i = 0; i < count; i++) {
      entry[0] = i;
      while (!req.tryPush(entry)) req.waitForSpace(10);
    }
    req.publish();
    let got = 0;
    let idle = 0;
    while (got < count) {
      const n = cpl.consume(RING_CAPACITY, () => {});
      got += n;
      if (n === 0 && ++idle > SPIN_POLLS) {
        cpl.waitForEntries(50);
        idle = 0;
      }
    }
  };
  for (let i = 0; i < 100; i++) send(batch); // warm-up
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += batch) send(batch);
  const opsPerS = total / ((performance.now() - t0) / 1000);
  for (let i = 0; i < 100; i++) send(1);
  const t1 = performance.now();
  for (let i = 0; i < roundTrips; i++) send(1);
  const rttNs = ((performance.now() - t1) * 1e6) / roundTrips;
  const stop = new Int32Array(buffer, RING_PAIR_BYTES - 64, 1);
  Atomics.store(stop, 0, 1);
  return { opsPerS, rttNs };
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
      postMessage(ringClient(c.buffer, c.total, c.batch, c.roundTrips));
      return;
    case 'memcpy':
      postMessage({ ns: memcpy(c.bytes, c.iterations) });
      return;
  }
};
