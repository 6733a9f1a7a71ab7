// Node: a grant ref maps once (host/dom0/idc-broker.ts `map`). Before, a hostile owner B that
// posted one ref on two channels to C (or twice on one) had C's runtime map it twice, and
// B's revocation stopped only one of the two views (review of 2026-11-30). The attacks are
// raw GRANT descriptors on B's tx rings; C is the honest runtime. End to end, between real
// guests: test/browser/idc-grant-once.test.ts.
import { describe, expect, it } from 'vitest';
import { IdcBroker } from '../../host/dom0/idc-broker';
import { IdcEndpoint } from '../../guest/idc';
import { Kind, type ChannelGrant } from '../../shared/idc-layout';
import { RingProducer } from '../../shared/ring';
import { controlOf } from './helpers/idc-control';

const N = 4;
const BYTES = 4096;

const rawTx = (g: ChannelGrant) => new RingProducer(g.control, g.layout.rings[2 * g.side]!);
function push(g: ChannelGrant, ...entries: number[][]): void {
  const tx = rawTx(g);
  for (const e of entries) expect(tx.tryPush(e)).toBe(true);
  tx.publish();
}

/** A (1) sends B (2) a buffer; B holds it and has a grant ref for C (3) on channel `bc1`. */
async function granted() {
  const broker = new IdcBroker();
  const [gab, gba] = broker.createChannel(1, 2, { buffersPerSide: N, bufferBytes: BYTES });
  const [gbc1, gcb1] = broker.createChannel(2, 3, { buffersPerSide: N, bufferBytes: BYTES });
  const [gbc2, gcb2] = broker.createChannel(2, 3, { buffersPerSide: N, bufferBytes: BYTES });
  const a = new IdcEndpoint(gab, controlOf(broker, 1));
  const c1 = new IdcEndpoint(gcb1, controlOf(broker, 3));
  const c2 = new IdcEndpoint(gcb2, controlOf(broker, 3));
  const buf = a.alloc()!;
  buf.bytes.set([7, 7, 7]);
  a.send(buf, 3);
  // B is hostile: it asks dom0 itself and writes its rings by hand.
  const ref = broker.grant(2, gba.channelId, buf.id, gbc1.channelId);
  return { broker, ref, gbc1, gbc2, c1, c2 };
}

describe('dom0 maps a grant once', () => {
  it('the grantee\'s second map is refused as grant-mapped; after revocation as grant-revoked', async () => {
    const { broker, ref } = await granted();
    expect(broker.map(3, ref).bytes).toBe(BYTES);
    expect(() => broker.map(3, ref)).toThrow(expect.objectContaining({ name: 'IdcError', code: 'grant-mapped' }));
    broker.end(2, ref);
    expect(() => broker.map(3, ref)).toThrow(expect.objectContaining({ code: 'grant-revoked' }));
  });
});

describe('a hostile owner posting one grant ref twice to the same grantee', () => {
  it('on two channels: C views it on the first, the second is refused and returned; revocation leaves no view of it', async () => {
    const { ref, gbc1, gbc2, c1, c2 } = await granted();
    push(gbc1, [Kind.GRANT, ref, 0, 3]);
    push(gbc2, [Kind.GRANT, ref, 0, 3]);
    const first = await c1.receive(1000);
    expect(first?.bytes[0]).toBe(7);
    expect(await c2.receive(200), 'a second view of the same grant').toBeNull();
    expect(c2.stats.refused.grantRefused).toBe(1);
    expect(c2.lastRefusal).toMatch(/already mapped/);
    // The owner revokes; the host tells every endpoint of C (guest/idc.ts `Idc`).
    expect(c1.revoked(ref)).toBe(true);
    expect(c2.revoked(ref)).toBe(false);
    expect(() => first!.bytes).toThrow(expect.objectContaining({ code: 'grant-revoked' }));
    expect(c1.fault ?? c2.fault).toBeNull();
  });

  it('twice in one batch on one channel (the first map still in flight): one view, the second refused', async () => {
    const { ref, gbc1, c1 } = await granted();
    push(gbc1, [Kind.GRANT, ref, 0, 3], [Kind.GRANT, ref, 0, 3]);
    const first = await c1.receive(1000);
    expect(first?.bytes[0]).toBe(7);
    expect(await c1.receive(200)).toBeNull();
    expect(c1.stats.grantsMapped).toBe(1);
    expect(c1.revoked(ref)).toBe(true);
    expect(() => first!.bytes).toThrow(expect.objectContaining({ code: 'grant-revoked' }));
  });
});
