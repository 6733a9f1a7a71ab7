// Entry of the ring worker: a dedicated worker that dom0's worker starts and alone talks to
// (ring-worker-host.ts). It serves every zero-copy domain's rings (relay-loop.ts,
// ring-relay.ts) and nothing else, so it may block in Atomics.wait between requests. It
// holds the guests' control buffers, as dom0 does, and inner rings that no guest holds.
import { RelayLoop } from './relay-loop';
import { RingRelay } from './ring-relay';
import type { RingWorkerMessage } from './ring-worker-protocol';

let started: { loop: RelayLoop; dom0Bell: SharedArrayBuffer } | null = null;

self.onmessage = (e: MessageEvent<RingWorkerMessage>): void => {
  const m = e.data;
  if (m.type === 'init') {
    started = { loop: new RelayLoop(m.bell, m.mail), dom0Bell: m.dom0Bell };
    postMessage({ type: 'ready' });
    return;
  }
  if (!started) throw new Error('ring worker: a domain before init');
  const relay = new RingRelay(m.control, m.layout, m.inner, started.dom0Bell);
  relay.onFault = (message) => postMessage({ type: 'fault', id: m.id, message });
  started.loop.add(relay);
};
