// Node: a guest stops polling for dom0's answer when its polls keep losing the core (the two
// share one), tries again now and then, and polls again as soon as a try pays. The ring's
// spin reports a lost core from a gap in the clock, not from a poll that merely ran out.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SpinGauge, SPIN_GAP_MS } from '../../shared/spin-gauge';
import { RingConsumer, RingProducer, SPUN_ARRIVED, SPUN_LOST_CORE, initRing } from '../../shared/ring';
import { ringBytes, ringGeometry } from '../../shared/ring-layout';

/** Drive `g` as a waiter would: ask, then report what the spin (if any) saw. */
function wait(g: SpinGauge, arrived: boolean, lostCore: boolean): boolean {
  const spun = g.spinNext();
  if (spun) g.record(arrived, lostCore);
  return spun;
}

describe('spin gauge', () => {
  it('keeps spinning while spins pay or merely run out on the core (a slow dom0 is not a shared core)', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 1000; i++) expect(wait(g, i % 3 === 0, false)).toBe(true);
    expect(g.stats).toEqual({ skipped: 0, stops: 0 });
  });

  it('stops after four lost cores net of the spins that paid, then probes one wait in sixteen', () => {
    const g = new SpinGauge();
    // Losses interleaved with as many paid spins never add up to four.
    for (let i = 0; i < 100; i++) {
      wait(g, true, true);
      wait(g, true, false);
    }
    expect(g.stats.stops).toBe(0);
    for (let i = 0; i < 3; i++) expect(wait(g, true, true)).toBe(true);
    expect(g.stats.stops).toBe(0);
    expect(wait(g, true, true)).toBe(true);
    expect(g.stats.stops).toBe(1);
    // Now the next 15 waits go straight to blocking; the 16th spins, and loses again.
    const spun: boolean[] = [];
    for (let i = 0; i < 64; i++) spun.push(wait(g, true, true));
    expect(spun.filter(Boolean).length).toBe(4);
    expect(spun.indexOf(true)).toBe(15);
    expect(g.stats.skipped).toBe(60);
  });

  it('spins again from the first probe that pays', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 4; i++) wait(g, false, true);
    let waits = 0;
    while (!wait(g, true, false)) waits++;
    expect(waits).toBe(15);
    for (let i = 0; i < 100; i++) expect(wait(g, true, false)).toBe(true);
  });

  it('a probe that runs out on its core neither resumes spinning nor counts against it', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 4; i++) wait(g, false, true);
    for (let i = 0; i < 160; i++) wait(g, false, false);
    expect(g.stats.skipped).toBe(150);
    expect(g.stats.stops).toBe(1);
  });
});

describe('ring spin', () => {
  afterEach(() => vi.restoreAllMocks());

  function ring() {
    const g = ringGeometry(0, 8, 2);
    const sab = new SharedArrayBuffer(ringBytes(8, 2));
    initRing(sab, g);
    return { producer: new RingProducer(sab, g), consumer: new RingConsumer(sab, g) };
  }

  /** A clock that advances `step` ms per reading, and once jumps by `jump` at reading `at`. */
  function clock(step: number, at = -1, jump = 0): void {
    let t = 1000;
    let n = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => {
      t += n++ === at ? jump : step;
      return t;
    });
  }

  it('runs out on its core: neither bit', () => {
    const { consumer } = ring();
    clock(0.005);
    expect(consumer.spinFor(0.1)).toBe(0);
  });

  it('a jump in the clock longer than SPIN_GAP_MS is a lost core, whether or not entries came', () => {
    const { consumer, producer } = ring();
    clock(0.005, 3, SPIN_GAP_MS + 0.005);
    expect(consumer.spinFor(0.1)).toBe(SPUN_LOST_CORE);
    clock(0, 2, SPIN_GAP_MS + 0.005);
    let polls = 0;
    const avail = consumer.available.bind(consumer);
    vi.spyOn(consumer, 'available').mockImplementation(() => {
      // The producer publishes during the gap, as a dom0 given this core would.
      if (++polls === 4) {
        producer.produce(1, (w, b) => (w[b] = 1));
        producer.publish();
      }
      return avail();
    });
    expect(consumer.spinFor(0.1)).toBe(SPUN_ARRIVED | SPUN_LOST_CORE);
  });

  it('timer steps of up to 10 µs (the clock is 5 µs coarse, with jitter) are not a lost core', () => {
    const { consumer, producer } = ring();
    clock(0.01);
    expect(consumer.spinFor(0.1)).toBe(0);
    producer.produce(1, (w, b) => (w[b] = 1));
    producer.publish();
    expect(consumer.spinFor(0.1)).toBe(SPUN_ARRIVED);
  });
});
