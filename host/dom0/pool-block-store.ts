// Runs in the dom0 driver worker. Adapts the IndexedDB pool (host/pool) to the driver's
// BlockStore: a block's physical identity is its chunk id, which stays the same when a
// cleaner moves the chunk (seed 004); frames are keyed by it within a trust group.
import type { BlockRef, Pool } from '../pool';
import type { BlockStore, PhysicalBlock, VolumeInfo } from './block-store';

interface PoolBlock extends PhysicalBlock {
  readonly ref: BlockRef;
}

export class PoolBlockStore implements BlockStore {
  constructor(readonly pool: Pool) {}

  async volume(dataset: string): Promise<VolumeInfo> {
    const info = this.pool.info(dataset);
    return { blocks: info.blocks, blockBytes: info.blockSize, sizeBytes: info.sizeBytes, readOnly: info.kind === 'snapshot', group: info.group };
  }

  async resolve(dataset: string, lbas: readonly number[]): Promise<(PhysicalBlock | null)[]> {
    return this.resolveSync(dataset, lbas);
  }

  resolveSync(dataset: string, lbas: readonly number[]): (PhysicalBlock | null)[] {
    const refs = this.pool.resolveSync(dataset, lbas);
    const exclusive = this.pool.exclusiveSync(dataset, lbas);
    return refs.map((ref, i): PoolBlock | null => (ref ? { key: String(ref.chunkId), size: ref.size, exclusive: exclusive[i]!, ref } : null));
  }

  read(_dataset: string, blocks: readonly PhysicalBlock[]): Promise<Uint8Array[]> {
    return this.pool.readChunks(blocks.map((b) => (b as PoolBlock).ref));
  }

  write(dataset: string, lba: number, bytes: Uint8Array): Promise<void> {
    return this.pool.write(dataset, lba, bytes);
  }

  async commit(): Promise<void> {
    await this.pool.commit();
  }
}
