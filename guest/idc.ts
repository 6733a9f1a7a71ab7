// Runs in a guest worker: the guest's side of inter-domain channels (layout in
// shared/idc-layout.ts).
//
//   const idc = openIdc(init.idc);                  // the IDC port the host gave this guest
//   const ch = await idc.connect(peerId);           // asks the host; its policy decides
//   const buf = ch.alloc()!;                        // a buffer of the channel's pool
//   buf.bytes.set(payload);                         // the payload's one write
//   ch.send(buf, payload.length);                   // descriptor {id, offset, length} on tx
//   // peer:  const v = await ch.receive(); v.bytes (a view on the same memory); v.release();
//
// Every word the peer writes is hostile: a descriptor is copied out of the ring, then
// checked (its buffer belongs to the peer and is not already held here, the range lies
// inside the buffer); a returned id must be one we lent and have not had back. A bad entry
// is refused and counted, and only this channel sees it.
//
// Flow control: a FRAME or GRANT message holds one credit of the channel's window
// (layout.window) until the receiver's return of it reaches us. The sender waits for
// credit; the receiver counts what it took and has not yet returned, and a peer that sends
// past the window faults the channel ('window-exceeded'), so nothing a peer sends is queued
// here without bound. BUFFER messages need no credit: a side owns N buffers.
//
// What the browser cannot stop (docs/design.md, "Inter-domain channels"): both domains
// hold every buffer of their channel's pool, so a peer can read a buffer we are filling and
// write one it has given back. Whatever is written into a channel buffer is disclosed to the
// peer, and received bytes can change until they are copied.
import '../shared/dispose-polyfill';
import { RingConsumer, RingProducer } from '../shared/ring';
import { POLL_MS } from './channel';
import { perf } from '../shared/clock';
import {
  D_ID,
  D_KIND,
  D_LENGTH,
  D_OFFSET,
  GEN_MASK,
  GT_FREE,
  GT_SENT,
  IdcError,
  KIND_BITS,
  KIND_MASK,
  Kind,
  bufferKindWord,
  firstBufferOf,
  type IdcErrorCode,
  idcErrorFrom,
  type ChannelGrant,
  type IdcNotice,
  type IdcRequest,
  type MappedGrant,
  type RenewedBuffer,
  type Side,
} from '../shared/idc-layout';
import type { DomainGrant } from '../shared/grant';

/** What an endpoint asks of dom0 (through the host), for grants. */
export interface IdcControlPlane {
  grant(channelId: number, buffer: number, toChannelId: number): Promise<number>;
  map(ref: number): Promise<MappedGrant>;
  end(ref: number): Promise<void>;
  renew(channelId: number, buffer: number): Promise<RenewedBuffer>;
}

export interface RefusalCounters {
  /** Unknown kind, a buffer id that is not the peer's, or a buffer generation the peer cannot have reached. */
  garbage: number;
  /** offset/length outside the buffer. */
  outOfRange: number;
  /** A buffer delivered again while we still hold it. */
  doubleDelivery: number;
  /** A buffer given back that we had not lent (or had back already). */
  doubleRelease: number;
  /** A grant ref dom0 would not map for us (forged, revoked, someone else's). */
  grantRefused: number;
}

export interface EndpointStats {
  sent: number;
  received: number;
  released: number;
  /** Our buffers given back by the peer. */
  returned: number;
  bytesSent: number;
  bytesReceived: number;
  /** Payload bytes copied by this endpoint (0 on the zero-copy path; sendCopy counts). */
  bytesCopied: number;
  forwarded: number;
  grantsMapped: number;
  /** Our buffers taken out of circulation because a peer forwarded them to a third domain. */
  retired: number;
  /** Retired buffers of ours dom0 replaced with a new SharedArrayBuffer under the same id. */
  renewed: number;
  /** Renewals dom0 refused (the buffer's grant had not ended yet); each is asked again when we run out of buffers. */
  renewRefused: number;
  /** Blocks sent as a frame of the group's arena (no copy). */
  framesSent: number;
  refused: RefusalCounters;
}

type ViewState = 'held' | 'released' | 'forwarded' | 'revoked';

/** How often a refused renewal is asked again, at most (only while we are out of buffers). */
const RENEW_RETRY_MS = 100;

/** Anything holding a lease that `release()` gives back (a block view). */
export interface Releasable {
  release(): void;
}

/** A domain's trust-group arena, as its block device sees it. */
export interface GroupArena {
  readonly buffer: SharedArrayBuffer;
  readonly frames: number;
  readonly frameBytes: number;
}

/**
 * The trust group's arena as `openIdc` takes it, from the guest's domain grant: null on the
 * copy transport, or where frames do not start at the arena's first byte (a block view's
 * offset then does not say which frame it is).
 */
export function groupArenaOf(g: DomainGrant): GroupArena | null {
  if (g.kind !== 'zero-copy' || g.arenaLayout.framesByteOffset !== 0) return null;
  return { buffer: g.arena, frames: g.arenaLayout.frames, frameBytes: g.arenaLayout.frameBytes };
}

/** A received message: a view onto the sender's buffer. Read-only by contract. */
export class RxView implements Disposable {
  private state: ViewState = 'held';
  private readonly view: Uint8Array;

  /** @internal built by IdcEndpoint only */
  constructor(
    private readonly ep: IdcEndpoint,
    readonly kind: Kind,
    /** Buffer id (a buffer of this channel) or grant ref (a forwarded buffer). */
    readonly id: number,
    readonly offset: number,
    readonly length: number,
    /** @internal the memory viewed: a channel buffer (of the generation the sender wrote), a granted buffer, or the arena */
    readonly buffer: SharedArrayBuffer,
    /** Where the buffer (or the frame) starts in `buffer`. */
    base = 0,
  ) {
    this.view = new Uint8Array(buffer, base + offset, length);
  }

  /** The payload, in the sender's buffer (no copy). Throws once released, forwarded away or revoked. */
  get bytes(): Uint8Array {
    if (this.state === 'held' || this.state === 'forwarded') return this.view;
    throw new IdcError(this.state === 'revoked' ? 'grant-revoked' : 'buffer-state', `view of ${this.kind === Kind.GRANT ? 'grant' : 'buffer'} ${this.id} was ${this.state}`);
  }

  get released(): boolean {
    return this.state !== 'held' && this.state !== 'forwarded';
  }

  /** Give the buffer back to its owner. Idempotent; a forwarded view goes back when the forward ends. */
  release(): void {
    if (this.state !== 'held') return;
    this.state = 'released';
    this.ep.giveBack(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal */
  markForwarded(): void {
    this.state = 'forwarded';
  }
  /** @internal the forward ended: now it really goes back */
  endForward(): void {
    if (this.state !== 'forwarded') return;
    this.state = 'released';
    this.ep.giveBack(this);
  }
  /** @internal the grant was refused: it is ours to release again */
  undoForward(): void {
    if (this.state === 'forwarded') this.state = 'held';
  }
  /** @internal releaseAll put it on the return ring */
  markReleasedInBatch(): void {
    this.state = 'released';
  }
  /** @internal */
  markRevoked(): void {
    if (this.state === 'held') this.state = 'revoked';
  }
  /** @internal the endpoint it arrived on */
  get channel(): IdcEndpoint {
    return this.ep;
  }
  /** @internal */
  get current(): ViewState {
    return this.state;
  }
}

/** One of our own buffers, writable until it is sent. */
export class TxBuffer {
  private sent = false;
  private readonly view: Uint8Array;

  /** @internal built by IdcEndpoint only */
  constructor(
    readonly id: number,
    buffer: SharedArrayBuffer,
  ) {
    this.view = new Uint8Array(buffer);
  }

  get capacity(): number {
    return this.view.byteLength;
  }

  /** The whole buffer. Refused once sent: the peer is reading it. */
  get bytes(): Uint8Array {
    if (this.sent) throw new IdcError('buffer-state', `buffer ${this.id} was sent: the peer holds it until it gives it back`);
    return this.view;
  }

  get isSent(): boolean {
    return this.sent;
  }

  /** @internal */
  setSent(sent: boolean): void {
    this.sent = sent;
  }
}

export class IdcEndpoint {
  readonly channelId: number;
  readonly side: Side;
  /** The domain at the other end. */
  readonly peer: number;
  readonly stats: EndpointStats = {
    sent: 0,
    received: 0,
    released: 0,
    returned: 0,
    bytesSent: 0,
    bytesReceived: 0,
    bytesCopied: 0,
    forwarded: 0,
    grantsMapped: 0,
    retired: 0,
    renewed: 0,
    renewRefused: 0,
    framesSent: 0,
    refused: { garbage: 0, outOfRange: 0, doubleDelivery: 0, doubleRelease: 0, grantRefused: 0 },
  };
  /** Why the channel stopped (a ring index the peer corrupted, the peer sent past the window, the peer ended), or null. */
  fault: string | null = null;
  /** The IdcError code operations on a faulted channel fail with (null: 'closed'). */
  faultCode: IdcErrorCode | null = null;
  /** FRAME and GRANT messages either side may have outstanding (layout.window). */
  readonly window: number;
  /** Last refusal, for the log and the tests. */
  lastRefusal = '';

  private readonly tx: RingProducer;
  private readonly rx: RingConsumer;
  private readonly ret: RingConsumer;
  private readonly back: RingProducer;
  /** Indexed by buffer id; a renewed id's entry is replaced (renewedPeer, renewOwn). */
  private readonly buffers: SharedArrayBuffer[];
  /** Per buffer id, the generation of the SharedArrayBuffer in `buffers` (shared/idc-layout.ts, bufferKindWord). */
  private readonly gens: Int32Array;
  /** Ours, retired and not yet renewed (a renewal refused is asked again when we run out of buffers). */
  private readonly retiredIds = new Set<number>();
  /** Retired ids whose renewal is being asked now: one request per id at a time. */
  private readonly renewing = new Set<number>();
  private lastRenewAsk = -Infinity;
  /** Endpoints we forwarded messages of this channel to, while any of those forwards lasts (endForwards). */
  private readonly downstream = new Set<IdcEndpoint>();
  /** Resolved at the next renewal of ours (waitForBuffers). */
  private renewalSignal: Promise<void> | null = null;
  private wakeOnRenewal: (() => void) | null = null;
  /** Peer buffers whose descriptor came with the next generation before the host's notice did. */
  private readonly awaitingRenewal = new Map<number, { generation: number; offset: number; length: number; resolve: (v: RxView | null) => void }>();
  private readonly bufferBytes: number;
  private readonly ownFirst: number;
  private readonly peerFirst: number;
  private readonly n: number;
  private readonly table: Int32Array;
  private readonly own: TxBuffer[] = [];
  private readonly free: number[] = [];
  private readonly lent = new Set<number>();
  /** Peer buffers we hold (delivered and not yet given back). */
  private readonly held = new Set<number>();
  /** Grants mapped here, by ref. */
  private readonly mapped = new Map<number, RxView>();
  /** Grants we made on this channel: ref → the view (of another channel) it lends. */
  private readonly forwards = new Map<number, RxView>();
  private readonly ended = new Set<number>();
  /** Block views we lent as frames, by frame: each held until the peer gives the frame back. */
  private readonly lentFrames = new Map<number, Releasable[]>();
  /** Frames of the arena the peer lent us and we still view, by frame (a block may come twice). */
  private readonly heldFrames = new Map<number, number>();
  /** Delivered in ring order; a grant waits for dom0's answer before later messages are handed out. */
  private readonly inbox: (RxView | Promise<RxView | null>)[] = [];
  private readonly ready = new Map<Promise<RxView | null>, RxView | null>();
  /** Entries for `back` that did not fit: at most N buffers and a window of frames and grants. */
  private readonly backlog: [number, number][] = [];
  private readonly scratchEntry = [0, 0, 0, 0];
  /** Our FRAME and GRANT messages whose return we have not seen, plus grants being made. */
  private windowUsed = 0;
  /** The peer's FRAME and GRANT messages we took and whose return we have not published. */
  private rxWindowUsed = 0;
  /** Grant refs the peer sent us that we have not returned (mapping, mapped, or refused). */
  private readonly grantRefs = new Set<number>();
  /** Set when the peer sent past the window: its ring is not read again. */
  private rxStopped = false;

  constructor(
    /** What dom0 handed this side: every buffer the peer can also see. */
    readonly grant: ChannelGrant,
    private readonly control: IdcControlPlane | null,
    /** This domain's trust-group arena, used only when the peer is in the same group. */
    private readonly arena: GroupArena | null = null,
  ) {
    const s = grant.side;
    const peer = (1 - s) as Side;
    const l = grant.layout;
    this.channelId = grant.channelId;
    this.side = s;
    this.peer = grant.domains[peer];
    this.buffers = [...grant.buffers];
    this.gens = new Int32Array(grant.buffers.length);
    this.bufferBytes = l.bufferBytes;
    this.n = l.buffersPerSide;
    this.window = l.window;
    this.ownFirst = firstBufferOf(l, s);
    this.peerFirst = firstBufferOf(l, peer);
    if (grant.buffers.length !== 2 * this.n) throw new IdcError('bad-request', `channel ${grant.channelId}: ${grant.buffers.length} buffers for ${this.n} per side`);
    this.tx = new RingProducer(grant.control, l.rings[2 * s]!);
    this.ret = new RingConsumer(grant.control, l.rings[2 * s + 1]!);
    this.rx = new RingConsumer(grant.control, l.rings[2 * peer]!);
    this.back = new RingProducer(grant.control, l.rings[2 * peer + 1]!);
    for (const r of [this.tx, this.ret, this.rx, this.back]) r.onFault = (f) => (this.fault ??= `channel ${this.channelId}: ${f.message}`);
    this.table = new Int32Array(grant.grantTable);
    for (let i = 0; i < this.n; i++) {
      this.own.push(new TxBuffer(this.ownFirst + i, grant.buffers[this.ownFirst + i]!));
      this.free.push(this.ownFirst + this.n - 1 - i);
    }
  }

  get bufferSize(): number {
    return this.bufferBytes;
  }

  /** Our buffers free to fill now (after taking back what the peer returned). */
  get freeBuffers(): number {
    this.reclaim();
    return this.free.length;
  }

  // ---- sending ---------------------------------------------------------------------------

  /** A free buffer of our half of the pool, or null when the peer holds all of them. */
  alloc(): TxBuffer | null {
    if (this.free.length === 0) this.reclaim();
    if (this.free.length === 0) this.askRenewals();
    const id = this.free.pop();
    return id === undefined ? null : this.own[id - this.ownFirst]!;
  }

  /** Block (workers only) until the peer gives something back, or the timeout; how many of our buffers came back. */
  reclaimSync(timeoutMs: number): number {
    const got = this.reclaim();
    if (got > 0 || this.fault) return got;
    // Poll first, as the block device's channel does: a peer that answers within it costs no futex wake.
    if (!this.ret.pollFor(POLL_MS)) this.ret.waitForEntries(timeoutMs);
    return this.reclaim();
  }

  /**
   * Block (workers only) until a buffer is free, or the timeout. A buffer that came back
   * from a forward is renewed by a message from the host, which a blocked worker does not
   * receive: a sender whose peer forwards what it sends waits with `allocAsync`.
   */
  allocSync(timeoutMs: number): TxBuffer | null {
    const until = perf.now() + timeoutMs;
    for (let b = this.alloc(); ; b = this.alloc()) {
      if (b || this.fault || perf.now() >= until) return b;
      this.reclaimSync(until - perf.now());
    }
  }

  /** Wait without blocking the event loop until a buffer is free, or the timeout. */
  async allocAsync(timeoutMs: number): Promise<TxBuffer | null> {
    const until = perf.now() + timeoutMs;
    for (let b = this.alloc(); ; b = this.alloc()) {
      if (b || this.fault || perf.now() >= until) return b;
      await this.waitForBuffers(until - perf.now());
    }
  }

  /**
   * Until the peer gives something back or dom0 renews a retired buffer of ours: a renewal
   * is a message, not a ring entry, so waiting on `ret` alone missed it (the relay
   * benchmark stalled for the whole timeout with every buffer retired).
   */
  private waitForBuffers(ms: number): Promise<unknown> {
    const back = this.ret.waitForEntriesAsync(ms);
    if (this.retiredIds.size === 0) return back;
    this.renewalSignal ??= new Promise<void>((resolve) => (this.wakeOnRenewal = resolve));
    return Promise.race([back, this.renewalSignal]);
  }

  /** Queue a descriptor for `length` bytes of `buf` from `offset`; visible to the peer at `flush()`. */
  post(buf: TxBuffer, length: number, offset = 0): void {
    if (this.fault) throw this.faultError();
    if (this.own[buf.id - this.ownFirst] !== buf) throw new IdcError('buffer-state', `buffer ${buf.id} is not one of channel ${this.channelId}'s`);
    if (buf.isSent) throw new IdcError('buffer-state', `buffer ${buf.id} was already sent`);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.bufferBytes) {
      throw new IdcError('bad-request', `range [${offset}, ${offset}+${length}) is outside a ${this.bufferBytes}-byte buffer`);
    }
    const e = this.scratchEntry;
    e[D_KIND] = bufferKindWord(this.gens[buf.id]!);
    e[D_ID] = buf.id;
    e[D_OFFSET] = offset;
    e[D_LENGTH] = length;
    // Capacity is twice what we own: a full tx ring means the peer corrupted its index.
    if (!this.tx.tryPush(e)) throw new IdcError('closed', this.tx.fault?.message ?? `channel ${this.channelId}: tx ring full`);
    // The grant-table word says "lent" before the peer can see the descriptor, so dom0
    // can honour a forward of it as soon as the peer has it.
    Atomics.store(this.table, buf.id - this.ownFirst, GT_SENT);
    buf.setSent(true);
    this.lent.add(buf.id);
    this.stats.sent++;
    this.stats.bytesSent += length;
  }

  /** Publish what `post` queued and what `release` gave back (one notify at most per ring). */
  flush(): void {
    this.tx.publish();
    this.flushBack();
  }

  send(buf: TxBuffer, length: number, offset = 0): void {
    this.post(buf, length, offset);
    this.tx.publish();
  }

  /** Copy `bytes` into a free buffer and send it: the one copy is counted. False when no buffer is free. */
  sendCopy(bytes: Uint8Array): boolean {
    if (bytes.byteLength > this.bufferBytes) throw new IdcError('bad-request', `${bytes.byteLength} bytes do not fit a ${this.bufferBytes}-byte buffer`);
    const b = this.alloc();
    if (!b) return false;
    b.bytes.set(bytes);
    this.recordCopy(bytes.byteLength);
    this.send(b, bytes.byteLength);
    return true;
  }

  /**
   * Send a block read from our volume. Same trust group: the descriptor names its frame in
   * the arena both of us hold, and our view's lease keeps the frame from being reused until
   * the peer gives it back (no copy). Otherwise, or for a block in this domain's private
   * frames (only we may read it), the bytes are copied once into a pool buffer, counted.
   * Returns how it went, or null when the peer holds the whole window of frames (wait for
   * one back: `sendBlockAsync`) or, for a copy, every buffer (the view is kept).
   */
  sendBlock(view: Releasable & { readonly bytes: Uint8Array }): 'frame' | 'copied' | null {
    const a = this.grant.sameGroup ? this.arena : null;
    const bytes = view.bytes;
    if (a && bytes.buffer === a.buffer && bytes.byteOffset % a.frameBytes === 0 && bytes.byteLength <= a.frameBytes) {
      if (this.fault) throw this.faultError();
      if (this.windowFree === 0) return null;
      const frame = bytes.byteOffset / a.frameBytes;
      const e = this.scratchEntry;
      e[D_KIND] = Kind.FRAME;
      e[D_ID] = frame;
      e[D_OFFSET] = 0;
      e[D_LENGTH] = bytes.byteLength;
      if (!this.tx.tryPush(e)) return null;
      let lent = this.lentFrames.get(frame);
      if (!lent) this.lentFrames.set(frame, (lent = []));
      lent.push(view);
      this.windowUsed++;
      this.tx.publish();
      this.stats.sent++;
      this.stats.framesSent++;
      this.stats.bytesSent += bytes.byteLength;
      return 'frame';
    }
    if (!this.sendCopy(bytes)) return null;
    view.release();
    return 'copied';
  }

  /**
   * `sendBlock`, waiting without blocking the event loop for what it needs (credit for a
   * frame, a buffer for a copy): back-pressure from a slow receiver. Null when `timeoutMs`
   * passed first (the view is kept); throws once the channel is faulted.
   */
  async sendBlockAsync(view: Releasable & { readonly bytes: Uint8Array }, timeoutMs = Infinity): Promise<'frame' | 'copied' | null> {
    const until = perf.now() + timeoutMs;
    for (;;) {
      const how = this.sendBlock(view);
      if (how) return how;
      if (this.fault) throw this.faultError();
      const left = until - perf.now();
      if (left <= 0) return null;
      // Credit and buffers come back on ret, or by renewal. A 'closed' notice does not ring it: look again now and then.
      await this.waitForBuffers(Math.min(left, 1000));
    }
  }

  /** Credits free now for FRAME and GRANT messages, after taking back what the peer returned. */
  get windowFree(): number {
    if (this.windowUsed >= this.window) this.reclaim();
    return this.window - this.windowUsed;
  }

  /** @internal wait for a credit and take it; a grant being made holds it until it is posted. */
  async takeCredit(timeoutMs: number): Promise<void> {
    const until = perf.now() + timeoutMs;
    for (;;) {
      if (this.fault) throw this.faultError();
      // Checked and taken in one step: two forwards waiting together cannot both take the last one.
      if (this.windowFree > 0) {
        this.windowUsed++;
        return;
      }
      const left = until - perf.now();
      if (left <= 0) throw new IdcError('window-full', `channel ${this.channelId}: the peer holds the whole window (${this.window} frame/grant messages) and gave none back within ${timeoutMs} ms`);
      await this.ret.waitForEntriesAsync(Math.min(left, 1000));
    }
  }

  /** @internal a credit taken for a grant that was never posted. */
  giveCredit(): void {
    this.windowUsed--;
  }

  /** Count `bytes` of payload this side copied into a buffer from elsewhere (a block view, say). */
  recordCopy(bytes: number): void {
    this.stats.bytesCopied += bytes;
  }

  /** Take back what the peer returned. Returns how many of our buffers came back. */
  reclaim(): number {
    let got = 0;
    this.ret.consume(Infinity, (e) => {
      const kind = e[D_KIND]!;
      const id = e[D_ID]!;
      if (kind === Kind.BUFFER) {
        if (id < this.ownFirst || id >= this.ownFirst + this.n) return this.refuse('garbage', `returned id ${id} is not one of our buffers`);
        if (!this.lent.delete(id)) return this.refuse('doubleRelease', `buffer ${id} returned but not lent (double release)`);
        this.stats.returned++;
        got++;
        const buf = this.own[id - this.ownFirst]!;
        // dom0 may have let the peer forward it at this very moment: whoever moves the
        // word first wins. If it was forwarded, a third domain holds this buffer for good
        // (a SharedArrayBuffer cannot be taken back), so it never carries our data again.
        const was = Atomics.compareExchange(this.table, id - this.ownFirst, GT_SENT, GT_FREE);
        if (was === GT_SENT) {
          buf.setSent(false);
          this.free.push(id);
        } else {
          this.stats.retired++;
          this.retiredIds.add(id);
          this.renewOwn(id);
        }
      } else if (kind === Kind.FRAME) {
        const view = this.lentFrames.get(id)?.pop();
        if (!view) return this.refuse('doubleRelease', `frame ${id} returned but not lent`);
        if (this.lentFrames.get(id)!.length === 0) this.lentFrames.delete(id);
        this.windowUsed--;
        this.stats.returned++;
        view.release();
      } else if (kind === Kind.GRANT) {
        const view = this.forwards.get(id);
        if (!view) {
          // It came back after we revoked it: the grantee's view is over, and so is the message.
          if (this.ended.delete(id)) this.windowUsed--;
          else this.refuse('doubleRelease', `grant ${id} returned but not forwarded on this channel`);
          return;
        }
        this.forwards.delete(id);
        this.windowUsed--;
        // The buffer goes back to its owner once dom0 has ended the grant: the owner asks
        // dom0 to renew a buffer as soon as it sees it back, and dom0 renews only a buffer
        // whose grant ended. Given back at once, the owner's request often got to dom0
        // before our end did, was refused, and waited for a retry.
        const control = this.control;
        if (control) void control.end(id).then(() => view.endForward(), () => view.endForward());
        else view.endForward();
      } else {
        this.refuse('garbage', `return of unknown kind ${kind}`);
      }
    });
    return got;
  }

  // ---- receiving -------------------------------------------------------------------------

  /** Messages that arrived, in order, without waiting. */
  poll(max = Infinity): RxView[] {
    this.endForwards();
    this.take();
    const out: RxView[] = [];
    while (out.length < max && this.inbox.length > 0) {
      const head = this.inbox[0]!;
      let v: RxView | null;
      if (head instanceof RxView) v = head;
      else if (this.ready.has(head)) {
        v = this.ready.get(head)!;
        this.ready.delete(head);
      } else break;
      this.inbox.shift();
      if (v) out.push(v);
    }
    return out;
  }

  /**
   * The next message; blocks (workers only) up to `timeoutMs`. Forwarded grants need
   * `receive`, and so does a relay: a grantee's return downstream does not wake a blocked
   * worker (it is read at the next poll), and the buffer goes back to our peer only once
   * dom0 has answered our end of the grant, which a blocked worker cannot receive.
   */
  receiveSync(timeoutMs: number): RxView | null {
    const until = perf.now() + timeoutMs;
    for (;;) {
      const [v] = this.poll(1);
      if (v || this.fault) return v ?? null;
      const left = until - perf.now();
      if (left <= 0) return null;
      if (!this.rx.pollFor(POLL_MS)) this.rx.waitForEntries(left);
    }
  }

  /** The next message, waiting without blocking the event loop. */
  async receive(timeoutMs = Infinity): Promise<RxView | null> {
    const until = perf.now() + timeoutMs;
    for (;;) {
      const [v] = this.poll(1);
      if (v || this.fault) return v ?? null;
      const left = until - perf.now();
      if (left <= 0) return null;
      const head = this.inbox[0];
      const ms = Math.min(left, 1000);
      // A grantee's return downstream ends a forward and gives its buffer back to our peer,
      // which may be what the peer waits for before it sends again: wake for those too.
      const wakes: Promise<unknown>[] = [...this.downstream].map((d) => d.ret.waitForEntriesAsync(ms));
      if (head && !(head instanceof RxView)) await Promise.race([head, new Promise((r) => setTimeout(r, left)), ...wakes]);
      else await Promise.race([this.rx.waitForEntriesAsync(ms), ...wakes]);
    }
  }

  /**
   * Read the returns of the channels we forwarded this channel's messages to: a forward
   * ends, and the buffer goes back to our peer, only when its grantee's return is read.
   * Without this a relay that waited here for the next message, holding every buffer its
   * peer had lent it (forwarded, and released downstream but not yet read back), never got
   * one: its peer waited for a buffer, it for a message (the relay benchmark).
   */
  private endForwards(): void {
    for (const d of this.downstream) {
      d.reclaim();
      if (!d.forwardsFrom(this)) this.downstream.delete(d);
    }
  }

  /** @internal whether grants made on this endpoint still lend views of `from`'s messages. */
  forwardsFrom(from: IdcEndpoint): boolean {
    for (const v of this.forwards.values()) if (v.channel === from) return true;
    return false;
  }

  /** Wait without blocking the event loop until a message may be there (nothing is taken). */
  async waitForMessages(timeoutMs: number): Promise<void> {
    if (this.inbox.length > 0 || this.rx.available() > 0 || this.fault) return;
    await this.rx.waitForEntriesAsync(timeoutMs);
  }

  /** Copy descriptors out of the rx ring and check each one. */
  private take(): void {
    if (this.rxStopped) return;
    this.rx.consume(Infinity, (e) => {
      if (this.rxStopped) return; // the rest of a batch past the window is dropped
      const word = e[D_KIND]!;
      const kind = word & KIND_MASK;
      if (kind !== Kind.BUFFER && word !== kind) return this.refuse('garbage', `descriptor kind word ${word}: only a buffer's carries a generation`);
      const id = e[D_ID]!;
      const offset = e[D_OFFSET]!;
      const length = e[D_LENGTH]!;
      if (kind === Kind.BUFFER) {
        if (id < this.peerFirst || id >= this.peerFirst + this.n) return this.refuse('garbage', `descriptor names buffer ${id}, not one of the peer's`);
        if (this.held.has(id)) return this.refuse('doubleDelivery', `buffer ${id} delivered again while we hold it`);
        if (!this.inRange(offset, length, this.bufferBytes)) return this.refuse('outOfRange', `range [${offset}, ${offset}+${length}) is outside buffer ${id}`);
        const generation = word >>> KIND_BITS;
        const ours = this.gens[id]!;
        // One ahead: the peer renewed this buffer and wrote into the new one before the
        // host's notice reached us. Anything else the peer cannot have sent honestly.
        const ahead = generation === ((ours + 1) & GEN_MASK);
        if (generation !== ours && !ahead) return this.refuse('garbage', `buffer ${id} of generation ${generation}; ours is ${ours}`);
        this.held.add(id);
        if (ahead) this.awaitRenewal(id, generation, offset, length);
        else this.deliver(new RxView(this, Kind.BUFFER, id, offset, length, this.buffers[id]!));
      } else if (kind === Kind.FRAME) {
        const a = this.grant.sameGroup ? this.arena : null;
        if (!a) return this.refuse('garbage', `frame descriptor on a channel between trust groups`);
        if (id < 0 || id >= a.frames) return this.refuse('garbage', `frame ${id} is outside the arena`);
        if (!this.inRange(offset, length, a.frameBytes)) return this.refuse('outOfRange', `range [${offset}, ${offset}+${length}) is outside frame ${id}`);
        if (!this.admit()) return;
        this.heldFrames.set(id, (this.heldFrames.get(id) ?? 0) + 1);
        this.deliver(new RxView(this, Kind.FRAME, id, offset, length, a.buffer, id * a.frameBytes));
      } else if (kind === Kind.GRANT) {
        if (id === 0 || this.grantRefs.has(id)) return this.refuse('garbage', `grant ref ${id} is null or already sent on this channel`);
        if (!this.control) return this.refuse('grantRefused', `grant ${id}: this endpoint has no control plane`);
        if (!this.admit()) return;
        this.grantRefs.add(id);
        const p: Promise<RxView | null> = this.control.map(id).then(
          (m) => {
            if (!this.inRange(offset, length, m.bytes)) {
              this.refuse('outOfRange', `range [${offset}, ${offset}+${length}) is outside granted buffer ${id}`);
              this.returnGrant(id);
              return null;
            }
            const v = new RxView(this, Kind.GRANT, id, offset, length, m.buffer);
            this.mapped.set(id, v);
            this.stats.grantsMapped++;
            this.countReceived(v);
            return v;
          },
          (err: unknown) => {
            this.refuse('grantRefused', `grant ${id}: ${err instanceof Error ? err.message : String(err)}`);
            // Returned all the same: the message is over, and its owner's credit comes back.
            this.returnGrant(id);
            return null;
          },
        );
        void p.then((v) => this.ready.set(p, v));
        this.inbox.push(p);
      } else {
        this.refuse('garbage', `descriptor of unknown kind ${kind}`);
      }
    });
  }

  /**
   * Count a FRAME or GRANT message against the window. One past it means the peer ignores
   * the window (an honest sender waits for credit): the channel faults and nothing more is
   * read from its ring, so a peer cannot make us queue messages without bound.
   */
  private admit(): boolean {
    if (this.rxWindowUsed < this.window) {
      this.rxWindowUsed++;
      return true;
    }
    this.rxStopped = true;
    this.stop('window-exceeded', `channel ${this.channelId}: the peer sent a frame/grant message past the window (${this.window} not yet given back)`);
    return false;
  }

  private returnGrant(ref: number): void {
    this.backlog.push([Kind.GRANT, ref]);
    this.flushBack();
  }

  private stop(code: IdcErrorCode, why: string): void {
    if (this.fault) return;
    this.fault = why;
    this.faultCode = code;
  }

  /** What every operation on a faulted channel fails with. */
  private faultError(): IdcError {
    return new IdcError(this.faultCode ?? 'closed', this.fault ?? `channel ${this.channelId} is faulted`);
  }

  private inRange(offset: number, length: number, size: number): boolean {
    return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
  }

  private deliver(v: RxView): void {
    this.countReceived(v);
    this.inbox.push(v);
  }

  private countReceived(v: RxView): void {
    this.stats.received++;
    this.stats.bytesReceived += v.length;
  }

  /** @internal a view was released: put it on the return ring. */
  giveBack(v: RxView): void {
    this.unhold(v);
    this.stats.released++;
    this.backlog.push([v.kind, v.id]);
    this.flushBack();
  }

  /** The view is over; what it holds of the window or of the peer's buffers goes when its return is published. */
  private unhold(v: RxView): void {
    if (v.kind === Kind.GRANT) this.mapped.delete(v.id);
    else if (v.kind === Kind.FRAME) {
      const n = (this.heldFrames.get(v.id) ?? 1) - 1;
      if (n > 0) this.heldFrames.set(v.id, n);
      else this.heldFrames.delete(v.id);
    }
  }

  private flushBack(): void {
    if (this.backlog.length === 0) return;
    const e = this.scratchEntry;
    let i = 0;
    for (; i < this.backlog.length; i++) {
      const [kind, id] = this.backlog[i]!;
      e[D_KIND] = kind;
      e[D_ID] = id;
      e[D_OFFSET] = 0;
      e[D_LENGTH] = 0;
      if (!this.back.tryPush(e)) break;
      // Only a published return frees what it stood for: a peer that never reads its ret
      // ring cannot make us deliver again, and queue returns, without bound.
      if (kind === Kind.BUFFER) this.held.delete(id);
      else {
        this.rxWindowUsed--;
        if (kind === Kind.GRANT) this.grantRefs.delete(id);
      }
    }
    this.backlog.splice(0, i);
    this.back.publish();
  }

  /** Release many views with one publish (small batched messages). */
  releaseAll(views: Iterable<RxView>): void {
    for (const v of views) {
      if (v.current !== 'held') continue;
      // Same as release(), but the ring is published once at the end.
      this.unhold(v);
      this.stats.released++;
      this.backlog.push([v.kind, v.id]);
      v.markReleasedInBatch();
    }
    this.flushBack();
  }

  // ---- transitive hand-off ---------------------------------------------------------------

  /**
   * Lend a message we received on this channel to the peer of `to`, without copying: dom0
   * checks that we hold the buffer and issues a grant ref only `to`'s peer can map. Our view
   * stays readable; the buffer goes back to its owner when the forward ends (the third
   * domain released it, or we revoked it). Returns the grant ref.
   *
   * The GRANT message takes one credit of `to`'s window: while `to`'s peer holds the whole
   * window this waits for one to come back, and rejects with `window-full` after `timeoutMs`.
   */
  async forward(view: RxView, to: IdcEndpoint, timeoutMs = Infinity): Promise<number> {
    this.mustHold(view);
    const control = this.control;
    if (!control) throw new IdcError('closed', 'this endpoint has no control plane');
    // Credit first, then the grant: dom0 never makes a grant that cannot be posted.
    await to.takeCredit(timeoutMs);
    let ref: number;
    try {
      this.mustHold(view); // released while we waited?
      this.clearAround(view);
      view.markForwarded();
      ref = await control.grant(this.channelId, view.id, to.channelId).catch((err: unknown) => {
        view.undoForward();
        throw err;
      });
    } catch (err) {
      to.giveCredit();
      throw err;
    }
    try {
      to.postGrant(ref, view);
    } catch (err) {
      to.giveCredit();
      // dom0 made the grant, so it ends before the view is ours again: released at once,
      // the buffer reached its owner, whose renewal got to dom0 ahead of our end and was
      // refused (found by test/unit/idc-model.test.ts). An end that fails leaves nothing
      // lent that dom0 would renew anyway.
      await control.end(ref).catch(() => undefined);
      view.undoForward();
      throw err;
    }
    this.stats.forwarded++;
    this.downstream.add(to);
    return ref;
  }

  /**
   * Zero the buffer of `view` outside the message, before it is granted: the grantee maps
   * the whole SharedArrayBuffer, not the message's range, and the owner reuses a buffer
   * without clearing it, so what else it holds is the owner's earlier messages to us, meant
   * for us alone (attack review of 2026-12-03). We hold the buffer, its owner does not write
   * a lent buffer, and once forwarded it never carries the owner's data again (retired when
   * it comes back), so this cannot clobber anything; a grant dom0 refuses leaves the
   * message itself as it was.
   */
  private clearAround(view: RxView): void {
    const whole = new Uint8Array(view.buffer, 0, this.bufferBytes);
    whole.fill(0, 0, view.offset);
    whole.fill(0, view.offset + view.length);
  }

  private mustHold(view: RxView): void {
    if (view.kind !== Kind.BUFFER || view.current !== 'held' || !this.held.has(view.id)) {
      throw new IdcError('buffer-state', `only a held buffer of channel ${this.channelId} can be forwarded`);
    }
  }

  /** @internal post a grant whose credit the caller took */
  postGrant(ref: number, view: RxView): void {
    if (this.fault) throw this.faultError();
    const e = this.scratchEntry;
    e[D_KIND] = Kind.GRANT;
    e[D_ID] = ref;
    e[D_OFFSET] = view.offset;
    e[D_LENGTH] = view.length;
    if (!this.tx.tryPush(e)) throw new IdcError('closed', `channel ${this.channelId}: tx ring full`);
    this.forwards.set(ref, view);
    this.tx.publish();
  }

  /** End a grant we made on this channel: the grantee's view stops, the buffer goes back. */
  async revoke(ref: number): Promise<void> {
    const view = this.forwards.get(ref);
    if (!view) throw new IdcError('grant-unknown', `grant ${ref} was not made on channel ${this.channelId}`);
    if (!this.control) throw new IdcError('closed', 'this endpoint has no control plane');
    await this.control.end(ref).catch((err: unknown) => {
      // dom0 no longer knows a grant we made: it ended the grant itself, because the
      // grantee's domain went away (IdcBroker.closeDomain). Ended all the same.
      if (!(err instanceof IdcError && err.code === 'grant-unknown')) throw err;
    });
    // The grantee's return may have come in while dom0 answered: then the forward, and its
    // credit, are over already. Otherwise its credit stays held until the grantee returns it.
    if (!this.forwards.delete(ref)) return;
    this.ended.add(ref);
    view.endForward();
  }

  /**
   * @internal the domain at the other end went away (the host's `closed` notice): the
   * channel stops, and every forward made on it ends, so the buffers it lent go back to
   * their owners. Without this a relay's peer lost a buffer for good for every message
   * forwarded to a domain that then ended (found by test/unit/idc-model.test.ts).
   */
  peerEnded(reason: string): void {
    this.fault ??= `channel ${this.channelId}: ${reason}`;
    for (const ref of [...this.forwards.keys()]) void this.revoke(ref).catch(() => undefined);
  }

  /** @internal the owner revoked a grant we mapped. */
  revoked(ref: number): boolean {
    const v = this.mapped.get(ref);
    if (!v) return false;
    this.mapped.delete(ref);
    v.markRevoked();
    // The message is over: its return gives the owner its credit back.
    this.returnGrant(ref);
    return true;
  }

  // ---- renewal of forwarded buffers -------------------------------------------------------

  /**
   * Ask dom0 for a new SharedArrayBuffer under a retired id of ours. A refusal (the peer
   * gave the buffer back while its grant still stands) leaves it retired; `alloc` asks
   * again when we run out of buffers.
   */
  private renewOwn(id: number): void {
    const control = this.control;
    if (!control || this.fault || this.renewing.has(id)) return;
    this.renewing.add(id);
    control.renew(this.channelId, id).then(
      (r) => {
        this.renewing.delete(id);
        if (r.channelId !== this.channelId || r.buffer !== id || !this.retiredIds.delete(id)) return;
        this.buffers[id] = r.sab;
        this.gens[id] = r.generation;
        this.own[id - this.ownFirst] = new TxBuffer(id, r.sab);
        this.free.push(id);
        this.stats.renewed++;
        const wake = this.wakeOnRenewal;
        this.renewalSignal = this.wakeOnRenewal = null;
        wake?.();
      },
      () => {
        this.renewing.delete(id);
        this.stats.renewRefused++;
      },
    );
  }

  private askRenewals(): void {
    if (this.retiredIds.size === 0) return;
    const now = perf.now();
    if (now - this.lastRenewAsk < RENEW_RETRY_MS) return;
    this.lastRenewAsk = now;
    for (const id of this.retiredIds) this.renewOwn(id);
  }

  /** The descriptor came before the host's notice: hold its place in the inbox until the notice. */
  private awaitRenewal(id: number, generation: number, offset: number, length: number): void {
    const p = new Promise<RxView | null>((resolve) => this.awaitingRenewal.set(id, { generation, offset, length, resolve }));
    void p.then((v) => this.ready.set(p, v));
    this.inbox.push(p);
  }

  /** @internal the host says the peer renewed buffer `r.buffer`: view its new SharedArrayBuffer from now on. */
  renewedPeer(r: RenewedBuffer): void {
    const id = r.buffer;
    if (!Number.isInteger(id) || id < this.peerFirst || id >= this.peerFirst + this.n) return;
    if (r.generation !== ((this.gens[id]! + 1) & GEN_MASK) || r.sab.byteLength !== this.bufferBytes) return;
    this.buffers[id] = r.sab;
    this.gens[id] = r.generation;
    const w = this.awaitingRenewal.get(id);
    if (!w || w.generation !== r.generation) return;
    this.awaitingRenewal.delete(id);
    const v = new RxView(this, Kind.BUFFER, id, w.offset, w.length, r.sab);
    this.countReceived(v);
    w.resolve(v);
  }

  private refuse(kind: keyof RefusalCounters, why: string): void {
    this.stats.refused[kind]++;
    this.lastRefusal = why;
  }
}

// ---- the guest's IDC runtime ------------------------------------------------------------

/** Talks to the host over the IDC port: connect, accept, and dom0's grant operations. */
export class Idc implements IdcControlPlane {
  private readonly endpoints = new Map<number, IdcEndpoint>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly incoming: IdcEndpoint[] = [];
  private readonly waiters: ((e: IdcEndpoint) => void)[] = [];
  private nextTag = 1;

  constructor(
    private readonly port: MessagePort,
    private readonly arena: GroupArena | null = null,
  ) {
    port.onmessage = (ev: MessageEvent<IdcNotice>) => this.onNotice(ev.data);
    port.start();
  }

  private onNotice(m: IdcNotice): void {
    if (m.op === 'reply') {
      const p = this.pending.get(m.tag);
      if (!p) return;
      this.pending.delete(m.tag);
      if (m.error) p.reject(idcErrorFrom(m.error));
      else p.resolve(m.value);
    } else if (m.op === 'channel') {
      const ep = this.open(m.grant);
      const w = this.waiters.shift();
      if (w) w(ep);
      else this.incoming.push(ep);
    } else if (m.op === 'renewed') {
      this.endpoints.get(m.renewed.channelId)?.renewedPeer(m.renewed);
    } else if (m.op === 'revoked') {
      // Every endpoint is asked: dom0 maps a grant once, but a revocation must stop every view of it.
      for (const ep of this.endpoints.values()) ep.revoked(m.ref);
    } else if (m.op === 'closed') {
      // Its sends and waits end with IdcError 'closed' from now on; no longer listed, so
      // the channel's buffers go once the guest's own code lets go of the endpoint.
      this.endpoints.get(m.channelId)?.peerEnded(m.reason);
      this.endpoints.delete(m.channelId);
    }
  }

  private call<T>(req: IdcRequest): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req.tag, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage(req);
    });
  }

  private tag(): number {
    return this.nextTag++;
  }

  private open(grant: ChannelGrant): IdcEndpoint {
    const ep = new IdcEndpoint(grant, this, this.arena);
    this.endpoints.set(grant.channelId, ep);
    return ep;
  }

  /** Ask the host for a channel to domain `peer`. Refused with IdcError('policy') unless the host allows it. */
  async connect(peer: number, opts: { buffersPerSide?: number; bufferBytes?: number } = {}): Promise<IdcEndpoint> {
    const grant = await this.call<ChannelGrant>({ op: 'connect', tag: this.tag(), peer, ...opts });
    return this.open(grant);
  }

  /** The next channel a peer opened to us. */
  accept(timeoutMs = Infinity): Promise<IdcEndpoint> {
    const ep = this.incoming.shift();
    if (ep) return Promise.resolve(ep);
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      if (Number.isFinite(timeoutMs)) {
        setTimeout(() => {
          const i = this.waiters.indexOf(resolve);
          if (i < 0) return;
          this.waiters.splice(i, 1);
          reject(new IdcError('closed', `no channel opened within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  channels(): IdcEndpoint[] {
    return [...this.endpoints.values()];
  }

  grant(channelId: number, buffer: number, toChannelId: number): Promise<number> {
    return this.call<number>({ op: 'grant', tag: this.tag(), channelId, buffer, toChannelId });
  }

  map(ref: number): Promise<MappedGrant> {
    return this.call<MappedGrant>({ op: 'map', tag: this.tag(), ref });
  }

  end(ref: number): Promise<void> {
    return this.call<void>({ op: 'end', tag: this.tag(), ref });
  }

  renew(channelId: number, buffer: number): Promise<RenewedBuffer> {
    return this.call<RenewedBuffer>({ op: 'renew', tag: this.tag(), channelId, buffer });
  }
}

/** `arena`: the guest's trust-group arena (its grant's), so blocks can go to peers of its group as frames. */
export function openIdc(port: MessagePort, arena: GroupArena | null = null): Idc {
  return new Idc(port, arena);
}
