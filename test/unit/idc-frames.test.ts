// Node: a block as a channel payload. Same trust group: the descriptor names the block's
// frame in the arena both peers hold, the sender's lease is kept until the frame comes
// back, nothing is copied. Across groups, or a block in the sender's private frames: one
// copy into a pool buffer, counted. Hostile frame descriptors and returns are refused.
import { describe, expect, it, vi } from 'vitest';
import { IdcBroker } from '../../host/dom0/idc-broker';
import { IdcEndpoint, type GroupArena } from '../../guest/idc';
import { Kind } from '../../shared/idc-layout';
import { RingProducer } from '../../shared/ring';

const FB = 4096;

function setup(sameGroup: boolean) {
  const arena: GroupArena = { buffer: new SharedArrayBuffer(8 * FB), frames: 8, frameBytes: FB };
  const [ga, gb] = new IdcBroker().createChannel(1, 2, { buffersPerSide: 2, bufferBytes: FB }, sameGroup);
  new Uint8Array(arena.buffer, 3 * FB, FB).fill(0x33);
  const block = (frame: number) => ({ bytes: new Uint8Array(arena.buffer, frame * FB, FB), release: vi.fn() });
  return { arena, ga, gb, ea: new IdcEndpoint(ga, null, arena), eb: new IdcEndpoint(gb, null, arena), block };
}

describe('blocks as payload', () => {
  it('same group: the frame itself, lease held until the peer gives it back, 0 bytes copied', () => {
    const s = setup(true);
    const blk = s.block(3);
    expect(s.ea.sendBlock(blk)).toBe('frame');
    const [v] = s.eb.poll();
    expect(v!.kind).toBe(Kind.FRAME);
    expect(v!.bytes.buffer).toBe(s.arena.buffer);
    expect(v!.bytes.byteOffset).toBe(3 * FB);
    expect(v!.bytes[100]).toBe(0x33);
    s.ea.reclaim();
    expect(blk.release).not.toHaveBeenCalled(); // the frame is lent: the lease stays
    v!.release();
    s.ea.reclaim();
    expect(blk.release).toHaveBeenCalledTimes(1);
    expect(s.ea.stats).toMatchObject({ framesSent: 1, bytesCopied: 0, returned: 1 });
    expect(s.eb.stats.bytesCopied).toBe(0);
  });

  it('the same block sent twice is two messages, each holding its own lease', () => {
    const s = setup(true);
    const [b1, b2] = [s.block(3), s.block(3)];
    s.ea.sendBlock(b1);
    s.ea.sendBlock(b2);
    const views = s.eb.poll();
    expect(views).toHaveLength(2);
    views[0]!.release();
    s.ea.reclaim();
    expect(b1.release.mock.calls.length + b2.release.mock.calls.length).toBe(1);
    views[1]!.release();
    s.ea.reclaim();
    expect(b1.release.mock.calls.length + b2.release.mock.calls.length).toBe(2);
  });

  it('across groups: copied once into a pool buffer, counted, and the lease goes at once', () => {
    const s = setup(false);
    const blk = s.block(3);
    expect(s.ea.sendBlock(blk)).toBe('copied');
    expect(blk.release).toHaveBeenCalledTimes(1);
    const [v] = s.eb.poll();
    expect(v!.kind).toBe(Kind.BUFFER);
    expect(v!.bytes.buffer).not.toBe(s.arena.buffer);
    expect(v!.bytes[100]).toBe(0x33);
    expect(s.ea.stats).toMatchObject({ framesSent: 0, bytesCopied: FB });
  });

  it('a block in the sender\'s private frames is copied even within the group', () => {
    const s = setup(true);
    const priv = { bytes: new Uint8Array(new SharedArrayBuffer(FB)).fill(7), release: vi.fn() };
    expect(s.ea.sendBlock(priv)).toBe('copied');
    expect(s.eb.poll()[0]!.bytes.buffer).not.toBe(priv.bytes.buffer);
    expect(s.ea.stats.bytesCopied).toBe(FB);
  });

  it('refuses frame descriptors across groups, outside the arena or the frame, and frames returned but not lent', () => {
    const cross = setup(false);
    const txc = new RingProducer(cross.ga.control, cross.ga.layout.rings[0]!);
    txc.tryPush([Kind.FRAME, 3, 0, 16]);
    txc.publish();
    expect(cross.eb.poll()).toHaveLength(0);
    expect(cross.eb.lastRefusal).toMatch(/between trust groups/);

    const s = setup(true);
    const tx = new RingProducer(s.ga.control, s.ga.layout.rings[0]!);
    for (const e of [[Kind.FRAME, 8, 0, 16], [Kind.FRAME, -1, 0, 16], [Kind.FRAME, 2, FB - 8, 16]]) tx.tryPush(e);
    tx.publish();
    expect(s.eb.poll()).toHaveLength(0);
    expect(s.eb.stats.refused).toMatchObject({ garbage: 2, outOfRange: 1 });
    const back = new RingProducer(s.gb.control, s.gb.layout.rings[1]!);
    back.tryPush([Kind.FRAME, 3, 0, 0]);
    back.publish();
    s.ea.reclaim();
    expect(s.ea.stats.refused.doubleRelease).toBe(1);
  });
});
