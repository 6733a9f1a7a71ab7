// Runs in the dom0 driver worker. What the driver needs from storage, and nothing more:
// resolve a domain's LBAs to physical block identities, read verified block bytes, stage
// writes and commit them. The IndexedDB pool (host/pool) implements it through
// pool-block-store.ts; MemoryBlockStore below serves Node unit tests of the driver.

/** A block's physical identity: two requests for the same block resolve to the same key. */
export interface PhysicalBlock {
  /** Stable across relocation by a cleaner (seed 004's chunk id, not a raw offset). */
  readonly key: string;
  readonly size: number;
  /**
   * Only the resolving dataset references this block (its own write, not shared with a
   * snapshot, a clone or a deduplicated block): it may be read only by that dataset's
   * domain, so it never enters the trust group's shared arena.
   */
  readonly exclusive: boolean;
}

export interface VolumeInfo {
  readonly blocks: number;
  readonly blockBytes: number;
  /**
   * The volume's size when its last block is partial (less than blocks × blockBytes).
   * Bytes past it do not exist: a whole-block write to the last block is truncated there.
   */
  readonly sizeBytes?: number;
  readonly readOnly: boolean;
  readonly group: string;
}

export interface BlockStore {
  volume(dataset: string): Promise<VolumeInfo>;
  /** One entry per LBA: null is a hole (reads as zeros). */
  resolve(dataset: string, lbas: readonly number[]): Promise<(PhysicalBlock | null)[]>;
  /**
   * The same, answered at once when the store holds the metadata in memory (the pool does).
   * Lets dom0 serve a read of a resident block without leaving the ring's service loop.
   */
  resolveSync?(dataset: string, lbas: readonly number[]): (PhysicalBlock | null)[];
  /** False once the dataset is destroyed (true while it exists, or when the store cannot tell). */
  hasDataset?(dataset: string): boolean;
  /** Verified bytes of each block, in order. Rejects with a ChecksumError-like error on corruption. */
  read(dataset: string, blocks: readonly PhysicalBlock[]): Promise<Uint8Array[]>;
  /**
   * Stage a write; durable only after `commit`. The driver never changes `bytes` after the
   * call (its own copy), so a store may keep them until then. Resolves to the group the
   * write is staged in, for `commit`.
   */
  write(dataset: string, lba: number, bytes: Uint8Array): Promise<number>;
  /** Stage several blocks of one dataset as one step: a commit holds all of them or none. Same ownership of `bytes` and result as `write`. */
  writeAll(dataset: string, writes: readonly { lba: number; bytes: Uint8Array }[]): Promise<number>;
  /** Make every staged write durable in one transaction. */
  commit(): Promise<void>;
  /**
   * Why group `group` (what a write resolved to) was dropped before it was committed, or
   * undefined (committed, or still open): the store's callers share the staged group, and
   * a failed commit of anyone's drops it.
   */
  droppedGroup(group: number): unknown;
}

/** In-memory store for Node tests: content-keyed blocks, so equal content shares a key. */
export class MemoryBlockStore implements BlockStore {
  private readonly volumes = new Map<string, { info: VolumeInfo; map: Map<number, string> }>();
  private readonly data = new Map<string, Uint8Array>();
  private staged: { dataset: string; lba: number; key: string | null; bytes: Uint8Array }[] = [];
  /** The staged group's number and the groups a failed commit dropped, as the pool keeps them. */
  private group = 0;
  private readonly dropped = new Map<number, unknown>();
  reads = 0;
  commits = 0;
  failNextCommit: Error | null = null;

  addVolume(dataset: string, info: VolumeInfo, blocks: ReadonlyMap<number, Uint8Array> = new Map()): void {
    const map = new Map<number, string>();
    for (const [lba, bytes] of blocks) {
      const key = keyOf(info.group, bytes);
      if (key) {
        this.data.set(key, bytes.slice());
        map.set(lba, key);
      }
    }
    this.volumes.set(dataset, { info, map });
  }

  /** A writable clone sharing every block (O(1) in spirit; here a map copy). */
  cloneVolume(from: string, to: string, group?: string): void {
    const v = this.must(from);
    this.volumes.set(to, { info: { ...v.info, readOnly: false, group: group ?? v.info.group }, map: new Map(v.map) });
  }

  async volume(dataset: string): Promise<VolumeInfo> {
    return this.must(dataset).info;
  }

  async resolve(dataset: string, lbas: readonly number[]): Promise<(PhysicalBlock | null)[]> {
    return this.resolveSync(dataset, lbas);
  }

  resolveSync(dataset: string, lbas: readonly number[]): (PhysicalBlock | null)[] {
    const v = this.must(dataset);
    return lbas.map((lba) => {
      const key = v.map.get(lba);
      return key ? { key, size: v.info.blockBytes, exclusive: this.referencers(key) === 1 } : null;
    });
  }

  /** How many (dataset, LBA) slots point at `key`. */
  private referencers(key: string): number {
    let n = 0;
    for (const v of this.volumes.values()) for (const k of v.map.values()) if (k === key) n++;
    return n;
  }

  async read(_dataset: string, blocks: readonly PhysicalBlock[]): Promise<Uint8Array[]> {
    this.reads += blocks.length;
    return blocks.map((b) => {
      const bytes = this.data.get(b.key);
      if (!bytes) throw Object.assign(new Error(`no block ${b.key}`), { name: 'StaleBlockRefError' });
      return bytes.slice();
    });
  }

  async write(dataset: string, lba: number, bytes: Uint8Array): Promise<number> {
    const v = this.must(dataset);
    this.staged.push({ dataset, lba, key: keyOf(v.info.group, bytes), bytes: bytes.slice() });
    return this.group;
  }

  async writeAll(dataset: string, writes: readonly { lba: number; bytes: Uint8Array }[]): Promise<number> {
    const v = this.must(dataset);
    for (const w of writes) this.staged.push({ dataset, lba: w.lba, key: keyOf(v.info.group, w.bytes), bytes: w.bytes.slice() });
    return this.group;
  }

  async commit(): Promise<void> {
    const staged = this.staged;
    this.staged = [];
    if (this.failNextCommit) {
      const err = this.failNextCommit;
      this.failNextCommit = null;
      if (staged.length > 0) this.dropped.set(this.group, err);
      this.group++;
      throw err;
    }
    this.group++;
    for (const s of staged) {
      const v = this.must(s.dataset);
      if (s.key === null) v.map.delete(s.lba);
      else {
        this.data.set(s.key, s.bytes);
        v.map.set(s.lba, s.key);
      }
    }
    this.commits++;
  }

  droppedGroup(group: number): unknown {
    return this.dropped.get(group);
  }

  hasDataset(dataset: string): boolean {
    return this.volumes.has(dataset);
  }

  private must(dataset: string) {
    const v = this.volumes.get(dataset);
    if (!v) throw new Error(`unknown dataset ${dataset}`);
    return v;
  }
}

/** A cheap content key for tests (FNV-1a over the bytes); null for all-zero blocks. */
function keyOf(group: string, bytes: Uint8Array): string | null {
  let h = 0x811c9dc5;
  let nonZero = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0) nonZero = true;
    h = Math.imul(h ^ b, 0x01000193);
  }
  return nonZero ? `${group}:${(h >>> 0).toString(16)}:${bytes.length}` : null;
}
