// Node: the guest's ring channel with nobody serving it. A request outstanding when the
// host marks the ring closed (dom0 gone) or when the completion ring faults must reject
// with ChannelClosedError naming the cause, promptly (the pump is woken, it does not wait
// out a timeout loop for ever), and every later request must reject at once, async or sync.
import { describe, expect, it } from 'vitest';
import { ChannelClosedError, RingChannel, closeAllChannels } from '../../guest/channel';
import { initRing, RingConsumer, RingProducer } from '../../shared/ring';
import { domainLayout } from '../../shared/memory-layout';
import { RING_CLOSED_I32, RING_PROD_I32 } from '../../shared/ring-layout';
import { CPL_STATUS, CPL_TAG, ENTRY_WORDS, Op, REQ_TAG } from '../../shared/protocol';

function setup() {
  const layout = domainLayout(16, 65536);
  const control = new SharedArrayBuffer(layout.totalBytes);
  initRing(control, layout.requestRing);
  initRing(control, layout.completionRing);
  const channel = new RingChannel(control, layout);
  const header = new Int32Array(control, layout.completionRing.byteOffset, 32);
  /** dom0's side, for the tests that answer some requests first. */
  const dom0 = { req: new RingConsumer(control, layout.requestRing), cpl: new RingProducer(control, layout.completionRing) };
  return { layout, control, channel, header, dom0 };
}

/** Settles within the test's timeout or the test fails: a hung pump is a failure, not a slow pass. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => 'resolved', (e: unknown) => e);
}

describe('guest ring channel liveness', () => {
  it('outstanding requests reject with DOM0_GONE when the host marks the ring closed, later ones at once', async () => {
    const { channel, header } = setup();
    const reads = [channel.submit({ op: Op.READ, lba: 1 }), channel.submit({ op: Op.READ, lba: 2 }), channel.submitBatch({ op: Op.NOOP, lba: 0 }, 3)];
    // Let the pump reach its wait: nothing will ever answer.
    await new Promise((r) => setTimeout(r, 20));
    Atomics.store(header, RING_CLOSED_I32, 1);
    Atomics.notify(header, RING_PROD_I32);
    for (const r of reads) {
      const e = await outcome(r);
      expect(e).toBeInstanceOf(ChannelClosedError);
      expect(e).toMatchObject({ code: 'DOM0_GONE' });
    }
    await expect(channel.submit({ op: Op.READ, lba: 3 })).rejects.toMatchObject({ name: 'ChannelClosedError', code: 'DOM0_GONE' });
    expect(() => channel.submitSync({ op: Op.READ, lba: 3 })).toThrow(ChannelClosedError);
  });

  it('a completion ring that faults under a waiting pump rejects every outstanding request with RING_FAULT', async () => {
    const { channel, header, layout } = setup();
    const r = channel.submit({ op: Op.READ, lba: 1 });
    await new Promise((res) => setTimeout(res, 20));
    // A producer index impossibly far ahead: the consumer must fault, not wait.
    Atomics.store(header, RING_PROD_I32, layout.completionRing.capacity * 4);
    Atomics.notify(header, RING_PROD_I32);
    const e = await outcome(r);
    expect(e).toMatchObject({ name: 'ChannelClosedError', code: 'RING_FAULT' });
    expect((e as Error).message).toMatch(/completion ring: producer index/);
    await expect(channel.submit({ op: Op.READ, lba: 2 })).rejects.toMatchObject({ code: 'RING_FAULT' });
  });

  it('a throw inside the un-awaited pump settles the outstanding reads', async () => {
    const { channel, dom0 } = setup();
    const throwing = channel.submitBatch({ op: Op.NOOP, lba: 0 }, 1);
    const other = channel.submit({ op: Op.READ, lba: 5 });
    // dom0 answers only the batch; the batch's handler is made to throw while the pump delivers it.
    const tags: number[] = [];
    dom0.req.consume(Infinity, (e) => tags.push(e[REQ_TAG]!));
    expect(tags).toHaveLength(2);
    const pending = (channel as unknown as { pending: Map<number, { onReply: (e: Int32Array) => void }> }).pending;
    pending.get(tags[0]!)!.onReply = () => {
      throw new Error('handler blew up');
    };
    dom0.cpl.produce(1, (w, base) => {
      for (let k = 0; k < ENTRY_WORDS; k++) w[base + k] = 0;
      w[base + CPL_TAG] = tags[0]!;
      w[base + CPL_STATUS] = 0;
    });
    dom0.cpl.publish();
    const e = await outcome(other);
    expect(e).toMatchObject({ name: 'ChannelClosedError', code: 'RING_FAULT' });
    expect((e as Error).message).toMatch(/handler blew up/);
    void throwing.catch(() => undefined);
  });

  it('closeAllChannels (what the bootstrap does on the host\'s word) fails outstanding requests', async () => {
    const { channel } = setup();
    const r = channel.submit({ op: Op.READ, lba: 1 });
    closeAllChannels('DOM0_GONE', 'aborted by the test');
    await expect(r).rejects.toThrow(/dom0 is gone: aborted by the test/);
  });
});
