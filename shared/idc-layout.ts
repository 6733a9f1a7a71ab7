// Runs on both sides of the boundary (dom0 worker, host page, guest workers, Node tests).
// The one description of an inter-domain channel's memory (seed 001: processes talk "by
// use of transmit and receive queues similar to [those] used by hardware devices"; Xen's
// netfront/netback over io/ring.h, with grant_table.h for transitive hand-off).
//
// A channel joins two domains, side 0 (the one that asked) and side 1. dom0 makes:
//
//   control buffer (both sides):  | tx0 | ret0 | tx1 | ret1 |        four rings of DESC_WORDS
//     tx<s>   side s → peer: descriptors {kind, id, offset, length}   (the NIC's tx queue)
//     ret<s>  peer → side s: the ids side s lent out, given back       (its completions)
//   buffers (both sides):  2 × buffersPerSide SharedArrayBuffers, one per buffer, so one
//     buffer can be granted to a third domain without handing it the rest of the pool.
//     Ids [0, N) belong to side 0 (only side 0 writes payloads into them), [N, 2N) to side 1.
//   grant table of side s (side s and dom0 only): one word per buffer side s owns, the
//     state dom0 checks before it lets the peer forward that buffer (Xen's grant entry).
//
// Flow control (credits, as netfront/netback count ring slots): BUFFER messages are
// bounded by the buffers a side owns. FRAME and GRANT messages name memory the receiver
// does not have to lend, so each takes one credit of the channel's window from the moment
// it is posted until its return comes back on ret; the receiver returns every one it took
// exactly once (released, refused, or revoked). A side never has more than `window` of
// them outstanding, and a receiver that is sent more faults the channel.
//
// Geometry travels over the control plane, never through shared memory: neither side can
// talk the other into a bigger window.
import { ringBytes, ringGeometry, type RingGeometry } from './ring-layout';

/** Words per ring entry, on every ring of a channel. */
export const DESC_WORDS = 4;
export const D_KIND = 0;
export const D_ID = 1; // buffer id (KIND_BUFFER) or grant ref (KIND_GRANT)
export const D_OFFSET = 2;
export const D_LENGTH = 3;

/** What a descriptor's id names. */
export const Kind = {
  /** A buffer of this channel's pool, by id. */
  BUFFER: 1,
  /** A buffer of another channel, lent through dom0 under a grant ref. */
  GRANT: 2,
  /**
   * A frame of the trust group's arena (both peers hold it: same group only), by frame
   * number; lent for the duration of the message by the sender's lease on its block view.
   */
  FRAME: 3,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/**
 * A BUFFER descriptor's kind word carries the buffer's generation above the kind: an id
 * whose buffer was forwarded is given a new SharedArrayBuffer when its owner renews it
 * (IdcBroker.renew), and the receiver must view the one the sender wrote. The owner learns
 * the new buffer as dom0's reply and the peer as a host notice, and the two messages race:
 * a receiver that sees a generation one ahead of its own waits for the notice. Every other
 * kind's word is the kind alone.
 */
export const KIND_BITS = 8;
export const KIND_MASK = (1 << KIND_BITS) - 1;
/** Generations wrap at 2^23; a receiver is never more than one behind its peer. */
export const GEN_MASK = 0x7f_ffff;
export const bufferKindWord = (generation: number): number => Kind.BUFFER | ((generation & GEN_MASK) << KIND_BITS);

/** Grant-table word of a buffer (written by its owner's runtime and by dom0, with compareExchange). */
export const GT_FREE = 0;
/** Lent to the peer: the peer holds it until it comes back on ret. */
export const GT_SENT = 1;
/** dom0 let the peer forward it to a third domain: it must never carry the owner's data again. */
export const GT_FORWARDED = 2;

export const IDC_MAX_BUFFERS_PER_SIDE = 1024;
export const IDC_MAX_BUFFER_BYTES = 16 << 20;

export interface ChannelLayout {
  readonly buffersPerSide: number;
  readonly bufferBytes: number;
  /**
   * FRAME and GRANT messages one side may have outstanding (sent, return not yet seen);
   * the most its peer ever queues of them. Equal to `buffersPerSide`: each tx ring holds
   * 2N entries, N for buffers and N for these, so an honest sender never finds its ring
   * full, and a receiver never holds more messages of a channel than its ring carries.
   */
  readonly window: number;
  /** tx of side s at [2s], ret of side s at [2s + 1]. */
  readonly rings: readonly [RingGeometry, RingGeometry, RingGeometry, RingGeometry];
  readonly controlBytes: number;
}

const align64 = (n: number): number => Math.ceil(n / 64) * 64;
const pow2AtLeast = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(2, n)));

export function channelLayout(buffersPerSide: number, bufferBytes: number): ChannelLayout {
  if (!Number.isInteger(buffersPerSide) || buffersPerSide < 1 || buffersPerSide > IDC_MAX_BUFFERS_PER_SIDE) {
    throw new RangeError(`buffersPerSide must be an integer in [1, ${IDC_MAX_BUFFERS_PER_SIDE}], got ${buffersPerSide}`);
  }
  if (!Number.isInteger(bufferBytes) || bufferBytes < 64 || bufferBytes > IDC_MAX_BUFFER_BYTES || bufferBytes % 8 !== 0) {
    throw new RangeError(`bufferBytes must be a multiple of 8 in [64, ${IDC_MAX_BUFFER_BYTES}], got ${bufferBytes}`);
  }
  // Room for every buffer a side owns plus a full window of frames and grants: a send
  // waits on buffers or credit, never on ring space.
  const window = buffersPerSide;
  const capacity = pow2AtLeast(buffersPerSide + window);
  const bytes = ringBytes(capacity, DESC_WORDS);
  const rings = [0, 1, 2, 3].map((i) => ringGeometry(align64(bytes) * i, capacity, DESC_WORDS)) as [RingGeometry, RingGeometry, RingGeometry, RingGeometry];
  return Object.freeze({ buffersPerSide, bufferBytes, window, rings, controlBytes: align64(bytes) * 4 });
}

export type Side = 0 | 1;

/** First buffer id side `s` owns. */
export const firstBufferOf = (layout: ChannelLayout, s: Side): number => s * layout.buffersPerSide;

/** What dom0 hands each of the two domains of a channel: everything it may touch, nothing more. */
export interface ChannelGrant {
  readonly channelId: number;
  readonly side: Side;
  /** Domain ids of side 0 and side 1. */
  readonly domains: readonly [number, number];
  readonly layout: ChannelLayout;
  readonly control: SharedArrayBuffer;
  /** Indexed by buffer id: both sides' buffers (a receiver needs views onto the sender's). */
  readonly buffers: readonly SharedArrayBuffer[];
  /** This side's grant table (buffersPerSide words), shared with dom0 only. */
  readonly grantTable: SharedArrayBuffer;
  /** Both domains are in one trust group, so hold one arena: a block may travel as its frame. */
  readonly sameGroup: boolean;
}

/** The reasons an IDC operation is refused; they cross the worker boundary as `code`. */
export type IdcErrorCode =
  /** The host policy does not let these two domains talk. */
  | 'policy'
  /** No such domain, or it cannot use shared memory (copy transport). */
  | 'unknown-peer'
  /** A grant ref that dom0 never issued to this domain (forged, or someone else's). */
  | 'grant-unknown'
  /** A grant ref its owner revoked. */
  | 'grant-revoked'
  /** A grant ref already mapped: a grant maps once, into its grantee's one view. */
  | 'grant-mapped'
  /** dom0 refused to grant: the asker does not hold that buffer now. */
  | 'grant-refused'
  /** A local misuse: writing a sent buffer, sending a buffer twice, reading a released view. */
  | 'buffer-state'
  /** The channel is closed or its peer faulted it. */
  | 'closed'
  /** One of the two domains already has as many channels, or as much channel memory, as dom0 allows one domain. */
  | 'quota'
  /** The peer holds a whole window of our FRAME/GRANT messages, and did not give one back in time. */
  | 'window-full'
  /** The peer sent past the window (a protocol violation): the channel is faulted. */
  | 'window-exceeded'
  | 'bad-request';

export class IdcError extends Error {
  override name = 'IdcError';
  constructor(
    readonly code: IdcErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A buffer id given a new SharedArrayBuffer after its old one was forwarded (IdcBroker.renew). */
export interface RenewedBuffer {
  readonly channelId: number;
  readonly buffer: number;
  readonly generation: number;
  readonly sab: SharedArrayBuffer;
}

/** An error as data on a MessagePort, and back (structured clone loses the class). */
export interface IdcErrorData {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

export function idcErrorData(err: unknown): IdcErrorData {
  if (err instanceof IdcError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

const CODES = new Set<string>(['policy', 'unknown-peer', 'grant-unknown', 'grant-revoked', 'grant-mapped', 'grant-refused', 'buffer-state', 'closed', 'quota', 'window-full', 'window-exceeded', 'bad-request']);

export function idcErrorFrom(data: IdcErrorData): Error {
  if (data.name === 'IdcError' && data.code !== undefined && CODES.has(data.code)) return new IdcError(data.code as IdcErrorCode, data.message);
  const e = new Error(data.message);
  e.name = data.name;
  return e;
}

// ---- control messages between a guest's IDC port and the host page -----------------------

/** guest → host. `tag` pairs a request with its reply. */
export type IdcRequest =
  | { readonly op: 'connect'; readonly tag: number; readonly peer: number; readonly buffersPerSide?: number; readonly bufferBytes?: number }
  | { readonly op: 'grant'; readonly tag: number; readonly channelId: number; readonly buffer: number; readonly toChannelId: number }
  | { readonly op: 'map'; readonly tag: number; readonly ref: number }
  | { readonly op: 'end'; readonly tag: number; readonly ref: number }
  /** A buffer of ours came back retired (it was forwarded): ask for a new one under its id. */
  | { readonly op: 'renew'; readonly tag: number; readonly channelId: number; readonly buffer: number };

/** host → guest. */
export type IdcNotice =
  | { readonly op: 'reply'; readonly tag: number; readonly value?: unknown; readonly error?: IdcErrorData }
  /** A peer opened a channel to this domain. */
  | { readonly op: 'channel'; readonly grant: ChannelGrant }
  /** A grant this domain mapped was revoked by its owner. */
  | { readonly op: 'revoked'; readonly ref: number }
  /** The peer renewed one of its buffers: its next message in that buffer is in this one. */
  | { readonly op: 'renewed'; readonly renewed: RenewedBuffer }
  /** The domain at the other end of a channel ended: dom0 dropped the channel. */
  | { readonly op: 'closed'; readonly channelId: number; readonly reason: string };

/** What dom0 returns for a mapped grant: the one buffer, and the bytes it may view. */
export interface MappedGrant {
  readonly ref: number;
  readonly buffer: SharedArrayBuffer;
  readonly bytes: number;
}
