// Runs on both sides of the boundary (host, dom0 driver worker, guest workers, Node tests).
// The one description of a ring's memory. Both ends import it, so sizes cannot drift.
//
// A ring is a single-producer/single-consumer queue of fixed-size entries inside a
// SharedArrayBuffer (seed 004, US 11,513,832: commands and completions flow through shared
// memory; seed 001: queues like a NIC's tx/rx rings). Modelled on Xen's io/ring.h:
// free-running 32-bit indices masked by (capacity - 1), and event indices so that a busy
// ring costs no notify per entry.
//
//   byte 0                         64                        128
//   | PROD  CONS_EVENT  pad...     | CONS  PROD_EVENT  pad...  | entry 0 | entry 1 | ...
//     written by the producer        written by the consumer
//
// The producer's and consumer's words sit on separate 64-byte lines so the two sides do not
// write the same cache line. Private cursors (the producer's unpublished index, the
// consumer's cursor before it is published) never live in shared memory; they are fields of
// RingProducer / RingConsumer.
//
// Geometry (offset, capacity, entry size) is handed to both sides by the control plane,
// never read back from shared memory: a hostile peer could rewrite it.

/** Producer's published index (u32, free-running): entries [cons, prod) are readable. */
export const RING_PROD_I32 = 0;
/** Written by the producer: "notify me when CONS reaches this" (u32), when it waits for space. */
export const RING_CONS_EVENT_I32 = 1;
/**
 * In the producer's line, written by neither end: the host stores a nonzero value here (and
 * notifies PROD) when the ring's producer is gone for good (dom0 died), so a consumer
 * waiting for entries that will never come wakes and fails its requests.
 */
export const RING_CLOSED_I32 = 2;
/** Consumer's published index (u32, free-running): slots before it may be reused. */
export const RING_CONS_I32 = 16;
/** Written by the consumer: "notify me when PROD reaches this" (u32), when it waits for entries. */
export const RING_PROD_EVENT_I32 = 17;

/** Header size in bytes: two 64-byte lines, one per writer. */
export const RING_HEADER_BYTES = 128;
/** Largest capacity (entries). Keeps capacity * entry bytes far below 2^31. */
export const RING_MAX_CAPACITY = 1 << 20;
/** Largest entry (32-bit words). Entries are small commands, not data; data lives in frames. */
export const RING_MAX_ENTRY_WORDS = 64;

export interface RingGeometry {
  /** Where the ring starts in its buffer, in bytes; a multiple of 64. */
  readonly byteOffset: number;
  /** Number of entries; a power of two in [2, RING_MAX_CAPACITY]. */
  readonly capacity: number;
  /** Size of one entry in 32-bit words, in [1, RING_MAX_ENTRY_WORDS]. */
  readonly entryWords: number;
}

export class RingGeometryError extends Error {
  override name = 'RingGeometryError';
}

/** Checked constructor for a geometry: every ring is made from one of these. */
export function ringGeometry(byteOffset: number, capacity: number, entryWords: number): RingGeometry {
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 64 !== 0) {
    throw new RingGeometryError(`ring byteOffset must be a non-negative multiple of 64, got ${byteOffset}`);
  }
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > RING_MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new RingGeometryError(`ring capacity must be a power of two in [2, ${RING_MAX_CAPACITY}], got ${capacity}`);
  }
  if (!Number.isInteger(entryWords) || entryWords < 1 || entryWords > RING_MAX_ENTRY_WORDS) {
    throw new RingGeometryError(`ring entryWords must be an integer in [1, ${RING_MAX_ENTRY_WORDS}], got ${entryWords}`);
  }
  return Object.freeze({ byteOffset, capacity, entryWords });
}

/** Bytes one ring occupies, header included, rounded up to a 64-byte line. */
export function ringBytes(capacity: number, entryWords: number): number {
  const raw = RING_HEADER_BYTES + capacity * entryWords * 4;
  return Math.ceil(raw / 64) * 64;
}

/** Word index of the first entry, relative to the ring's own Int32Array view. */
export const RING_ENTRIES_I32 = RING_HEADER_BYTES / 4;
