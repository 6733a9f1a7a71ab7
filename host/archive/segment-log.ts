// Runs anywhere (page, worker, node). The append-only log of the data tier: records go
// into the head segment until it is full, then a new segment (next id) becomes the head.
//
// Appends are synchronous and buffered in memory: an address is known at once, and the
// head's bytes reach the store in large pieces (whole segments, or whatever is pending at
// `flush()`), as LFS writes whole segments. Why: an OPFS append through
// `createWritable({keepExistingData: true})` copies the file to a swap file in Chromium,
// and an IndexedDB put costs ~0.5 ms, so per-record store writes would dominate.
// Nothing is durable until `flush()` resolves; callers commit (LSM flush, catalogue) after.
//
// On open, the last segment is scanned: a torn record at its end (a crash mid-append) is
// cut off and reported in `recovery`, never returned. Damage followed by valid records
// is not a torn tail and fails the open with CorruptSegmentError rather than guessing.

import {
  ArchiveUsageError,
  CorruptRecordError,
  CorruptSegmentError,
  RecordTooLargeError,
  SegmentRangeError,
} from '../../shared/errors/archive-errors';
import {
  RECORD_HEADER_BYTES,
  type LogRecord,
  type RecordHeader,
  type RecordKind,
  crcMatches,
  decodeVerified,
  encodeRecord,
  parseHeader,
} from './segment-format';
import type { ChunkHash } from './chunk-hash';
import { type SegmentId, type SegmentStore, segmentId } from './segment-store';
import { concatBytes } from './bytes';

export interface RecordAddress {
  readonly segment: SegmentId;
  readonly offset: number; // bytes from the segment start to the record header
  readonly length: number; // whole record: header + payload, in bytes
}

export interface TailRecovery {
  readonly segment: SegmentId;
  readonly keptBytes: number;
  readonly droppedBytes: number;
  readonly reason: string;
}

export interface SegmentLogOptions {
  /** Maximum bytes per segment; a record never spans two segments. */
  readonly segmentBytes: number;
}

export interface ScannedRecord {
  readonly address: RecordAddress;
  /** Framing and header only; the payload is not yet checked. */
  readonly header: RecordHeader;
  /** CRC and SHA-256 check of this record (from the bytes already read), then its payload. */
  verified(): Promise<LogRecord>;
}

const FIRST_SEGMENT = 1;

export class SegmentLog {
  readonly segmentBytes: number;
  readonly recovery: TailRecovery | null;
  readonly #store: SegmentStore;
  /** Logical size of every segment, including bytes still buffered. */
  readonly #sizes: Map<SegmentId, number>;
  /** Bytes of each segment known to be in the store. */
  readonly #durable: Map<SegmentId, number>;
  #head: SegmentId | null; // segment open for appends; null once sealed
  #nextId: number;
  #buffer: Uint8Array[] = []; // pending bytes of #bufferSegment, in order
  #bufferSegment: SegmentId | null = null;
  #bufferStart = 0; // offset in #bufferSegment of the first buffered byte
  #bufferBytes = 0;
  #queue: Promise<void> = Promise.resolve(); // store writes, strictly in order
  #failure: unknown = undefined;

  private constructor(
    store: SegmentStore,
    options: SegmentLogOptions,
    sizes: Map<SegmentId, number>,
    recovery: TailRecovery | null,
  ) {
    this.#store = store;
    this.segmentBytes = options.segmentBytes;
    this.#sizes = sizes;
    this.#durable = new Map(sizes);
    this.recovery = recovery;
    const ids = [...sizes.keys()];
    const last = ids.length ? Math.max(...ids) : null;
    this.#nextId = last === null ? FIRST_SEGMENT : last + 1;
    this.#head = last !== null && sizes.get(last as SegmentId)! < this.segmentBytes ? (last as SegmentId) : null;
  }

  static async open(store: SegmentStore, options: SegmentLogOptions): Promise<SegmentLog> {
    if (!Number.isSafeInteger(options.segmentBytes) || options.segmentBytes <= RECORD_HEADER_BYTES) {
      throw new ArchiveUsageError(`segmentBytes must exceed the ${RECORD_HEADER_BYTES}-byte header`);
    }
    const sizes = await store.sizes();
    let recovery: TailRecovery | null = null;
    const ids = [...sizes.keys()];
    if (ids.length) {
      const last = Math.max(...ids) as SegmentId;
      const size = sizes.get(last)!;
      const bytes = size ? await store.read(last, 0, size) : new Uint8Array(0);
      const tail = findTornTail(bytes, last);
      if (tail) {
        await store.truncate(last, tail.keep);
        sizes.set(last, tail.keep);
        recovery = { segment: last, keptBytes: tail.keep, droppedBytes: size - tail.keep, reason: tail.reason };
      }
    }
    return new SegmentLog(store, options, sizes, recovery);
  }

  get store(): SegmentStore {
    return this.#store;
  }

  /** The segment new records go to, or null if the next append starts a new one. */
  get head(): SegmentId | null {
    return this.#head;
  }

  /** All segments, ascending (oldest first). */
  segments(): SegmentId[] {
    return [...this.#sizes.keys()].sort((a, b) => a - b);
  }

  size(id: SegmentId): number | undefined {
    return this.#sizes.get(id);
  }

  /** Total bytes over all segments (the warm tier's footprint). */
  totalBytes(): number {
    let n = 0;
    for (const s of this.#sizes.values()) n += s;
    return n;
  }

  /**
   * Buffer one record and return its address. Durable only after `flush()`.
   * The caller passes the hash (computed with `sha256Hex`) so this stays synchronous.
   */
  append(kind: RecordKind, hash: ChunkHash, writtenAt: number, payload: Uint8Array): RecordAddress {
    this.#throwIfFailed();
    const rec = encodeRecord(kind, hash, writtenAt, payload);
    if (rec.length > this.segmentBytes) throw new RecordTooLargeError(rec.length, this.segmentBytes);
    if (this.#head === null || this.#sizes.get(this.#head)! + rec.length > this.segmentBytes) {
      this.#startSegment();
    }
    const head = this.#head!;
    const offset = this.#sizes.get(head)!;
    if (this.#bufferSegment !== head) {
      this.#bufferSegment = head;
      this.#bufferStart = offset;
    }
    this.#buffer.push(rec);
    this.#bufferBytes += rec.length;
    this.#sizes.set(head, offset + rec.length);
    return { segment: head, offset, length: rec.length };
  }

  /** Close the head: the next append opens a new segment (the cleaner keeps its output apart). */
  sealHead(): void {
    this.#enqueueBuffer();
    this.#head = null;
  }

  /** Resolve once every appended record is in the store. */
  async flush(): Promise<void> {
    this.#enqueueBuffer();
    await this.#queue;
    this.#throwIfFailed();
  }

  /**
   * Resolve once every *sealed* piece handed to the store is written, without pushing out
   * the partly filled head (an OPFS append rewrites the file, so partial pieces cost).
   * A streaming writer calls this between batches so queued segments cannot pile up.
   */
  async settle(): Promise<void> {
    await this.#queue;
    this.#throwIfFailed();
  }

  /** Read and verify one record (CRC, and SHA-256 against `expected` when given). */
  async read(address: RecordAddress, expected?: ChunkHash): Promise<LogRecord> {
    const { segment, offset, length } = address;
    const size = this.#sizes.get(segment);
    if (size === undefined || offset < 0 || offset + length > size) {
      throw new SegmentRangeError(segment, offset, length, size);
    }
    const bytes = await this.#readRange(segment, offset, length);
    return decodeVerified(bytes, 0, address, expected);
  }

  /**
   * Every record of a segment, in log order, read with one store read. Headers are parsed
   * (a framing error throws CorruptRecordError: the rest of the segment cannot be walked);
   * payloads are verified only on demand, so a damaged record the caller does not need —
   * dead data the cleaner is dropping — does not stop the scan.
   */
  async scan(id: SegmentId): Promise<ScannedRecord[]> {
    const size = this.#sizes.get(id);
    if (size === undefined) throw new SegmentRangeError(id, 0, 0, undefined);
    const bytes = await this.#readRange(id, 0, size);
    const out: ScannedRecord[] = [];
    let at = 0;
    while (at < size) {
      const parsed = parseHeader(bytes, at);
      if (parsed.state !== 'ok') throw new CorruptRecordError(id, at, parsed.state);
      const { header } = parsed;
      const address: RecordAddress = { segment: id, offset: at, length: RECORD_HEADER_BYTES + header.payloadBytes };
      const start = at;
      out.push({ address, header, verified: () => decodeVerified(bytes, start, address, header.hash) });
      at += address.length;
    }
    return out;
  }

  /** Remove a whole segment (after the cleaner copied its live records forward). */
  async deleteSegment(id: SegmentId): Promise<void> {
    if (id === this.#head) throw new ArchiveUsageError(`segment ${id} is the open head; seal it first`);
    await this.#queue; // its last bytes may still be in flight
    this.#throwIfFailed();
    await this.#store.delete(id);
    this.#sizes.delete(id);
    this.#durable.delete(id);
  }

  #startSegment(): void {
    this.#enqueueBuffer();
    const id = segmentId(this.#nextId++);
    this.#head = id;
    this.#sizes.set(id, 0);
  }

  #enqueueBuffer(): void {
    if (this.#bufferSegment === null || this.#bufferBytes === 0) return;
    const id = this.#bufferSegment;
    const bytes = concatBytes(this.#buffer, this.#bufferBytes);
    const end = this.#bufferStart + bytes.length;
    this.#buffer = [];
    this.#bufferBytes = 0;
    this.#bufferSegment = null;
    this.#queue = this.#queue.then(async () => {
      if (this.#failure !== undefined) return;
      try {
        await this.#store.append(id, bytes);
        this.#durable.set(id, end);
      } catch (err: unknown) {
        // Later appends would leave a hole; stop the log and report on the next call.
        this.#failure = err;
      }
    });
  }

  async #readRange(id: SegmentId, offset: number, length: number): Promise<Uint8Array> {
    const end = offset + length;
    if (id === this.#bufferSegment && end > this.#bufferStart) {
      // Some of the range is still buffered: copy it out now (the buffer may be handed to
      // the store while we await below) rather than flushing a partial segment.
      const buffered = concatBytes(this.#buffer, this.#bufferBytes);
      this.#buffer = [buffered];
      const durablePart = Math.max(0, this.#bufferStart - offset);
      const from = offset + durablePart - this.#bufferStart;
      const out = new Uint8Array(length);
      out.set(buffered.subarray(from, from + length - durablePart), durablePart);
      if (durablePart) {
        await this.#queue;
        this.#throwIfFailed();
        out.set(await this.#store.read(id, offset, durablePart));
      }
      return out;
    }
    if (end > (this.#durable.get(id) ?? 0)) await this.#queue; // written, still in flight
    this.#throwIfFailed();
    return this.#store.read(id, offset, length);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) {
      throw new CorruptSegmentError('segment store write failed; the log is stopped', {
        cause: this.#failure,
      });
    }
  }
}

/**
 * Find where the valid records of the last segment end. Returns null if the segment is
 * whole, or how many bytes to keep. A record is torn if it runs past the end of the
 * segment, or if it is damaged and nothing but it (or zero fill, as a file extended
 * before its data landed) follows. Anything else is corruption, not a crash artefact.
 */
function findTornTail(bytes: Uint8Array, id: SegmentId): { keep: number; reason: string } | null {
  let at = 0;
  while (at < bytes.length) {
    const parsed = parseHeader(bytes, at);
    if (parsed.state === 'ok') {
      const end = at + RECORD_HEADER_BYTES + parsed.header.payloadBytes;
      if (crcMatches(bytes, at, parsed.header)) {
        at = end;
        continue;
      }
      if (end === bytes.length || allZero(bytes, end)) return { keep: at, reason: 'CRC mismatch in last record' };
      throw new CorruptSegmentError(`segment ${id}: record at byte ${at} fails its CRC and valid data follows`);
    }
    if (parsed.state === 'incomplete' || parsed.state === 'overruns') {
      return { keep: at, reason: `record ${parsed.state} at end of segment` };
    }
    if (allZero(bytes, at)) return { keep: at, reason: 'zero fill at end of segment' };
    throw new CorruptSegmentError(`segment ${id}: ${parsed.state} at byte ${at} with data after it`);
  }
  return null;
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
