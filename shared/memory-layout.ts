// Runs on both sides of the boundary. The two kinds of shared buffer a guest is given,
// described once:
//
// 1. A frame arena, one per trust group: the resident blocks. Every guest of the group
//    gets the same buffer, so a block is in memory once however many domains read it.
//      | generation words (frames × u32) | pad to 64 | frames (frames × frameBytes) |
//    A frame's generation changes each time the frame is refilled with another block, so
//    a guest holding an old (frame, generation) pair can tell that its mapping went stale.
//
// 2. A domain control buffer, one per domain, seen only by that guest and dom0:
//      | request ring | completion ring | page map (blocks × 2 words) | staging slots (slots × blockBytes) |
//    The page map is written only by dom0 (frame + 1, generation per LBA): it is the guest's
//    mapping cache (seed 003), so a repeated read needs no request at all. dom0 never reads
//    it back; it keeps a private shadow (a guest can scribble on its own page map and only
//    confuse itself). Staging slots carry a write's bytes from guest to dom0, which copies
//    them out before use.
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
  /** Byte offset of the generation words (one u32 per frame). */
  readonly genByteOffset: number;
  /** Byte offset of frame 0; frame f starts at framesByteOffset + f * frameBytes. */
  readonly framesByteOffset: number;
  readonly totalBytes: number;
}

export function arenaLayout(frames: number, frameBytes: number): ArenaLayout {
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`arena needs at least one frame, got ${frames}`);
  if (!Number.isInteger(frameBytes) || frameBytes < 4096 || (frameBytes & (frameBytes - 1)) !== 0) {
    throw new RangeError(`frame size must be a power of two ≥ 4096 bytes, got ${frameBytes}`);
  }
  const genByteOffset = 0;
  const framesByteOffset = align64(genByteOffset + frames * 4);
  return Object.freeze({ frames, frameBytes, genByteOffset, framesByteOffset, totalBytes: framesByteOffset + frames * frameBytes });
}

// ---- domain control buffer -------------------------------------------------------------
/** Page-map words per LBA. */
export const PM_WORDS = 2;
export const PM_FRAME = 0; // frame number + 1; 0 = not mapped
export const PM_GEN = 1; // the frame's generation when mapped

export interface DomainLayout {
  readonly blocks: number;
  readonly blockBytes: number;
  readonly stagingSlots: number;
  readonly requestRing: RingGeometry;
  readonly completionRing: RingGeometry;
  readonly pageMapByteOffset: number;
  readonly stagingByteOffset: number;
  readonly totalBytes: number;
}

export function domainLayout(blocks: number, blockBytes: number, ringCapacity = 256, stagingSlots = 4): DomainLayout {
  if (!Number.isInteger(blocks) || blocks < 1) throw new RangeError(`a volume needs at least one block, got ${blocks}`);
  const requestRing = ringGeometry(0, ringCapacity, ENTRY_WORDS);
  const completionRing = ringGeometry(align64(ringBytes(ringCapacity, ENTRY_WORDS)), ringCapacity, ENTRY_WORDS);
  const pageMapByteOffset = align64(completionRing.byteOffset + ringBytes(ringCapacity, ENTRY_WORDS));
  const stagingByteOffset = align64(pageMapByteOffset + blocks * PM_WORDS * 4);
  const totalBytes = stagingByteOffset + stagingSlots * blockBytes;
  return Object.freeze({ blocks, blockBytes, stagingSlots, requestRing, completionRing, pageMapByteOffset, stagingByteOffset, totalBytes });
}
