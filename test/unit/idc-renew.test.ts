// Node: a buffer forwarded to a third domain is retired by its owner when it comes back
// (the grantee keeps that SharedArrayBuffer for good), and then renewed: dom0 gives the id
// a new SharedArrayBuffer and the next generation, the owner learns it as dom0's reply and
// the peer as the host's notice (docs/design.md, "Transitive hand-off"). Before renewals a
// channel whose buffers were all forwarded once had none left on that side.
// Attacks are made on the shared memory and on dom0's broker directly, as a hostile guest
// would, never through the honest runtime.
import { describe, expect, it } from 'vitest';
import { IdcBroker } from '../../host/dom0/idc-broker';
import { IdcEndpoint, type RxView } from '../../guest/idc';
import { GT_FREE, Kind, bufferKindWord, type ChannelGrant, type RenewedBuffer } from '../../shared/idc-layout';
import { RingProducer } from '../../shared/ring';
import { controlOf, sendText, text } from './helpers/idc-control';

const N = 4;
const BYTES = 4096;
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/**
 * A (1) — B (2) — C (3). `deliver` plays the page's part in a renewal: by default the
 * notice reaches the peer at once; `held` keeps notices until the test lets them go.
 */
function triangle(opts: { holdNotices?: boolean } = {}) {
  const broker = new IdcBroker();
  const held: [number, RenewedBuffer][] = [];
  const endpoints = new Map<number, IdcEndpoint[]>();
  const tell = (peer: number, r: RenewedBuffer): void => {
    if (opts.holdNotices) held.push([peer, r]);
    else for (const ep of endpoints.get(peer) ?? []) if (ep.channelId === r.channelId) ep.renewedPeer(r);
  };
  const make = (a: number, b: number) => {
    const [ga, gb] = broker.createChannel(a, b, { buffersPerSide: N, bufferBytes: BYTES });
    const ea = new IdcEndpoint(ga, controlOf(broker, a, tell));
    const eb = new IdcEndpoint(gb, controlOf(broker, b, tell));
    for (const [d, ep] of [[a, ea], [b, eb]] as const) endpoints.set(d, [...(endpoints.get(d) ?? []), ep]);
    return { ga, gb, ea, eb };
  };
  const ab = make(1, 2);
  const bc = make(2, 3);
  const release = (): void => {
    for (const [peer, r] of held.splice(0)) for (const ep of endpoints.get(peer) ?? []) if (ep.channelId === r.channelId) ep.renewedPeer(r);
  };
  return { broker, ab, bc, held, release };
}

/** A sends, B forwards to C, C reads and gives back, B ends the forward, A takes the buffer back. */
async function forwardRound(t: ReturnType<typeof triangle>, payload: string): Promise<{ id: number; atC: RxView }> {
  const id = sendText(t.ab.ea, payload);
  const [v] = t.ab.eb.poll();
  expect(v, `B received ${payload}`).toBeDefined();
  expect(text(v!.bytes)).toBe(payload);
  await t.ab.eb.forward(v!, t.bc.ea);
  const atC = await t.bc.eb.receive(1000);
  expect(text(atC!.bytes)).toBe(payload);
  atC!.release();
  t.bc.ea.reclaim(); // B sees C's return: the forward ends (dom0 first), A's buffer goes back
  await tick();
  t.ab.ea.reclaim(); // A takes it back, retires it and asks for a new one
  await tick();
  return { id, atC: atC! };
}

describe('renewing forwarded buffers', () => {
  it('a channel whose every buffer is forwarded, round after round, keeps its whole pool', async () => {
    const t = triangle();
    for (let round = 0; round < 5 * N; round++) {
      await forwardRound(t, `round ${round}`);
      expect(t.ab.ea.freeBuffers, `A's free buffers after round ${round}`).toBe(N);
    }
    expect(t.ab.ea.stats.retired).toBe(5 * N);
    expect(t.ab.ea.stats.renewed).toBe(5 * N);
    expect(t.ab.eb.stats.refused).toEqual({ garbage: 0, outOfRange: 0, doubleDelivery: 0, doubleRelease: 0, grantRefused: 0 });
    // dom0 holds no grant of them: each ended with its forward.
    expect(t.broker.grantList()).toEqual([]);
  });

  it('when the grantee\'s domain ends, the relay ends its forwards there by itself and the owner gets every buffer back', async () => {
    const t = triangle();
    // Every buffer of A goes to C through B, and C holds them all.
    for (let i = 0; i < N; i++) sendText(t.ab.ea, `m${i}`);
    for (const v of t.ab.eb.poll()) await t.ab.eb.forward(v, t.bc.ea);
    for (let i = 0; i < N; i++) expect(await t.bc.eb.receive(1000)).not.toBeNull();
    expect(t.ab.ea.alloc(), 'A has lent all its buffers').toBeNull();
    // C's domain ends as the page ends it: its peers are told first, then dom0 closes it.
    t.bc.ea.peerEnded('guest 3 at the other end ended');
    t.broker.closeDomain(3);
    for (let i = 0; i < 5; i++) await tick();
    expect(t.broker.grantList(), 'dom0 lends nothing more to C').toEqual([]);
    // B did nothing else (no revoke): A takes every buffer back, renewed.
    t.ab.ea.reclaim();
    for (let i = 0; i < 5; i++) await tick();
    expect(t.ab.ea.freeBuffers).toBe(N);
    expect(t.ab.ea.stats.renewed).toBe(N);
    expect(t.bc.ea.fault).toContain('guest 3 at the other end ended');
  });

  it('the renewed id is a new SharedArrayBuffer: what the grantee kept never sees the owner\'s later messages', async () => {
    const t = triangle();
    const { id, atC } = await forwardRound(t, 'seen by C');
    const kept = atC.buffer; // a hostile C keeps the SharedArrayBuffer it was lent
    const again = t.ab.ea.alloc()!;
    expect(again.id, 'the renewed id is reused').toBe(id);
    new TextEncoder().encodeInto('for B only', again.bytes);
    t.ab.ea.send(again, 10);
    const [v] = t.ab.eb.poll();
    expect(text(v!.bytes)).toBe('for B only');
    expect(v!.buffer).not.toBe(kept);
    expect(text(new Uint8Array(kept, 0, 10))).not.toContain('for B only');
    expect(t.ab.ga.buffers[id], 'the grant A was first handed still names the old buffer').toBe(kept);
  });

  it('a sender waiting for a buffer wakes at a renewal, not only at a return on its ring', async () => {
    const t = triangle();
    // dom0's answer to a renewal comes later than the return, as through the page.
    const control = controlOf(t.broker, 1, (peer, r) => {
      if (peer === 2) t.ab.eb.renewedPeer(r);
    });
    const slow = { ...control, renew: (c: number, b: number) => new Promise<RenewedBuffer>((res, rej) => setTimeout(() => control.renew(c, b).then(res, rej), 30)) };
    const a = new IdcEndpoint(t.ab.ga, slow);
    // Every buffer of A goes out and is forwarded; all come back retired at once.
    for (let i = 0; i < N; i++) {
      const b = a.alloc()!;
      b.bytes[0] = i;
      a.send(b, 1);
    }
    const views = t.ab.eb.poll();
    expect(views).toHaveLength(N);
    for (const v of views) await t.ab.eb.forward(v, t.bc.ea);
    for (let i = 0; i < N; i++) (await t.bc.eb.receive(1000))!.release();
    t.bc.ea.reclaim();
    expect(a.alloc(), 'all retired, none renewed yet').toBeNull();
    const t0 = performance.now();
    const b = await a.allocAsync(2000);
    expect(b, 'a renewed buffer').not.toBeNull();
    expect(performance.now() - t0, 'woken by the renewal, not by the timeout').toBeLessThan(1000);
  });

  it('a renewed buffer forwarded again reaches the grantee cleared outside the message', async () => {
    const t = triangle();
    const { id } = await forwardRound(t, 'first');
    // A's earlier message to B in the renewed buffer, then a short one in the same buffer
    // (A reuses a buffer without clearing it): only "hi" is for C.
    const long = t.ab.ea.alloc()!;
    expect(long.id).toBe(id);
    new TextEncoder().encodeInto('for B only: secret', long.bytes);
    t.ab.ea.send(long, 18);
    t.ab.eb.poll()[0]!.release();
    t.ab.ea.reclaim();
    const short = t.ab.ea.alloc()!;
    expect(short.id).toBe(id);
    short.bytes.set(new TextEncoder().encode('hi'), 16);
    t.ab.ea.send(short, 2, 16);
    const [v] = t.ab.eb.poll();
    await t.ab.eb.forward(v!, t.bc.ea);
    const atC = await t.bc.eb.receive(1000);
    expect(text(atC!.bytes)).toBe('hi');
    const whole = new Uint8Array(atC!.buffer); // what C's runtime could look at
    expect(text(whole)).not.toContain('secret');
    expect(whole.slice(0, 16).every((x) => x === 0)).toBe(true);
  });

  it('a descriptor of the new generation that outruns the host\'s notice waits for it, then views the new buffer', async () => {
    const t = triangle({ holdNotices: true });
    const { id } = await forwardRound(t, 'first');
    expect(t.held, 'the notice to B is held back').toHaveLength(1);
    const notice = t.held[0]![1];
    const b = t.ab.ea.alloc()!;
    expect(b.id).toBe(id);
    new TextEncoder().encodeInto('second', b.bytes);
    t.ab.ea.send(b, 6);
    sendText(t.ab.ea, 'third'); // behind it in the ring: delivered in order, after it
    expect(t.ab.eb.poll(), 'nothing is handed out before the notice').toEqual([]);
    t.release();
    await tick();
    const got = t.ab.eb.poll();
    expect(got.map((v) => text(v.bytes))).toEqual(['second', 'third']);
    expect(got[0]!.buffer, 'the renewed buffer, not the one C was lent').toBe(notice.sab);
    expect(got[0]!.buffer).not.toBe(t.ab.gb.buffers[id]);
    expect(t.ab.eb.stats.refused.garbage).toBe(0);
  });
});

describe('hostile owners and holders (attacks on the shared memory and on dom0)', () => {
  const rawTx = (g: ChannelGrant) => new RingProducer(g.control, g.layout.rings[2 * g.side]!);
  const rawBack = (g: ChannelGrant) => new RingProducer(g.control, g.layout.rings[2 * (1 - g.side) + 1]!);

  it('dom0 renews only the owner\'s buffer, only after a forward, once per forward', async () => {
    const t = triangle();
    const ch = t.ab.ga.channelId;
    expect(() => t.broker.renew(1, ch, 0), 'never forwarded').toThrow(expect.objectContaining({ code: 'buffer-state' }));
    expect(() => t.broker.renew(2, ch, 0), 'B renewing A\'s buffer').toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => t.broker.renew(3, ch, 0), 'C is not on the channel').toThrow(expect.objectContaining({ code: 'grant-refused' }));
    expect(() => t.broker.renew(1, ch, 2 * N), 'past the pool').toThrow(expect.objectContaining({ code: 'bad-request' }));
    const { id } = await forwardRound(t, 'x');
    expect(t.ab.ea.stats.renewed).toBe(1);
    expect(() => t.broker.renew(1, ch, id), 'a second renewal for one forward').toThrow(expect.objectContaining({ code: 'buffer-state' }));
    expect(Atomics.load(new Int32Array(t.ab.ga.grantTable), id)).toBe(GT_FREE);
  });

  it('a holder that gives a forwarded buffer back while its grant stands gets no renewal until the grant ends', async () => {
    const t = triangle();
    const id = sendText(t.ab.ea, 'x');
    // Hostile B: grant to C, then give the buffer back at once, the grant still standing.
    const ref = t.broker.grant(2, t.ab.gb.channelId, id, t.bc.ga.channelId);
    const back = rawBack(t.ab.gb);
    expect(back.tryPush([Kind.BUFFER, id, 0, 0])).toBe(true);
    back.publish();
    t.ab.ea.reclaim();
    await tick();
    expect(t.ab.ea.stats.retired).toBe(1);
    expect(t.ab.ea.stats.renewed, 'dom0 refused: the grant still lends that buffer').toBe(0);
    expect(() => t.broker.renew(1, t.ab.ga.channelId, id)).toThrow(/still lent under grant/);
    // The grant maps the buffer it was made on, whatever the owner does meanwhile.
    expect(t.broker.map(3, ref).buffer).toBe(t.ab.ga.buffers[id]);
    t.broker.end(2, ref);
    // A asks again when it runs out of buffers (at most every RENEW_RETRY_MS).
    for (let i = 0; i < N - 1; i++) sendText(t.ab.ea, `m${i}`);
    await new Promise((r) => setTimeout(r, 120));
    expect(t.ab.ea.alloc(), 'out of buffers: asks dom0 again').toBeNull();
    await tick();
    expect(t.ab.ea.stats.renewed).toBe(1);
    expect(t.ab.ea.alloc()?.id).toBe(id);
  });

  it('a descriptor with a generation the owner cannot have reached is refused; one ahead waits and stalls only its channel', async () => {
    const t = triangle();
    const tx = rawTx(t.ab.ga); // hostile A
    tx.tryPush([bufferKindWord(2), 0, 0, 1]); // two ahead
    tx.tryPush([bufferKindWord(0x7f_ffff), 1, 0, 1]); // behind (wrapped)
    tx.publish();
    expect(t.ab.eb.poll()).toEqual([]);
    expect(t.ab.eb.stats.refused.garbage).toBe(2);
    expect(t.ab.eb.lastRefusal).toMatch(/generation/);
    // One ahead without a renewal: B waits for a notice that never comes; B's other channel goes on.
    tx.tryPush([bufferKindWord(1), 2, 0, 1]);
    tx.publish();
    expect(t.ab.eb.poll()).toEqual([]);
    sendText(t.bc.eb, 'still fine');
    expect((t.bc.ea.poll()[0] ?? null)?.bytes.length).toBe(10);
  });

  it('kind words with bits above the kind are refused for frames and grants', () => {
    const t = triangle();
    const tx = rawTx(t.ab.ga);
    tx.tryPush([Kind.GRANT | (1 << 8), 12345, 0, 1]);
    tx.tryPush([Kind.FRAME | (5 << 8), 0, 0, 1]);
    tx.publish();
    expect(t.ab.eb.poll()).toEqual([]);
    expect(t.ab.eb.stats.refused.garbage).toBe(2);
    expect(t.ab.eb.lastRefusal).toMatch(/kind word/);
  });

  it('a renewal notice that does not follow on from what the receiver holds is ignored', async () => {
    const t = triangle();
    const before = t.ab.gb.buffers[0]!;
    const fake = new SharedArrayBuffer(BYTES);
    t.ab.eb.renewedPeer({ channelId: t.ab.gb.channelId, buffer: 0, generation: 2, sab: fake }); // skips one
    t.ab.eb.renewedPeer({ channelId: t.ab.gb.channelId, buffer: 0, generation: 1, sab: new SharedArrayBuffer(8) }); // wrong size
    t.ab.eb.renewedPeer({ channelId: t.ab.gb.channelId, buffer: N, generation: 1, sab: fake }); // B's own buffer
    sendText(t.ab.ea, 'same as ever');
    const [v] = t.ab.eb.poll();
    expect(v!.buffer).toBe(before);
    expect(text(v!.bytes)).toBe('same as ever');
  });
});

describe('a relay that forwards everything it receives', () => {
  it('waiting for the next message, it reads the grantee\'s returns, so its peer gets its buffers back and sends again', async () => {
    const t = triangle();
    // A fills every buffer; B forwards each to C; C reads each and gives it back.
    for (let i = 0; i < N; i++) sendText(t.ab.ea, `m${i}`);
    for (const v of t.ab.eb.poll()) await t.ab.eb.forward(v, t.bc.ea);
    for (let i = 0; i < N; i++) (await t.bc.eb.receive(1000))!.release();
    // A waits for a buffer, B for the next message: B must read C's returns meanwhile, or
    // neither ever moves (the relay benchmark's stall).
    const next = t.ab.eb.receive(2000);
    const buf = await t.ab.ea.allocAsync(1000);
    expect(buf, 'A got a (renewed) buffer back while B waited').not.toBeNull();
    new TextEncoder().encodeInto('next', buf!.bytes);
    t.ab.ea.send(buf!, 4);
    const v = await next;
    expect(v && text(v.bytes)).toBe('next');
    expect(t.ab.ea.stats.renewed).toBe(N);
  });
});
