// Node: a guest stops polling for dom0's answer when its polls keep losing the core (the two
// share one), tries again now and then, and polls again as soon as a try pays. A lost core
// is a gap in the polling thread's clock, not a poll that merely ran out.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SpinGauge, SPIN_GAP_MS, type Pollable } from '../../shared/spin-gauge';

afterEach(() => vi.restoreAllMocks());

/**
 * One wait: a ring whose entry shows up at the `arriveAt`-th look (never if -1), and a
 * clock that advances `step` ms per reading and jumps by `jump` at reading `jumpAt`.
 * Returns whether the gauge polled (looked more than once, or read the clock) and what it said.
 */
function wait(g: SpinGauge, o: { arriveAt?: number; jumpAt?: number; jump?: number; step?: number; ms?: number }): { polled: boolean; arrived: boolean } {
  let looks = 0;
  const ring: Pollable = { available: () => (o.arriveAt !== undefined && o.arriveAt >= 0 && ++looks >= o.arriveAt ? 1 : 0) };
  let t = 1000;
  let readings = 0;
  const clock = vi.spyOn(performance, 'now').mockImplementation(() => {
    t += readings++ === o.jumpAt ? (o.jump ?? 0) : (o.step ?? 0.005);
    return t;
  });
  const arrived = g.poll(ring, o.ms ?? 0.03);
  const polled = readings > 0;
  clock.mockRestore();
  return { polled, arrived };
}

const paid = { arriveAt: 3 };
const lost = { arriveAt: 5, jumpAt: 2, jump: SPIN_GAP_MS + 0.005 };
const ranOut = { arriveAt: -1 };

describe('spin gauge', () => {
  it('keeps polling while polls pay or merely run out on the core (a slow dom0 is not a shared core)', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 1000; i++) expect(wait(g, i % 3 === 0 ? paid : ranOut).polled).toBe(true);
    expect(g.stats).toEqual({ skipped: 0, stops: 0 });
  });

  it('reports what it saw: entries that came, or none when the poll ran out', () => {
    const g = new SpinGauge();
    expect(wait(g, paid)).toEqual({ polled: true, arrived: true });
    expect(wait(g, ranOut)).toEqual({ polled: true, arrived: false });
  });

  it('stops after four lost cores net of the polls that paid, then probes one wait in sixteen', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 100; i++) {
      wait(g, lost);
      wait(g, paid);
    }
    expect(g.stats.stops).toBe(0);
    for (let i = 0; i < 3; i++) expect(wait(g, lost).polled).toBe(true);
    expect(g.stats.stops).toBe(0);
    expect(wait(g, lost).polled).toBe(true);
    expect(g.stats.stops).toBe(1);
    const polled: boolean[] = [];
    for (let i = 0; i < 64; i++) polled.push(wait(g, lost).polled);
    expect(polled.filter(Boolean).length).toBe(4);
    expect(polled.indexOf(true)).toBe(15);
    expect(g.stats.skipped).toBe(60);
  });

  it('a skipped poll still looks once: entries already there are taken without blocking', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 4; i++) wait(g, lost);
    expect(wait(g, { arriveAt: 1 })).toEqual({ polled: false, arrived: true });
    expect(wait(g, ranOut)).toEqual({ polled: false, arrived: false });
  });

  it('polls again from the first probe that pays', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 4; i++) wait(g, lost);
    let waits = 0;
    while (!wait(g, paid).polled) waits++;
    expect(waits).toBe(15);
    for (let i = 0; i < 100; i++) expect(wait(g, paid).polled).toBe(true);
  });

  it('a probe that runs out on its core neither resumes polling nor counts against it', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 4; i++) wait(g, lost);
    for (let i = 0; i < 160; i++) wait(g, ranOut);
    expect(g.stats.skipped).toBe(150);
    expect(g.stats.stops).toBe(1);
  });

  it('an entry that shows up right after a gap counts as a lost core (dom0 ran in the poller\'s place)', () => {
    const g = new SpinGauge();
    // The gap is on the clock reading that follows the look which finds the entry.
    for (let i = 0; i < 4; i++) wait(g, { arriveAt: 3, jumpAt: 3, jump: SPIN_GAP_MS + 0.005 });
    expect(g.stats.stops).toBe(1);
  });

  it('clock steps of up to 10 µs (5 µs coarse, with jitter) are not a lost core', () => {
    const g = new SpinGauge();
    for (let i = 0; i < 50; i++) wait(g, { arriveAt: 4, step: 0.01 });
    for (let i = 0; i < 50; i++) wait(g, { arriveAt: -1, step: 0.01 });
    expect(g.stats.stops).toBe(0);
  });
});
