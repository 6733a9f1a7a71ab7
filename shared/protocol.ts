// Runs on both sides of the boundary. The data-plane protocol: what a request entry and a
// completion entry mean, word by word. Requests flow guest → dom0 on the domain's request
// ring, completions dom0 → guest on its completion ring (seed 004, US 11,513,832).
// Everything here is small integers: no exception and no string crosses shared memory
// (as in SQLite's OPFS proxy); a status code travels, and the guest turns it into an Error.

/** Words per request and per completion entry. */
export const ENTRY_WORDS = 8;

/**
 * Word offsets of an entry's one-word fields, from one running count in the order given
 * (as memory-layout.ts lays out buffers), so no offset is numbered by hand; `used` is the
 * count of words the fields take. Throws if they do not fit an entry.
 */
function entryFields<const F extends readonly string[]>(fields: F): { readonly [K in F[number]]: number } & { readonly used: number } {
  if (fields.length > ENTRY_WORDS) throw new RangeError(`${fields.length} fields do not fit an entry of ${ENTRY_WORDS} words`);
  const out: Record<string, number> = {};
  let at = 0;
  for (const f of fields) out[f] = at++;
  out.used = at;
  return Object.freeze(out) as { readonly [K in F[number]]: number } & { readonly used: number };
}

const REQ = entryFields([
  'op', //   Op
  'tag', //  guest-chosen id echoed in the completion (u32)
  'lba', //  logical block address, in blocks of the volume's block size
  'arg0', // WRITE, WRITE_HELD: staging slot index; UNMAP: encodeFrame(frame ref) of a kept pin (0: the LBA's mapping; shared/ids.ts)
  'arg1', // WRITE, WRITE_HELD: length in bytes (must equal the block size); UNMAP: bit 0 = every pin kept for LBA
  'arg2', // reserved (0)
]);
export const REQ_OP = REQ.op;
export const REQ_TAG = REQ.tag;
export const REQ_LBA = REQ.lba;
export const REQ_ARG0 = REQ.arg0;
export const REQ_ARG1 = REQ.arg1;
export const REQ_ARG2 = REQ.arg2;
/** Words of a request entry that carry fields; the rest are zero. */
export const REQ_USED = REQ.used;

const CPL = entryFields([
  'tag', //    the request's tag
  'status', // Status
  'frame', //  READ: encodeFrame(frame ref) (ref < arena frames: the group's arena; else the domain's private frames); 0 = hole (zeros)
  'gen', //    READ: the frame's generation when mapped
  'op', //     the request's op, so a guest can sanity-check
]);
export const CPL_TAG = CPL.tag;
export const CPL_STATUS = CPL.status;
export const CPL_FRAME = CPL.frame;
export const CPL_GEN = CPL.gen;
export const CPL_OP = CPL.op;
/** Words of a completion entry that carry fields; the rest are zero. */
export const CPL_USED = CPL.used;

/** Request opcodes. */
export const Op = {
  /** Map the block at LBA into this domain's page map; completion carries frame + generation. */
  READ: 1,
  /** Drop this domain's mapping of LBA (ARG0 = 0), the pin dom0 kept on frame ref ARG0 - 1 for LBA's old mapping, or (ARG1 bit 0) every pin kept for LBA. */
  UNMAP: 2,
  /** Copy-on-write the staging slot ARG0 (ARG1 bytes) into this domain's clone at LBA; acknowledged when durable. */
  WRITE: 3,
  /** Complete once every write before it is durable. */
  FLUSH: 4,
  /** Does nothing; completes OK (ring benchmarks, liveness). */
  NOOP: 5,
  /**
   * Copy the staging slot ARG0 (ARG1 bytes) into this domain's held group for LBA: not
   * staged in the pool, not durable, invisible to reads until COMMIT_HELD; answered as soon
   * as dom0 has its copy (so the slot is free again). A later held write of the same LBA
   * replaces it. A refused held write (past the held-group limit: HELD_LIMIT; out of range;
   * read-only) drops the whole group, and the group's later held writes and its COMMIT_HELD
   * answer the same status, until DISCARD_HELD or that COMMIT_HELD starts a new group.
   */
  WRITE_HELD: 6,
  /** Stage every held write at once and make them durable together: all of them or none. Answered when durable. */
  COMMIT_HELD: 7,
  /** Drop the held group, and any refusal in it: the next held write starts a new one. */
  DISCARD_HELD: 8,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Completion status codes. */
export const Status = {
  OK: 0,
  /** LBA outside the volume. */
  OUT_OF_RANGE: 1,
  /** Unknown opcode or malformed field (the domain is faulted). */
  BAD_REQUEST: 2,
  /** The domain holds views of as many frames as its share of the arena allows; release some first. */
  QUOTA: 3,
  /** Every frame of the arena is mapped or leased; nothing could be evicted. */
  ARENA_FULL: 4,
  /** The block's checksum did not match when read from the pool. */
  CHECKSUM: 5,
  /** The pool failed (I/O error, quota exceeded in a commit). */
  IO: 6,
  /** The volume is read-only (a snapshot). */
  READ_ONLY: 7,
  /** The held group grew past the limit for one atomic group, or all domains' groups past theirs together; dom0 dropped it. */
  HELD_LIMIT: 8,
  /** The pool was closed under dom0 (another tab deleted it or opened it with a newer schema, or the browser closed it: site data cleared): nothing more can be stored or read from it. */
  POOL_CLOSED: 9,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const STATUS_TEXT: Record<Status, string> = {
  [Status.OK]: 'ok',
  [Status.OUT_OF_RANGE]: 'block address is outside the volume',
  [Status.BAD_REQUEST]: 'malformed request',
  [Status.QUOTA]: 'frame quota reached: this domain holds views of its whole share of the arena; release some',
  [Status.ARENA_FULL]: 'no frame could be evicted: every frame is mapped',
  [Status.CHECKSUM]: 'checksum mismatch reading the block from the pool',
  [Status.IO]: 'storage pool error',
  [Status.READ_ONLY]: 'volume is read-only',
  [Status.HELD_LIMIT]: "held writes past the limit of one atomic group (or of dom0's for all groups together); the group was dropped",
  [Status.POOL_CLOSED]: "the storage pool was closed under dom0 (another tab deleted it or upgraded it, or the browser closed it: the site's data cleared)",
};

export function statusText(status: number): string {
  return STATUS_TEXT[status as Status] ?? `unknown status ${status}`;
}

const STATUS_CODE: Record<Status, string> = {
  [Status.OK]: 'ok',
  [Status.OUT_OF_RANGE]: 'out-of-range',
  [Status.BAD_REQUEST]: 'bad-request',
  [Status.QUOTA]: 'quota',
  [Status.ARENA_FULL]: 'arena-full',
  [Status.CHECKSUM]: 'checksum',
  [Status.IO]: 'io',
  [Status.READ_ONLY]: 'read-only',
  [Status.HELD_LIMIT]: 'held-limit',
  [Status.POOL_CLOSED]: 'pool-closed',
};

/** A status as a stable string, the `code` of a BlockDeviceError. */
export function statusCode(status: number): string {
  return STATUS_CODE[status as Status] ?? 'unknown-status';
}

const OPS = new Set<number>(Object.values(Op));
export function isOp(n: number): n is Op {
  return OPS.has(n);
}
