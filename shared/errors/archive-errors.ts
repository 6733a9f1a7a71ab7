// Runs on every thread: the archive raises these in the dom0 worker, and the page receives
// them as the same classes (shared/errors/error-transfer.ts). Every fault the archive can
// detect has its own class and `code`, so callers (the pool wiring, the console, tests)
// can tell "data is damaged" from "you asked for something absent".

export class ArchiveError extends Error {
  override readonly name: string = 'ArchiveError';
  readonly code: string = 'archive';
}

/** Stored bytes failed their CRC or framing check: the record is damaged, not returned. */
export class CorruptRecordError extends ArchiveError {
  override readonly name: string = 'CorruptRecordError';
  override readonly code: string = 'corrupt-record';
  constructor(
    readonly segment: number,
    readonly offset: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`corrupt record in segment ${segment} at byte ${offset}: ${detail}`, options);
  }
}

/** A payload whose SHA-256 differs from the hash it is stored (or looked up) under. */
export class ChunkHashMismatchError extends ArchiveError {
  override readonly name: string = 'ChunkHashMismatchError';
  override readonly code: string = 'chunk-hash-mismatch';
  constructor(
    readonly expected: string,
    readonly actual: string,
    where: string,
  ) {
    super(`chunk hash mismatch at ${where}: expected ${expected}, payload hashes to ${actual}`);
  }
}

/** A record larger than a whole segment can never be placed. */
export class RecordTooLargeError extends ArchiveError {
  override readonly name: string = 'RecordTooLargeError';
  override readonly code: string = 'record-too-large';
  constructor(recordBytes: number, segmentBytes: number) {
    super(`record of ${recordBytes} bytes does not fit a ${segmentBytes}-byte segment`);
  }
}

/** A read outside what a segment store holds. */
export class SegmentRangeError extends ArchiveError {
  override readonly name: string = 'SegmentRangeError';
  override readonly code: string = 'segment-range';
  constructor(segment: number, offset: number, length: number, size: number | undefined) {
    super(
      size === undefined
        ? `segment ${segment} does not exist (read of ${length} bytes at ${offset})`
        : `read of ${length} bytes at ${offset} is outside segment ${segment} (${size} bytes)`,
    );
  }
}

/** The last segment holds damage that is not a torn tail (valid records follow it). */
export class CorruptSegmentError extends ArchiveError {
  override readonly name: string = 'CorruptSegmentError';
  override readonly code: string = 'corrupt-segment';
}

/** A persisted sorted run or run manifest of the metadata tier failed its checks. */
export class CorruptRunError extends ArchiveError {
  override readonly name: string = 'CorruptRunError';
  override readonly code: string = 'corrupt-run';
}

export class ChunkNotFoundError extends ArchiveError {
  override readonly name: string = 'ChunkNotFoundError';
  override readonly code: string = 'chunk-not-found';
  constructor(readonly hash: string) {
    super(`chunk ${hash} is not in the archive`);
  }
}

export class SnapshotNotFoundError extends ArchiveError {
  override readonly name: string = 'SnapshotNotFoundError';
  override readonly code: string = 'snapshot-not-found';
  constructor(readonly snapshot: string) {
    super(`snapshot "${snapshot}" is not in the archive`);
  }
}

/** Misuse of an API (bad argument, closed object): a bug in the caller, nothing changed. */
export class ArchiveUsageError extends ArchiveError {
  override readonly name: string = 'ArchiveUsageError';
  override readonly code: string = 'archive-usage';
}

/** One archived block (or several with the same content) that failed verification on restore. */
export interface CorruptBlock {
  readonly hash: string;
  /** Every block of the snapshot that holds this content. */
  readonly lbas: readonly number[];
  /** The typed error the archive raised (CorruptRecordError, ChunkHashMismatchError, or SegmentRangeError for a record the store no longer holds). */
  readonly error: ArchiveError;
}

/**
 * A restore found archived chunks whose bytes do not match their hash (or whose record is
 * damaged). Nothing damaged was written to the pool; the partial volume was destroyed.
 */
export class RestoreCorruptionError extends ArchiveError {
  override readonly name: string = 'RestoreCorruptionError';
  override readonly code: string = 'restore-corruption';
  constructor(
    readonly snapshot: string,
    readonly blocks: readonly CorruptBlock[],
  ) {
    const first = blocks[0];
    super(
      `restore of "${snapshot}" stopped: ${blocks.length} archived chunk(s) failed verification` +
        (first ? ` (first: block ${first.lbas[0]}, ${first.error.message})` : ''),
      first ? { cause: first.error } : undefined,
    );
  }
}
