// Node: the guest's ring channel with two requests in flight, dom0's side played by the
// test. The pump waits for answers synchronously (a poll, then Atomics.wait), so code
// awaiting a request that was answered must get to run before the pump waits for the other
// request: otherwise a guest sees its first answer no sooner than its second, and a guest
// that keeps the ring fed cannot put its next batch on while the last one is served.
// `stats.sleeps` counts the pump's falls from its synchronous wait to the event loop; it is
// what tells "ran before the pump waited again" from "ran once the pump gave up waiting".
// The completion ring's event index tells whether the pump has waited at all: requests
// made in the same turn must all be on the ring before its first wait.
import { describe, expect, it } from 'vitest';
import { RingChannel } from '../../guest/channel';
import { initRing, RingConsumer, RingProducer } from '../../shared/ring';
import { domainLayout } from '../../shared/memory-layout';
import { RING_PROD_EVENT_I32, ringBytes } from '../../shared/ring-layout';
import { CPL_STATUS, CPL_TAG, ENTRY_WORDS, Op, REQ_LBA, REQ_TAG, Status } from '../../shared/protocol';

function setup() {
  const layout = domainLayout(16, 4096);
  const control = new SharedArrayBuffer(layout.totalBytes);
  initRing(control, layout.requestRing);
  initRing(control, layout.completionRing);
  const channel = new RingChannel(control, layout);
  const req = new RingConsumer(control, layout.requestRing);
  const cpl = new RingProducer(control, layout.completionRing);
  /** The requests on the ring now, as [tag, lba]. */
  const take = (): Array<[number, number]> => {
    const got: Array<[number, number]> = [];
    req.consume(Infinity, (e) => got.push([e[REQ_TAG]!, e[REQ_LBA]!]));
    return got;
  };
  const answer = (tags: number[]): void => {
    cpl.produce(tags.length, (w, base, i) => {
      for (let k = 0; k < ENTRY_WORDS; k++) w[base + k] = 0;
      w[base + CPL_TAG] = tags[i]!;
      w[base + CPL_STATUS] = Status.OK;
    });
    cpl.publish();
  };
  const cplHeader = new Int32Array(control, layout.completionRing.byteOffset, ringBytes(layout.completionRing.capacity, layout.completionRing.entryWords) / 4);
  /**
   * Whether the pump has waited for an answer yet: when its poll finds nothing it asks the
   * ring to notify it (sets the completion ring's event index, 0 until then) before it
   * blocks or sleeps, and with no answer coming it does that before it gives the thread back.
   */
  const pumpHasWaited = (): boolean => Atomics.load(cplHeader, RING_PROD_EVENT_I32) !== 0;
  return { channel, take, answer, pumpHasWaited };
}

const quiet = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('guest ring channel, requests in flight together', () => {
  it('two requests submitted in one turn are both on the ring before the pump first waits', async () => {
    const { channel, take, answer, pumpHasWaited } = setup();
    const first = channel.submit({ op: Op.READ, lba: 1 });
    const waitedBeforeSecond = pumpHasWaited();
    const second = channel.submit({ op: Op.READ, lba: 2 });
    expect(waitedBeforeSecond, 'the pump waited for the first answer before the second request was made').toBe(false);
    const reqs = take();
    expect(reqs.map(([, lba]) => lba)).toEqual([1, 2]);
    answer(reqs.map(([tag]) => tag));
    expect((await first).words[CPL_STATUS]).toBe(Status.OK);
    expect((await second).words[CPL_STATUS]).toBe(Status.OK);
  });

  it('the code awaiting an answered request runs before the pump waits for the other one', async () => {
    const { channel, take, answer } = setup();
    const first = (async () => {
      await channel.submit({ op: Op.READ, lba: 1 });
      return channel.stats.sleeps;
    })();
    const second = channel.submit({ op: Op.READ, lba: 2 });
    const reqs = take();
    expect(reqs.map(([, lba]) => lba)).toEqual([1, 2]);
    await quiet(); // the pump is asleep on the event loop now
    const sleepsBefore = channel.stats.sleeps;
    expect(sleepsBefore).toBeGreaterThan(0);
    answer([reqs[0]![0]]);
    // The answer woke the pump, which delivered it: its awaiter ran before the pump fell
    // asleep again waiting for the second answer, not after.
    expect(await first).toBe(sleepsBefore);
    await quiet();
    answer([reqs[1]![0]]);
    expect((await second).words[CPL_STATUS]).toBe(Status.OK);
  });

  it('a guest keeping two batches in flight puts its next on the ring before the pump waits for the other', async () => {
    const { channel, take, answer, pumpHasWaited } = setup();
    /** Per batch sent: its lane, and the pump's sleeps so far when it was sent. */
    const sent: Array<[number, number]> = [];
    let secondLaneAfterAWait: boolean | null = null;
    const lane = async (lba: number, batches: number): Promise<void> => {
      for (let b = 0; b < batches; b++) {
        if (lba === 2 && b === 0) secondLaneAfterAWait = pumpHasWaited();
        sent.push([lba, channel.stats.sleeps]);
        await channel.submitBatch({ op: Op.NOOP, lba }, 8);
      }
    };
    const lanes = Promise.all([lane(1, 2), lane(2, 1)]);
    // Both batches were in flight from the start, not the second once the pump gave up
    // waiting synchronously for the first.
    expect(secondLaneAfterAWait, 'the second lane sent its first batch only after the pump had waited').toBe(false);
    const firstTwo = take();
    expect(firstTwo.map(([, lba]) => lba)).toEqual([...new Array(8).fill(1), ...new Array(8).fill(2)]);
    await quiet();
    const sleepsBefore = channel.stats.sleeps;
    answer(firstTwo.slice(0, 8).map(([tag]) => tag)); // lane 1's batch only
    await quiet();
    const next = take();
    expect(next.map(([, lba]) => lba)).toEqual(new Array(8).fill(1));
    // Sent while the pump was still awake from delivering lane 1's answers.
    expect(sent[2]).toEqual([1, sleepsBefore]);
    answer([...firstTwo.slice(8), ...next].map(([tag]) => tag));
    await lanes;
    expect(sent.map(([lba]) => lba)).toEqual([1, 2, 1]);
  });
});
