// Runs in the dom0 driver worker (source) and in the mirror's tab or worker (target).
// Messages of the mirror link, described once. The link is a BroadcastChannel named
// `tabvisor-mirror:<name>`: same origin only, and every party on it is a host or dom0 of
// that origin (guests are hardened and have no BroadcastChannel). Messages are still
// validated on receipt — a tab of the same origin running an old or broken build is
// exactly the kind of peer a remote fault domain must survive.

export const MIRROR_CHANNEL_PREFIX = 'tabvisor-mirror:';

export interface MirrorBlock {
  readonly lba: number;
  /** The block's bytes; null for a hole (reads as zeros). */
  readonly bytes: Uint8Array | null;
}

/** source → target: one batch of dirty pages of one dataset. */
export interface MirrorBatch {
  readonly t: 'mirror-batch';
  /** Random id of the sending dom0 (sequence numbers are per source). */
  readonly source: string;
  readonly seq: number;
  readonly dataset: string;
  readonly volumeBlocks: number;
  readonly blockBytes: number;
  readonly blocks: readonly MirrorBlock[];
}

/** target → source: the batch is durable in the target's pool (ok) or failed there. */
export interface MirrorAck {
  readonly t: 'mirror-ack';
  readonly source: string;
  readonly seq: number;
  readonly target: string;
  readonly ok: boolean;
  readonly error?: string;
}

export type MirrorMessage = MirrorBatch | MirrorAck;

const isNat = (n: unknown, max = Number.MAX_SAFE_INTEGER): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;

/** A batch, or a reason it is not one. Never throws. */
export function parseBatch(data: unknown): MirrorBatch | string {
  if (typeof data !== 'object' || data === null) return 'not an object';
  const m = data as Record<string, unknown>;
  if (m.t !== 'mirror-batch') return 'not a batch';
  if (typeof m.source !== 'string' || m.source.length === 0 || m.source.length > 100) return 'bad source';
  if (!isNat(m.seq)) return 'bad seq';
  if (typeof m.dataset !== 'string' || m.dataset.length === 0 || m.dataset.length > 200) return 'bad dataset';
  if (!isNat(m.volumeBlocks, 1 << 30) || m.volumeBlocks < 1) return 'bad volumeBlocks';
  if (!isNat(m.blockBytes, 1 << 24) || m.blockBytes < 512 || (m.blockBytes & (m.blockBytes - 1)) !== 0) return 'bad blockBytes';
  if (!Array.isArray(m.blocks) || m.blocks.length > 4096) return 'bad blocks';
  for (const b of m.blocks as unknown[]) {
    if (typeof b !== 'object' || b === null) return 'bad block';
    const { lba, bytes } = b as Record<string, unknown>;
    if (!isNat(lba) || lba >= m.volumeBlocks) return `block address ${String(lba)} outside the volume`;
    if (bytes !== null && !(bytes instanceof Uint8Array && bytes.byteLength === m.blockBytes)) return `block ${lba} is not ${m.blockBytes} bytes`;
  }
  return m as unknown as MirrorBatch;
}

export function parseAck(data: unknown): MirrorAck | null {
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Record<string, unknown>;
  if (m.t !== 'mirror-ack' || typeof m.source !== 'string' || !isNat(m.seq) || typeof m.target !== 'string' || typeof m.ok !== 'boolean') return null;
  return m as unknown as MirrorAck;
}

/** The transport under both ends: a BroadcastChannel, or an in-memory pair in Node tests. */
export interface MirrorLink {
  post(msg: MirrorMessage): void;
  onmessage: ((data: unknown) => void) | null;
  close(): void;
}

export function broadcastLink(name: string): MirrorLink {
  const bc = new BroadcastChannel(MIRROR_CHANNEL_PREFIX + name);
  const link: MirrorLink = {
    post: (msg) => bc.postMessage(msg),
    onmessage: null,
    close: () => bc.close(),
  };
  bc.onmessage = (ev: MessageEvent) => link.onmessage?.(ev.data);
  return link;
}
