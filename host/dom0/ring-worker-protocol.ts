// Runs in dom0's worker and the ring worker: the messages between them (ring-worker-host.ts,
// ring-worker.ts). Only the control path goes through messages; entries go through rings.
import type { DomainLayout } from '../../shared/memory-layout';

export type RingWorkerMessage =
  /**
   * `bell`: what guests and dom0's completions ring; `mail`: set before every later post;
   * `dom0Bell`: what the inner request rings ring (dom0 naps on it).
   */
  | { type: 'init'; bell: SharedArrayBuffer; mail: SharedArrayBuffer; dom0Bell: SharedArrayBuffer }
  /** Serve domain `id`: its control buffer and layout, its inner rings (ring-relay.ts). */
  | { type: 'add'; id: number; control: SharedArrayBuffer; layout: DomainLayout; inner: SharedArrayBuffer };

export type RingWorkerReply =
  | { type: 'ready' }
  /** The guest broke a ring or stopped taking completions: dom0 faults the domain. */
  | { type: 'fault'; id: number; message: string };
