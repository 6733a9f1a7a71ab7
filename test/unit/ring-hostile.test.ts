// Node: each end treats the other as hostile. A peer that writes impossible indices is
// recorded as a fault of that peer; nothing is thrown into the other end's loop.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RingConsumer, RingProducer, initRing, type RingFault } from '../../shared/ring';
import { RING_CONS_I32, RING_PROD_I32, ringBytes, ringGeometry } from '../../shared/ring-layout';
import { fcParams } from '../helpers/seed.ts';

function makeRing(capacity = 8, entryWords = 4, start = 0) {
  const g = ringGeometry(0, capacity, entryWords);
  const sab = new SharedArrayBuffer(ringBytes(capacity, entryWords));
  initRing(sab, g, start);
  return { sab, words: new Int32Array(sab), producer: new RingProducer(sab, g), consumer: new RingConsumer(sab, g) };
}

describe('hostile producer', () => {
  it('is faulted for publishing more entries than the ring holds, and its entries are never handled', () => {
    const { words, consumer } = makeRing(8);
    const faults: RingFault[] = [];
    consumer.onFault = (f) => faults.push(f);
    Atomics.store(words, RING_PROD_I32, 9);
    let handled = 0;
    expect(() => consumer.consume(100, () => handled++)).not.toThrow();
    expect(handled).toBe(0);
    expect(consumer.fault?.kind).toBe('producer-overflow');
    expect(consumer.fault?.message).toMatch(/capacity is 8/);
    // Faulted once, and the ring stays stopped even if the producer "repairs" the index.
    Atomics.store(words, RING_PROD_I32, 1);
    expect(consumer.consume(100, () => handled++)).toBe(0);
    expect(faults).toHaveLength(1);
  });

  it('is faulted for moving its index backwards', () => {
    const { words, producer, consumer } = makeRing(8, 1, 100);
    producer.produce(3, (w, b, i) => { w[b] = i; });
    producer.publish();
    expect(consumer.consume(3, () => {})).toBe(3);
    Atomics.store(words, RING_PROD_I32, 101);
    expect(consumer.available()).toBe(0);
    expect(consumer.fault?.kind).toBe('producer-overflow');
  });

  it('cannot change an entry while the consumer is handling it (copied out first)', () => {
    const { words, producer, consumer } = makeRing(4, 4);
    producer.tryPush([1, 2, 3, 4]);
    producer.publish();
    consumer.consume(1, (entry) => {
      const first = Array.from(entry);
      // The producer rewrites the live slot mid-handling (a TOCTOU attack).
      words.fill(666, 32, 32 + 16);
      expect(Array.from(entry)).toEqual(first);
      expect(first).toEqual([1, 2, 3, 4]);
    });
  });

  it('never makes the consumer throw, whatever garbage is in shared memory', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 200 }), (garbage) => {
        const { words, consumer } = makeRing(8, 4);
        for (let i = 0; i < words.length; i++) words[i] = garbage[i % garbage.length]!;
        // The consumer owns its cursor (0 since init); the shared CONS word it ignores.
        const avail = (words[RING_PROD_I32]! >>> 0) - 0;
        let handled = 0;
        expect(() => {
          consumer.consume(1000, () => handled++);
          consumer.consume(1000, () => handled++);
        }).not.toThrow();
        if (avail > 8) expect(consumer.fault?.kind).toBe('producer-overflow');
        else expect(handled).toBe(avail);
      }),
      fcParams({ numRuns: 100 }),
    );
  });
});

describe('hostile consumer', () => {
  it('is faulted for claiming entries that were never published', () => {
    const { words, producer } = makeRing(8, 1);
    producer.produce(2, (w, b) => { w[b] = 1; });
    producer.publish();
    Atomics.store(words, RING_CONS_I32, 5);
    expect(producer.freeSlots()).toBe(0);
    expect(producer.fault?.kind).toBe('consumer-overrun');
    expect(producer.produce(1, () => {})).toBe(0);
  });

  it('is faulted for moving its index backwards', () => {
    const { words, producer, consumer } = makeRing(8, 1, 50);
    producer.produce(4, (w, b) => { w[b] = 1; });
    producer.publish();
    consumer.consume(4, () => {});
    expect(producer.freeSlots()).toBe(8);
    Atomics.store(words, RING_CONS_I32, 49);
    expect(producer.freeSlots()).toBe(0);
    expect(producer.fault?.kind).toBe('consumer-overrun');
  });
});
