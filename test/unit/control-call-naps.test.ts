// Node: dom0 holds its naps while a control-plane call runs (Dom0Service.controlCall), so
// the call's IndexedDB events are not each held up by a nap; the count always comes back
// down, whether the call returns, resolves, throws or rejects; and after a call that went
// async they stay held a little longer (NAP_HOLD_MS), for its follow-up work.
import { describe, expect, it } from 'vitest';
import { Dom0Service } from '../../host/dom0/dom0-service';

type Peek = { scheduler: { controlCalls: number; napsHeldUntil: number } };
const calls = (s: Dom0Service): number => (s as unknown as Peek).scheduler.controlCalls;
const heldUntil = (s: Dom0Service): number => (s as unknown as Peek).scheduler.napsHeldUntil;

describe('control-plane calls hold naps', () => {
  it('counts a call while it runs and not after, on every way out', async () => {
    const s = new Dom0Service();
    expect(s.controlCall(() => calls(s))).toBe(1);
    expect(calls(s)).toBe(0);

    let release!: () => void;
    const pending = s.controlCall(() => new Promise<string>((r) => (release = () => r('done'))));
    expect(calls(s)).toBe(1);
    const nested = s.controlCall(async () => calls(s));
    expect(await nested).toBe(2);
    expect(calls(s)).toBe(1);
    release();
    expect(await pending).toBe('done');
    expect(calls(s)).toBe(0);

    expect(() => s.controlCall(() => { throw new Error('refused'); })).toThrow('refused');
    expect(calls(s)).toBe(0);
    await expect(s.controlCall(() => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    expect(calls(s)).toBe(0);
  });

  it('holds naps after a call that went async, not after a synchronous one', async () => {
    const s = new Dom0Service();
    s.controlCall(() => 'stats');
    expect(heldUntil(s)).toBe(0);
    const before = performance.now();
    await s.controlCall(async () => 'cloned');
    expect(heldUntil(s)).toBeGreaterThan(before);
  });
});
