// Runs on the host page's main thread. Guest failover (seed 001) and session takeover.
//
//   const fo = new FailoverManager(hv);
//   await fo.pair(a, b);                     // a and b announce their journal regions to each other
//   const reply = await fo.request(a.id, { sid: 1, req: 1, op: 'open', base: 0, length: 8 });
//   fo.onTakeover = (ev) => console.log(ev); // a dies → b serves a's identity
//
// Death is noticed three ways: the hypervisor reports a fault (onGuestFault), the worker
// reports an error, or the guest's heartbeat count in its journal region stops moving for
// `deadlineMs`. Takeover: (1) fence — terminate the dead worker and destroy its domain, so
// it can never write again; (2) dom0 creates a domain on the same clone with the same
// domain id; (3) the partner opens it, replays the dead guest's journal in order, restores
// its sessions and answers the requests they had in flight; (4) session routing moves to
// the partner. Requests the dead guest never journaled were never started: they are sent
// again to the survivor (safe: nothing of them happened).
import { transfer } from 'comlink';
import { domainPlumbing, type GuestHandle, type Hypervisor } from './hypervisor';
import type { JournalAnnouncement } from '../../shared/journal-layout';
import { J_HEARTBEAT_I32 } from '../../shared/journal-layout';
import type { SessionGuestApi } from '../../guest/workloads/session-guest';
import type { SessionReply, SessionRequest, TakeoverReport } from '../../guest/workloads/session';

export type ReliableGuest = GuestHandle<SessionGuestApi>;

export interface FailoverOptions {
  /** A heartbeat count that has not moved for this long means the guest is dead. */
  deadlineMs?: number;
  /** How often the heartbeat words are sampled. */
  checkEveryMs?: number;
}

export interface TakeoverEvent {
  identity: number;
  survivor: number;
  cause: 'heartbeat' | 'fault' | 'error';
  /** From noticing the death to the survivor serving the identity. */
  takeoverMs: number;
  /** From the last heartbeat seen moving to the survivor serving (≥ the real outage). */
  sinceLastBeatMs: number;
  report: TakeoverReport;
  /** Pending client requests answered from the journal, and those resent (never journaled). */
  answered: number;
  resent: number;
}

interface Identity {
  readonly id: number;
  owner: ReliableGuest;
  partner: ReliableGuest | null;
  ann: JournalAnnouncement;
  beats: Int32Array;
  lastBeat: number;
  lastChange: number;
  failing: boolean;
}

interface Pending {
  identity: number;
  req: SessionRequest;
  resolve: (r: SessionReply) => void;
  sentTo: number;
}

export class SessionTimeoutError extends Error {
  override name = 'SessionTimeoutError';
}

export class FailoverManager {
  onTakeover: ((ev: TakeoverEvent) => void) | null = null;
  onError: ((err: unknown) => void) | null = null;
  readonly events: TakeoverEvent[] = [];
  readonly stats = { requests: 0, resent: 0, timeouts: 0, answeredFromJournal: 0 };
  private readonly identities = new Map<number, Identity>();
  private readonly pending = new Map<string, Pending>();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly deadlineMs: number;
  private readonly previousFaultHandler: Hypervisor['onGuestFault'];

  constructor(
    private readonly hv: Hypervisor,
    opts: FailoverOptions = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? 300;
    this.timer = setInterval(() => this.check(), opts.checkEveryMs ?? 20);
    this.previousFaultHandler = hv.onGuestFault;
    hv.onGuestFault = (g, reason) => {
      this.previousFaultHandler?.(g, reason);
      for (const idn of this.identities.values()) if (idn.owner.id === g.id) void this.failover(idn, 'fault');
    };
  }

  /** Partner `a` and `b`: each announces its journal region to the other through us. */
  async pair(a: ReliableGuest, b: ReliableGuest): Promise<void> {
    const [annA, annB] = await Promise.all([this.announcement(a), this.announcement(b)]);
    await Promise.all([b.api.partner(annA), a.api.partner(annB)]);
    this.watch(a, b, annA);
    this.watch(b, a, annB);
  }

  /** Which guest serves `identity` now. */
  ownerOf(identity: number): ReliableGuest | null {
    return this.identities.get(identity)?.owner ?? null;
  }

  /** Send a session request to whoever serves `identity`; rejects after `timeoutMs` (the session's timeout). */
  request(identity: number, req: SessionRequest, timeoutMs = 2000): Promise<SessionReply> {
    const idn = this.identities.get(identity);
    if (!idn) return Promise.reject(new RangeError(`no guest serves identity ${identity}`));
    this.stats.requests++;
    const key = `${identity}:${req.sid}:${req.req}`;
    return new Promise<SessionReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        this.stats.timeouts++;
        reject(new SessionTimeoutError(`session ${req.sid} request ${req.req} to identity ${identity}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(key, {
        identity,
        req,
        sentTo: idn.owner.id,
        resolve: (r) => {
          clearTimeout(timer);
          this.pending.delete(key);
          resolve(r);
        },
      });
      this.send(idn.owner, identity, req);
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.hv.onGuestFault = this.previousFaultHandler;
  }

  private send(to: ReliableGuest, identity: number, req: SessionRequest): void {
    const key = `${identity}:${req.sid}:${req.req}`;
    // If `to` dies first this never settles; the takeover answers or resends instead.
    to.api.session(identity, req).then(
      (r) => this.pending.get(key)?.resolve(r),
      () => undefined,
    );
  }

  private async announcement(g: ReliableGuest): Promise<JournalAnnouncement> {
    const ann = await g.api.announce();
    // The guest's claims are checked against what the hypervisor knows; the dataset is ours.
    if (ann.domainId !== g.id) throw new Error(`guest ${g.id} announced a journal for domain ${ann.domainId}`);
    if (!(ann.buffer instanceof SharedArrayBuffer)) throw new Error(`guest ${g.id} announced a journal that is not shared memory`);
    return { ...ann, dataset: g.dataset };
  }

  private watch(owner: ReliableGuest, partner: ReliableGuest, ann: JournalAnnouncement): void {
    const beats = new Int32Array(ann.buffer, 0, 16);
    const now = performance.now();
    this.identities.set(owner.id, { id: owner.id, owner, partner, ann, beats, lastBeat: Atomics.load(beats, J_HEARTBEAT_I32), lastChange: now, failing: false });
    owner.worker.addEventListener('error', () => {
      const idn = this.identities.get(owner.id);
      if (idn && idn.owner === owner) void this.failover(idn, 'error');
    });
  }

  private check(): void {
    const now = performance.now();
    for (const idn of this.identities.values()) {
      const beat = Atomics.load(idn.beats, J_HEARTBEAT_I32);
      if (beat !== idn.lastBeat) {
        idn.lastBeat = beat;
        idn.lastChange = now;
      } else if (now - idn.lastChange > this.deadlineMs && !idn.failing) {
        void this.failover(idn, 'heartbeat');
      }
    }
  }

  private async failover(idn: Identity, cause: TakeoverEvent['cause']): Promise<void> {
    if (idn.failing) return;
    idn.failing = true;
    const t0 = performance.now();
    const lastAlive = idn.lastChange;
    const survivor = idn.partner;
    const dead = idn.owner;
    try {
      if (!survivor || survivor === dead || survivor.state !== 'running') throw new Error(`identity ${idn.id} died (${cause}) and has no live partner to take over`);
      // 1. Fence: the dead worker must never write again (it may only be slow, not dead).
      const domains = domainPlumbing(this.hv);
      if (this.hv.guests.get(dead.id)) await this.hv.guests.kill(dead.id);
      else await domains.destroyDomain(dead.id).catch(() => undefined);
      // 2. The same clone, the same domain id.
      const grant = await domains.createDomain(idn.ann.dataset, survivor.transport, undefined, idn.id);
      // 3. Replay and restore in the survivor, which now hosts the domain too.
      domains.adopt(grant.domainId, survivor);
      const report = await survivor.api.assume(grant.kind === 'copy' ? transfer(grant, [grant.port]) : grant);
      // 4. Route the identity's sessions to the survivor; answer what was in flight.
      idn.owner = survivor;
      idn.partner = null;
      idn.lastChange = performance.now();
      idn.lastBeat = Atomics.load(idn.beats, J_HEARTBEAT_I32);
      let answered = 0;
      for (const a of report.answers) {
        const p = this.pending.get(`${idn.id}:${a.sid}:${a.req}`);
        if (p) {
          p.resolve(a);
          answered++;
        }
      }
      this.stats.answeredFromJournal += answered;
      let resent = 0;
      for (const p of [...this.pending.values()]) {
        if (p.identity === idn.id && p.sentTo === dead.id) {
          p.sentTo = survivor.id;
          this.send(survivor, idn.id, p.req);
          resent++;
        }
      }
      this.stats.resent += resent;
      const t1 = performance.now();
      const ev: TakeoverEvent = { identity: idn.id, survivor: survivor.id, cause, takeoverMs: t1 - t0, sinceLastBeatMs: t1 - lastAlive, report, answered, resent };
      this.events.push(ev);
      this.onTakeover?.(ev);
      idn.failing = false;
    } catch (err) {
      this.identities.delete(idn.id);
      this.onError?.(err);
    }
  }
}
