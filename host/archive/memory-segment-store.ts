// Runs anywhere; used by node tests and the cleaning property tests. Segments are
// growable byte arrays (capacity doubling, so appends are amortised O(bytes)).

import { SegmentRangeError } from '../../shared/errors/archive-errors';
import type { SegmentId, SegmentStore } from './segment-store';

interface Buf {
  bytes: Uint8Array;
  size: number;
}

export class MemorySegmentStore implements SegmentStore {
  readonly backend = 'memory' as const;
  readonly #segments = new Map<SegmentId, Buf>();

  async append(id: SegmentId, bytes: Uint8Array): Promise<void> {
    let buf = this.#segments.get(id);
    if (!buf) {
      buf = { bytes: new Uint8Array(Math.max(1024, bytes.length)), size: 0 };
      this.#segments.set(id, buf);
    }
    if (buf.size + bytes.length > buf.bytes.length) {
      const grown = new Uint8Array(Math.max(buf.bytes.length * 2, buf.size + bytes.length));
      grown.set(buf.bytes.subarray(0, buf.size));
      buf.bytes = grown;
    }
    buf.bytes.set(bytes, buf.size);
    buf.size += bytes.length;
  }

  async read(id: SegmentId, offset: number, length: number): Promise<Uint8Array> {
    const buf = this.#segments.get(id);
    if (!buf || offset < 0 || length < 0 || offset + length > buf.size) {
      throw new SegmentRangeError(id, offset, length, buf?.size);
    }
    return buf.bytes.slice(offset, offset + length);
  }

  async list(): Promise<SegmentId[]> {
    return [...this.#segments.keys()].sort((a, b) => a - b);
  }

  async sizes(): Promise<Map<SegmentId, number>> {
    return new Map([...this.#segments].map(([id, b]) => [id, b.size]));
  }

  async truncate(id: SegmentId, length: number): Promise<void> {
    const buf = this.#segments.get(id);
    if (buf && length < buf.size) buf.size = Math.max(0, length);
  }

  async delete(id: SegmentId): Promise<void> {
    this.#segments.delete(id);
  }

  async close(): Promise<void> {}

  /** Test hook: flip bits of a stored byte (XOR with a non-zero mask) as a disk fault would. */
  corrupt(id: SegmentId, offset: number, mask = 0xff): void {
    const buf = this.#segments.get(id);
    if (!buf || offset >= buf.size) throw new SegmentRangeError(id, offset, 1, buf?.size);
    buf.bytes[offset]! ^= mask || 0xff;
  }
}
