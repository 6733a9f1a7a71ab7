// Runs in the dom0 driver worker. Makes the memory of inter-domain channels and keeps the
// grant refs that let a domain lend a buffer it holds to a third domain (Xen's grant table
// with GTF_transitive, shared/idc-layout.ts). The host page decides who may talk
// (host/page/channels.ts); this decides what each domain is handed.
//
// Nothing here reads a buffer's contents. The one word of shared memory it trusts is the
// owner's grant-table entry for a buffer, and only to learn what the owner itself declared
// ("lent to my peer"): a hostile owner can lie there only about its own buffers.
import {
  GEN_MASK,
  GT_FREE,
  idcErrorData,
  type IdcErrorData,
  GT_FORWARDED,
  GT_SENT,
  IdcError,
  channelLayout,
  firstBufferOf,
  type ChannelGrant,
  type ChannelLayout,
  type MappedGrant,
  type RenewedBuffer,
  type Side,
} from '../../shared/idc-layout';
import { initRing } from '../../shared/ring';

interface ChannelRecord {
  readonly id: number;
  readonly domains: readonly [number, number];
  readonly layout: ChannelLayout;
  readonly control: SharedArrayBuffer;
  /** Indexed by buffer id; a retired buffer's entry is replaced when its owner renews it. */
  readonly buffers: SharedArrayBuffer[];
  /** Per buffer id, how many times it was renewed (GEN_MASK bits): BUFFER descriptors carry it. */
  readonly generations: Int32Array;
  readonly tables: readonly [SharedArrayBuffer, SharedArrayBuffer];
  open: boolean;
}

interface GrantRecord {
  readonly ref: number;
  /** The domain that forwarded (holds the buffer from its channel's peer). */
  readonly owner: number;
  readonly grantee: number;
  readonly channelId: number;
  readonly buffer: number;
  /**
   * The SharedArrayBuffer the grant lends, taken when it is made. Not looked up by id at
   * map time: renewing gives the id a new one, which carries the owner's later messages to
   * the holder only. (dom0 also refuses to renew a buffer while a grant of it stands.)
   */
  readonly sab: SharedArrayBuffer;
  readonly toChannelId: number;
  mapped: boolean;
}

export interface ChannelSummary {
  id: number;
  domains: [number, number];
  buffersPerSide: number;
  bufferBytes: number;
  /** Shared bytes of the channel: control rings plus both halves of the pool. */
  sharedBytes: number;
  open: boolean;
}

export interface GrantSummary {
  ref: number;
  owner: number;
  grantee: number;
  channelId: number;
  buffer: number;
  toChannelId: number;
  mapped: boolean;
}

export interface ChannelOptions {
  buffersPerSide?: number;
  bufferBytes?: number;
}

/** An answer that crosses comlink with its error code intact. */
export type IdcResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: IdcErrorData };

export function idcResult<T>(fn: () => T): IdcResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, error: idcErrorData(err) };
  }
}

/** Revoked refs remembered (to say "revoked" rather than "unknown"); older ones are forgotten. */
const REMEMBER_REVOKED = 4096;

/**
 * What one domain may have open at once, over every channel it is in (either side). A
 * channel's memory stays held by dom0 and by both peers until a domain of it ends, so
 * without a limit one guest made dom0 and its peer hold shared memory without bound
 * (300 channels, about 158 MB, in under 2 s; review of 2026-11-30). Channels are few and
 * long-lived (a file server, a pipe); 256 MiB is 64 channels of the default geometry
 * (2 × 16 buffers of 64 KiB) four times over.
 */
export interface IdcLimits {
  maxChannelsPerDomain: number;
  maxBytesPerDomain: number;
}
export const IDC_DEFAULT_LIMITS: IdcLimits = { maxChannelsPerDomain: 64, maxBytesPerDomain: 256 << 20 };

/** Shared memory a channel of this geometry holds: control, both sides' buffers and grant tables. */
function channelBytes(layout: ChannelLayout): number {
  return layout.controlBytes + 2 * layout.buffersPerSide * (layout.bufferBytes + 4);
}

export class IdcBroker {
  constructor(private readonly limits: IdcLimits = IDC_DEFAULT_LIMITS) {}

  private readonly channels = new Map<number, ChannelRecord>();
  private readonly grants = new Map<number, GrantRecord>();
  private readonly revokedRefs = new Set<number>();
  /** The live grant of each buffer, by `channelId:buffer` (at most one: see `renew`). */
  private readonly liveGrantOf = new Map<string, number>();
  /**
   * Per channel id, the buffers of it forwarded since they were last renewed: a
   * SharedArrayBuffer is forwarded once in its life. Its owner retires it when it comes
   * back (a third domain keeps the SharedArrayBuffer for good), so a second grant, live or
   * after the first ended, would hand one SharedArrayBuffer to two grantees that then
   * share it for good (attack review of 2026-12-03); and a hostile holder asking again and
   * again was granted every time, growing `grants` without bound (review of 2026-12-01).
   * A renewal gives the id a new SharedArrayBuffer, which may be forwarded once in its
   * turn. Kept here, not only in the owner's grant-table word, which the owner's side can
   * rewrite. Dropped with the channel.
   */
  private readonly forwardedBuffers = new Map<number, Set<number>>();
  private nextChannel = 1;

  /** Make a channel's memory and the two grants: side 0 is `a` (the asker), side 1 is `b`. */
  createChannel(a: number, b: number, opts: ChannelOptions = {}, sameGroup = false): [ChannelGrant, ChannelGrant] {
    if (a === b) throw new IdcError('bad-request', `domain ${a} cannot open a channel to itself`);
    const layout = channelLayout(opts.buffersPerSide ?? 16, opts.bufferBytes ?? 65536);
    for (const d of [a, b]) {
      let count = 0;
      let bytes = 0;
      for (const ch of this.channels.values()) {
        if (!ch.open || !ch.domains.includes(d)) continue;
        count++;
        bytes += channelBytes(ch.layout);
      }
      if (count + 1 > this.limits.maxChannelsPerDomain) {
        throw new IdcError('quota', `domain ${d} already has ${count} channels open, the most dom0 allows one domain`);
      }
      if (bytes + channelBytes(layout) > this.limits.maxBytesPerDomain) {
        throw new IdcError('quota', `domain ${d} has ${bytes} bytes of channel memory open; ${channelBytes(layout)} more would pass the ${this.limits.maxBytesPerDomain} dom0 allows one domain`);
      }
    }
    const control = new SharedArrayBuffer(layout.controlBytes);
    for (const g of layout.rings) initRing(control, g);
    const buffers = Array.from({ length: 2 * layout.buffersPerSide }, () => new SharedArrayBuffer(layout.bufferBytes));
    const tables: [SharedArrayBuffer, SharedArrayBuffer] = [new SharedArrayBuffer(layout.buffersPerSide * 4), new SharedArrayBuffer(layout.buffersPerSide * 4)];
    const generations = new Int32Array(buffers.length);
    const rec: ChannelRecord = { id: this.nextChannel++, domains: [a, b], layout, control, buffers, generations, tables, open: true };
    this.channels.set(rec.id, rec);
    // Each side gets a list of its own: renewing replaces the record's entry, and what a
    // side holds must change only when it is told (in a worker the list is a copy anyway).
    const grant = (side: Side): ChannelGrant => ({ channelId: rec.id, side, domains: rec.domains, layout, control, buffers: [...buffers], grantTable: tables[side], sameGroup });
    return [grant(0), grant(1)];
  }

  /**
   * `from` lends buffer `buffer` of channel `channelId` (lent to it by that channel's peer)
   * to the other domain of `toChannelId`. Honoured only while the owner's grant table says
   * the buffer is lent, and only for `from`'s own channels. The owner's runtime will not reuse
   * a forwarded buffer: the grantee keeps the SharedArrayBuffer for good.
   */
  grant(from: number, channelId: number, buffer: number, toChannelId: number): number {
    const ch = this.openChannel(channelId, from);
    const to = this.openChannel(toChannelId, from);
    const fromSide: Side = ch.domains[0] === from ? 0 : 1;
    const ownerSide = (1 - fromSide) as Side;
    const first = firstBufferOf(ch.layout, ownerSide);
    if (!Number.isInteger(buffer) || buffer < first || buffer >= first + ch.layout.buffersPerSide) {
      throw new IdcError('grant-refused', `buffer ${buffer} of channel ${channelId} was not lent to domain ${from}`);
    }
    const forwarded = this.forwardedBuffers.get(channelId);
    if (forwarded?.has(buffer)) throw new IdcError('grant-refused', `buffer ${buffer} of channel ${channelId} was forwarded once already: a buffer is forwarded once`);
    const table = new Int32Array(ch.tables[ownerSide]);
    const i = buffer - first;
    // The owner clears the word with compareExchange when the buffer comes back; whichever
    // of us moves it first wins, so a buffer already back with its owner is never granted.
    const word = Atomics.load(table, i);
    if ((word & GT_SENT) === 0 || Atomics.compareExchange(table, i, word, word | GT_FORWARDED) !== word) {
      throw new IdcError('grant-refused', `domain ${from} does not hold buffer ${buffer} of channel ${channelId} now`);
    }
    const grantee = to.domains[0] === from ? to.domains[1] : to.domains[0];
    const ref = this.newRef();
    this.grants.set(ref, { ref, owner: from, grantee, channelId, buffer, sab: ch.buffers[buffer]!, toChannelId, mapped: false });
    this.liveGrantOf.set(`${channelId}:${buffer}`, ref);
    if (forwarded) forwarded.add(buffer);
    else this.forwardedBuffers.set(channelId, new Set([buffer]));
    return ref;
  }

  /**
   * `domain` maps grant `ref`: only the grantee, only while the grant stands, and once. A
   * grant is one message, so it has one view: the revocation notice stops that view, and
   * a second one (the owner posting the ref again, on this channel or another to the same
   * grantee) would outlive it. Xen lets a grant be mapped again because its unmap is
   * enforced by the hypervisor; here the end of a view is the grantee runtime's word.
   */
  map(domain: number, ref: number): MappedGrant {
    const g = this.grants.get(ref);
    if (!g || g.grantee !== domain) {
      if (this.revokedRefs.has(ref)) throw new IdcError('grant-revoked', `grant ${ref} was revoked by its owner`);
      throw new IdcError('grant-unknown', `grant ref ${ref} was not issued to domain ${domain}`);
    }
    const ch = this.channels.get(g.channelId);
    if (!ch?.open) throw new IdcError('closed', `channel ${g.channelId} of grant ${ref} is closed`);
    if (g.mapped) throw new IdcError('grant-mapped', `grant ${ref} is already mapped by domain ${domain}: a grant maps once`);
    g.mapped = true;
    return { ref, buffer: g.sab, bytes: ch.layout.bufferBytes };
  }

  /**
   * `domain` retired buffer `buffer` of its own half of `channelId` (it came back after a
   * forward, and the grantee keeps that SharedArrayBuffer for good): give the id a new
   * SharedArrayBuffer and the next generation, so the owner's pool is whole again. Only
   * the owner, only for a buffer forwarded since it was last renewed, and only once the
   * grant of it ended: each renewal stands for one grant dom0 made and no longer holds,
   * so a domain cannot make dom0 allocate or hold without bound. The owner's grant-table
   * word goes back to free. Returns what both sides must be told: the owner as the
   * reply, the peer as a `renewed` notice (host/page/channels.ts).
   */
  renew(domain: number, channelId: number, buffer: number): { renewed: RenewedBuffer; peer: number } {
    const ch = this.openChannel(channelId, domain);
    const side: Side = ch.domains[0] === domain ? 0 : 1;
    const first = firstBufferOf(ch.layout, side);
    if (!Number.isInteger(buffer) || buffer < first || buffer >= first + ch.layout.buffersPerSide) {
      throw new IdcError('bad-request', `buffer ${buffer} of channel ${channelId} is not one of domain ${domain}'s`);
    }
    const forwarded = this.forwardedBuffers.get(channelId);
    if (!forwarded?.has(buffer)) throw new IdcError('buffer-state', `buffer ${buffer} of channel ${channelId} was not forwarded since it was last renewed: nothing to renew`);
    // One live grant per buffer id at most, as before renewals: otherwise a holder that
    // gives a forwarded buffer back early, while its grant stands, and forwards the renewed
    // one again would leave dom0 holding a grant (and its SharedArrayBuffer) per round,
    // without bound. An honest holder gives the buffer back only when the forward ended.
    const live = this.liveGrantOf.get(`${channelId}:${buffer}`);
    if (live !== undefined) {
      throw new IdcError('buffer-state', `buffer ${buffer} of channel ${channelId} is still lent under grant ${live}: it may be renewed once that grant ends`);
    }
    forwarded.delete(buffer);
    const sab = new SharedArrayBuffer(ch.layout.bufferBytes);
    ch.buffers[buffer] = sab;
    const generation = (ch.generations[buffer]! + 1) & GEN_MASK;
    ch.generations[buffer] = generation;
    Atomics.store(new Int32Array(ch.tables[side]), buffer - first, GT_FREE);
    return { renewed: { channelId, buffer, generation, sab }, peer: ch.domains[1 - side]! };
  }

  /** The owner ends a grant (revocation, or the grantee gave it back). Returns the grantee to tell. */
  end(domain: number, ref: number): number {
    const g = this.grants.get(ref);
    if (!g || g.owner !== domain) throw new IdcError('grant-unknown', `grant ref ${ref} is not one domain ${domain} made`);
    this.revoke(g);
    return g.grantee;
  }

  /** A domain went away: its channels close and every grant it made or mapped ends. */
  closeDomain(domain: number): GrantSummary[] {
    for (const ch of this.channels.values()) {
      if (ch.domains.includes(domain)) ch.open = false;
    }
    const ended: GrantSummary[] = [];
    for (const g of [...this.grants.values()]) {
      const ch = this.channels.get(g.channelId);
      if (g.owner === domain || g.grantee === domain || !ch?.open) {
        this.revoke(g);
        ended.push({ ...g });
      }
    }
    for (const ch of [...this.channels.values()]) {
      if (ch.open) continue;
      this.channels.delete(ch.id);
      this.forwardedBuffers.delete(ch.id);
    }
    return ended;
  }

  channelList(): ChannelSummary[] {
    return [...this.channels.values()].map((c) => ({
      id: c.id,
      domains: [c.domains[0], c.domains[1]],
      buffersPerSide: c.layout.buffersPerSide,
      bufferBytes: c.layout.bufferBytes,
      sharedBytes: c.layout.controlBytes + c.buffers.length * c.layout.bufferBytes,
      open: c.open,
    }));
  }

  grantList(): GrantSummary[] {
    return [...this.grants.values()].map((g) => ({ ...g }));
  }

  private openChannel(id: number, member: number): ChannelRecord {
    const ch = this.channels.get(id);
    if (!ch || !ch.domains.includes(member)) throw new IdcError('grant-refused', `domain ${member} has no channel ${id}`);
    if (!ch.open) throw new IdcError('closed', `channel ${id} is closed`);
    return ch;
  }

  private revoke(g: GrantRecord): void {
    this.grants.delete(g.ref);
    this.liveGrantOf.delete(`${g.channelId}:${g.buffer}`);
    this.revokedRefs.add(g.ref);
    if (this.revokedRefs.size > REMEMBER_REVOKED) this.revokedRefs.delete(this.revokedRefs.values().next().value!);
  }

  /** Unguessable, so a forged ref is almost surely unknown; and checked against the grantee anyway. */
  private newRef(): number {
    const r = new Uint32Array(1);
    for (;;) {
      crypto.getRandomValues(r);
      const ref = r[0]! & 0x7fff_ffff;
      if (ref !== 0 && !this.grants.has(ref) && !this.revokedRefs.has(ref)) return ref;
    }
  }
}
