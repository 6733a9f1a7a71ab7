// Entry of the ring worker: a dedicated worker that dom0's worker starts and alone talks to
// (ring-worker-host.ts). It serves every zero-copy domain's rings (relay-loop.ts,
// ring-relay.ts) and nothing else, so it may block in Atomics.wait between requests. It
// holds the guests' control buffers, as dom0 does, and inner rings that no guest holds.
import { RelayLoop } from './relay-loop';
import { RingRelay } from './ring-relay';
import type { RingWorkerMessage } from './ring-worker-protocol';

let loop: RelayLoop | null = null;

self.onmessage = (e: MessageEvent<RingWorkerMessage>): void => {
  const m = e.data;
  if (m.type === 'init') {
    loop = new RelayLoop(m.bell, m.mail);
    postMessage({ type: 'ready' });
    return;
  }
  if (!loop) throw new Error('ring worker: a domain before init');
  loop.mailArrived();
  if (m.type === 'add') {
    const relay = new RingRelay(m.id, m.control, m.layout, m.inner, m.dom0Bell);
    relay.onFault = (message) => postMessage({ type: 'fault', id: m.id, message });
    loop.add(relay);
  }
};
