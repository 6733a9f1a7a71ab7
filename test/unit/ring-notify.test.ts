// Node: the event-index protocol. A producer notifies only when the consumer has said it
// may sleep (Xen's req_event); a busy consumer costs no notify per entry or per batch.
import { describe, expect, it } from 'vitest';
import { RingConsumer, RingProducer, initRing } from '../../shared/ring';
import { ringBytes, ringGeometry } from '../../shared/ring-layout';

function makeRing(capacity = 16) {
  const g = ringGeometry(0, capacity, 2);
  const sab = new SharedArrayBuffer(ringBytes(capacity, 2));
  initRing(sab, g);
  return { producer: new RingProducer(sab, g), consumer: new RingConsumer(sab, g) };
}
const fill = (w: Int32Array, b: number, i: number): void => { w[b] = i; };

describe('ring notifications', () => {
  it('a busy consumer (never asleep) gets no notify at all', () => {
    const { producer, consumer } = makeRing();
    for (let batch = 0; batch < 1000; batch++) {
      producer.produce(8, fill);
      producer.publish();
      consumer.consume(8, () => {});
    }
    expect(producer.stats.batches).toBe(1000);
    expect(producer.stats.notifies).toBe(0);
    expect(consumer.stats.entries).toBe(8000);
  });

  it('a consumer that armed its event before sleeping is notified once, then not again until it re-arms', () => {
    const { producer, consumer } = makeRing();
    // Nothing there: arms PROD_EVENT and times out immediately (0 ms wait).
    expect(consumer.waitForEntries(0)).toBe('timed-out');
    producer.produce(1, fill);
    expect(producer.publish()).toBe(true);
    producer.produce(1, fill);
    expect(producer.publish()).toBe(false);
    expect(producer.stats.notifies).toBe(1);
    // Entries waiting: waitForEntries returns at once and does not re-arm.
    expect(consumer.waitForEntries(0)).toBe('not-equal');
    consumer.consume(10, () => {});
    expect(consumer.waitForEntries(0)).toBe('timed-out');
    producer.produce(3, fill);
    expect(producer.publish()).toBe(true);
    expect(producer.stats.notifies).toBe(2);
  });

  it('a producer waiting for space is woken by the consumer only when it asked', () => {
    const { producer, consumer } = makeRing(4);
    producer.produce(4, fill);
    producer.publish();
    expect(producer.waitForSpace(0)).toBe('timed-out');
    consumer.consume(1, () => {});
    expect(consumer.stats.notifies).toBe(1);
    consumer.consume(3, () => {});
    expect(consumer.stats.notifies).toBe(1);
    expect(producer.waitForSpace(0)).toBe('not-equal');
  });
});
