// Runs on the host page's main thread: `hv.channels`, inter-domain channels as the host
// sees them. The policy (which guests may talk) lives here; dom0 makes the memory and keeps
// the grant refs (host/dom0/idc-broker.ts). Each guest gets one IDC port at spawn; what
// arrives on it is a request from that guest, so the asker's identity is the port, never a
// field it wrote.
//
//   hv.channels.allow(a.id, b.id);          // default: nobody may talk
//   // in guest a:  const ch = await openIdc(init.idc).connect(bId);
//   await hv.channels.list();               // channels and live grants, from dom0
import type { Remote } from 'comlink';
import type { Dom0Service } from '../dom0/dom0-service';
import type { ChannelOptions, ChannelSummary, GrantSummary, IdcResult } from '../dom0/idc-broker';
import { IdcError, idcErrorData, idcErrorFrom, type IdcErrorData, type IdcNotice, type IdcRequest } from '../../shared/idc-layout';

const pairKey = (a: number, b: number): string => (a < b ? `${a}:${b}` : `${b}:${a}`);

export class Channels {
  private readonly ports = new Map<number, MessagePort>();
  private readonly pairs = new Set<string>();
  private everyone = false;
  /** Channel ids whose memory went to each domain: what a domain holds, from the host's side. */
  private readonly delivered = new Map<number, Set<number>>();

  constructor(private readonly dom0: Remote<Dom0Service>) {}

  /** Let guests `a` and `b` open channels to each other (either may ask). */
  allow(a: number, b: number): void {
    this.pairs.add(pairKey(a, b));
  }

  /** Withdraw permission; channels already open stay open until a guest goes. */
  forbid(a: number, b: number): void {
    this.pairs.delete(pairKey(a, b));
  }

  /** Let every pair of guests talk (demos). */
  allowAll(yes = true): void {
    this.everyone = yes;
  }

  mayTalk(a: number, b: number): boolean {
    return a !== b && (this.everyone || this.pairs.has(pairKey(a, b)));
  }

  /** Channel ids whose memory this domain was handed. */
  heldBy(domainId: number): number[] {
    return [...(this.delivered.get(domainId) ?? [])];
  }

  list(): Promise<{ channels: ChannelSummary[]; grants: GrantSummary[] }> {
    return this.dom0.idcList();
  }

  /** Open a channel between two guests on the host's own initiative; both receive it. */
  async open(a: number, b: number, opts: ChannelOptions = {}): Promise<number> {
    for (const d of [a, b]) if (!this.ports.has(d)) throw new IdcError('unknown-peer', `no running guest ${d}`);
    const [ga, gb] = unwrap(await this.dom0.idcOpen(a, b, opts));
    this.mustBothRun(a, b);
    this.hand(a, { op: 'channel', grant: ga });
    this.hand(b, { op: 'channel', grant: gb });
    return ga.channelId;
  }

  /** @internal the hypervisor gives each guest the far end of this port at spawn. */
  attach(domainId: number): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.ports.set(domainId, port1);
    port1.onmessage = (ev: MessageEvent<IdcRequest>) => void this.serve(domainId, ev.data);
    port1.start();
    return port2;
  }

  /** @internal the guest is gone: close its channels, and stop the views of grants it made. */
  async detach(domainId: number): Promise<void> {
    const port = this.ports.get(domainId);
    if (!port) return;
    port.close();
    this.ports.delete(domainId);
    const gone = this.delivered.get(domainId) ?? new Set<number>();
    this.delivered.delete(domainId);
    // Its peers are told, or each would keep the channel's memory and wait on it for ever.
    for (const [peer, held] of this.delivered) {
      for (const ch of held) {
        if (!gone.has(ch)) continue;
        held.delete(ch);
        this.notify(peer, { op: 'closed', channelId: ch, reason: `guest ${domainId} at the other end ended` });
      }
    }
    for (const g of this.pairsOf(domainId)) this.pairs.delete(g);
    const ended = await this.dom0.idcCloseDomain(domainId).catch(() => [] as GrantSummary[]);
    for (const g of ended) if (g.grantee !== domainId) this.notify(g.grantee, { op: 'revoked', ref: g.ref });
  }

  /**
   * After dom0 made a channel: both ends must still be running. One that ended while dom0
   * worked (killed, faulted, ended itself) was detached without this channel, which nobody
   * held yet, so no `closed` notice would ever tell the other end; its idcCloseDomain, sent
   * after our idcOpen, closed the channel in dom0. Handing it over now would leave the
   * survivor a channel to a dead domain, waited on for ever and no longer counted against
   * its quota. So neither end gets it, and the asker is told why.
   */
  private mustBothRun(a: number, b: number): void {
    for (const d of [a, b]) {
      if (!this.ports.has(d)) throw new IdcError('closed', `guest ${d} ended while dom0 made the channel`);
    }
  }

  private pairsOf(domainId: number): string[] {
    return [...this.pairs].filter((k) => k.split(':').map(Number).includes(domainId));
  }

  private async serve(from: number, req: IdcRequest): Promise<void> {
    // The request is the guest's own data: check its shape before using it.
    if (typeof req !== 'object' || req === null || !Number.isInteger(req.tag)) return;
    const reply = (value: unknown): void => this.notify(from, { op: 'reply', tag: req.tag, value });
    const fail = (error: IdcErrorData): void => this.notify(from, { op: 'reply', tag: req.tag, error });
    try {
      switch (req.op) {
        case 'connect': {
          const peer = int(req.peer, 'peer');
          if (!this.mayTalk(from, peer)) throw new IdcError('policy', `the host does not let guest ${from} talk to guest ${peer}`);
          if (!this.ports.has(peer)) throw new IdcError('unknown-peer', `no running guest ${peer}`);
          const opts: ChannelOptions = {};
          if (req.buffersPerSide !== undefined) opts.buffersPerSide = int(req.buffersPerSide, 'buffersPerSide');
          if (req.bufferBytes !== undefined) opts.bufferBytes = int(req.bufferBytes, 'bufferBytes');
          const [mine, theirs] = unwrap(await this.dom0.idcOpen(from, peer, opts));
          this.mustBothRun(from, peer);
          this.record(from, mine.channelId);
          this.hand(peer, { op: 'channel', grant: theirs });
          return reply(mine);
        }
        case 'grant':
          return reply(unwrap(await this.dom0.idcGrant(from, int(req.channelId, 'channelId'), int(req.buffer, 'buffer'), int(req.toChannelId, 'toChannelId'))));
        case 'map':
          return reply(unwrap(await this.dom0.idcMap(from, int(req.ref, 'ref'))));
        case 'renew': {
          const { renewed, peer } = unwrap(await this.dom0.idcRenew(from, int(req.channelId, 'channelId'), int(req.buffer, 'buffer')));
          // The peer first: its notice and the owner's next descriptor race anyway (the
          // descriptor's generation makes the peer wait), but this order usually wins.
          this.notify(peer, { op: 'renewed', renewed });
          return reply(renewed);
        }
        case 'end': {
          const ref = int(req.ref, 'ref');
          const grantee = unwrap(await this.dom0.idcEnd(from, ref));
          this.notify(grantee, { op: 'revoked', ref });
          return reply(undefined);
        }
        default:
          throw new IdcError('bad-request', `unknown IDC request ${String((req as { op?: unknown }).op)}`);
      }
    } catch (err) {
      fail(idcErrorData(err));
    }
  }

  private hand(domainId: number, notice: Extract<IdcNotice, { op: 'channel' }>): void {
    this.record(domainId, notice.grant.channelId);
    this.notify(domainId, notice);
  }

  private record(domainId: number, channelId: number): void {
    let s = this.delivered.get(domainId);
    if (!s) this.delivered.set(domainId, (s = new Set()));
    s.add(channelId);
  }

  private notify(domainId: number, notice: IdcNotice): void {
    this.ports.get(domainId)?.postMessage(notice);
  }
}

function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new IdcError('bad-request', `${what} must be an integer, got ${String(v)}`);
  return v;
}

function unwrap<T>(r: IdcResult<T>): T {
  if (r.ok) return r.value;
  throw idcErrorFrom(r.error);
}
