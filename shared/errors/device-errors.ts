// Runs on every thread: errors of the block-device data path. A guest raises
// BlockDeviceError; dom0's driver raises ArenaFullError. Both reach the page as the same
// classes (shared/errors/error-transfer.ts).
import { statusCode } from '../protocol';

/** A block-device call that failed; `status` is the ring's Status, `code` its name. */
export class BlockDeviceError extends Error {
  override name = 'BlockDeviceError';
  readonly code: string;
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = statusCode(status);
  }
}

/** Every frame of a trust group's arena is mapped or being filled: nothing can be evicted. */
export class ArenaFullError extends Error {
  override name = 'ArenaFullError';
  readonly code = 'arena-full';
  constructor(group: string) {
    super(`every frame of trust group ${group}'s arena is mapped or being filled; nothing can be evicted`);
  }
}

/** A second live domain on one clone: refused (each would serve the other stale mappings). */
export class DatasetInUseError extends Error {
  override name = 'DatasetInUseError';
  readonly code = 'dataset-in-use';
  constructor(
    readonly dataset: string,
    readonly domainId: number,
  ) {
    super(`dataset ${dataset} is in use by domain ${domainId}: one live domain per clone (clone it again for another guest)`);
  }
}
