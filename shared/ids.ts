// Runs on both sides of the boundary. The numbers that name things in shared memory —
// frames of an arena, blocks of a volume, domains — as branded types, so one cannot be
// passed where another is meant, and one encoding of "a frame, or none" in a 32-bit word.
//
// A brand costs nothing at run time: a FrameNo is a number. The only ways to get one are
// the checked constructors below (or a cast in code that has just checked the bounds).
//
//   const f = frameNo(word, layout.frames);   // RangeError unless 0 ≤ word < frames
//   pm[PM_FRAME] = encodeFrame(f);            // frame + 1; 0 = no frame
//   const back = decodeFrame(pm[PM_FRAME]);   // the frame, or NO_FRAME (-1)

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/**
 * A frame ref: below the arena's frame count a frame of the trust group's arena, above it a
 * private frame of the domain (shared/memory-layout.ts). 0 ≤ ref < the frames it may name.
 */
export type FrameNo = Brand<number, 'FrameNo'>;
/** A logical block address of a volume: 0 ≤ lba < volume blocks. */
export type Lba = Brand<number, 'Lba'>;
/** A domain, as dom0 numbers them: a positive integer. */
export type DomainId = Brand<number, 'DomainId'>;

function inRange(n: number, limit: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < limit;
}

export function isFrameNo(n: number, frames: number): n is FrameNo {
  return inRange(n, frames);
}

export function assertFrameNo(n: number, frames: number): asserts n is FrameNo {
  if (!inRange(n, frames)) throw new RangeError(`frame ${n} is outside the arena (0..${frames - 1})`);
}

export function frameNo(n: number, frames: number): FrameNo {
  assertFrameNo(n, frames);
  return n;
}

export function isLba(n: number, blocks: number): n is Lba {
  return inRange(n, blocks);
}

export function assertLba(n: number, blocks: number): asserts n is Lba {
  if (!inRange(n, blocks)) throw new RangeError(`block ${n} is outside this volume (0..${blocks - 1})`);
}

export function lba(n: number, blocks: number): Lba {
  assertLba(n, blocks);
  return n;
}

export function isDomainId(n: number): n is DomainId {
  return Number.isInteger(n) && n > 0 && n <= 0x7fff_ffff;
}

export function domainId(n: number): DomainId {
  if (!isDomainId(n)) throw new RangeError(`domain id must be a positive 31-bit integer, got ${n}`);
  return n;
}

// ---- "frame + 1" words --------------------------------------------------------------------
// A page-map entry, a READ completion, an UNMAP of a kept pin and dom0's trusted shadow all
// carry a frame ref in one 32-bit word as ref + 1, so that 0 (the value of fresh shared
// memory) means "no frame": an unmapped block, a hole, "drop the mapping of LBA" rather
// than a pin.

/** What decodeFrame returns for the word 0. */
export const NO_FRAME = -1;

/**
 * The word for `frame` (a frame of the arena, or NO_FRAME for none: the word 0). Takes a
 * plain number because dom0's frame table hands out frames it has bounded itself.
 */
export function encodeFrame(frame: number): number {
  return frame + 1;
}

/**
 * The frame a word names, or NO_FRAME for 0. Not checked: a word from shared memory may
 * be anything, so check the result against the arena (isFrameNo) before using it.
 */
export function decodeFrame(word: number): number {
  return word - 1;
}
