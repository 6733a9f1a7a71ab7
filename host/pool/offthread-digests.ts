// Runs wherever the pool runs (the dom0 worker, a page, a test page). SHA-256 of an
// import's slices in a worker of their own: Chromium's WebCrypto digest runs on the calling
// thread (digest-worker.ts), so hashing in place held the pool's thread (in the product,
// dom0's, which serves the guests) for about 45 ms per 64 MiB imported. The hashing still
// takes a core: on two cores the import is no faster for it (docs/pool.md, "Import:
// SHA-256 off the pool's thread").
//
// A slice is copied into a buffer of the worker's (one memcpy, 2–3 ms for 64 MiB; buffers
// come back with the answer and are used again, as fresh memory costs page faults here),
// so the staged blocks stay what they were (views of the source or of a Blob's slice) and
// the commit still checks each against the read checksum computed here at the same
// moment as the copy. Where no worker can start (no Worker in this realm, a failed script
// load), `digest` answers null and the caller hashes on its own thread as before.
import type { DigestReply, DigestRequest } from './digest-protocol';

/** The worker is stopped after this long without work, and its buffers dropped. */
const IDLE_MS = 5_000;
/** Buffers kept for reuse: an import has at most two slices in flight. */
const KEEP_BUFFERS = 2;

type Pending = { resolve: (d: Uint8Array[]) => void; reject: (e: Error) => void };

export class OffThreadDigests {
  private worker: Worker | null = null;
  /** Set once a worker could not start or failed: hashing stays on the caller's thread. */
  private unavailable = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private free: ArrayBuffer[] = [];
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly start: () => Worker = defaultWorker) {}

  /**
   * SHA-256 of each block of `bytes` (blockSize each, the last zero-padded) whose `skip` is
   * 0; an empty array for a skipped block. Null when no worker is available: hash here.
   * The bytes are copied before this returns, so the caller may change them at once.
   */
  digest(bytes: Uint8Array, blockSize: number, skip: Uint8Array): Promise<Uint8Array[]> | null {
    const worker = this.ensureWorker();
    if (!worker) return null;
    const blocks = Math.ceil(bytes.length / blockSize);
    const size = blocks * blockSize;
    const buf = this.takeBuffer(size);
    const view = new Uint8Array(buf);
    view.set(bytes);
    view.fill(0, bytes.length);
    const id = this.nextId++;
    clearTimeout(this.idleTimer);
    return new Promise<Uint8Array[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const req: DigestRequest = { id, buf, blocks, blockSize, skip };
      worker.postMessage(req, [buf]);
    });
  }

  /** Stop the worker now (tests; a pool that wants no thread left behind). */
  dispose(): void {
    clearTimeout(this.idleTimer);
    this.worker?.terminate();
    this.worker = null;
    this.free = [];
    this.failAll(new Error('the digest worker was stopped'));
  }

  private ensureWorker(): Worker | null {
    if (this.unavailable) return null;
    if (this.worker) return this.worker;
    try {
      const w = this.start();
      w.onmessage = (ev: MessageEvent<DigestReply>) => this.onReply(ev.data);
      w.onerror = (ev) => {
        ev.preventDefault();
        this.fail(`the digest worker failed: ${ev.message || 'it could not start'}`);
      };
      w.onmessageerror = () => this.fail('a digest reply could not be read');
      this.worker = w;
      return w;
    } catch {
      this.unavailable = true;
      return null;
    }
  }

  private onReply(r: DigestReply): void {
    const p = this.pending.get(r.id);
    this.pending.delete(r.id);
    if (this.free.length < KEEP_BUFFERS) this.free.push(r.buf);
    if (this.pending.size === 0) this.idleTimer = setTimeout(() => this.dispose(), IDLE_MS);
    if (!p) return;
    if ('error' in r) {
      p.reject(new Error(r.error));
      return;
    }
    const all = new Uint8Array(r.digests);
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length / 32; i++) out.push(all.subarray(i * 32, (i + 1) * 32));
    p.resolve(out);
  }

  /** The worker cannot be used: what is pending fails (the caller hashes it itself), and so will later calls. */
  private fail(why: string): void {
    this.unavailable = true;
    this.worker?.terminate();
    this.worker = null;
    this.free = [];
    this.failAll(new Error(why));
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }

  private takeBuffer(size: number): ArrayBuffer {
    const i = this.free.findIndex((b) => b.byteLength === size);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    return new ArrayBuffer(size);
  }
}

function defaultWorker(): Worker {
  if (typeof Worker === 'undefined') throw new Error('no Worker in this realm');
  return new Worker(new URL('./digest-worker.ts', import.meta.url), { type: 'module', name: 'pool-digests' });
}

let shared: OffThreadDigests | undefined;

/** The realm's one digest worker client, made on first use. */
export function offThreadDigests(): OffThreadDigests {
  shared ??= new OffThreadDigests();
  return shared;
}
