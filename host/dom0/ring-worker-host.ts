// Runs in the dom0 driver worker. Starts the ring worker (ring-worker.ts) and hands it each
// zero-copy domain's rings; dom0 then serves the domain's inner rings (ring-relay.ts) with
// its RingPort, as it served the guest's before. Falls back to serving the guest's rings
// itself (returns null from start) where a worker cannot start one, or may not block.
import { canBlock } from '../../shared/atomics-wait';
import type { DomainLayout } from '../../shared/memory-layout';
import { RELAY_ALIVE_I32, RELAY_NOOPS_I32, innerRings, type InnerRings } from './ring-relay';
import { MAIL_I32 } from './relay-loop';
import type { RingWorkerMessage, RingWorkerReply } from './ring-worker-protocol';

/** How long the worker gets to start before dom0 serves the rings itself. */
const START_TIMEOUT_MS = 10_000;

export class RingWorkerHost {
  private readonly mail = new SharedArrayBuffer(4);
  private readonly mailWord = new Int32Array(this.mail);
  private readonly bellWord: Int32Array;
  private readonly states = new Map<number, Int32Array>();
  /** A domain whose guest broke its rings: dom0 faults it (Dom0Service wires this to the driver). */
  onFault: ((id: number, message: string) => void) | null = null;

  private constructor(
    private readonly worker: Worker,
    /** What every guest's request ring rings (it goes in each grant) and dom0's completions ring. */
    readonly bell: SharedArrayBuffer,
  ) {
    this.bellWord = new Int32Array(bell, 0, 1);
    worker.addEventListener('message', (e: MessageEvent<RingWorkerReply>) => {
      if (e.data.type === 'fault') this.onFault?.(e.data.id, e.data.message);
    });
    // A ring worker that died serves no ring again: every domain it relayed would wait for
    // ever, so each is faulted with the cause instead.
    worker.addEventListener('error', (e: ErrorEvent) => {
      for (const id of [...this.states.keys()]) this.onFault?.(id, `the ring worker failed: ${e.message}`);
    });
  }

  /**
   * Start the ring worker; null where there is none to be had (no SharedArrayBuffer, no
   * Worker in this scope, a thread that may not block, or a worker that did not start).
   */
  static async start(dom0Bell: SharedArrayBuffer): Promise<RingWorkerHost | null> {
    if (typeof SharedArrayBuffer !== 'function' || typeof Worker !== 'function' || !canBlock) return null;
    let worker: Worker;
    try {
      worker = new Worker(new URL('./ring-worker.ts', import.meta.url), { type: 'module', name: 'ring' });
    } catch {
      return null;
    }
    const host = new RingWorkerHost(worker, new SharedArrayBuffer(4));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
      worker.addEventListener('message', (e: MessageEvent<RingWorkerReply>) => {
        if (e.data.type !== 'ready') return;
        clearTimeout(timer);
        resolve(true);
      });
      worker.addEventListener('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      host.post({ type: 'init', bell: host.bell, mail: host.mail, dom0Bell });
    });
    if (ready) return host;
    worker.terminate();
    return null;
  }

  /** Hand domain `id`'s rings to the ring worker; returns the inner rings dom0 serves. */
  attach(id: number, control: SharedArrayBuffer, layout: DomainLayout): InnerRings {
    this.detach(id); // an id taken over (failover) is served afresh
    const inner = innerRings(layout);
    this.states.set(id, new Int32Array(inner.buffer, 0, 2));
    this.post({ type: 'add', id, control, layout, inner: inner.buffer });
    return inner;
  }

  /** Stop relaying domain `id` (faulted or destroyed): the worker drops it at its next poll. */
  detach(id: number): void {
    const state = this.states.get(id);
    if (!state) return;
    Atomics.store(state, RELAY_ALIVE_I32, 0);
    this.states.delete(id);
  }

  /** NOOPs the ring worker answered for domain `id` (dom0 never sees them). */
  noops(id: number): number {
    const state = this.states.get(id);
    return state ? Atomics.load(state, RELAY_NOOPS_I32) >>> 0 : 0;
  }

  terminate(): void {
    this.worker.terminate();
  }

  private post(m: RingWorkerMessage): void {
    // The worker may be blocked in Atomics.wait between requests, and only its event loop
    // delivers the message: flag it, then ring the bell the worker naps on.
    Atomics.store(this.mailWord, MAIL_I32, 1);
    this.worker.postMessage(m);
    Atomics.add(this.bellWord, 0, 1);
    Atomics.notify(this.bellWord, 0);
  }
}
