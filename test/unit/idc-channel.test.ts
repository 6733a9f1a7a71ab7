// Node: inter-domain channels against dom0's broker, both ends in one thread (the ring
// protocol does not care which thread an end runs on; test/browser/idc-channels.test.ts runs
// it between real guest workers). Attacks are made by writing the shared memory directly,
// as a hostile guest would, never through the honest runtime.
import { describe, expect, it } from 'vitest';
import { IdcBroker } from '../../host/dom0/idc-broker';
import { IdcEndpoint } from '../../guest/idc';
import { GT_FREE, GT_SENT, IdcError, Kind, type ChannelGrant } from '../../shared/idc-layout';
import { RingProducer } from '../../shared/ring';
import { RING_PROD_I32 } from '../../shared/ring-layout';
import { controlOf, sendText, text } from './helpers/idc-control';

const N = 4;
const BYTES = 4096;


function channel(broker: IdcBroker, a: number, b: number): { ga: ChannelGrant; gb: ChannelGrant; ea: IdcEndpoint; eb: IdcEndpoint } {
  const [ga, gb] = broker.createChannel(a, b, { buffersPerSide: N, bufferBytes: BYTES });
  return { ga, gb, ea: new IdcEndpoint(ga, controlOf(broker, a)), eb: new IdcEndpoint(gb, controlOf(broker, b)) };
}

/** A hostile side's raw pen on its own tx ring (it never made an honest endpoint). */
function rawTx(g: ChannelGrant): RingProducer {
  return new RingProducer(g.control, g.layout.rings[2 * g.side]!);
}
/** A hostile side's raw pen on the ring it returns its peer's buffers on. */
function rawBack(g: ChannelGrant): RingProducer {
  return new RingProducer(g.control, g.layout.rings[2 * (1 - g.side) + 1]!);
}
function push(p: RingProducer, kind: number, id: number, offset = 0, length = 0): void {
  expect(p.tryPush([kind, id, offset, length])).toBe(true);
  p.publish();
}

describe('channel set-up', () => {
  it('hands each side the same control and buffers, and its own grant table only', () => {
    const broker = new IdcBroker();
    const { ga, gb } = channel(broker, 1, 2);
    const [gc] = broker.createChannel(1, 3, { buffersPerSide: N, bufferBytes: BYTES });
    expect(ga.control).toBe(gb.control);
    expect(ga.buffers).toEqual(gb.buffers);
    expect(ga.grantTable).not.toBe(gb.grantTable);
    // Another channel shares no memory with this one.
    for (const sab of gc!.buffers) expect(ga.buffers.includes(sab)).toBe(false);
    expect(gc!.control).not.toBe(ga.control);
    expect(() => broker.createChannel(4, 4)).toThrow(IdcError);
  });
});

describe('zero-copy send', () => {
  it('the receiver views the bytes the sender wrote, in the same buffer; release returns it; nothing copied', () => {
    const { ga, ea, eb } = channel(new IdcBroker(), 1, 2);
    const id = sendText(ea, 'hello, B');
    const [v] = eb.poll();
    expect(v).toBeDefined();
    expect(text(v!.bytes)).toBe('hello, B');
    expect(v!.bytes.buffer).toBe(ga.buffers[id]); // the sender's buffer itself, not a copy
    expect(ea.freeBuffers).toBe(N - 1);
    v!.release();
    v!.release(); // idempotent in the honest runtime
    expect(ea.freeBuffers).toBe(N);
    expect(ea.stats.bytesCopied + eb.stats.bytesCopied).toBe(0);
    expect(ea.stats).toMatchObject({ sent: 1, returned: 1, bytesSent: 8 });
    expect(eb.stats).toMatchObject({ received: 1, released: 1, bytesReceived: 8 });
    expect(() => v!.bytes).toThrow(/released/);
  });

  it('keeps order and reuses buffers round after round (fixed seed)', () => {
    const { ea, eb } = channel(new IdcBroker(), 1, 2);
    let seed = 0x17;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    let next = 0;
    let expectNext = 0;
    for (let round = 0; round < 500; round++) {
      const k = 1 + Math.floor(rnd() * N);
      for (let i = 0; i < k; i++) {
        const b = ea.alloc();
        if (!b) break;
        new DataView(b.bytes.buffer).setUint32(0, next++);
        ea.post(b, 4);
      }
      ea.flush();
      const views = eb.poll();
      for (const v of views) expect(new DataView(v.bytes.buffer, v.offset).getUint32(0), `seed 0x17 round ${round}`).toBe(expectNext++);
      if (rnd() < 0.5) eb.releaseAll(views);
      else for (const v of views) v.release();
    }
    expect(expectNext).toBe(next);
    expect(ea.freeBuffers).toBe(N);
  });
});

describe('transitive hand-off', () => {
  function triangle() {
    const broker = new IdcBroker();
    const ab = channel(broker, 1, 2);
    const bc = channel(broker, 2, 3);
    return { broker, ab, bc };
  }

  it('B forwards A\'s buffer to C: C views the same bytes; the buffer goes back only when C is done, is retired, and renewed as a new SharedArrayBuffer', async () => {
    const { ab, bc } = triangle();
    const id = sendText(ab.ea, 'from A');
    const [v] = ab.eb.poll();
    const ref = await ab.eb.forward(v!, bc.ea);
    const w = await bc.eb.receive(1000);
    expect(w!.kind).toBe(Kind.GRANT);
    expect(w!.id).toBe(ref);
    expect(text(w!.bytes)).toBe('from A');
    expect(w!.bytes.buffer).toBe(ab.ga.buffers[id]); // C's view and A's buffer are one memory
    expect(bc.eb.stats.bytesCopied + ab.eb.stats.bytesCopied).toBe(0);
    // Releasing the forwarded view in B does not give the buffer back while C holds it.
    v!.release();
    expect(ab.ea.freeBuffers).toBe(N - 1);
    w!.release();
    bc.ea.reclaim(); // B sees C's return, ends the grant, then gives A's buffer back
    expect(ab.ea.freeBuffers, 'not before dom0 ended the grant').toBe(N - 1);
    expect(ab.ea.stats.retired).toBe(0);
    await new Promise((r) => setTimeout(r, 0));
    expect(ab.ea.freeBuffers).toBe(N - 1); // back, but retired: C keeps the SharedArrayBuffer
    expect(ab.ea.stats.retired).toBe(1);
    // dom0 renews the id with a new SharedArrayBuffer (test/unit/idc-renew.test.ts): the
    // id comes back, the memory C was lent never does.
    await new Promise((r) => setTimeout(r, 0));
    expect(ab.ea.stats.renewed).toBe(1);
    const bufs = [];
    for (let b = ab.ea.alloc(); b; b = ab.ea.alloc()) bufs.push(b);
    expect(bufs).toHaveLength(N);
    for (const b of bufs) expect(b.bytes.buffer).not.toBe(w!.buffer);
  });

  it('revoked by its owner: C\'s view stops, a later map is refused as revoked', async () => {
    const { broker, ab, bc } = triangle();
    sendText(ab.ea, 'x');
    const [v] = ab.eb.poll();
    const ref = await ab.eb.forward(v!, bc.ea);
    const w = await bc.eb.receive(1000);
    await bc.ea.revoke(ref);
    expect(bc.eb.revoked(ref)).toBe(true); // the host's notice
    expect(() => w!.bytes).toThrow(expect.objectContaining({ code: 'grant-revoked' }));
    expect(() => broker.map(3, ref)).toThrow(expect.objectContaining({ name: 'IdcError', code: 'grant-revoked' }));
    expect(ab.ea.freeBuffers).toBe(N - 1); // went back to A, retired
    await expect(bc.ea.revoke(ref)).rejects.toMatchObject({ code: 'grant-unknown' });
  });

  it('refuses a forged ref, someone else\'s ref, and a ref its owner did not make', async () => {
    const { broker, ab, bc } = triangle();
    sendText(ab.ea, 'x');
    const [v] = ab.eb.poll();
    const ref = await ab.eb.forward(v!, bc.ea);
    expect(() => broker.map(3, ref ^ 0x5a5a5)).toThrow(expect.objectContaining({ code: 'grant-unknown' }));
    expect(() => broker.map(1, ref)).toThrow(expect.objectContaining({ code: 'grant-unknown' })); // A is not the grantee
    expect(() => broker.end(3, ref)).toThrow(expect.objectContaining({ code: 'grant-unknown' })); // only the owner revokes
    // A forged GRANT descriptor on the ring is refused by the receiver's runtime, counted.
    push(rawTx(bc.ga), Kind.GRANT, (ref ^ 0x777) || 1, 0, 1);
    await bc.eb.receive(1000); // the real grant first
    expect(await bc.eb.receive(50)).toBeNull();
    expect(bc.eb.stats.refused.grantRefused).toBe(1);
    expect(bc.eb.lastRefusal).toMatch(/not issued to domain 3/);
  });

  it('dom0 grants only a buffer the asker holds now', async () => {
    const { broker, ab, bc } = triangle();
    const id = sendText(ab.ea, 'x');
    // B's own buffer, a buffer never lent, a buffer of a channel B is not on: refused.
    expect(() => broker.grant(2, ab.ga.channelId, N, bc.ga.channelId)).toThrow(expect.objectContaining({ code: 'grant-refused' }));
    expect(() => broker.grant(2, ab.ga.channelId, (id + 1) % N, bc.ga.channelId)).toThrow(/does not hold/);
    expect(() => broker.grant(3, ab.ga.channelId, id, bc.ga.channelId)).toThrow(/has no channel/);
    // Given back and taken back by A: no longer B's to lend.
    const [v] = ab.eb.poll();
    v!.release();
    ab.ea.reclaim();
    expect(() => broker.grant(2, ab.ga.channelId, id, bc.ga.channelId)).toThrow(/does not hold/);
  });

  it('a forward racing the owner\'s reclaim: either refused, or the buffer is retired, never reused', async () => {
    const { broker, ab, bc } = triangle();
    const table = new Int32Array(ab.ga.grantTable);
    const id = sendText(ab.ea, 'x');
    const [v] = ab.eb.poll();
    v!.release(); // on A's return ring, A has not looked yet
    expect(Atomics.load(table, id)).toBe(GT_SENT);
    // Hostile B forwards it anyway in that window: dom0 cannot know, and honours it...
    const ref = broker.grant(2, ab.ga.channelId, id, bc.ga.channelId);
    expect(ref).toBeGreaterThan(0);
    // ...so A must never reuse it: C may hold it for good.
    ab.ea.reclaim();
    expect(ab.ea.stats.retired).toBe(1);
    const ids = new Set<number>();
    for (let b = ab.ea.alloc(); b; b = ab.ea.alloc()) ids.add(b.id);
    expect(ids.has(id)).toBe(false);
    expect(Atomics.load(table, id)).not.toBe(GT_FREE);
  });
});

describe('hostile peers', () => {
  it('a receiver that never releases stalls only its own channel', () => {
    const broker = new IdcBroker();
    const ab = channel(broker, 1, 2);
    const ac = channel(broker, 1, 3);
    for (let i = 0; i < N; i++) sendText(ab.ea, `m${i}`);
    expect(ab.eb.poll()).toHaveLength(N); // B takes them and keeps them
    expect(ab.ea.alloc()).toBeNull();
    expect(ab.ea.allocSync(5)).toBeNull();
    // A's channel to C is untouched.
    for (let round = 0; round < 3 * N; round++) {
      sendText(ac.ea, `c${round}`);
      const [v] = ac.eb.poll();
      expect(text(v!.bytes)).toBe(`c${round}`);
      v!.release();
    }
    expect(ac.ea.freeBuffers).toBe(N);
  });

  it('garbage descriptors are refused and counted; the next good one is delivered', () => {
    const { ga, eb } = channel(new IdcBroker(), 1, 2);
    const tx = rawTx(ga);
    push(tx, 0, 0, 0, 1); // no kind
    push(tx, 99, 0, 0, 1); // unknown kind
    push(tx, Kind.BUFFER, N, 0, 1); // the receiver's own buffer
    push(tx, Kind.BUFFER, -1, 0, 1);
    push(tx, Kind.BUFFER, 2 * N + 7, 0, 1);
    push(tx, Kind.GRANT, 0, 0, 1); // null ref
    expect(eb.poll()).toHaveLength(0);
    expect(eb.stats.refused.garbage).toBe(6);
    push(tx, Kind.BUFFER, 1, 0, 3);
    const [v] = eb.poll();
    expect(v?.id).toBe(1);
    expect(eb.fault).toBeNull();
  });

  it('out-of-range offsets and lengths are refused', () => {
    const { ga, eb } = channel(new IdcBroker(), 1, 2);
    const tx = rawTx(ga);
    push(tx, Kind.BUFFER, 0, BYTES, 1);
    push(tx, Kind.BUFFER, 0, 1, BYTES);
    push(tx, Kind.BUFFER, 0, -8, 16);
    push(tx, Kind.BUFFER, 0, 8, -1);
    push(tx, Kind.BUFFER, 0, 0x7fff_ffff, 2); // offset + length overflows 32 bits
    expect(eb.poll()).toHaveLength(0);
    expect(eb.stats.refused.outOfRange).toBe(5);
    push(tx, Kind.BUFFER, 0, BYTES - 1, 1);
    expect(eb.poll()[0]?.bytes.byteLength).toBe(1);
  });

  it('a buffer delivered again while held is refused (no two views of one delivery)', () => {
    const { ga, eb } = channel(new IdcBroker(), 1, 2);
    const tx = rawTx(ga);
    push(tx, Kind.BUFFER, 2, 0, 4);
    push(tx, Kind.BUFFER, 2, 0, 4);
    expect(eb.poll()).toHaveLength(1);
    expect(eb.stats.refused.doubleDelivery).toBe(1);
  });

  it('double releases and returns of buffers never lent are refused: a buffer is never handed out twice', () => {
    const { gb, ea } = channel(new IdcBroker(), 1, 2);
    const id = sendText(ea, 'x');
    const back = rawBack(gb);
    push(back, Kind.BUFFER, id);
    push(back, Kind.BUFFER, id); // again
    push(back, Kind.BUFFER, (id + 1) % N); // never lent
    push(back, Kind.BUFFER, N); // not A's
    push(back, Kind.GRANT, 12345); // no such forward
    ea.reclaim();
    expect(ea.stats.returned).toBe(1);
    expect(ea.stats.refused.doubleRelease).toBe(3);
    expect(ea.stats.refused.garbage).toBe(1);
    const ids: number[] = [];
    for (let b = ea.alloc(); b; b = ea.alloc()) ids.push(b.id);
    expect(ids.sort()).toEqual([0, 1, 2, 3]);
  });

  it('writing a buffer after sending it is refused by the runtime; a raw write reaches only this channel', () => {
    const broker = new IdcBroker();
    const ab = channel(broker, 1, 2);
    const ac = channel(broker, 1, 3);
    const b = ab.ea.alloc()!;
    b.bytes.fill(7, 0, 16);
    ab.ea.send(b, 16);
    expect(() => b.bytes).toThrow(expect.objectContaining({ code: 'buffer-state' }));
    expect(() => ab.ea.send(b, 16)).toThrow(/already sent/);
    sendText(ac.ea, 'to C');
    // A hostile sender keeps its own view of the SharedArrayBuffer and scribbles anyway:
    // B sees it (the browser cannot stop that), C's channel does not.
    new Uint8Array(ab.ga.buffers[b.id]!).fill(9, 0, 16);
    expect(ab.eb.poll()[0]!.bytes[0]).toBe(9);
    expect(text(ac.eb.poll()[0]!.bytes)).toBe('to C');
  });

  it('a corrupted ring index stops that channel only, with the reason', () => {
    const broker = new IdcBroker();
    const ab = channel(broker, 1, 2);
    const ac = channel(broker, 1, 3);
    const g = ab.ga.layout.rings[2]!; // B's tx ring, which A consumes
    Atomics.store(new Int32Array(ab.ga.control, g.byteOffset, 1), RING_PROD_I32, 1 << 20);
    expect(ab.ea.poll()).toHaveLength(0);
    expect(ab.ea.fault).toMatch(/channel \d+: producer index/);
    expect(() => sendText(ab.ea, 'x')).toThrow(expect.objectContaining({ code: 'closed' }));
    sendText(ac.ea, 'still fine');
    expect(text(ac.eb.poll()[0]!.bytes)).toBe('still fine');
  });
});
