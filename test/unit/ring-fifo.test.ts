// Node: property tests of the ring's FIFO contract over random interleavings of produce,
// publish and consume, at random start indices (so wrap-around at 2^32 is exercised).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RingConsumer, RingProducer, initRing } from '../../shared/ring';
import { ringBytes, ringGeometry } from '../../shared/ring-layout';
import { fcParams } from '../helpers/seed.ts';

function makeRing(capacity: number, entryWords: number, start: number) {
  const g = ringGeometry(64, capacity, entryWords);
  const sab = new SharedArrayBuffer(64 + ringBytes(capacity, entryWords));
  initRing(sab, g, start);
  return { g, sab, producer: new RingProducer(sab, g), consumer: new RingConsumer(sab, g) };
}

type Op = { kind: 'produce'; n: number } | { kind: 'publish' } | { kind: 'consume'; n: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('produce' as const), n: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('publish' as const) }),
  fc.record({ kind: fc.constant('consume' as const), n: fc.integer({ min: 0, max: 40 }) }),
);

describe('ring FIFO', () => {
  it('never loses, duplicates or reorders an entry, whatever the interleaving and start index', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 4, 8, 16, 32),
        fc.integer({ min: 1, max: 6 }),
        fc.oneof(fc.constant(0), fc.constant(0xffff_fff0), fc.integer({ min: 0, max: 0xffff_ffff })),
        fc.array(opArb, { maxLength: 120 }),
        (capacity, entryWords, start, ops) => {
          const { producer, consumer } = makeRing(capacity, entryWords, start);
          let nextSeq = 0;
          let published = 0;
          let expectSeq = 0;
          for (const op of ops) {
            if (op.kind === 'produce') {
              const before = nextSeq;
              const made = producer.produce(op.n, (w, base) => {
                for (let k = 0; k < entryWords; k++) w[base + k] = nextSeq * 7 + k;
                nextSeq++;
              });
              // Never more than asked, never more than free space, never fewer than both allow.
              const outstanding = before - expectSeq;
              expect(made).toBe(Math.min(op.n, capacity - outstanding));
            } else if (op.kind === 'publish') {
              producer.publish();
              published = nextSeq;
            } else {
              const visible = published - expectSeq;
              const got = consumer.consume(op.n, (entry) => {
                for (let k = 0; k < entryWords; k++) expect(entry[k]).toBe(expectSeq * 7 + k);
                expectSeq++;
              });
              expect(got).toBe(Math.min(op.n, visible));
            }
          }
          producer.publish();
          consumer.consume(Infinity, (entry) => {
            expect(entry[0]).toBe(expectSeq * 7);
            expectSeq++;
          });
          expect(expectSeq).toBe(nextSeq);
          expect(producer.fault).toBeNull();
          expect(consumer.fault).toBeNull();
        },
      ),
      fcParams({ numRuns: 400 }),
    );
  });

  it('wraps the free-running 32-bit index at 2^32 without a hiccup', () => {
    const { producer, consumer, sab, g } = makeRing(8, 2, 0xffff_fffa);
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      expect(producer.produce(5, (w, base, i) => { w[base] = round * 5 + i; w[base + 1] = -1; })).toBe(5);
      producer.publish();
      consumer.consume(10, (e) => seen.push(e[0]!));
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // The published index really did wrap through zero.
    const prod = new Int32Array(sab, g.byteOffset, 1)[0]! >>> 0;
    expect(prod).toBe((0xffff_fffa + 25) >>> 0);
    expect(prod).toBeLessThan(0xffff_fffa);
  });

  it('reports a full ring and an empty ring without blocking or throwing', () => {
    const { producer, consumer } = makeRing(4, 1, 0);
    expect(consumer.available()).toBe(0);
    expect(consumer.consume(10, () => { throw new Error('must not be called on an empty ring'); })).toBe(0);
    expect(producer.produce(10, (w, b, i) => { w[b] = i; })).toBe(4);
    expect(producer.tryPush([99])).toBe(false);
    expect(producer.freeSlots()).toBe(0);
    producer.publish();
    expect(consumer.available()).toBe(4);
    expect(consumer.consume(1, () => {})).toBe(1);
    expect(producer.freeSlots()).toBe(1);
    expect(producer.tryPush([99])).toBe(true);
    producer.publish();
    const rest: number[] = [];
    consumer.consume(10, (e) => rest.push(e[0]!));
    expect(rest).toEqual([1, 2, 3, 99]);
  });

  it('rejects geometries that break the layout rules', () => {
    expect(() => ringGeometry(0, 3, 4)).toThrow(/power of two/);
    expect(() => ringGeometry(0, 1, 4)).toThrow(/power of two/);
    expect(() => ringGeometry(10, 4, 4)).toThrow(/multiple of 64/);
    expect(() => ringGeometry(0, 4, 0)).toThrow(/entryWords/);
    const g = ringGeometry(0, 1024, 8);
    expect(() => initRing(new SharedArrayBuffer(100), g)).toThrow(RangeError);
  });
});
