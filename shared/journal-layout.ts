// Runs on both sides: the guest that owns a journal region (guest/workloads/journal.ts), its partner
// that replays it after a takeover, and the host that watches its heartbeat
// (host/page/failover.ts). The one description of a journal region's memory.
//
// A journal region is a SharedArrayBuffer the guest allocates and announces to its partner
// through the hypervisor (seed 001, guest failover: partner domains keep a log in shared
// memory). Geometry travels with the announcement, never read back from the region.
//
//   | header (64 B) | session state A | session state B | slot 0 | slot 1 | ... |
//   slot = | SEQ LBA STATE SID REQ pad pad pad (32 B) | block bytes |
//
// Header words (i32):
export const J_MAGIC_I32 = 0; // JOURNAL_MAGIC once initialised
export const J_HEARTBEAT_I32 = 1; // incremented by the owner every beat; a stalled count means dead
export const J_HEAD_I32 = 2; // next sequence number to append (free-running, from 1)
export const J_TAIL_I32 = 3; // oldest sequence number still retained
export const J_SESSION_GEN_I32 = 4; // generation of the current session state; buffer = gen & 1
export const J_SESSION_LEN0_I32 = 5; // bytes of session state in buffer 0
export const J_SESSION_LEN1_I32 = 6; // bytes of session state in buffer 1
export const J_OWNER_I32 = 7; // domain id whose writes this journal carries
export const J_HEADER_BYTES = 64;

export const JOURNAL_MAGIC = 0x4a524e31; // 'JRN1'

// Slot header words (i32):
export const S_SEQ = 0; // sequence number of the record in this slot
export const S_LBA = 1; // block address the record writes
export const S_STATE = 2; // SlotState, stored last when a record is appended
export const S_SID = 3; // session id of the request that made this write (0: none)
export const S_REQ = 4; // request number within that session
export const SLOT_HEADER_BYTES = 32;

export const SlotState = {
  EMPTY: 0,
  /** Journaled, submitted (or about to be); not yet acknowledged by dom0. */
  PENDING: 1,
  /** Acknowledged (durable in the pool); kept until every earlier record is acknowledged too. */
  ACKED: 2,
} as const;

/** Bytes of each of the two session-state buffers (JSON, double-buffered so a torn update is never read). */
export const SESSION_BYTES = 8192;

export interface JournalLayout {
  /** Records the region holds; a power of two. */
  readonly capacity: number;
  readonly blockBytes: number;
  readonly sessionByteOffset: number;
  readonly slotsByteOffset: number;
  readonly slotBytes: number;
  readonly totalBytes: number;
}

export function journalLayout(capacity: number, blockBytes: number): JournalLayout {
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > 4096 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`journal capacity must be a power of two in [2, 4096], got ${capacity}`);
  }
  if (!Number.isInteger(blockBytes) || blockBytes < 512 || blockBytes > 1 << 24 || blockBytes % 64 !== 0) {
    throw new RangeError(`journal block size must be a multiple of 64 in [512, 16 MiB], got ${blockBytes}`);
  }
  const sessionByteOffset = J_HEADER_BYTES;
  const slotsByteOffset = sessionByteOffset + 2 * SESSION_BYTES;
  const slotBytes = SLOT_HEADER_BYTES + blockBytes;
  return Object.freeze({ capacity, blockBytes, sessionByteOffset, slotsByteOffset, slotBytes, totalBytes: slotsByteOffset + capacity * slotBytes });
}

/** What a guest announces to its partner through the hypervisor. */
export interface JournalAnnouncement {
  readonly domainId: number;
  readonly dataset: string;
  readonly blocks: number;
  readonly capacity: number;
  readonly blockBytes: number;
  readonly buffer: SharedArrayBuffer;
}
