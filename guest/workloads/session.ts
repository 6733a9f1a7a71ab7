// Runs in a guest worker. Stateful client sessions served by a guest identity, and the
// survivor's side of a takeover (seed 001: "a passive server takes over a stateful session
// before the protocol's timeout"; "the survivor assumes the failed domain's identity and
// replays the log").
//
// The session protocol is a small block-file service: a client opens a handle on a range of
// blocks, appends blocks at the handle's cursor, reads them back, closes it. Every request
// is first recorded in the journal's session state (in flight), then executed, then removed
// and answered; an append's block is also a journal record tagged with the request. The
// state survives in the journal region, so after a takeover the survivor knows every open
// handle and every request that was in flight, and answers each one itself:
//   - open/close: their effect is already in the state: answer;
//   - read: idempotent: execute again and answer;
//   - append: its record is replayed with the rest of the journal, then answered; if its
//     record was never appended (the guest died between the two steps) it never reached
//     the disk either, and the answer says so.
import type { BlockDevice } from '../block-device';
import { Journal, readJournal, type JournalSnapshot } from './journal';

export type SessionOp = 'open' | 'append' | 'read' | 'close';

export interface SessionRequest {
  readonly sid: number;
  readonly req: number;
  readonly op: SessionOp;
  /** open: first block and number of blocks of the handle's range. */
  readonly base?: number;
  readonly length?: number;
  /** append, read, close: the handle (the req number of its open). */
  readonly handle?: number;
  /** append: the byte every byte of the block is set to. */
  readonly fill?: number;
  /** read: index of the block within the handle's range. */
  readonly index?: number;
}

export interface SessionReply {
  readonly sid: number;
  readonly req: number;
  readonly ok: boolean;
  /** open: the handle; append: the block index written; read: the block's first byte. */
  readonly value?: number;
  readonly error?: string;
  /** Domain id of the guest worker that answered (the identity's owner, or its survivor). */
  readonly answeredBy: number;
  /** True when the survivor answered from the journal after a takeover. */
  readonly recovered?: boolean;
}

interface Handle {
  sid: number;
  base: number;
  length: number;
  cursor: number;
}
interface Inflight extends SessionRequest {
  /** append: the block it writes and its journal sequence number. */
  lba?: number;
  seq?: number;
}
interface SessionState {
  v: 1;
  handles: Record<string, Handle>;
  inflight: Inflight[];
}

export interface SessionTestHooks {
  /** Wait this long between journaling an append and submitting it (widens the window a kill can hit). */
  holdBeforeSubmitMs?: number;
  /** Wait this long after an append is durable before answering. */
  holdBeforeReplyMs?: number;
}

const hkey = (sid: number, handle: number): string => `${sid}:${handle}`;

export class SessionServer {
  private state: SessionState = { v: 1, handles: {}, inflight: [] };
  hooks: SessionTestHooks = {};

  constructor(
    readonly identity: number,
    private readonly dev: BlockDevice,
    readonly journal: Journal,
    /** Domain id of the worker serving (differs from identity after a takeover). */
    private readonly servedBy: number,
  ) {}

  async handle(r: SessionRequest): Promise<SessionReply> {
    const fail = (error: string): SessionReply => ({ sid: r.sid, req: r.req, ok: false, error, answeredBy: this.servedBy });
    if (!Number.isInteger(r.sid) || !Number.isInteger(r.req) || r.sid <= 0 || r.req <= 0) return fail('sid and req must be positive integers');
    switch (r.op) {
      case 'open': {
        const base = r.base ?? -1;
        const length = r.length ?? 0;
        if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > this.dev.blocks) return fail('range outside the volume');
        this.state.handles[hkey(r.sid, r.req)] = { sid: r.sid, base, length, cursor: 0 };
        this.persist();
        return { sid: r.sid, req: r.req, ok: true, value: r.req, answeredBy: this.servedBy };
      }
      case 'close': {
        delete this.state.handles[hkey(r.sid, r.handle ?? 0)];
        this.persist();
        return { sid: r.sid, req: r.req, ok: true, answeredBy: this.servedBy };
      }
      case 'read': {
        const h = this.state.handles[hkey(r.sid, r.handle ?? 0)];
        const index = r.index ?? -1;
        if (!h || !Number.isInteger(index) || index < 0 || index >= h.length) return fail('no such handle or block');
        this.begin(r);
        const reply = await this.read(r, h, index);
        this.end(r);
        return reply;
      }
      case 'append': {
        const h = this.state.handles[hkey(r.sid, r.handle ?? 0)];
        if (!h) return fail('no such handle');
        if (h.cursor >= h.length) return fail('handle is full');
        // Room, checked again in the turn that takes it: another append woken by the same
        // ack may have taken the slot (Journal.room).
        while (!this.journal.hasRoom) await this.journal.room();
        if (h.cursor >= h.length) return fail('handle is full');
        // One synchronous turn: reserve the block, record the request, journal the block.
        const index = h.cursor++;
        const lba = h.base + index;
        const bytes = new Uint8Array(this.dev.blockBytes).fill(r.fill ?? 0);
        const inflight: Inflight = { ...r, lba, seq: this.journal.head };
        this.state.inflight.push(inflight);
        this.persist();
        const seq = this.journal.appendNow(lba, bytes, r.sid, r.req);
        if (this.hooks.holdBeforeSubmitMs) await sleep(this.hooks.holdBeforeSubmitMs);
        await this.dev.write(lba, bytes);
        this.journal.ack(seq);
        if (this.hooks.holdBeforeReplyMs) await sleep(this.hooks.holdBeforeReplyMs);
        this.end(r);
        return { sid: r.sid, req: r.req, ok: true, value: index, answeredBy: this.servedBy };
      }
      default:
        return fail(`unknown op ${String((r as { op: unknown }).op)}`);
    }
  }

  /**
   * Survivor: adopt the dead identity's session state and answer every request it had in
   * flight. Call after the journal's records have been replayed (they are durable).
   */
  async recover(snap: JournalSnapshot): Promise<SessionReply[]> {
    this.state = validState(snap.session);
    const answers: SessionReply[] = [];
    const journaled = new Set(snap.records.map((rec) => rec.seq));
    for (const r of this.state.inflight) {
      const base = { sid: r.sid, req: r.req, answeredBy: this.servedBy, recovered: true };
      const h = this.state.handles[hkey(r.sid, r.handle ?? 0)];
      if (r.op === 'append') {
        // Journaled (replayed now), or appended and already reclaimed (acknowledged): durable.
        const done = r.seq !== undefined && (journaled.has(r.seq) || r.seq < snap.head);
        answers.push(done ? { ...base, ok: true, value: (r.lba ?? 0) - (h?.base ?? 0) } : { ...base, ok: false, error: 'interrupted before it was journaled: not written, retry' });
      } else if (r.op === 'read' && h) {
        answers.push({ ...(await this.read(r, h, r.index ?? 0)), recovered: true });
      } else {
        answers.push({ ...base, ok: true });
      }
    }
    this.state.inflight = [];
    this.persist();
    return answers;
  }

  openHandles(): number {
    return Object.keys(this.state.handles).length;
  }

  private async read(r: SessionRequest, h: Handle, index: number): Promise<SessionReply> {
    try {
      using v = await this.dev.read(h.base + index);
      return { sid: r.sid, req: r.req, ok: true, value: v.bytes[0]!, answeredBy: this.servedBy };
    } catch (err) {
      return { sid: r.sid, req: r.req, ok: false, error: String(err), answeredBy: this.servedBy };
    }
  }

  private begin(r: Inflight): void {
    this.state.inflight.push(r);
    this.persist();
  }

  private end(r: SessionRequest): void {
    this.state.inflight = this.state.inflight.filter((x) => !(x.sid === r.sid && x.req === r.req));
    this.persist();
  }

  private persist(): void {
    this.journal.writeSession(this.state);
  }
}

/** The survivor's view of a dead guest's session state; anything malformed is dropped. */
function validState(raw: unknown): SessionState {
  const out: SessionState = { v: 1, handles: {}, inflight: [] };
  if (typeof raw !== 'object' || raw === null) return out;
  const s = raw as { handles?: unknown; inflight?: unknown };
  const int = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);
  if (typeof s.handles === 'object' && s.handles !== null) {
    for (const [k, h] of Object.entries(s.handles as Record<string, unknown>)) {
      const x = h as Partial<Handle> | null;
      if (x && int(x.sid) && int(x.base) && int(x.length) && int(x.cursor)) out.handles[k] = { sid: x.sid, base: x.base, length: x.length, cursor: x.cursor };
    }
  }
  if (Array.isArray(s.inflight)) {
    for (const r of s.inflight as Partial<Inflight>[]) {
      if (r && int(r.sid) && int(r.req) && (r.op === 'open' || r.op === 'append' || r.op === 'read' || r.op === 'close')) out.inflight.push(r as Inflight);
    }
  }
  return out;
}

export interface TakeoverReport {
  readonly identity: number;
  /** Journal records written again through the assumed domain. */
  readonly replayed: number;
  readonly openHandles: number;
  readonly answers: SessionReply[];
  readonly problems: string[];
  /** Time the survivor spent: reading the journal, replaying, restoring sessions. */
  readonly ms: number;
}

/**
 * Survivor: take over `identity` on `dev` (a block device on the assumed domain) from the
 * fenced partner's journal region, replay it in order, restore its sessions.
 */
export async function assumeIdentity(
  identity: number,
  dev: BlockDevice,
  ann: { buffer: SharedArrayBuffer; capacity: number; blockBytes: number; blocks: number },
  servedBy: number,
  heartbeatMs: number,
): Promise<{ server: SessionServer; report: TakeoverReport }> {
  const t0 = performance.now();
  const snap = readJournal(ann.buffer, ann.capacity, ann.blockBytes, ann.blocks);
  // Submitted in sequence order: dom0 stages them in that order, so the last write of a block wins.
  await Promise.all(snap.records.map((r) => dev.write(r.lba, r.bytes)));
  const journal = new Journal(ann.buffer, ann.capacity, ann.blockBytes, identity, true);
  journal.reclaimAll();
  journal.startHeartbeat(heartbeatMs);
  const server = new SessionServer(identity, dev, journal, servedBy);
  const answers = await server.recover(snap);
  return {
    server,
    report: { identity, replayed: snap.records.length, openHandles: server.openHandles(), answers, problems: snap.problems, ms: performance.now() - t0 },
  };
}

/** A plain (non-session) write, journaled before it is submitted and acknowledged after. */
export async function journaledWrite(dev: BlockDevice, journal: Journal, lba: number, bytes: Uint8Array): Promise<void> {
  const seq = await journal.append(lba, bytes);
  await dev.write(lba, bytes);
  journal.ack(seq);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
