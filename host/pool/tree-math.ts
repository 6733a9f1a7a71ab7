// Runs anywhere (pure). Geometry of a volume's block tree: how many levels a volume
// needs, and which slot of which level an LBA goes through. Kept free of IndexedDB so
// it is unit-tested in Node.

/** Pointers per tree node. 256 × 4 bytes = 1 KiB nodes: a snapshot diverges in 1 KiB steps. */
export const FANOUT = 256;
const FANOUT_BITS = 8;

export const MIN_BLOCK_BYTES = 4 * 1024;
export const MAX_BLOCK_BYTES = 1024 * 1024;
export const DEFAULT_BLOCK_BYTES = 64 * 1024;

/** Whether n is a valid logical block size: a power of two in [4 KiB, 1 MiB]. */
export function isValidBlockSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_BLOCK_BYTES && n <= MAX_BLOCK_BYTES && (n & (n - 1)) === 0;
}

/** Blocks in a volume of sizeBytes (the last block may be partial). */
export function blockCount(sizeBytes: number, blockSize: number): number {
  return Math.ceil(sizeBytes / blockSize);
}

/** Tree height for a volume of `blocks` blocks: smallest L ≥ 1 with FANOUT^L ≥ blocks. */
export function levelsFor(blocks: number): number {
  let levels = 1;
  let span = FANOUT;
  while (span < blocks) {
    levels++;
    span *= FANOUT;
  }
  return levels;
}

/** Slot index of `lba` inside a node at `level` (0 = leaf). */
export function slotAt(lba: number, level: number): number {
  // Division rather than shifts: LBAs can exceed 2^31 for large volumes of small blocks.
  return Math.floor(lba / 2 ** (FANOUT_BITS * level)) % FANOUT;
}

/** Number of LBAs one slot of a node at `level` covers. */
export function slotSpan(level: number): number {
  return 2 ** (FANOUT_BITS * level);
}
