// Node: attacks on inter-domain channels by a guest that controls its own code entirely
// (its rings, its IDC port, its requests to dom0), alone or with a colluding guest. Each
// test asserts a property the docs promise (docs/design.md "Inter-domain channels",
// docs/isolation.md section 4 item 11 and 12). Each failed before the fix it guards
// (attack review of 2026-12-03): host/page/channels.ts mustBothRun, idc-broker.ts
// forwardedBuffers, guest/idc.ts clearAround.
import { afterEach, describe, expect, it } from 'vitest';
import { IdcBroker, idcResult, type ChannelOptions } from '../../host/dom0/idc-broker';
import { Channels } from '../../host/page/channels';
import type { Dom0Service } from '../../host/dom0/dom0-service';
import type { Remote } from 'comlink';
import { IdcEndpoint, openIdc } from '../../guest/idc';
import { GT_SENT, Kind, type ChannelGrant } from '../../shared/idc-layout';
import { RingProducer } from '../../shared/ring';
import { controlOf } from './helpers/idc-control';

const N = 4;
const BYTES = 4096;

const settle = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the host page's control plane with dom0 behind comlink --------------------------------

/**
 * dom0 as the page sees it through comlink: each call runs in dom0 when it arrives (in
 * order), its answer comes back later. `holdOpen` keeps idcOpen's answer in flight (the
 * channel already made in dom0) until `releaseOpen()`, as a busy dom0 or a slow
 * structured clone of 2N SharedArrayBuffers would.
 */
function fakeDom0(broker: IdcBroker) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let opened!: () => void;
  const openCalled = new Promise<void>((r) => (opened = r));
  const dom0 = {
    idcOpen: async (a: number, b: number, opts: ChannelOptions = {}) => {
      const r = idcResult(() => broker.createChannel(a, b, opts, false));
      opened();
      await gate;
      return r;
    },
    idcGrant: async (from: number, c: number, buf: number, to: number) => idcResult(() => broker.grant(from, c, buf, to)),
    idcMap: async (d: number, ref: number) => idcResult(() => broker.map(d, ref)),
    idcEnd: async (d: number, ref: number) => idcResult(() => broker.end(d, ref)),
    idcCloseDomain: async (d: number) => broker.closeDomain(d),
    idcList: async () => ({ channels: broker.channelList(), grants: broker.grantList() }),
  };
  return { dom0: dom0 as unknown as Remote<Dom0Service>, releaseOpen: () => release(), openCalled };
}

const openPorts: MessagePort[] = [];
afterEach(() => {
  for (const p of openPorts.splice(0)) p.close();
});

function host() {
  const broker = new IdcBroker();
  const f = fakeDom0(broker);
  const channels = new Channels(f.dom0);
  channels.allow(1, 2);
  const portA = channels.attach(1);
  const portB = channels.attach(2);
  openPorts.push(portA, portB);
  return { broker, channels, portA, portB, ...f };
}

describe('a domain that ends while a channel to or from it is being made (host/page/channels.ts)', () => {
  // docs/isolation.md 4.11: "when a guest ends, the page tells each peer (an IDC closed
  // notice): the peer's endpoint faults ... and leaves idc.channels(), where before it kept
  // the channel's memory and waited on it for ever". The page records who holds a channel
  // only after dom0 answered idcOpen; a detach in that window tells nobody.
  it('the asker ends (killed, faulted, or ending itself) while its connect is in dom0: the peer is not left with a live channel to a dead domain', async () => {
    const h = host();
    const b = openIdc(h.portB);
    // Guest 1 is hostile: a raw connect on its IDC port, then it ends.
    h.portA.postMessage({ op: 'connect', tag: 1, peer: 2 });
    await h.openCalled; // dom0 has made the channel; its answer is on the way
    await h.channels.detach(1);
    h.releaseOpen();
    await settle();
    expect(h.broker.channelList(), 'dom0 dropped the channel with domain 1').toEqual([]);
    expect.soft(h.channels.heldBy(1), 'the page keeps a record for ended domain 1').toEqual([]);
    const live = b.channels().filter((ep) => ep.peer === 1 && ep.fault === null);
    expect(live.map((ep) => ep.channelId), 'guest 2 still holds a live channel to ended guest 1').toEqual([]);
  });

  it('the peer ends while the asker\'s connect is in dom0: the asker\'s channel is not left live with a dead peer', async () => {
    const h = host();
    const a = openIdc(h.portA);
    const pending = a.connect(2);
    await h.openCalled;
    await h.channels.detach(2);
    h.releaseOpen();
    const ep = await pending.catch(() => null);
    await settle();
    expect(h.broker.channelList(), 'dom0 dropped the channel with domain 2').toEqual([]);
    expect(ep === null || ep.fault !== null, `connect resolved with channel ${ep?.channelId} to ended guest 2, not faulted`).toBe(true);
    expect(a.channels().filter((e) => e.peer === 2 && e.fault === null)).toEqual([]);
  });
});

// ---- grants of a retired buffer ----------------------------------------------------------

const rawBack = (g: ChannelGrant) => new RingProducer(g.control, g.layout.rings[2 * (1 - g.side) + 1]!);

describe('dom0 grants only a buffer the asker holds now (docs/design.md "Transitive hand-off")', () => {
  // idc-broker.ts grant(): "a buffer already back with its owner is never granted". Once a
  // buffer was forwarded, its owner retires it when it comes back and leaves its
  // grant-table word as SENT|FORWARDED, which reads "lent" for ever: dom0 must remember
  // that the buffer was forwarded, not trust the word.
  it('a buffer forwarded once, given back, and taken back (retired) by its owner is not granted again', async () => {
    const broker = new IdcBroker();
    const [gab, gba] = broker.createChannel(1, 2, { buffersPerSide: N, bufferBytes: BYTES });
    const [gbc] = broker.createChannel(2, 3, { buffersPerSide: N, bufferBytes: BYTES });
    const [gbd] = broker.createChannel(2, 4, { buffersPerSide: N, bufferBytes: BYTES });
    const a = new IdcEndpoint(gab, controlOf(broker, 1));
    const buf = a.alloc()!;
    buf.bytes.set([1, 2, 3]);
    a.send(buf, 3);
    // Hostile B (2): forward to C (3), end the grant, give the buffer back to A.
    const ref = broker.grant(2, gba.channelId, buf.id, gbc.channelId);
    broker.end(2, ref);
    const back = rawBack(gba);
    expect(back.tryPush([Kind.BUFFER, buf.id, 0, 0])).toBe(true);
    back.publish();
    a.reclaim();
    expect(a.stats.retired, 'A took the buffer back and retired it').toBe(1);
    // B no longer holds it. dom0 must refuse, to C again or to D (4), who never had it.
    expect(() => broker.grant(2, gba.channelId, buf.id, gbd.channelId), 'granted a buffer its owner has taken back').toThrow(
      expect.objectContaining({ code: 'grant-refused' }),
    );
  });

  it('C and D, never allowed to talk, do not end up sharing one SharedArrayBuffer that outlives B', async () => {
    const broker = new IdcBroker();
    const [gab, gba] = broker.createChannel(1, 2, { buffersPerSide: N, bufferBytes: BYTES });
    const [gbc] = broker.createChannel(2, 3, { buffersPerSide: N, bufferBytes: BYTES });
    const [gbd] = broker.createChannel(2, 4, { buffersPerSide: N, bufferBytes: BYTES });
    const a = new IdcEndpoint(gab, controlOf(broker, 1));
    const buf = a.alloc()!;
    a.send(buf, 8);
    const r1 = broker.grant(2, gba.channelId, buf.id, gbc.channelId);
    const forC = broker.map(3, r1).buffer;
    broker.end(2, r1);
    const back = rawBack(gba);
    back.tryPush([Kind.BUFFER, buf.id, 0, 0]);
    back.publish();
    a.reclaim();
    let forD: SharedArrayBuffer | null = null;
    try {
      const r2 = broker.grant(2, gba.channelId, buf.id, gbd.channelId);
      forD = broker.map(4, r2).buffer;
    } catch {
      forD = null;
    }
    broker.closeDomain(2); // B ends; C and D keep what they were handed
    expect(forD === forC, 'C (3) and D (4) hold the same SharedArrayBuffer').toBe(false);
  });

  it('an owner that rewrites its grant-table word back to "sent" does not get a forwarded buffer granted again', async () => {
    const broker = new IdcBroker();
    const [gab, gba] = broker.createChannel(1, 2, { buffersPerSide: N, bufferBytes: BYTES });
    const [gbc] = broker.createChannel(2, 3, { buffersPerSide: N, bufferBytes: BYTES });
    const [gbd] = broker.createChannel(2, 4, { buffersPerSide: N, bufferBytes: BYTES });
    const a = new IdcEndpoint(gab, controlOf(broker, 1));
    const buf = a.alloc()!;
    a.send(buf, 8);
    const ref = broker.grant(2, gba.channelId, buf.id, gbc.channelId);
    broker.end(2, ref);
    // A colludes: its table word says "lent, never forwarded" again.
    const table = new Int32Array(gab.grantTable);
    const i = buf.id - gab.side * N;
    Atomics.store(table, i, GT_SENT);
    expect(() => broker.grant(2, gba.channelId, buf.id, gbd.channelId)).toThrow(expect.objectContaining({ code: 'grant-refused' }));
    // While the first grant still stands, too.
    const [gab2, gba2] = broker.createChannel(1, 2, { buffersPerSide: N, bufferBytes: BYTES });
    const a2 = new IdcEndpoint(gab2, controlOf(broker, 1));
    const buf2 = a2.alloc()!;
    a2.send(buf2, 8);
    broker.grant(2, gba2.channelId, buf2.id, gbc.channelId);
    Atomics.store(new Int32Array(gab2.grantTable), buf2.id - gab2.side * N, GT_SENT);
    expect(() => broker.grant(2, gba2.channelId, buf2.id, gbd.channelId)).toThrow(expect.objectContaining({ code: 'grant-refused' }));
  });
});

// ---- what a grantee can read of the granted buffer ----------------------------------------

describe('a grant lends one message, not what the buffer held before (docs/design.md "Transitive hand-off")', () => {
  // A and B are honest; C is B's client and hostile. A sent B a message meant for B only,
  // then reused the buffer (the runtime's free list hands the same buffer out again) for a
  // short message that B forwards to C. dom0 maps the whole SharedArrayBuffer for C
  // (idc-broker.ts map): the forwarder zeroes the bytes around the message first.
  it('the grantee reads only the forwarded range: no byte of an earlier A-to-B message', async () => {
    const broker = new IdcBroker();
    const [gab, gba] = broker.createChannel(1, 2, { buffersPerSide: N, bufferBytes: BYTES });
    const [gbc, gcb] = broker.createChannel(2, 3, { buffersPerSide: N, bufferBytes: BYTES });
    const a = new IdcEndpoint(gab, controlOf(broker, 1));
    const b = new IdcEndpoint(gba, controlOf(broker, 2));
    const bToC = new IdcEndpoint(gbc, controlOf(broker, 2));
    const c = new IdcEndpoint(gcb, controlOf(broker, 3));
    const secret = new TextEncoder().encode('for-B-only:'.padEnd(64, '#'));
    const first = a.alloc()!;
    first.bytes.set(secret);
    a.send(first, secret.length);
    const [m1] = b.poll();
    expect(m1!.bytes.slice(0, 11)).toEqual(secret.slice(0, 11));
    m1!.release();
    a.reclaim();
    const second = a.alloc()!;
    expect(second.id, 'the same buffer again (LIFO free list)').toBe(first.id);
    second.bytes.set([0x68, 0x69]); // "hi", for anyone
    a.send(second, 2);
    const [m2] = b.poll();
    await b.forward(m2!, bToC);
    const got = await c.receive(1000);
    expect(got!.length).toBe(2);
    // Hostile C looks past its view: the view is a Uint8Array on the whole buffer.
    const whole = new Uint8Array(got!.bytes.buffer);
    const leaked = new TextDecoder().decode(whole.subarray(2, secret.length));
    expect(leaked, 'C read bytes of A\'s earlier message to B').not.toContain('r-B-only');
  });
});
