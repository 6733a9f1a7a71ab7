// Runs in whatever context imports it: the dom0 Web Worker in production, a test page in
// tests (global indexedDB + crypto.subtle, no DOM). The storage pool's public surface.
//
//   const pool = await Pool.open('tabvisor', { dedupThreshold: 1 });
//   await pool.createVolume('base', { sizeBytes, blockSize: 65536 });  // group defaults to 'base'
//   const g = await pool.write('base', lba, bytes);  // staged in the open transaction group g
//   const txg = await pool.commit({ groups: [g] });  // one IndexedDB transaction; durable now (GroupDroppedError
//                                                // if another caller's failed commit dropped group g first)
//   await pool.snapshot('base', 'base@1');       // O(1), read-only
//   await pool.clone('base@1', 'vm1');           // O(1), writable, same trust group
//   const refs = await pool.resolve('vm1', [0, 1, 2]);   // BlockRef | null (hole), metadata only
//   pool.resolveSync('vm1', [0]);                // the same without a turn of the event loop (all metadata is in memory)
//   const bytes = await pool.readChunks(refs.filter(r => r !== null));  // verified, one transaction
//   await pool.hashChunks(ids, (bytes) => archiveIt(bytes));  // keep the SHA-256 the archive computed from each chunk's bytes
//   const blocks = await pool.readBlocks('vm1', [0, 1, 2]);  // resolve + read; holes are zeros
//   await pool.destroy('vm1');                   // frees what nothing else references
//   await pool.importVolume(file, { name: 'disk' }, p => ...);  const blob = await pool.exportVolume('disk');
//   pool.stats();  pool.list();  pool.info('vm1');  await pool.fsck({ data: true });  pool.close();
//   await pool.compact({ liveBelow: 0.5 });      // rewrite records under half live (the extent cleaner)
//   await deletePool('tabvisor');                // the database and its registry entry (never indexedDB.deleteDatabase:
//                                                // the registry would then report the pool as lost)
//
// Contract: every mutation (createVolume, snapshot, clone, destroy, write) is staged and
// becomes durable only at commit(); mutations and commits run in call order. Every error
// is a PoolError subclass (errors.ts) thrown before anything changes; a failed commit
// drops the staged group, everyone's staged changes in it, leaving memory and disk at
// the last commit (writers learn it from commit({ groups })).
//
// BlockRef: { chunkId, group, metaslab, offset, size, hash } (hash: SHA-256, null until
// the archive first stored the chunk and the pool kept the address it computed; format
// 3). The dom0 frame table keys resident frames by (group, chunkId); metaslab+offset
// identify the physical block now (it may move when the cleaner relocates it; chunkId
// does not change).
export { Pool, DEFAULT_METASLAB_BYTES } from './pool';
export { deletePool, type DeleteOutcome } from './delete-pool';
export { opfsRegistry, directoryRegistry, type PoolRegistry, type RegistryAnswer } from './registry';
export type { BlockRef, CloneOptions, CreateVolumeOptions, DatasetInfo, DatasetRef, PoolOptions, PoolStats } from './types';
export type { ImportOptions, ImportProgress } from './import-export';
export { DEFAULT_COMMIT_EVERY_BYTES } from './import-export';
export type { FsckReport } from './fsck';
export type { CompactOptions, CompactReport } from './compact';
export type { CommitHooks, Durability } from './commit';
export type { DatasetKind } from './schema';
export { DEFAULT_BLOCK_BYTES, MAX_BLOCK_BYTES, MIN_BLOCK_BYTES, FANOUT } from './tree-math';
export {
  PoolError,
  UnknownDatasetError,
  DatasetExistsError,
  OutOfRangeError,
  ReadOnlyDatasetError,
  HasClonesError,
  InvalidArgumentError,
  ChecksumError,
  StaleBlockRefError,
  PoolFullError,
  CommitError,
  GroupDroppedError,
  PoolClosedError,
  PoolFormatError,
  PoolLostError,
} from '../../shared/errors/pool-errors';
