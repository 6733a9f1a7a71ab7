// Node: the console's bounded wait on a guest (shared/within.ts), which the story's boot
// step (the guests' listings) and the poller (each guest's latency and stats) rely on.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { within } from '../../shared/within';

describe('within', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  test('a promise that never settles gives undefined once the time is up, not before', async () => {
    let done = false;
    const w = within(new Promise<number>(() => undefined), 20_000).then((v) => {
      done = true;
      return v;
    });
    await vi.advanceTimersByTimeAsync(19_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await w).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a promise that settles in time gives its value and leaves no timer behind', async () => {
    const w = within(new Promise<number>((r) => setTimeout(() => r(7), 100)), 20_000);
    await vi.advanceTimersByTimeAsync(100);
    expect(await w).toBe(7);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a rejection in time is passed on, and its timer cleared', async () => {
    const w = within(Promise.reject(new Error('guest ended')), 20_000);
    await expect(w).rejects.toThrow('guest ended');
    expect(vi.getTimerCount()).toBe(0);
  });
});
