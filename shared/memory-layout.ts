// Runs on both sides of the boundary. The two kinds of shared buffer a guest is given,
// described once:
//
// 1. A frame arena, one per trust group: the blocks every member of the group may read
//    (shared with the snapshot their clones came from, or deduplicated). Every guest of
//    the group gets the same buffer, so such a block is in memory once however many
//    domains read it.
//      | frames (frames × frameBytes) |
//    Nothing else lives there: every member can write every byte of it, so no word that
//    another guest trusts (generations, lease state) may sit in it.
//
// 2. A domain control buffer, one per domain, seen only by that guest and dom0:
//      | request ring | completion ring | page map (blocks × 3 words) | staging slots (slots × blockBytes) | private frames |
//    The page map's FRAME and GEN words are written only by dom0 (frame ref + 1 and the
//    mapping's generation per LBA): it is the guest's mapping cache (seed 003), so a
//    repeated read needs no request at all. dom0 keeps a private shadow and never trusts
//    FRAME/GEN read back. LEASE is written by the guest (views it holds of the LBA, plus
//    reads of it in flight); dom0 reads it only to decide whether it may take a mapping
//    back, so a guest that lies about it only keeps or loses its own mappings.
//    Staging slots carry a write's bytes from guest to dom0, which copies them out before
//    use. Private frames hold the blocks only this domain may read (its own writes): no
//    other guest ever holds this buffer. Only the rings and the page map are allocated
//    when the domain is made; the buffer grows to cover a staging slot at the guest's
//    first write through it and a private frame at its first fill (shared/growable.ts).
//
//    A frame ref below the arena's frame count names a group frame; ref ≥ arenaFrames
//    names private frame (ref − arenaFrames) of this domain.
//
// Geometry travels from dom0 to the guest over the control plane, never through shared
// memory (a guest could rewrite it).
import { ENTRY_WORDS } from './protocol';
import { ringBytes, ringGeometry, type RingGeometry } from './ring-layout';

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

// ---- arena ----------------------------------------------------------------------------
export interface ArenaLayout {
  readonly frames: number;
  readonly frameBytes: number;
  /** Byte offset of frame 0 in its buffer; frame f starts at framesByteOffset + f * frameBytes. */
  readonly framesByteOffset: number;
  readonly totalBytes: number;
}

/** `at`: where the frames start in their buffer (0 for an arena; private frames sit in a control buffer). */
export function arenaLayout(frames: number, frameBytes: number, at = 0): ArenaLayout {
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`arena needs at least one frame, got ${frames}`);
  if (!Number.isInteger(frameBytes) || frameBytes < 4096 || (frameBytes & (frameBytes - 1)) !== 0) {
    throw new RangeError(`frame size must be a power of two ≥ 4096 bytes, got ${frameBytes}`);
  }
  return Object.freeze({ frames, frameBytes, framesByteOffset: at, totalBytes: at + frames * frameBytes });
}

// ---- domain control buffer -------------------------------------------------------------
/** Page-map words per LBA. */
export const PM_WORDS = 2;
export const PM_FRAME = 0; // frame ref + 1; 0 = not mapped (dom0 writes)
/**
 * Views and reads in flight the guest holds for this LBA (the guest adds and subtracts),
 * and LEASE_KEPT, which dom0 sets when it takes a mapping back while the count is not 0
 * and keeps the frame pinned for those views: the guest's last release sees it in the
 * value its subtraction returns and gives the pins back (UNMAP). See docs/isolation.md,
 * "Leases".
 */
export const PM_LEASE = 1;
/** The sign bit of the lease word; the count is the other 31 bits. */
export const LEASE_KEPT = -0x80000000;
export const LEASE_COUNT = 0x7fffffff;

export interface DomainLayout {
  readonly blocks: number;
  readonly blockBytes: number;
  readonly stagingSlots: number;
  readonly requestRing: RingGeometry;
  readonly completionRing: RingGeometry;
  readonly pageMapByteOffset: number;
  readonly stagingByteOffset: number;
  /** This domain's private frames (the blocks only it may read). */
  readonly privateFrames: ArenaLayout;
  /** Bytes allocated up front (rings and page map); staging slots and private frames are added on first use (shared/growable.ts). */
  readonly eagerBytes: number;
  readonly totalBytes: number;
}

/**
 * Staging slots for a domain of `blockBytes` blocks: 256 KiB of them, at least 4. A burst of
 * writes (SQLite's sync, `writeSync`) goes to dom0 one slot per block and waits for one
 * group commit per burst, so the slots set how many commits a sync costs: with 4 slots of
 * 4 KiB a SQLite tenant paid one IndexedDB commit per 4 pages. Memory only as used.
 */
export function stagingSlotsFor(blockBytes: number): number {
  return Math.max(4, Math.floor((256 * 1024) / blockBytes));
}

export function domainLayout(blocks: number, blockBytes: number, ringCapacity = 256, stagingSlots = 4, privateFrames = 1): DomainLayout {
  if (!Number.isInteger(blocks) || blocks < 1) throw new RangeError(`a volume needs at least one block, got ${blocks}`);
  const requestRing = ringGeometry(0, ringCapacity, ENTRY_WORDS);
  const completionRing = ringGeometry(align64(ringBytes(ringCapacity, ENTRY_WORDS)), ringCapacity, ENTRY_WORDS);
  const pageMapByteOffset = align64(completionRing.byteOffset + ringBytes(ringCapacity, ENTRY_WORDS));
  const stagingByteOffset = align64(pageMapByteOffset + blocks * PM_WORDS * 4);
  const priv = arenaLayout(privateFrames, blockBytes, align64(stagingByteOffset + stagingSlots * blockBytes));
  return Object.freeze({
    blocks,
    blockBytes,
    stagingSlots,
    requestRing,
    completionRing,
    pageMapByteOffset,
    stagingByteOffset,
    privateFrames: priv,
    eagerBytes: stagingByteOffset,
    totalBytes: priv.totalBytes,
  });
}
