// Runs in the dom0 driver worker. Adapts the IndexedDB pool (host/pool) to the driver's
// BlockStore: a block's physical identity is its chunk id, which stays the same when a
// cleaner moves the chunk (seed 004); frames are keyed by it within a trust group.
import type { Pool } from '../pool';
import type { BlockStore, PhysicalBlock, VolumeInfo } from './block-store';
import { UnknownDatasetError } from '../../shared/errors/pool-errors';

interface PoolBlock extends PhysicalBlock {
  readonly chunkId: number;
}

export class PoolBlockStore implements BlockStore {
  constructor(readonly pool: Pool) {}

  async volume(dataset: string): Promise<VolumeInfo> {
    const info = this.pool.info(dataset);
    return { blocks: info.blocks, blockBytes: info.blockSize, sizeBytes: info.sizeBytes, readOnly: info.kind === 'snapshot', group: info.group };
  }

  hasDataset(dataset: string): boolean {
    try {
      this.pool.info(dataset);
      return true;
    } catch (err) {
      // Only a dataset the pool does not know is gone; a closed pool cannot say.
      return !(err instanceof UnknownDatasetError);
    }
  }

  async resolve(dataset: string, lbas: readonly number[]): Promise<(PhysicalBlock | null)[]> {
    return this.resolveSync(dataset, lbas);
  }

  resolveSync(dataset: string, lbas: readonly number[]): (PhysicalBlock | null)[] {
    return this.pool.servingSync(dataset, lbas).map((b): PoolBlock | null => (b ? { key: String(b.chunkId), size: b.size, exclusive: b.exclusive, chunkId: b.chunkId } : null));
  }

  read(_dataset: string, blocks: readonly PhysicalBlock[]): Promise<Uint8Array[]> {
    return this.pool.readChunks(blocks as readonly PoolBlock[]);
  }

  write(dataset: string, lba: number, bytes: Uint8Array): Promise<number> {
    return this.pool.write(dataset, lba, bytes, { owned: true });
  }

  writeAll(dataset: string, writes: readonly { lba: number; bytes: Uint8Array }[]): Promise<number> {
    return this.pool.writeBlocks(dataset, writes, { owned: true });
  }

  async commit(): Promise<void> {
    await this.pool.commit();
  }

  droppedGroup(group: number): unknown {
    return this.pool.droppedGroup(group);
  }
}
