// Runs on the host page's main thread. Hands a pool from the context that owns it to
// another context of the same origin that asks for it: in practice an embedded console
// to the tab its "open in its own tab" link opened. The pool's Web Lock is exclusive and
// the browser frees it only when its holder lets go (or its page dies), so the new
// context asks over a BroadcastChannel named after the pool; the owner stops its
// hypervisor cleanly (guests killed, dom0 closed: every write it acknowledged is already
// committed to IndexedDB, nothing unacknowledged is kept), which releases the lock, and
// then says so. The asker then starts on the pool as usual (Hypervisor.start takes the
// lock). Only the lock holder listens, so nobody else can answer for it.
import { poolIsOwned } from './pool-lock';

type HandoverMessage =
  | { kind: 'yield'; from: string }
  | { kind: 'yielding'; to: string }
  | { kind: 'released'; to: string };

export function handoverChannelName(poolName: string): string {
  return `tabvisor-pool-handover:${poolName}`;
}

export type HandoverResult =
  | { kind: 'released' }
  /** Nobody answered: no owner listens (an old page, or one still starting), and the lock is still held. */
  | { kind: 'no-answer'; reason: string }
  /** The owner agreed but had not let go in time. */
  | { kind: 'timeout'; reason: string };

export interface AskOptions {
  /** How long the owner has to say it is yielding (it answers at once when it listens). */
  answerMs?: number;
  /** How long it then has to stop and release the lock (it may be importing its first image). */
  releaseMs?: number;
}

/**
 * Ask whoever owns `poolName` to hand it over, and wait until it has let go. Resolves
 * `released` once the pool's lock is free (the owner said so, or the lock query shows it),
 * else says why not. Never takes the lock itself: the caller's `Hypervisor.start` does.
 */
export async function askOwnerToYield(poolName: string, opts: AskOptions = {}): Promise<HandoverResult> {
  const answerMs = opts.answerMs ?? 3000;
  const releaseMs = opts.releaseMs ?? 60_000;
  if (!(await poolIsOwned(poolName))) return { kind: 'released' };
  if (typeof BroadcastChannel === 'undefined') return { kind: 'no-answer', reason: 'this browser has no BroadcastChannel to ask the owner with' };
  const me = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const channel = new BroadcastChannel(handoverChannelName(poolName));
  let heard: 'nothing' | 'yielding' | 'released' = 'nothing';
  let wake: () => void = () => undefined;
  channel.onmessage = (ev: MessageEvent<HandoverMessage>) => {
    const m = ev.data;
    if (m.kind === 'yielding' && m.to === me && heard === 'nothing') heard = 'yielding';
    else if (m.kind === 'released' && m.to === me) heard = 'released';
    else return;
    wake();
  };
  // Polls the lock too: an owner that let go without a word (its page closed) frees the pool as well.
  const waitFor = async (ms: number, done: () => Promise<boolean>): Promise<boolean> => {
    const deadline = performance.now() + ms;
    for (;;) {
      if (await done()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(250, left));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };
  try {
    channel.postMessage({ kind: 'yield', from: me } satisfies HandoverMessage);
    const free = async () => heard === 'released' || !(await poolIsOwned(poolName));
    const answered = await waitFor(answerMs, async () => heard !== 'nothing' || (await free()));
    if (!answered) return { kind: 'no-answer', reason: `the context that owns pool "${poolName}" did not answer a hand-over request in ${answerMs} ms` };
    if (await waitFor(releaseMs, free)) return { kind: 'released' };
    return { kind: 'timeout', reason: `the context that owns pool "${poolName}" agreed to hand it over but still held it after ${releaseMs} ms` };
  } finally {
    channel.close();
  }
}

/**
 * While this context owns `poolName`: on a hand-over request, answer at once, run `stop`
 * (which must shut the hypervisor down and so release the pool's lock), then tell the
 * asker the pool is free. Stops once: everyone who asked until then hears back, and the
 * channel closes (this context owns nothing any more). Returns a function that stops
 * listening (call it when the hypervisor shuts down for another reason).
 */
export function yieldOnRequest(poolName: string, stop: () => Promise<void>): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => undefined;
  const channel = new BroadcastChannel(handoverChannelName(poolName));
  const askers: string[] = [];
  let stopping = false;
  channel.onmessage = (ev: MessageEvent<HandoverMessage>) => {
    const m = ev.data;
    if (m.kind !== 'yield') return;
    channel.postMessage({ kind: 'yielding', to: m.from } satisfies HandoverMessage);
    askers.push(m.from);
    if (stopping) return;
    stopping = true;
    void stop()
      .catch(() => undefined)
      .then(() => {
        // Everyone who asked while this context stopped; later askers get the new owner's answer.
        for (const to of askers) channel.postMessage({ kind: 'released', to } satisfies HandoverMessage);
        channel.close();
      });
  };
  return () => channel.close();
}
