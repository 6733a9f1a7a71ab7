// Runs on every thread: the pool raises these in the dom0 worker, and the page receives
// them as the same classes (shared/errors/error-transfer.ts carries them across comlink).
// The pool's error contract: every failure is one of these typed subclasses, carries
// the underlying platform error as `cause`, and leaves the pool (in memory and on disk)
// exactly as it was before the call. Callers branch on `instanceof` or on `code`.

/** Base of every pool error. */
export abstract class PoolError extends Error {
  // Spelled out, not new.target.name: a minified build renames classes.
  override readonly name: string = 'PoolError';
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A dataset name or id that the pool does not hold (or no longer holds). */
export class UnknownDatasetError extends PoolError {
  override readonly name: string = 'UnknownDatasetError';
  readonly code = 'unknown-dataset';
  constructor(readonly dataset: string | number) {
    super(`no dataset ${JSON.stringify(dataset)} in this pool`);
  }
}

/** A dataset name that is already taken. */
export class DatasetExistsError extends PoolError {
  override readonly name: string = 'DatasetExistsError';
  readonly code = 'dataset-exists';
  constructor(readonly dataset: string) {
    super(`a dataset named ${JSON.stringify(dataset)} already exists`);
  }
}

/** A logical block address (or byte range) outside the dataset. */
export class OutOfRangeError extends PoolError {
  override readonly name: string = 'OutOfRangeError';
  readonly code = 'out-of-range';
  constructor(
    readonly dataset: string,
    readonly lba: number,
    readonly blocks: number,
  ) {
    super(`block ${lba} is outside dataset ${JSON.stringify(dataset)} (blocks 0..${blocks - 1})`);
  }
}

/** A write to a snapshot (snapshots are read-only; clone them to write). */
export class ReadOnlyDatasetError extends PoolError {
  override readonly name: string = 'ReadOnlyDatasetError';
  readonly code = 'read-only';
  constructor(readonly dataset: string) {
    super(`dataset ${JSON.stringify(dataset)} is a snapshot and read-only; clone it to write`);
  }
}

/** Destroying a snapshot that clones still originate from. */
export class HasClonesError extends PoolError {
  override readonly name: string = 'HasClonesError';
  readonly code = 'has-clones';
  constructor(
    readonly dataset: string,
    readonly clones: readonly string[],
  ) {
    super(`snapshot ${JSON.stringify(dataset)} has clones (${clones.join(', ')}); destroy them first`);
  }
}

/** A malformed argument: block size not a power of two, misaligned write, bad option. */
export class InvalidArgumentError extends PoolError {
  override readonly name: string = 'InvalidArgumentError';
  readonly code = 'invalid-argument';
}

/**
 * A block whose bytes do not hash to the checksum recorded in the chunk map, or whose
 * data record is missing or the wrong size. `dataset`/`lba` are set when the read came
 * through a dataset (readBlocks, exportVolume); readChunks only knows the chunk.
 */
export class ChecksumError extends PoolError {
  override readonly name: string = 'ChecksumError';
  readonly code = 'checksum';
  constructor(
    readonly detail: {
      chunkId: number;
      metaslab: number;
      offset: number;
      /** hex checksum (read checksum, or SHA-256 for format-1 chunks and fsck) the chunk map records */
      expected: string;
      /** the same digest of what was read, or null when the record was missing / mis-sized */
      actual: string | null;
      dataset?: string;
      lba?: number;
    },
  ) {
    const where =
      detail.dataset !== undefined ? `dataset ${JSON.stringify(detail.dataset)} block ${detail.lba}, ` : '';
    const what =
      detail.actual === null
        ? 'data record missing or of the wrong size'
        : `checksum mismatch: expected ${detail.expected.slice(0, 16)}…, read ${detail.actual.slice(0, 16)}…`;
    super(`${where}chunk ${detail.chunkId} at metaslab ${detail.metaslab} offset ${detail.offset}: ${what}`);
  }
}

/** A BlockRef whose chunk no longer exists (its last reference was destroyed). */
export class StaleBlockRefError extends PoolError {
  override readonly name: string = 'StaleBlockRefError';
  readonly code = 'stale-ref';
  constructor(readonly chunkId: number) {
    super(`chunk ${chunkId} no longer exists in the pool (stale BlockRef)`);
  }
}

/** The browser refused the commit for lack of space (wraps QuotaExceededError). */
export class PoolFullError extends PoolError {
  override readonly name: string = 'PoolFullError';
  readonly code = 'pool-full';
  constructor(txg: number, cause: unknown) {
    super(`commit of txg ${txg} refused: storage quota exceeded; the pool stays at txg ${txg - 1}`, { cause });
  }
}

/** Any other failure of a commit transaction. */
export class CommitError extends PoolError {
  override readonly name: string = 'CommitError';
  readonly code = 'commit-failed';
  constructor(txg: number, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`commit of txg ${txg} failed (${why}); the pool stays at txg ${txg - 1}`, { cause });
  }
}

/**
 * Writes staged in transaction group `group` were dropped before any commit of them: a
 * commit of that group failed (anyone's: every caller's staged changes share the open
 * group) or the group was discarded or the pool closed. Raised by `commit({ groups })` to
 * a caller whose writes were in it, so a write is never taken for durable when it was
 * not. `cause` is why the group was dropped.
 */
export class GroupDroppedError extends PoolError {
  override readonly name: string = 'GroupDroppedError';
  readonly code = 'group-dropped';
  constructor(
    readonly group: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`the changes staged in transaction group ${group} were dropped before they were committed (${why})`, { cause });
  }
}

/** Use of a pool after close(), or a database that another tab upgraded under us. */
export class PoolClosedError extends PoolError {
  override readonly name: string = 'PoolClosedError';
  readonly code = 'pool-closed';
}

/** The on-disk format is newer than this code understands. */
export class PoolFormatError extends PoolError {
  override readonly name: string = 'PoolFormatError';
  readonly code = 'pool-format';
}

/**
 * IndexedDB failed to open the pool for a reason other than refusing storage to this
 * context (a browser error, a damaged backing store). The pool is not opened anywhere
 * else: serving from memory instead would acknowledge writes that are never kept.
 */
export class PoolStorageError extends PoolError {
  override readonly name: string = 'PoolStorageError';
  readonly code = 'pool-storage';
}

/**
 * This pool's data was deleted under it: the browser reported `dataLoss` when the database
 * was created again, or the pool registry (OPFS) still recorded the pool when its database
 * was found created from nothing (the browser reports a deletion only to the first database
 * opened after it). Every open refuses with this until the user accepts the loss
 * (`acceptLoss`), so an application never mistakes the empty pool for its own.
 */
export class PoolLostError extends PoolError {
  override readonly name: string = 'PoolLostError';
  readonly code = 'pool-lost';
}
