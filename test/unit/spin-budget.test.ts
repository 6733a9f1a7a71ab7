// Node: how long a guest polls for an answer before sleeping adapts to how fast dom0
// answers: long enough to catch a resident-block answer, short when answers are pool misses.
import { describe, expect, it } from 'vitest';
import { SpinBudget } from '../../guest/channel';

describe('guest spin budget', () => {
  it('starts short, grows to catch answers that come within the cap, and never passes it', () => {
    const s = new SpinBudget();
    const first = s.ms;
    expect(first).toBeLessThanOrEqual(0.06);
    for (let i = 0; i < 20; i++) s.observe(0.1);
    expect(s.ms).toBeGreaterThan(0.1);
    expect(s.ms).toBeLessThanOrEqual(0.25);
    for (let i = 0; i < 20; i++) s.observe(0.24);
    expect(s.ms).toBe(0.25);
  });

  it('falls back to the minimum when most answers are slower than the cap (pool misses), and recovers', () => {
    const s = new SpinBudget();
    for (let i = 0; i < 20; i++) s.observe(0.1);
    const fast = s.ms;
    for (let i = 0; i < 20; i++) s.observe(1.5);
    expect(s.ms).toBeLessThan(fast);
    expect(s.ms).toBeLessThanOrEqual(0.06);
    for (let i = 0; i < 20; i++) s.observe(0.1);
    expect(s.ms).toBeGreaterThan(0.1);
  });
});
