// Runs in a guest worker. The write journal of guest failover (seed 001): before a write is
// submitted to dom0, the guest appends it (block address, bytes, and the session request
// that made it) to its journal region — shared memory its partner holds too. When dom0
// acknowledges the write (it is committed in the pool), the record is marked ACKED; records
// are reclaimed strictly in order, so everything retained after the oldest unacknowledged
// record is replayed in order and the last write of each block wins, as the guest intended.
//
// What "journaled before acknowledged" means here (docs/reliability.md): acknowledgement
// stays what it is without failover — the pool's commit (group commit). The journal is
// not a second durability point: it lives in this tab's memory and dies with the tab, so
// acking on it would break the crash guarantee. It is what lets the partner *finish* the
// writes a dead guest had submitted (or was about to) but whose acknowledgement it never
// saw, and answer the session requests waiting on them.
//
// The owner is the only writer while it lives; the partner reads only after the host has
// fenced the owner (terminated its worker). A record's STATE is stored last, so a record
// torn by termination mid-append is not replayed. The partner treats every field as
// hostile (the owner was a guest): readJournal validates and never throws.
import {
  J_HEAD_I32,
  J_HEARTBEAT_I32,
  J_MAGIC_I32,
  J_OWNER_I32,
  J_SESSION_GEN_I32,
  J_SESSION_LEN0_I32,
  J_TAIL_I32,
  JOURNAL_MAGIC,
  S_LBA,
  S_REQ,
  S_SEQ,
  S_SID,
  S_STATE,
  SESSION_BYTES,
  SLOT_HEADER_BYTES,
  SlotState,
  journalLayout,
  type JournalLayout,
} from '../../shared/journal-layout';

export interface JournalRecord {
  readonly seq: number;
  readonly lba: number;
  readonly state: number;
  readonly sid: number;
  readonly req: number;
  readonly bytes: Uint8Array; // a copy
}

export class JournalFullError extends Error {
  override name = 'JournalFullError';
}

export class Journal {
  readonly layout: JournalLayout;
  private readonly header: Int32Array;
  private readonly waiters: (() => void)[] = [];
  private beat: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly buffer: SharedArrayBuffer,
    capacity: number,
    blockBytes: number,
    owner: number,
    /** Adopt a region that already holds records (the survivor continuing a dead guest's journal). */
    adopt = false,
  ) {
    this.layout = journalLayout(capacity, blockBytes);
    if (buffer.byteLength < this.layout.totalBytes) throw new RangeError(`journal region has ${buffer.byteLength} bytes; needs ${this.layout.totalBytes}`);
    this.header = new Int32Array(buffer, 0, 16);
    if (!adopt) {
      Atomics.store(this.header, J_HEAD_I32, 1);
      Atomics.store(this.header, J_TAIL_I32, 1);
      Atomics.store(this.header, J_MAGIC_I32, JOURNAL_MAGIC);
    }
    Atomics.store(this.header, J_OWNER_I32, owner);
  }

  static create(capacity: number, blockBytes: number, owner: number): Journal {
    return new Journal(new SharedArrayBuffer(journalLayout(capacity, blockBytes).totalBytes), capacity, blockBytes, owner);
  }

  /** Start beating: the host declares this guest dead when the count stops moving. */
  startHeartbeat(everyMs: number): void {
    this.stopHeartbeat();
    const tick = (): void => void Atomics.add(this.header, J_HEARTBEAT_I32, 1);
    tick();
    this.beat = setInterval(tick, everyMs);
  }

  stopHeartbeat(): void {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
  }

  get head(): number {
    return Atomics.load(this.header, J_HEAD_I32);
  }

  get tail(): number {
    return Atomics.load(this.header, J_TAIL_I32);
  }

  /** Records retained now (unacknowledged, or acknowledged behind an unacknowledged one). */
  get retained(): number {
    return this.head - this.tail;
  }

  /** Wait for a free slot, then append; resolves with the record's sequence number. */
  async append(lba: number, bytes: Uint8Array, sid = 0, req = 0): Promise<number> {
    while (!this.hasRoom) await this.room();
    return this.appendNow(lba, bytes, sid, req);
  }

  /**
   * Resolves at once if a slot is free, else at the next reclaim. One ack wakes every
   * waiter, so by the caller's next turn another may have taken the slot: callers loop,
   * `while (!journal.hasRoom) await journal.room()`, and append in the turn that saw room
   * (attack review of 2026-12-03: two session appends racing for the last slot were both
   * let through, the second threw JournalFullError after its session had recorded it in
   * flight, and a takeover answered it "ok").
   */
  async room(): Promise<void> {
    if (!this.hasRoom) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** A slot is free now. */
  get hasRoom(): boolean {
    return this.retained < this.layout.capacity;
  }

  /**
   * The survivor, after replaying every record of an adopted journal (they are durable
   * now): reclaim them all. Not by acknowledging each: an owner that died inside ack(),
   * between marking a slot empty and moving the tail, leaves the tail on an empty slot,
   * where reclaiming by acknowledgement stops for good (attack review of 2026-12-03).
   */
  reclaimAll(): void {
    for (let seq = this.tail; seq < this.head; seq++) Atomics.store(this.slot(seq).slot, S_STATE, SlotState.EMPTY);
    Atomics.store(this.header, J_TAIL_I32, this.head);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Append at once (synchronously, so a session update and its record can be made in one turn). */
  appendNow(lba: number, bytes: Uint8Array, sid = 0, req = 0): number {
    if (bytes.byteLength !== this.layout.blockBytes) throw new RangeError(`journal records are ${this.layout.blockBytes} bytes, got ${bytes.byteLength}`);
    if (this.retained >= this.layout.capacity) throw new JournalFullError(`journal full (${this.layout.capacity} records retained)`);
    const seq = this.head;
    const { slot, data } = this.slot(seq);
    Atomics.store(slot, S_STATE, SlotState.EMPTY);
    slot[S_SEQ] = seq;
    slot[S_LBA] = lba;
    slot[S_SID] = sid;
    slot[S_REQ] = req;
    data.set(bytes);
    // The record is whole before it is marked: a partner never replays a torn one.
    Atomics.store(slot, S_STATE, SlotState.PENDING);
    Atomics.store(this.header, J_HEAD_I32, seq + 1);
    return seq;
  }

  /** dom0 acknowledged record `seq`: mark it, and reclaim the acknowledged prefix. */
  ack(seq: number): void {
    const { slot } = this.slot(seq);
    if (slot[S_SEQ] !== seq) return;
    Atomics.store(slot, S_STATE, SlotState.ACKED);
    let tail = this.tail;
    while (tail < this.head) {
      const s = this.slot(tail).slot;
      if (Atomics.load(s, S_STATE) !== SlotState.ACKED || s[S_SEQ] !== tail) break;
      Atomics.store(s, S_STATE, SlotState.EMPTY);
      tail++;
    }
    Atomics.store(this.header, J_TAIL_I32, tail);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Replace the session state (JSON). Double-buffered: the flip of the generation is the commit. */
  writeSession(state: unknown): void {
    const bytes = new TextEncoder().encode(JSON.stringify(state));
    if (bytes.byteLength > SESSION_BYTES) throw new RangeError(`session state of ${bytes.byteLength} bytes exceeds ${SESSION_BYTES}`);
    const gen = Atomics.load(this.header, J_SESSION_GEN_I32);
    const next = (gen + 1) & 1;
    new Uint8Array(this.buffer, this.layout.sessionByteOffset + next * SESSION_BYTES, SESSION_BYTES).set(bytes);
    Atomics.store(this.header, J_SESSION_LEN0_I32 + next, bytes.byteLength);
    Atomics.store(this.header, J_SESSION_GEN_I32, gen + 1);
  }

  private slot(seq: number): { slot: Int32Array; data: Uint8Array } {
    const i = seq & (this.layout.capacity - 1);
    const off = this.layout.slotsByteOffset + i * this.layout.slotBytes;
    return { slot: new Int32Array(this.buffer, off, SLOT_HEADER_BYTES / 4), data: new Uint8Array(this.buffer, off + SLOT_HEADER_BYTES, this.layout.blockBytes) };
  }
}

export interface JournalSnapshot {
  /** Retained records in sequence order, validated. */
  readonly records: JournalRecord[];
  /** The owner's head: sequence numbers below it were appended. */
  readonly head: number;
  readonly session: unknown;
  readonly problems: string[];
}

/**
 * Read a (fenced) partner's journal for replay. Never throws: anything malformed is left
 * out and named in `problems`. `blocks` bounds the block addresses a record may name.
 */
export function readJournal(buffer: SharedArrayBuffer, capacity: number, blockBytes: number, blocks: number): JournalSnapshot {
  const problems: string[] = [];
  let layout: JournalLayout;
  try {
    layout = journalLayout(capacity, blockBytes);
  } catch (err) {
    return { records: [], head: 0, session: null, problems: [String(err)] };
  }
  if (buffer.byteLength < layout.totalBytes) return { records: [], head: 0, session: null, problems: ['region smaller than its layout'] };
  const header = new Int32Array(buffer, 0, 16);
  if (Atomics.load(header, J_MAGIC_I32) !== JOURNAL_MAGIC) return { records: [], head: 0, session: null, problems: ['no journal magic'] };
  const head = Atomics.load(header, J_HEAD_I32);
  let tail = Atomics.load(header, J_TAIL_I32);
  if (head - tail > capacity || head < tail) {
    problems.push(`head ${head} / tail ${tail} impossible for ${capacity} slots`);
    tail = head - capacity;
  }
  const records: JournalRecord[] = [];
  // Up to one record past head: appended and marked, but the owner died before moving head.
  for (let seq = tail, n = 0; n <= capacity; seq++, n++) {
    const i = seq & (capacity - 1);
    const off = layout.slotsByteOffset + i * layout.slotBytes;
    const slot = new Int32Array(buffer, off, SLOT_HEADER_BYTES / 4);
    const state = Atomics.load(slot, S_STATE);
    if (slot[S_SEQ] !== seq || (state !== SlotState.PENDING && state !== SlotState.ACKED)) {
      if (seq < head) problems.push(`record ${seq} missing or torn`);
      if (seq >= head) break;
      continue;
    }
    const lba = slot[S_LBA]!;
    if (!Number.isInteger(lba) || lba < 0 || lba >= blocks) {
      problems.push(`record ${seq} names block ${lba}, outside the volume`);
      continue;
    }
    records.push({ seq, lba, state, sid: slot[S_SID]!, req: slot[S_REQ]!, bytes: new Uint8Array(buffer, off + SLOT_HEADER_BYTES, blockBytes).slice() });
  }
  let session: unknown = null;
  const gen = Atomics.load(header, J_SESSION_GEN_I32);
  if (gen > 0) {
    const which = gen & 1;
    const len = Atomics.load(header, J_SESSION_LEN0_I32 + which);
    if (len > 0 && len <= SESSION_BYTES) {
      try {
        const bytes = new Uint8Array(buffer, layout.sessionByteOffset + which * SESSION_BYTES, len).slice();
        session = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        problems.push('session state is not valid JSON');
      }
    } else problems.push(`session state length ${len} impossible`);
  }
  return { records, head: Math.max(head, records.length ? records[records.length - 1]!.seq + 1 : head), session, problems };
}
