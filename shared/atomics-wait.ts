// Runs anywhere: the blocking wait is for workers only (the main thread may not block),
// the async wait is for the main thread and for workers that must keep their event loop.
import { perf } from './clock';

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/**
 * Whether this thread may block in Atomics.wait: a worker may, a window's main thread may
 * not (Atomics.wait throws there before it reads the word). False without SharedArrayBuffer.
 */
export const canBlock = ((): boolean => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

/** Blocking wait; throws on the main thread of a window (the platform forbids it there). */
export function waitSync(i32: Int32Array, index: number, expected: number, timeoutMs: number): WaitResult {
  return Atomics.wait(i32, index, expected, timeoutMs);
}

interface WaitAsyncResult {
  async: boolean;
  value: WaitResult | Promise<WaitResult>;
}
type WaitAsyncFn = (i32: Int32Array, index: number, value: number, timeout?: number) => WaitAsyncResult;

// Atomics.waitAsync is in Chromium and recent Firefox/Safari, not in every browser a user
// may have, and its lib typing depends on the TS lib version; look it up at run time.
const nativeWaitAsync: WaitAsyncFn | undefined = (Atomics as unknown as { waitAsync?: WaitAsyncFn }).waitAsync;

/** Whether this realm has a native Atomics.waitAsync (the fallback polls). */
export const hasNativeWaitAsync = typeof nativeWaitAsync === 'function';

/**
 * Non-blocking wait: resolves when i32[index] is no longer `expected`, on a notify, or on
 * timeout. Uses Atomics.waitAsync where present; elsewhere polls with a backoff from a
 * macrotask up to 4 ms, which costs latency but never blocks the event loop.
 */
export function waitAsync(
  i32: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
  forcePolling = false,
): Promise<WaitResult> {
  if (nativeWaitAsync && !forcePolling) {
    const r = nativeWaitAsync(i32, index, expected, Number.isFinite(timeoutMs) ? timeoutMs : undefined);
    return r.async ? (r.value as Promise<WaitResult>) : Promise.resolve(r.value as WaitResult);
  }
  return pollUntilChanged(i32, index, expected, timeoutMs);
}

function pollUntilChanged(i32: Int32Array, index: number, expected: number, timeoutMs: number): Promise<WaitResult> {
  if (Atomics.load(i32, index) !== expected) return Promise.resolve('not-equal');
  const deadline = perf.now() + timeoutMs;
  return new Promise((resolve) => {
    let delay = 0;
    const tick = (): void => {
      if (Atomics.load(i32, index) !== expected) return resolve('ok');
      if (perf.now() >= deadline) return resolve('timed-out');
      delay = Math.min(4, delay === 0 ? 0.25 : delay * 2);
      setTimeout(tick, delay);
    };
    setTimeout(tick, 0);
  });
}
