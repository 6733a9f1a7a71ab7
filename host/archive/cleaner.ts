// Runs anywhere (page, worker, node). Segment cleaning of the data tier: pick victims
// from the segment usage table by policy, copy their live records forward into fresh
// segments (sorted by data age for cost-benefit, as in LFS), repoint the metadata tier,
// and only then delete the victims.
//
// Liveness is decided as in LFS, by asking the index rather than keeping per-record
// flags: a record is live iff the metadata tier maps its key to exactly this address.
//
// Reads ('live', the default): the metadata tier already lists every live record's
// address, so it serves as the victims' segment summary, and only live records are read
// (one range read each; dead payloads are never touched). OPFS and IndexedDB have no seek
// cost, so skipping dead bytes is pure saving; bytesRead counts exactly the bytes read.
// 'whole' reads each non-empty victim in one piece and walks its records (Sprite LFS).
// The victim policy prices a victim the same way (segment-usage.ts, ReadCost).
//
// Order of durability (why cleaning never loses a live chunk): copies are appended and
// flushed to the store, then the LSM is flushed (the new addresses are committed), and
// only then are victims deleted. A crash before the LSM flush leaves the old addresses in
// force and the copies as garbage; a crash after it leaves undeleted victims that are now
// all garbage. A live record that fails verification aborts the clean with a typed error
// before anything is deleted.

import type { ChunkHash } from './chunk-hash';
import { ChunkHashMismatchError } from '../../shared/errors/archive-errors';
import type { MetadataLsm } from './lsm';
import { type ChunkLocation, Tier } from './lsm-run';
import type { LogRecord, RecordHeader } from './segment-format';
import type { SegmentLog } from './segment-log';
import type { SegmentId } from './segment-store';
import {
  type CleaningPolicy,
  CleaningPolicy as Policies,
  READ_WHOLE,
  type ReadCost,
  type SegmentUsageTable,
} from './segment-usage';

export interface CleanerContext {
  readonly log: SegmentLog;
  readonly lsm: MetadataLsm;
  readonly usage: SegmentUsageTable;
  /** The LSM key a record is indexed under; default its content hash. */
  readonly keyFor?: (header: RecordHeader) => ChunkHash;
}

export interface CleanOptions {
  readonly policy: CleaningPolicy;
  /** Current time, in the same unit as record write times. */
  readonly now: number;
  readonly maxVictims: number;
  /** Sort copied records by write time; default on for cost-benefit. */
  readonly ageSort?: boolean;
  /** Read only live records (default) or whole victims. */
  readonly read?: 'live' | 'whole';
}

// The summary a 'live' clean consults is in memory; price it as a small fraction of a
// segment so an empty victim's score stays finite.
const SUMMARY_COST = 0.001;

export interface CleanReport {
  readonly victims: SegmentId[];
  readonly recordsCopied: number;
  readonly bytesRead: number;
  readonly bytesCopied: number;
  readonly bytesFreed: number;
}

export async function cleanSegments(ctx: CleanerContext, options: CleanOptions): Promise<CleanReport> {
  const { log, lsm, usage } = ctx;
  const keyFor = ctx.keyFor ?? ((h: RecordHeader) => h.hash);
  // Seal the head so it can be a victim and so copies never share a segment with new data.
  log.sealHead();
  await log.flush();
  const readLive = (options.read ?? 'live') === 'live';
  const readCost: ReadCost = readLive ? { kind: 'live', summary: SUMMARY_COST } : READ_WHOLE;
  const victims = usage.selectVictims(options.policy, options.now, options.maxVictims, (id) => log.size(id), readCost);
  if (!victims.length) return { victims, recordsCopied: 0, bytesRead: 0, bytesCopied: 0, bytesFreed: 0 };

  let bytesRead = 0;
  let bytesFreed = 0;
  for (const v of victims) bytesFreed += log.size(v) ?? 0;
  const live: { key: ChunkHash; record: () => Promise<LogRecord>; writtenAt: number }[] = [];
  if (readLive) {
    const victimSet = new Set(victims);
    const found: { key: ChunkHash; at: ChunkLocation }[] = [];
    for (const [key, at] of lsm.live()) if (at.tier === Tier.warm && victimSet.has(at.segment)) found.push({ key, at });
    // Read in log order (sequential within a file, for what it is worth), verified: CRC,
    // and SHA-256 against the stored hash. The key must name the record it points at.
    found.sort((a, b) => a.at.segment - b.at.segment || a.at.offset - b.at.offset);
    for (const { key, at } of found) {
      const rec = await log.read(at);
      if (keyFor(rec) !== key) throw new ChunkHashMismatchError(key, rec.hash, `segment ${at.segment} byte ${at.offset}`);
      bytesRead += at.length;
      live.push({ key, record: () => Promise.resolve(rec), writtenAt: rec.writtenAt });
    }
  } else {
    for (const v of victims) {
      if ((usage.get(v)?.liveBytes ?? 0) === 0) continue; // nothing live: no need to read it
      bytesRead += log.size(v) ?? 0;
      for (const scanned of await log.scan(v)) {
        const key = keyFor(scanned.header);
        const loc = lsm.get(key);
        const { segment, offset } = scanned.address;
        if (loc && loc.tier === Tier.warm && loc.segment === segment && loc.offset === offset) {
          live.push({ key, record: () => scanned.verified(), writtenAt: scanned.header.writtenAt });
        }
      }
    }
  }
  if (options.ageSort ?? options.policy === Policies.costBenefit) {
    live.sort((a, b) => a.writtenAt - b.writtenAt);
  }

  let bytesCopied = 0;
  for (const { key, record } of live) {
    const rec = await record(); // throws on damage: nothing deleted yet
    const to = log.append(rec.kind, rec.hash, rec.writtenAt, rec.payload);
    lsm.put(key, { tier: Tier.warm, ...to });
    usage.addLive(to.segment, to.length, rec.writtenAt);
    bytesCopied += to.length;
  }
  log.sealHead();
  await log.flush();
  await lsm.flush();
  for (const v of victims) {
    await log.deleteSegment(v);
    usage.forget(v);
  }
  return { victims, recordsCopied: live.length, bytesRead, bytesCopied, bytesFreed: bytesFreed - bytesCopied };
}
