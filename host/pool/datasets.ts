// Runs wherever the pool runs (pure: no IndexedDB, no crypto). Dataset operations on the
// in-memory state: find, create, snapshot, clone, destroy, and the checks a write must
// pass. Each validates everything before it changes anything, so a thrown error leaves
// the staged group as it was. The Pool wraps them in its serial queue; Node tests drive
// them directly against a PoolState.
import {
  DatasetExistsError,
  HasClonesError,
  InvalidArgumentError,
  OutOfRangeError,
  ReadOnlyDatasetError,
  UnknownDatasetError,
} from '../../shared/errors/pool-errors';
import type { DatasetRecord } from './schema';
import type { PoolState } from './state';
import { blockCount, DEFAULT_BLOCK_BYTES, isValidBlockSize, levelsFor } from './tree-math';
import type { CreateVolumeOptions, DatasetRef } from './types';

/**
 * A dataset by id, or by name. An incomplete volume (an import or restore in progress)
 * has no name yet: only its importer, which holds the id, can reach it.
 */
export function findDataset(state: PoolState, ref: DatasetRef): DatasetRecord {
  if (typeof ref === 'number') {
    const d = state.datasets.get(ref);
    if (d) return d;
    throw new UnknownDatasetError(ref);
  }
  // dom0 resolves a guest's every ring read by name: a scan of every dataset (a generator
  // over the staged map) was most of a resident read's cost in a pool with many clones.
  // The id a name last resolved to is remembered and re-checked on use; names are unique
  // (checkNewName), so a live record that still carries the name is the answer, and
  // anything else (renamed, destroyed, rolled back, incomplete) falls back to the scan.
  const ids = state.nameHints;
  const id = ids.get(ref);
  if (id !== undefined) {
    const d = state.datasets.get(id);
    if (d && d.name === ref && !d.incomplete) return d;
  }
  for (const d of state.datasets.values()) {
    if (d.name === ref && !d.incomplete) {
      ids.set(ref, d.id);
      return d;
    }
  }
  ids.delete(ref);
  throw new UnknownDatasetError(ref);
}

function checkNewName(state: PoolState, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('a dataset name must be a non-empty string');
  // An incomplete volume still holds its name: a second import under it must not race the first.
  for (const d of state.datasets.values()) if (d.name === name) throw new DatasetExistsError(name);
}

/** Clear an incomplete volume's mark: from the commit that carries this on, it exists under its name. */
export function complete(state: PoolState, id: number): void {
  const d = findDataset(state, id);
  if (!d.incomplete) return;
  const { incomplete: _, ...done } = d;
  state.datasets.set(id, done);
}

function addDataset(state: PoolState, fields: Omit<DatasetRecord, 'id' | 'createdTxg'>): DatasetRecord {
  const rec: DatasetRecord = { ...fields, id: state.newDatasetId(), createdTxg: state.openTxg };
  state.datasets.set(rec.id, rec);
  return rec;
}

export function createVolume(state: PoolState, name: string, opts: CreateVolumeOptions, incomplete = false): DatasetRecord {
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_BYTES;
  if (!isValidBlockSize(blockSize)) {
    throw new InvalidArgumentError(`blockSize must be a power of two from 4 KiB to 1 MiB, got ${blockSize}`);
  }
  if (!Number.isSafeInteger(opts.sizeBytes) || opts.sizeBytes <= 0) {
    throw new InvalidArgumentError(`sizeBytes must be a positive integer, got ${opts.sizeBytes}`);
  }
  checkNewName(state, name);
  const blocks = blockCount(opts.sizeBytes, blockSize);
  return addDataset(state, {
    name,
    kind: 'volume',
    sizeBytes: opts.sizeBytes,
    blockSize,
    group: opts.group ?? name,
    root: 0,
    levels: levelsFor(blocks),
    originId: null,
    originName: null,
    ...(incomplete ? { incomplete: true as const } : {}),
  });
}

/** O(1): the snapshot shares the dataset's root. Read-only. */
export function snapshot(state: PoolState, ref: DatasetRef, name: string): DatasetRecord {
  const src = findDataset(state, ref);
  if (src.incomplete) throw new InvalidArgumentError(`volume ${JSON.stringify(src.name)} is still being imported; it cannot be snapshotted yet`);
  checkNewName(state, name);
  if (src.root !== 0) state.increfNode(src.root);
  return addDataset(state, { ...src, name, kind: 'snapshot', originId: src.id, originName: src.name });
}

/** O(1): a writable dataset sharing the snapshot's root. */
export function clone(state: PoolState, ref: DatasetRef, name: string, group: string | undefined): DatasetRecord {
  const src = findDataset(state, ref);
  if (src.kind !== 'snapshot') throw new InvalidArgumentError(`clone source ${JSON.stringify(src.name)} is a ${src.kind}, not a snapshot`);
  checkNewName(state, name);
  if (src.root !== 0) state.increfNode(src.root);
  return addDataset(state, { ...src, name, kind: 'clone', group: group ?? src.group, originId: src.id, originName: src.name });
}

/** Drop a dataset; blocks and nodes no other dataset references are freed. */
export function destroy(state: PoolState, ref: DatasetRef): void {
  const d = findDataset(state, ref);
  if (d.kind === 'snapshot') {
    const clones = [...state.datasets.values()].filter((c) => c.kind === 'clone' && c.originId === d.id).map((c) => c.name);
    if (clones.length > 0) throw new HasClonesError(d.name, clones);
  }
  if (d.root !== 0) state.decrefNode(d.root);
  state.datasets.delete(d.id);
}

/** The dataset, if `length` bytes may be written at block `lba` of it. */
export function writable(state: PoolState, ref: DatasetRef, lba: number, length: number): DatasetRecord {
  const d = findDataset(state, ref);
  if (d.kind === 'snapshot') throw new ReadOnlyDatasetError(d.name);
  const blocks = blockCount(d.sizeBytes, d.blockSize);
  const n = Math.ceil(length / d.blockSize);
  if (!Number.isInteger(lba) || lba < 0 || lba >= blocks) throw new OutOfRangeError(d.name, lba, blocks);
  if (lba + n > blocks) throw new OutOfRangeError(d.name, lba + n - 1, blocks);
  const tail = lba * d.blockSize + length === d.sizeBytes;
  if (length === 0 || (length % d.blockSize !== 0 && !tail)) {
    throw new InvalidArgumentError(
      `write of ${length} bytes to ${d.name}: length must be a non-zero multiple of ${d.blockSize} (or end at the end of the volume)`,
    );
  }
  return d;
}
