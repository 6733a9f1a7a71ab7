// Runs on both sides. What dom0 hands a guest when its domain is created: exactly the
// buffers it may see (its own control buffer and its trust group's arena) and their
// geometry, or, on the copy transport, a MessagePort to dom0. Geometry arrives here, over
// the control plane, never through shared memory.
import type { ArenaLayout, DomainLayout } from './memory-layout';

interface GrantBase {
  readonly domainId: number;
  readonly blocks: number;
  readonly blockBytes: number;
  readonly group: string;
  /** Most frames this domain may map at once. */
  readonly quota: number;
}

export interface ZeroCopyGrant extends GrantBase {
  readonly kind: 'zero-copy';
  readonly control: SharedArrayBuffer;
  readonly domainLayout: DomainLayout;
  readonly arena: SharedArrayBuffer;
  readonly arenaLayout: ArenaLayout;
  /** dom0's doorbell (4 bytes, shared by every domain): rung when dom0 asked to be woken at a request. */
  readonly doorbell?: SharedArrayBuffer;
}

export interface CopyGrant extends GrantBase {
  readonly kind: 'copy';
  /** Requests go out and completions (with block bytes) come back on this port. */
  readonly port: MessagePort;
}

export type DomainGrant = ZeroCopyGrant | CopyGrant;

/** A request or completion on the copy transport: the same 8 words as a ring entry. */
export interface CopyMessage {
  readonly words: Int32Array;
  /** WRITE request: the block; READ completion: a copy of the frame. */
  readonly bytes?: Uint8Array;
}
