// Node, one thread: the ring worker's relay (host/dom0/ring-relay.ts) between a guest's
// rings and dom0's RingPort, against dom0 serving the same guest's rings itself as the
// reference. An honest guest must not be able to tell the two apart: every request is
// answered once, with the same completion words. A hostile guest that breaks its rings, or
// floods them without taking completions, is faulted and holds bounded memory in the relay.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dom0Driver, type Domain } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { RingPort } from '../../host/dom0/ring-port';
import { RingRelay, RELAY_ALIVE_I32, RELAY_NOOPS_I32, innerRings } from '../../host/dom0/ring-relay';
import { RingConsumer, RingProducer, initRing } from '../../shared/ring';
import { RING_CONS_I32, RING_PROD_I32 } from '../../shared/ring-layout';
import { domainLayout, type DomainLayout } from '../../shared/memory-layout';
import { CPL_STATUS, CPL_TAG, ENTRY_WORDS, Op, REQ_LBA, REQ_OP, REQ_TAG, Status } from '../../shared/protocol';
import { fcParams } from '../helpers/seed';

const BS = 4096;
const BLOCKS = 8;
const CAPACITY = 8;

interface World {
  driver: Dom0Driver;
  d: Domain;
  layout: DomainLayout;
  control: SharedArrayBuffer;
  /** The guest's ends of its rings. */
  req: RingProducer;
  cpl: RingConsumer;
  port: RingPort;
  relay: RingRelay | null;
  inner: SharedArrayBuffer | null;
  faults: string[];
  /** Run both ends until nothing moves and dom0's reads have settled. */
  pump(): Promise<void>;
}

/** `quota` 6 of 16 frames: an honest guest's READs can be refused (QUOTA), which the model must agree on too. */
async function world(relayed: boolean, quota = 6): Promise<World> {
  const store = new MemoryBlockStore();
  const image = new Map(Array.from({ length: BLOCKS - 2 }, (_, i) => [i, new Uint8Array(BS).fill(i + 1)] as const));
  store.addVolume('img@s', { blocks: BLOCKS, blockBytes: BS, readOnly: true, group: 'g' }, image);
  store.cloneVolume('img@s', 'v');
  const driver = new Dom0Driver(store, { arenaFrames: 16, promoteAt: 2, quota, shared: true });
  const faults: string[] = [];
  driver.onFault = (_d, reason) => faults.push(reason);
  const d = await driver.createDomain('v');
  const layout = domainLayout(BLOCKS, BS, CAPACITY, 2);
  const control = new SharedArrayBuffer(layout.totalBytes);
  initRing(control, layout.requestRing);
  initRing(control, layout.completionRing);
  let relay: RingRelay | null = null;
  let inner: SharedArrayBuffer | null = null;
  let port: RingPort;
  if (relayed) {
    const made = innerRings(layout);
    inner = made.buffer;
    port = new RingPort(driver, d, control, layout, { rings: made, bell: new SharedArrayBuffer(4) });
    relay = new RingRelay(control, layout, inner, new SharedArrayBuffer(4));
    // As Dom0Service wires the ring worker's fault message.
    relay.onFault = (message) => driver.fault(d, message);
  } else {
    port = new RingPort(driver, d, control, layout);
  }
  const pump = async (): Promise<void> => {
    for (let quiet = 0; quiet < 3; ) {
      const moved = (relay?.poll() ?? 0) + port.poll() + (relay?.poll() ?? 0);
      await new Promise((r) => setImmediate(r));
      quiet = moved === 0 && !port.busy ? quiet + 1 : 0;
    }
  };
  return {
    driver,
    d,
    layout,
    control,
    req: new RingProducer(control, layout.requestRing),
    cpl: new RingConsumer(control, layout.completionRing),
    port,
    relay,
    inner,
    faults,
    pump,
  };
}

type Kind = 'noop' | 'read' | 'read-out-of-range' | 'unmap-unmapped';

function fillRequest(w: Int32Array, base: number, kind: Kind, lba: number, tag: number): void {
  w.fill(0, base, base + ENTRY_WORDS);
  w[base + REQ_TAG] = tag;
  w[base + REQ_LBA] = kind === 'read-out-of-range' ? BLOCKS + lba : lba;
  w[base + REQ_OP] = kind === 'noop' ? Op.NOOP : kind === 'unmap-unmapped' ? Op.UNMAP : Op.READ;
}

/** Every completion the guest takes, by tag: its words. */
function take(w: World, into: Map<number, number[]>, max = Infinity): number {
  return w.cpl.consume(max, (entry) => {
    const tag = entry[CPL_TAG]!;
    expect(into.has(tag), `tag ${tag} answered twice`).toBe(false);
    into.set(tag, [...entry]);
  });
}

type Step = { submit: { kind: Kind; lba: number }[] } | { take: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.record({
          kind: fc.constantFrom<Kind>('noop', 'noop', 'read', 'read', 'read-out-of-range', 'unmap-unmapped'),
          lba: fc.integer({ min: 0, max: BLOCKS - 1 }),
        }),
        { minLength: 1, maxLength: CAPACITY },
      )
      .map((submit) => ({ submit })),
  },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: CAPACITY }).map((n) => ({ take: n })) },
);

/**
 * An honest guest: it never has more requests outstanding than its completion ring holds.
 * Returns every completion by tag, after taking all of them at the end.
 */
async function play(w: World, steps: readonly Step[]): Promise<Map<number, number[]>> {
  const got = new Map<number, number[]>();
  let tag = 1;
  for (const s of steps) {
    if ('take' in s) take(w, got, s.take);
    else {
      const outstanding = tag - 1 - got.size;
      const n = Math.min(s.submit.length, CAPACITY - outstanding);
      const made = w.req.produce(n, (words, base, i) => fillRequest(words, base, s.submit[i]!.kind, s.submit[i]!.lba, tag + i));
      expect(made, 'the request ring has room for what an honest guest sends').toBe(n);
      tag += made;
      w.req.publish();
    }
    await w.pump();
  }
  for (let i = 0; i < 4 && got.size < tag - 1; i++) {
    take(w, got);
    await w.pump();
  }
  expect(got.size, 'every request answered').toBe(tag - 1);
  return got;
}

describe('the ring worker relay', () => {
  it('answers a NOOP itself, with the words dom0 would write, and counts it apart from dom0', async () => {
    const direct = await world(false);
    const relayed = await world(true);
    const answers: Map<number, number[]>[] = [];
    for (const w of [direct, relayed]) {
      w.req.produce(3, (words, base, i) => fillRequest(words, base, 'noop', 0, 10 + i));
      w.req.publish();
      await w.pump();
      const got = new Map<number, number[]>();
      expect(take(w, got)).toBe(3);
      answers.push(got);
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(direct.d.counters.requests).toBe(3);
    expect(relayed.d.counters.requests, 'dom0 never saw them').toBe(0);
    expect(new Int32Array(relayed.inner!, 0, 2)[RELAY_NOOPS_I32]).toBe(3);
  });

  it('an honest guest gets the same completions, word for word, as when dom0 serves its rings (model: dom0 alone)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const direct = await world(false);
        const want = await play(direct, steps);
        const relayed = await world(true);
        const got = await play(relayed, steps);
        expect(got).toEqual(want);
        expect(relayed.faults).toEqual(direct.faults);
        // What dom0 mapped for the domain is the same too.
        expect(relayed.d.shadow).toEqual(direct.d.shadow);
      }),
      fcParams({ numRuns: 60 }),
    );
  });

  it('hands every request but a NOOP to dom0 verbatim, so dom0 still validates it: an unknown opcode faults the domain', async () => {
    const w = await world(true);
    w.req.produce(1, (words, base) => {
      fillRequest(words, base, 'read', 1, 7);
      words[base + REQ_OP] = 99;
    });
    w.req.publish();
    await w.pump();
    expect(w.faults).toEqual(['unknown opcode 99 in request']);
  });

  it('a producer index past the ring faults the domain with the reason, and nothing more is relayed', async () => {
    const w = await world(true);
    const words = new Int32Array(w.control, w.layout.requestRing.byteOffset, 32);
    Atomics.store(words, RING_PROD_I32, 0x7fff_0000);
    await w.pump();
    expect(w.faults).toHaveLength(1);
    expect(w.faults[0]).toMatch(/^request ring: producer index .* capacity is 8/);
    expect(w.relay!.alive).toBe(false);
    expect(w.relay!.poll()).toBe(0);
  });

  it('a completion-ring consumer index the guest cannot have reached faults the domain', async () => {
    const w = await world(true);
    w.req.produce(2, (words, base, i) => fillRequest(words, base, 'noop', 0, 1 + i));
    w.req.publish();
    await w.pump();
    const words = new Int32Array(w.control, w.layout.completionRing.byteOffset, 32);
    Atomics.store(words, RING_CONS_I32, 5); // two published, five "consumed"
    w.req.produce(1, (words2, base) => fillRequest(words2, base, 'noop', 0, 3));
    w.req.publish();
    await w.pump();
    expect(w.faults).toHaveLength(1);
    expect(w.faults[0]).toMatch(/^completion ring: consumer index 5 is outside/);
  });

  it('a flood of NOOPs with no completion taken: faulted once the held answers pass the ring’s capacity, the relay holding at most that', async () => {
    const w = await world(true);
    let sent = 0;
    for (let i = 0; i < 10 && w.faults.length === 0; i++) {
      sent += w.req.produce(CAPACITY, (words, base, k) => fillRequest(words, base, 'noop', 0, sent + k + 1));
      w.req.publish();
      await w.pump();
    }
    expect(w.faults).toEqual(['guest stopped consuming completions (completion backlog over ring capacity)']);
    // The completion ring full (8), then more than 8 held: the fault came at the third ring-full of requests.
    expect(sent).toBeLessThanOrEqual(3 * CAPACITY);
    expect(w.relay!.alive).toBe(false);
  });

  it('READs the guest does not take are held back in dom0’s rings, not lost, and reach the guest once it takes completions', async () => {
    const w = await world(true, 16);
    const got = new Map<number, number[]>();
    // Two ring-fulls of READs, the second sent only after the first was taken from the request ring.
    for (let round = 0; round < 2; round++) {
      expect(w.req.produce(CAPACITY, (words, base, i) => fillRequest(words, base, 'read', i % (BLOCKS - 2), round * CAPACITY + i + 1))).toBe(CAPACITY);
      w.req.publish();
      await w.pump();
    }
    expect(w.faults).toEqual([]);
    while (got.size < 2 * CAPACITY) {
      expect(take(w, got), 'completions keep coming as the guest takes them').toBeGreaterThan(0);
      await w.pump();
    }
    for (const words of got.values()) expect(words[CPL_STATUS]).toBe(Status.OK);
  });

  it('while dom0 takes no requests, the relay leaves them in the guest’s ring: none dropped', async () => {
    const w = await world(true, 16);
    const send = (from: number): number => {
      const n = w.req.produce(CAPACITY, (words, base, i) => fillRequest(words, base, 'read', i % (BLOCKS - 2), from + i));
      w.req.publish();
      return n;
    };
    expect(send(1)).toBe(CAPACITY);
    expect(w.relay!.poll(), 'the first ring-full goes to dom0’s ring').toBe(CAPACITY);
    expect(send(1 + CAPACITY)).toBe(CAPACITY);
    expect(w.relay!.poll(), 'dom0’s ring is full').toBe(0);
    expect(w.req.freeSlots(), 'the second ring-full waits in the guest’s ring').toBe(0);
    const got = new Map<number, number[]>();
    for (let i = 0; i < 10 && got.size < 2 * CAPACITY; i++) {
      await w.pump();
      take(w, got);
    }
    expect([...got.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 2 * CAPACITY }, (_, i) => i + 1));
  });

  it('stops relaying once dom0 stops serving the domain', async () => {
    const w = await world(true);
    Atomics.store(new Int32Array(w.inner!, 0, 1), RELAY_ALIVE_I32, 0);
    w.req.produce(1, (words, base) => fillRequest(words, base, 'noop', 0, 1));
    w.req.publish();
    expect(w.relay!.poll()).toBe(0);
    expect(w.cpl.available()).toBe(0);
    expect(w.relay!.arm()).toBe(false);
  });
});
