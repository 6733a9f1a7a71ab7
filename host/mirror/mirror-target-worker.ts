// Runs in a dedicated worker of the host page: a mirror target in the same page (the
// benchmark's stand-in for a second tab; BroadcastChannel reaches it all the same). The
// first message says which pool and channel; it answers 'ready', then serves until closed.
//   new Worker(new URL('./mirror-target-worker.ts', import.meta.url), { type: 'module' })
import { Pool } from '../pool';
import { broadcastLink } from './mirror-protocol';
import { MirrorTarget, PoolMirrorSink } from './mirror-target';

interface Start {
  db: string;
  channel: string;
}

const scope = globalThis as unknown as { onmessage: ((ev: MessageEvent<Start | 'stats'>) => void) | null; postMessage(m: unknown): void };
let target: MirrorTarget | null = null;

scope.onmessage = async (ev) => {
  if (ev.data === 'stats') {
    scope.postMessage({ stats: target?.stats ?? null });
    return;
  }
  try {
    const pool = await Pool.open(ev.data.db);
    target = new MirrorTarget(broadcastLink(ev.data.channel), new PoolMirrorSink(pool));
    scope.postMessage({ ready: true });
  } catch (err) {
    scope.postMessage({ error: String(err) });
  }
};
