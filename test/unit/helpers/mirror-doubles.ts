// Test doubles for the mirror in Node: an in-memory link between a MirrorSource and a
// MirrorTarget, and a sink that records each batch it applies.
import { MirrorTarget, type MirrorSink } from '../../../host/mirror/mirror-target';
import { Dom0Reliability, type StartMirrorOptions } from '../../../host/dom0/dom0-reliability';
import type { Dom0Driver } from '../../../host/dom0/driver';
import type { MirrorBatch, MirrorLink, MirrorMessage } from '../../../host/mirror/mirror-protocol';

/** Two ends of an in-memory link; messages are delivered asynchronously, like a BroadcastChannel. */
export function linkPair(): [MirrorLink, MirrorLink] {
  const make = (): MirrorLink => ({ post: () => {}, onmessage: null, close: () => {} });
  const a = make();
  const b = make();
  a.post = (m: MirrorMessage) => void setTimeout(() => b.onmessage?.(structuredClone(m)), 0);
  b.post = (m: MirrorMessage) => void setTimeout(() => a.onmessage?.(structuredClone(m)), 0);
  return [a, b];
}

/** The remote's pool, in memory: every batch applied, and what each dataset's blocks hold. */
export class MemorySink implements MirrorSink {
  readonly volumes = new Map<string, Map<number, Uint8Array | null>>();
  readonly batches: MirrorBatch[] = [];
  /** Applying a batch takes this long (a batch in flight while the test writes). */
  delayMs = 0;
  async apply(batch: MirrorBatch): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    this.batches.push(batch);
    const v = this.volumes.get(batch.dataset) ?? new Map<number, Uint8Array | null>();
    for (const b of batch.blocks) v.set(b.lba, b.bytes);
    this.volumes.set(batch.dataset, v);
  }
}

/** `driver` mirrored over an in-memory link to a target whose sink records what arrives. */
export async function mirrorTo(driver: Dom0Driver, opts: StartMirrorOptions): Promise<{ rel: Dom0Reliability; sink: MemorySink; target: MirrorTarget }> {
  const rel = new Dom0Reliability(driver);
  const [src, dst] = linkPair();
  const sink = new MemorySink();
  const target = new MirrorTarget(dst, sink);
  await rel.startMirror(opts, src);
  return { rel, sink, target };
}
