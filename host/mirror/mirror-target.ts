// Runs in the mirror's host: the page (main thread) of a second tab, or a worker — any
// realm with IndexedDB. The remote fault domain's end of the mirror link: it applies each
// batch of dirty pages to its own pool (its own IndexedDB database), commits, and only then
// acknowledges, so an acknowledged page is durable in this fault domain. `promote()` ends
// the mirror: the pool's volumes are ordinary writable datasets a Hypervisor can serve.
import type { Pool } from '../pool';
import { parseBatch, type MirrorBatch, type MirrorLink } from './mirror-protocol';

/** Where applied batches go: the target's pool, or memory in Node tests. */
export interface MirrorSink {
  apply(batch: MirrorBatch): Promise<void>;
}

export interface MirrorTargetStats {
  batches: number;
  blocks: number;
  bytes: number;
  rejected: number;
  lastError: string | null;
  /** Per dataset: LBAs ever received. */
  datasets: Record<string, number>;
}

export class MirrorTarget {
  readonly id = crypto.randomUUID();
  readonly stats: MirrorTargetStats = { batches: 0, blocks: 0, bytes: 0, rejected: 0, lastError: null, datasets: {} };
  private readonly lastSeq = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly link: MirrorLink,
    private readonly sink: MirrorSink,
  ) {
    link.onmessage = (data) => {
      if (this.closed) return;
      const batch = parseBatch(data);
      if (typeof batch === 'string') {
        if (batch !== 'not a batch') {
          this.stats.rejected++;
          this.stats.lastError = `rejected message: ${batch}`;
        }
        return;
      }
      // One batch at a time, in arrival order (a BroadcastChannel keeps a sender's order).
      this.chain = this.chain.then(() => this.apply(batch));
    };
  }

  private async apply(batch: MirrorBatch): Promise<void> {
    if (this.closed) return;
    const last = this.lastSeq.get(batch.source) ?? 0;
    let ok = true;
    let error: string | undefined;
    // A repeat (the source timed out waiting for our ack and resent) is acknowledged again, not reapplied.
    if (batch.seq > last) {
      try {
        await this.sink.apply(batch);
        this.lastSeq.set(batch.source, batch.seq);
        this.stats.batches++;
        this.stats.blocks += batch.blocks.length;
        for (const b of batch.blocks) this.stats.bytes += b.bytes?.byteLength ?? 0;
        this.stats.datasets[batch.dataset] = (this.stats.datasets[batch.dataset] ?? 0) + batch.blocks.length;
      } catch (err) {
        ok = false;
        error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        this.stats.lastError = error;
      }
    }
    if (this.closed) return;
    this.link.post({ t: 'mirror-ack', source: batch.source, seq: batch.seq, target: this.id, ok, ...(error ? { error } : {}) });
  }

  /** Stop mirroring after the batch in progress; resolves when nothing is being applied. */
  async close(): Promise<void> {
    const pending = this.chain;
    this.closed = true;
    this.link.close();
    await pending;
  }
}

/** Applies batches to a Pool: creates the volume on first sight, one commit per batch. */
export class PoolMirrorSink implements MirrorSink {
  constructor(readonly pool: Pool) {}

  async apply(batch: MirrorBatch): Promise<void> {
    const existing = this.pool.list().find((d) => d.name === batch.dataset);
    if (!existing) {
      await this.pool.createVolume(batch.dataset, { sizeBytes: batch.volumeBlocks * batch.blockBytes, blockSize: batch.blockBytes });
    } else if (existing.blockSize !== batch.blockBytes || existing.blocks !== batch.volumeBlocks) {
      throw new RangeError(`mirror of ${batch.dataset} has ${existing.blocks} × ${existing.blockSize} B; batch says ${batch.volumeBlocks} × ${batch.blockBytes} B`);
    }
    // One step, and a commit that fails if anyone else's failed commit dropped the batch
    // meanwhile: a batch is acknowledged to the source only once it is stored.
    const group = await this.pool.writeBlocks(
      batch.dataset,
      batch.blocks.map((b) => ({ lba: b.lba, bytes: b.bytes ?? new Uint8Array(batch.blockBytes) })),
    );
    await this.pool.commit({ groups: [group] });
  }
}
