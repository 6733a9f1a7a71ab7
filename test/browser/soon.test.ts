// Browser (Chromium): dom0's yield (host/dom0/soon.ts) must let what is already queued run
// before it resolves: a control-plane message and an IndexedDB request's events, which
// are why dom0 yields at all (ring-scheduler.ts). Checked against the real task queues,
// which only a browser has (here the page's; dom0's worker schedules the same way). Both
// tests fail if soon() posts at 'user-blocking' priority, as scheduler.yield() would in
// effect: the continuation then runs first and starves the queued events (checked).
import { describe, expect, it, vi } from 'vitest';
import { soon } from '../../host/dom0/soon';

function openDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('s');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

describe('soon()', () => {
  it('resolves after a message that was already queued for this thread', async () => {
    for (let round = 0; round < 20; round++) {
      const { port1, port2 } = new MessageChannel();
      let got = false;
      port1.onmessage = () => (got = true);
      port2.postMessage(round);
      // Hold the thread while the message is routed to it (through the browser's message
      // pipes), so that it is queued, not run, when soon() is called.
      for (const until = performance.now() + 5; performance.now() < until; );
      expect(got).toBe(false);
      await soon();
      expect(got, `round ${round}: the queued message had not run when soon() resolved`).toBe(true);
      port1.close();
    }
  });

  it('lets a finished IndexedDB request deliver its event before it resolves, when dom0 spins on it', async () => {
    const db = await openDb(`soon-${crypto.randomUUID()}`);
    try {
      let yields = 0;
      for (let round = 0; round < 20; round++) {
        let done = false;
        const tx = db.transaction('s', 'readwrite');
        tx.objectStore('s').put(round, round);
        tx.oncomplete = () => (done = true);
        // dom0's loop: poll, and yield to the event loop until the work it waits for lands.
        const start = performance.now();
        while (!done) {
          await soon();
          yields++;
          if (performance.now() - start > 5000) throw new Error(`round ${round}: the transaction never completed while yielding with soon()`);
        }
      }
      expect(yields).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });

  it('posts a task at the default priority where the browser has scheduler.postTask', async () => {
    const s = (globalThis as { scheduler?: { postTask(cb: () => void, o?: { priority?: string }): Promise<void> } }).scheduler;
    expect(typeof s?.postTask).toBe('function');
    const spy = vi.spyOn(s!, 'postTask');
    try {
      await soon();
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0]![1]).toEqual({ priority: 'user-visible' });
    } finally {
      spy.mockRestore();
    }
  });
});
