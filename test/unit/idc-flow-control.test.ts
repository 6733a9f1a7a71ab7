// Node: the channel window (shared/idc-layout.ts, "Flow control"). FRAME and GRANT messages
// name memory the receiver does not lend, so before the window a hostile sender made an
// honest receiver queue them without limit (review of 2026-11-30). Attacks are raw writes
// to the shared rings, as a hostile guest would make them; the honest side is the real
// runtime. Both ends run in one thread; test/browser/idc-flow-control.test.ts runs them
// between real guest workers.
import { describe, expect, it } from 'vitest';
import { IdcBroker } from '../../host/dom0/idc-broker';
import { IdcEndpoint, type GroupArena, type IdcControlPlane, type RxView } from '../../guest/idc';
import { IdcError, Kind, type ChannelGrant } from '../../shared/idc-layout';
import { RingConsumer, RingProducer } from '../../shared/ring';
import { propertySeed, seededRandom } from '../helpers/seed';
import { controlOf } from './helpers/idc-control';

const N = 4; // buffers per side, and so the window
const FB = 4096;


function setup(broker = new IdcBroker(), a = 1, b = 2) {
  const arena: GroupArena = { buffer: new SharedArrayBuffer(16 * FB), frames: 16, frameBytes: FB };
  for (let f = 0; f < 16; f++) new Uint8Array(arena.buffer, f * FB, FB).fill(f + 1);
  const [ga, gb] = broker.createChannel(a, b, { buffersPerSide: N, bufferBytes: FB }, true);
  const ea = new IdcEndpoint(ga, controlOf(broker, a), arena);
  const eb = new IdcEndpoint(gb, controlOf(broker, b), arena);
  /** A block view onto frame f: release() counts. */
  const block = (f: number) => {
    const b = { bytes: new Uint8Array(arena.buffer, f * FB, FB), released: 0, release: () => void b.released++ };
    return b;
  };
  return { broker, arena, ga, gb, ea, eb, block };
}

/** A hostile side's raw pen on its own tx ring (it never runs the honest runtime). */
const rawTx = (g: ChannelGrant) => new RingProducer(g.control, g.layout.rings[2 * g.side]!);
/** Push as many entries as fit now; how many went. */
function flood(tx: RingProducer, entry: () => number[], max = Infinity): number {
  let n = 0;
  while (n < max && tx.tryPush(entry())) n++;
  tx.publish();
  return n;
}
const tick = () => new Promise((r) => setTimeout(r, 0));
function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof IdcError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('the window', () => {
  it('is the buffers per side, and the tx ring holds the buffers plus a whole window', () => {
    const { ga } = setup();
    expect(ga.layout.window).toBe(N);
    expect(ga.layout.rings[0]!.capacity).toBeGreaterThanOrEqual(ga.layout.buffersPerSide + ga.layout.window);
  });
});

describe('a sender that ignores the window', () => {
  it('FRAME flood, receiver polling one at a time: it takes the window, faults the channel with window-exceeded, and never queues the rest; its other channel goes on', () => {
    const broker = new IdcBroker();
    const s = setup(broker, 1, 2);
    const other = setup(broker, 3, 2);
    const tx = rawTx(s.ga);
    let pushed = 0;
    let delivered = 0;
    // The receiver is slow: one message per round, released at once. Every poll reads the
    // whole ring, so before the window each round queued what the attacker had refilled.
    for (let round = 0; round < 200; round++) {
      pushed += flood(tx, () => [Kind.FRAME, round % 16, 0, 64]);
      for (const v of s.eb.poll(1)) {
        delivered++;
        v.release();
      }
    }
    const queued = s.eb.poll();
    // Past the window the receiver reads its ring no more: the attacker's ring fills and stays full.
    expect(pushed, 'the attacker did send past the window').toBeGreaterThan(N);
    expect(delivered + queued.length, 'FRAME messages the receiver ever took').toBeLessThanOrEqual(N);
    expect(s.eb.faultCode).toBe('window-exceeded');
    expect(s.eb.fault).toMatch(/past the window/);
    expect(code(() => s.eb.post(s.eb.alloc()!, 1))).toBe('window-exceeded');
    // Only that channel: the same receiver's channel with another peer still carries frames.
    const blk = other.block(5);
    expect(other.ea.sendBlock(blk)).toBe('frame');
    const [v] = other.eb.poll();
    expect(v!.bytes[0]).toBe(6);
    v!.release();
    other.ea.reclaim();
    expect(blk.released).toBe(1);
  });

  it('exactly the window is accepted from a sender that sends it at once', () => {
    const s = setup();
    flood(rawTx(s.ga), () => [Kind.FRAME, 1, 0, 8], N);
    expect(s.eb.poll()).toHaveLength(N);
    expect(s.eb.fault).toBeNull();
  });

  it('GRANT flood with forged refs, never reading ret: at most a window of maps in flight to dom0, then the channel faults', async () => {
    const [ga, gb] = new IdcBroker().createChannel(1, 2, { buffersPerSide: N, bufferBytes: FB });
    let inFlight = 0;
    let most = 0;
    let maps = 0;
    // Each forged ref costs the receiver a round trip to dom0 and a queued promise.
    const control: IdcControlPlane = {
      grant: () => Promise.reject(new Error('unused')),
      renew: () => Promise.reject(new Error('unused')),
      map: async (ref) => {
        maps++;
        most = Math.max(most, ++inFlight);
        await tick();
        inFlight--;
        throw new IdcError('grant-unknown', `grant ref ${ref} was not issued to domain 2`);
      },
      end: async () => undefined,
    };
    const eb = new IdcEndpoint(gb, control);
    const tx = rawTx(ga);
    let ref = 1;
    let pushed = 0;
    for (let round = 0; round < 100; round++) {
      pushed += flood(tx, () => [Kind.GRANT, ref++, 0, 8]);
      eb.poll();
      await tick();
      await tick();
    }
    expect(pushed).toBeGreaterThan(N);
    expect(most, 'maps in flight at once').toBeLessThanOrEqual(N);
    // Refused maps are returned (their owner's credit); unread returns still count, so the
    // ret ring's capacity plus one window is all an attacker that never reads it gets.
    expect(maps).toBeLessThanOrEqual(gb.layout.rings[1]!.capacity + N);
    expect(eb.faultCode).toBe('window-exceeded');
  });

  it('re-sending a buffer whose return it never reads: not delivered again, so returns do not queue without bound', () => {
    const { ga, eb } = setup();
    const tx = rawTx(ga);
    let delivered = 0;
    for (let round = 0; round < 200; round++) {
      tx.tryPush([Kind.BUFFER, 0, 0, 8]);
      tx.publish();
      for (const v of eb.poll()) {
        delivered++;
        v.release();
      }
    }
    // The ret ring (capacity 2N) takes the first returns; after that buffer 0 is still ours
    // until its return is published.
    expect(delivered).toBeLessThanOrEqual(ga.layout.rings[1]!.capacity + 1);
    expect(eb.stats.refused.doubleDelivery).toBeGreaterThan(100);
    // A peer that then reads its returns gets the buffer through again.
    new RingConsumer(ga.control, ga.layout.rings[1]!).consume(Infinity, () => undefined);
    eb.flush();
    tx.tryPush([Kind.BUFFER, 0, 0, 8]);
    tx.publish();
    expect(eb.poll()).toHaveLength(1);
  });
});

describe('an honest sender and a slow receiver', () => {
  it('sendBlock refuses past the window (null, the lease kept); sendBlockAsync resolves when a frame comes back', async () => {
    const s = setup();
    const blocks = Array.from({ length: N + 1 }, (_, i) => s.block(i));
    for (let i = 0; i < N; i++) expect(s.ea.sendBlock(blocks[i]!)).toBe('frame');
    expect(s.ea.sendBlock(blocks[N]!)).toBeNull();
    expect(s.ea.windowFree).toBe(0);
    expect(blocks[N]!.released).toBe(0);
    const views = s.eb.poll();
    expect(views).toHaveLength(N);
    const late = s.ea.sendBlockAsync(blocks[N]!, 5000);
    let settled = false;
    void late.then(() => (settled = true));
    await tick();
    expect(settled, 'waits while the receiver holds the window').toBe(false);
    setTimeout(() => views[0]!.release(), 20);
    expect(await late).toBe('frame');
    expect(blocks[0]!.released).toBe(1);
    expect(await s.ea.sendBlockAsync(s.block(9), 30)).toBeNull(); // timed out: nothing came back
    expect(s.eb.fault).toBeNull();
  });
});

describe('forward and the window', () => {
  function triangle() {
    const broker = new IdcBroker();
    // A–B has 2N buffers per side so A can outlast B–C's window.
    const [ga, gb] = broker.createChannel(1, 2, { buffersPerSide: 2 * N, bufferBytes: FB });
    const a = new IdcEndpoint(ga, controlOf(broker, 1));
    const b = new IdcEndpoint(gb, controlOf(broker, 2));
    const [gbc, gcb] = broker.createChannel(2, 3, { buffersPerSide: N, bufferBytes: FB });
    const bc = new IdcEndpoint(gbc, controlOf(broker, 2));
    const cb = new IdcEndpoint(gcb, controlOf(broker, 3));
    const fromA = (): RxView => {
      a.send(a.alloc()!, 8);
      return b.poll()[0]!;
    };
    return { a, b, bc, cb, fromA };
  }

  it('past the window: rejected with window-full after the timeout, the view still B\'s to release', async () => {
    const t = triangle();
    for (let i = 0; i < N; i++) await t.b.forward(t.fromA(), t.bc, 1000);
    const v = t.fromA();
    await expect(t.b.forward(v, t.bc, 30)).rejects.toMatchObject({ name: 'IdcError', code: 'window-full' });
    expect(v.released).toBe(false);
    v.release();
    expect(t.a.freeBuffers).toBe(2 * N - N); // the released one is back; the N forwarded are not
  });

  it('a forward waiting for credit resolves when C gives a grant back, and when B revokes one and C returns it', async () => {
    const t = triangle();
    const refs: number[] = [];
    for (let i = 0; i < N; i++) refs.push(await t.b.forward(t.fromA(), t.bc, 1000));
    const atC: RxView[] = [];
    for (let i = 0; i < N; i++) atC.push((await t.cb.receive(1000))!);
    const waiting = t.b.forward(t.fromA(), t.bc, 5000);
    setTimeout(() => atC[0]!.release(), 20);
    const ref = await waiting;
    expect((await t.cb.receive(1000))!.id).toBe(ref);
    // Revocation: the credit stays held until C's runtime hears of it and returns the grant.
    const next = t.b.forward(t.fromA(), t.bc, 5000);
    await t.bc.revoke(refs[1]!);
    await tick();
    let done = false;
    void next.then(() => (done = true));
    await tick();
    expect(done, 'revoked but not yet returned by C').toBe(false);
    expect(t.cb.revoked(refs[1]!)).toBe(true); // the host's notice
    await next;
    expect(() => atC[1]!.bytes).toThrow(expect.objectContaining({ code: 'grant-revoked' }));
    expect(t.cb.fault).toBeNull();
  });

  it('grants revoked before C mapped them: C\'s refusals return them, and B\'s credit comes back', async () => {
    const t = triangle();
    const refs: number[] = [];
    for (let i = 0; i < N; i++) refs.push(await t.b.forward(t.fromA(), t.bc, 1000));
    for (const ref of refs) await t.bc.revoke(ref);
    expect(t.bc.windowFree).toBe(0);
    expect(await t.cb.receive(100)).toBeNull(); // every map refused as grant-revoked
    expect(t.cb.stats.refused.grantRefused).toBe(N);
    expect(t.bc.windowFree).toBe(N);
    expect(t.cb.fault).toBeNull();
  });

  it('two forwards waiting for the last credit: one goes, the other times out (no overdraft)', async () => {
    const t = triangle();
    for (let i = 0; i < N - 1; i++) await t.b.forward(t.fromA(), t.bc, 1000);
    const results = await Promise.allSettled([t.b.forward(t.fromA(), t.bc, 50), t.b.forward(t.fromA(), t.bc, 50)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(t.cb.poll()).toHaveLength(0); // maps in flight: wait for them
    for (let i = 0; i < N; i++) expect(await t.cb.receive(1000)).not.toBeNull();
    expect(t.cb.fault).toBeNull();
  });
});

describe('random honest traffic (the run\'s seed)', () => {
  it('buffers and frames, random batches and releases: no fault, order kept, the receiver never holds more than the window of frames, every lease returned', async () => {
    const seed = propertySeed();
    const rnd = seededRandom(seed);
    const at = (round: number) => `TABVISOR_SEED=${seed}, round ${round}`;
    const s = setup();
    const leases: { released: number }[] = [];
    let next = 0;
    let expectNext = 0;
    const held: RxView[] = [];
    let frames = 0;
    for (let round = 0; round < 400; round++) {
      // Send greedily: what the runtime lets through is what the window allows.
      const k = 1 + Math.floor(rnd() * 3 * N);
      for (let i = 0; i < k; i++) {
        if (rnd() < 0.6) {
          const blk = s.block(next % 16);
          const how = s.ea.sendBlock(blk);
          if (!how) break;
          leases.push(blk);
          next++;
        } else {
          const b = s.ea.alloc();
          if (!b) break;
          b.bytes[0] = (next % 16) + 1;
          s.ea.post(b, 1);
          s.ea.flush();
          next++;
        }
      }
      for (const v of s.eb.poll(Math.floor(rnd() * 2 * N))) {
        expect(v.bytes[0], at(round)).toBe((expectNext % 16) + 1);
        expectNext++;
        held.push(v);
      }
      frames = held.filter((v) => v.kind === Kind.FRAME && !v.released).length;
      expect(frames, `${at(round)}: frames the receiver holds`).toBeLessThanOrEqual(N);
      // Release a random part, one at a time or in one batch.
      const cut = Math.floor(rnd() * (held.length + 1));
      const out = held.splice(0, cut);
      if (rnd() < 0.5) s.eb.releaseAll(out);
      else for (const v of out) v.release();
      if (rnd() < 0.1) await tick();
      expect(s.eb.fault, at(round)).toBeNull();
    }
    s.eb.releaseAll(held);
    for (const v of s.eb.poll()) {
      expect(v.bytes[0], `TABVISOR_SEED=${seed}, the rest`).toBe((expectNext % 16) + 1);
      expectNext++;
      v.release();
    }
    expect(expectNext, `TABVISOR_SEED=${seed}: every message arrived once`).toBe(next);
    s.ea.reclaim();
    expect(leases.every((l) => l.released === 1), `TABVISOR_SEED=${seed}: every frame's lease released once`).toBe(true);
    expect(s.ea.windowFree).toBe(N);
    expect(s.ea.freeBuffers).toBe(N);
  });
});
