// Guest module (runs in a hardened guest worker): a failover-capable guest. It journals
// every write in a region it announces to its partner through the hypervisor, beats a
// heartbeat there, serves stateful sessions for its own identity and, after a takeover, for
// the identity it assumed. Driven over its control port (comlink) by the host's
// FailoverManager (host/page/failover.ts); tests, e2e pages and the reliability
// benchmark spawn it. The write-stream workload is what crash and failover tests kill.
import { expose } from 'comlink';
import { openBlockDevice, type BlockDevice } from '../block-device';
import type { GuestContext } from '../../shared/boot-protocol';
import type { DomainGrant } from '../../shared/grant';
import type { JournalAnnouncement } from '../../shared/journal-layout';
import { Journal } from './journal';
import { assumeIdentity, journaledWrite, SessionServer, type SessionReply, type SessionRequest, type SessionTestHooks, type TakeoverReport } from './session';

export interface SessionGuestInit {
  grant: DomainGrant;
  control: MessagePort;
  /** Informational; the host fills in the trusted dataset when it pairs guests. */
  dataset?: string;
  /** Journal records (power of two); default 64. */
  journalCapacity?: number;
  heartbeatMs?: number;
}

export interface StreamOptions {
  /** Block addresses written round-robin: write k goes to lbas[k % lbas.length]. */
  lbas: number[];
  /** Writes in flight at once (≤ lbas.length, so no two in flight hit one block). */
  concurrency: number;
  /** Int32 per entry of `lbas`: the highest version acknowledged there (written after each ack). */
  ackBoard: SharedArrayBuffer;
  /** First version to write (resume after a crash); default 1. */
  from?: number;
  /** Stop after this version (default: never, until stopStream). */
  until?: number;
}

/** Block contents of version `k` (≥ 1) of a stream write: k in the first word, then PRNG bytes. */
export function streamBlock(k: number, bytes: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(bytes);
  const dv = new DataView(b.buffer);
  let x = (k * 2654435761) >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    dv.setUint32(i, x >>> 0);
  }
  dv.setUint32(0, k);
  return b;
}

/** The version a stream block holds (0 for zeros), or -1 if its bytes are not a stream block. */
export function streamVersion(b: Uint8Array): number {
  const k = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
  if (k === 0) return b.every((x) => x === 0) ? 0 : -1;
  const want = streamBlock(k, b.byteLength);
  for (let i = 0; i < b.byteLength; i++) if (b[i] !== want[i]) return -1;
  return k;
}

export function createSessionGuest(init: SessionGuestInit) {
  const dev = openBlockDevice(init.grant);
  const heartbeatMs = init.heartbeatMs ?? 50;
  const capacity = init.journalCapacity ?? 64;
  const journal = Journal.create(capacity, dev.blockBytes, dev.domainId);
  journal.startHeartbeat(heartbeatMs);
  /** identity → its server and device: our own, plus any we assumed. */
  const identities = new Map<number, { server: SessionServer; dev: BlockDevice; journal: Journal }>();
  identities.set(dev.domainId, { server: new SessionServer(dev.domainId, dev, journal, dev.domainId), dev, journal });
  const partners = new Map<number, JournalAnnouncement>();
  let streaming = false;
  let streamDone: Promise<void> = Promise.resolve();

  const must = (identity: number) => {
    const id = identities.get(identity);
    if (!id) throw new Error(`guest ${dev.domainId} does not serve identity ${identity}`);
    return id;
  };

  return {
    domainId: (): number => dev.domainId,
    announce(): JournalAnnouncement {
      return { domainId: dev.domainId, dataset: init.dataset ?? "", blocks: dev.blocks, capacity, blockBytes: dev.blockBytes, buffer: journal.buffer };
    },
    partner(ann: JournalAnnouncement): void {
      partners.set(ann.domainId, ann);
    },
    /** Survivor: serve `grant` (the partner's domain, same id) after replaying its journal. */
    async assume(grant: DomainGrant): Promise<TakeoverReport> {
      const ann = partners.get(grant.domainId);
      if (!ann) throw new Error(`no journal announced for domain ${grant.domainId}`);
      const adopted = openBlockDevice(grant);
      const { server, report } = await assumeIdentity(grant.domainId, adopted, ann, dev.domainId, heartbeatMs);
      identities.set(grant.domainId, { server, dev: adopted, journal: server.journal });
      partners.delete(grant.domainId);
      return report;
    },
    session(identity: number, req: SessionRequest): Promise<SessionReply> {
      return must(identity).server.handle(req);
    },
    setSessionHooks(identity: number, hooks: SessionTestHooks): void {
      must(identity).server.hooks = hooks;
    },
    /** Journaled write stream (see StreamOptions); returns at once. */
    startStream(opts: StreamOptions): void {
      if (streaming) throw new Error('a stream is already running');
      streaming = true;
      const board = new Int32Array(opts.ackBoard);
      let next = opts.from ?? 1;
      const worker = async (): Promise<void> => {
        while (streaming && (opts.until === undefined || next <= opts.until)) {
          const k = next++;
          const slot = k % opts.lbas.length;
          await journaledWrite(dev, journal, opts.lbas[slot]!, streamBlock(k, dev.blockBytes));
          // Acknowledged: durable in the pool. Only now does anyone learn it.
          Atomics.store(board, slot, Math.max(Atomics.load(board, slot), k));
        }
      };
      streamDone = Promise.all(Array.from({ length: opts.concurrency }, worker)).then(() => undefined);
    },
    async stopStream(): Promise<void> {
      streaming = false;
      await streamDone;
    },
    /** Stream versions held by `lbas` of `identity`'s volume (-1: not a stream block). */
    async versions(identity: number, lbas: number[]): Promise<number[]> {
      const d = must(identity).dev;
      const out: number[] = [];
      for (const lba of lbas) {
        using v = await d.read(lba);
        out.push(streamVersion(v.bytes));
      }
      return out;
    },
    journalRetained: (identity: number): number => must(identity).journal.retained,
    /** Write `fill` into block `lba` of the shared arena view: the corruption a buggy or hostile guest can do. */
    async scribble(lba: number, fill: number): Promise<boolean> {
      const v = await dev.read(lba);
      const shared = v.shared;
      v.bytes.fill(fill, 0, 64);
      v.release();
      return shared;
    },
    async firstByte(lba: number): Promise<number> {
      using v = await dev.read(lba);
      return v.bytes[0]!;
    },
  };
}

export type SessionGuestApi = ReturnType<typeof createSessionGuest>;

export default function main(ctx: GuestContext): void {
  const init = ctx.init as SessionGuestInit;
  expose(createSessionGuest(init), init.control);
}
