// Runs wherever the pool runs. Reads a Blob's slices into buffers that are used again:
// an import holds views of a slice until the slice commits (write-path.ts), and a fresh
// 16 MiB buffer per slice costs about as much in page faults as the copy it replaces
// (docs/pool.md, "What limits the pool"). A byte stream's BYOB reader fills a buffer we
// give it; where Blob.stream() is no byte stream, each slice is a fresh arrayBuffer().
import { InvalidArgumentError } from '../../shared/errors/pool-errors';

export class BlobSlices {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    private readonly blob: Blob,
    private readonly sliceBytes: number,
  ) {}

  /** Bytes [start, end) of the blob, in a buffer of the slice's own until `release`. */
  async read(start: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    const part = this.blob.slice(start, end);
    let reader: ReadableStreamBYOBReader | null = null;
    try {
      reader = part.stream().getReader({ mode: 'byob' });
    } catch {
      // No byte stream here: one fresh buffer per slice.
    }
    if (!reader) return new Uint8Array(await part.arrayBuffer());
    let buf = this.free.pop() ?? new ArrayBuffer(this.sliceBytes);
    let filled = 0;
    const want = end - start;
    try {
      while (filled < want) {
        // Each read takes the buffer (it is transferred) and gives it back filled further.
        const { value, done } = await reader.read(new Uint8Array(buf, filled, want - filled));
        if (value) {
          buf = value.buffer as ArrayBuffer;
          filled += value.byteLength;
        }
        if (done) break;
      }
    } finally {
      reader.releaseLock();
    }
    if (filled !== want) throw new InvalidArgumentError(`the source ended after ${start + filled} of ${end} bytes: it changed while it was read`);
    return new Uint8Array(buf, 0, want);
  }

  /** The slice's buffer is free again: nothing holds views of it. */
  release(bytes: Uint8Array<ArrayBuffer>): void {
    if (bytes.buffer.byteLength === this.sliceBytes && this.free.length < 2) this.free.push(bytes.buffer);
  }
}
