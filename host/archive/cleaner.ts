// Runs anywhere (page, worker, node). Segment cleaning of the data tier: pick victims
// from the segment usage table by policy, copy their live records forward into fresh
// segments (sorted by data age for cost-benefit, as in LFS), repoint the metadata tier,
// and only then delete the victims.
//
// Liveness is decided as in LFS, by asking the index rather than keeping per-record
// flags: a record is live iff the metadata tier maps its key to exactly this address.
//
// Order of durability (why cleaning never loses a live chunk): copies are appended and
// flushed to the store, then the LSM is flushed (the new addresses are committed), and
// only then are victims deleted. A crash before the LSM flush leaves the old addresses in
// force and the copies as garbage; a crash after it leaves undeleted victims that are now
// all garbage. A live record that fails verification aborts the clean with a typed error
// before anything is deleted.

import type { ChunkHash } from './chunk-hash';
import type { MetadataLsm } from './lsm';
import { Tier } from './lsm-run';
import type { RecordHeader } from './segment-format';
import type { SegmentLog, ScannedRecord } from './segment-log';
import type { SegmentId } from './segment-store';
import { type CleaningPolicy, CleaningPolicy as Policies, type SegmentUsageTable } from './segment-usage';

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
}

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
  const victims = usage.selectVictims(options.policy, options.now, options.maxVictims);
  if (!victims.length) return { victims, recordsCopied: 0, bytesRead: 0, bytesCopied: 0, bytesFreed: 0 };

  let bytesRead = 0;
  let bytesFreed = 0;
  const live: { key: ChunkHash; scanned: ScannedRecord }[] = [];
  for (const v of victims) {
    const size = log.size(v) ?? 0;
    bytesFreed += size;
    if ((usage.get(v)?.liveBytes ?? 0) === 0) continue; // nothing live: no need to read it
    bytesRead += size;
    for (const scanned of await log.scan(v)) {
      const key = keyFor(scanned.header);
      const loc = lsm.get(key);
      const { segment, offset } = scanned.address;
      if (loc && loc.tier === Tier.warm && loc.segment === segment && loc.offset === offset) {
        live.push({ key, scanned });
      }
    }
  }
  if (options.ageSort ?? options.policy === Policies.costBenefit) {
    live.sort((a, b) => a.scanned.header.writtenAt - b.scanned.header.writtenAt);
  }

  let bytesCopied = 0;
  for (const { key, scanned } of live) {
    const rec = await scanned.verified(); // throws on damage: nothing deleted yet
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
