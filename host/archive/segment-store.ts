// Runs anywhere. The one interface every segment backend implements (memory, OPFS,
// IndexedDB, and the stores layered on them). The log above it only appends, reads
// ranges, truncates a torn tail and deletes whole segments — the operations OPFS files
// and IndexedDB records both do well.

import { ArchiveUsageError } from '../../shared/errors/archive-errors';

/** Segment ids are positive integers, never reused: a larger id is a younger segment. */
export type SegmentId = number & { readonly __brand: 'SegmentId' };

export function segmentId(n: number): SegmentId {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new ArchiveUsageError(`segment id must be an integer in [0, 2^32): ${n}`);
  }
  return n as SegmentId;
}

export type SegmentBackend = 'memory' | 'opfs' | 'indexeddb';

export interface SegmentStore {
  readonly backend: SegmentBackend;
  /** Append bytes at the end of the segment, creating it if absent. Durable on resolve. */
  append(id: SegmentId, bytes: Uint8Array): Promise<void>;
  /** Exactly `length` bytes at `offset`, or SegmentRangeError. */
  read(id: SegmentId, offset: number, length: number): Promise<Uint8Array>;
  /** Existing segment ids, ascending. */
  list(): Promise<SegmentId[]>;
  /** Size in bytes of every existing segment. */
  sizes(): Promise<Map<SegmentId, number>>;
  /** Cut a segment to `length` bytes (used to drop a torn tail after a crash). */
  truncate(id: SegmentId, length: number): Promise<void>;
  /** Remove a segment; deleting an absent one is not an error. */
  delete(id: SegmentId): Promise<void>;
  close(): Promise<void>;
}
