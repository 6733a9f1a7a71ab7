// Runs in node (vitest project `unit`). The data-tier log on the in-memory store:
// append/read, rollover, torn-tail recovery, typed errors for damaged records.
import { describe, expect, it } from 'vitest';
import { SegmentLog } from '../../host/archive/segment-log';
import { MemorySegmentStore } from '../../host/archive/memory-segment-store';
import { RECORD_HEADER_BYTES, RecordKind, encodeRecord } from '../../host/archive/segment-format';
import { sha256Hex } from '../../host/archive/chunk-hash';
import { segmentId } from '../../host/archive/segment-store';
import {
  ChunkHashMismatchError,
  CorruptRecordError,
  CorruptSegmentError,
  RecordTooLargeError,
} from '../../shared/errors/archive-errors';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

async function appendChunk(log: SegmentLog, payload: Uint8Array, at = 0) {
  return log.append(RecordKind.chunk, await sha256Hex(payload), at, payload);
}

describe('SegmentLog', () => {
  it('reads back what it appended, buffered and after flush, across segment rollover', async () => {
    const store = new MemorySegmentStore();
    const log = await SegmentLog.open(store, { segmentBytes: 4 * (RECORD_HEADER_BYTES + 100) });
    const payloads = Array.from({ length: 10 }, (_, i) => bytes(100, i));
    const addrs = [];
    for (const p of payloads) addrs.push(await appendChunk(log, p));
    expect(new Set(addrs.map((a) => a.segment)).size).toBe(3); // 4 + 4 + 2
    for (const [i, a] of addrs.entries()) expect((await log.read(a)).payload).toEqual(payloads[i]); // some buffered
    await log.flush();
    expect(await store.list()).toEqual([1, 2, 3]);
    const reopened = await SegmentLog.open(store, { segmentBytes: 4 * (RECORD_HEADER_BYTES + 100) });
    expect(reopened.recovery).toBeNull();
    for (const [i, a] of addrs.entries()) expect((await reopened.read(a)).payload).toEqual(payloads[i]);
    // The reopened head had room for two more records: appends continue there.
    expect((await appendChunk(reopened, bytes(100, 99))).segment).toBe(3);
  });

  it('seals the head so the next append opens a fresh segment', async () => {
    const log = await SegmentLog.open(new MemorySegmentStore(), { segmentBytes: 4096 });
    const a = await appendChunk(log, bytes(10, 1));
    log.sealHead();
    const b = await appendChunk(log, bytes(10, 2));
    expect(b.segment).toBe(a.segment + 1);
    expect(b.offset).toBe(0);
  });

  it('refuses a record larger than a segment', async () => {
    const log = await SegmentLog.open(new MemorySegmentStore(), { segmentBytes: 256 });
    await expect(appendChunk(log, bytes(300, 0))).rejects.toBeInstanceOf(RecordTooLargeError);
  });

  for (const cut of [1, RECORD_HEADER_BYTES - 1, RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + 37]) {
    it(`drops a torn last record (${cut} bytes of it written) on open`, async () => {
      const store = new MemorySegmentStore();
      const log = await SegmentLog.open(store, { segmentBytes: 1 << 16 });
      const good = await appendChunk(log, bytes(64, 7));
      await log.flush();
      const partial = encodeRecord(RecordKind.chunk, await sha256Hex(bytes(64, 8)), 0, bytes(64, 8));
      await store.append(good.segment, partial.subarray(0, cut)); // crash mid-append
      const reopened = await SegmentLog.open(store, { segmentBytes: 1 << 16 });
      expect(reopened.recovery).toMatchObject({ segment: good.segment, keptBytes: good.length, droppedBytes: cut });
      expect((await store.sizes()).get(good.segment)).toBe(good.length);
      expect((await reopened.scan(good.segment)).map((r) => r.address)).toEqual([good]);
      // The next append lands where the torn record was.
      expect((await appendChunk(reopened, bytes(5, 1))).offset).toBe(good.length);
    });
  }

  it('drops a whole-length last record whose CRC fails, and zero fill', async () => {
    const store = new MemorySegmentStore();
    const log = await SegmentLog.open(store, { segmentBytes: 1 << 16 });
    const a = await appendChunk(log, bytes(64, 1));
    const b = await appendChunk(log, bytes(64, 2));
    await log.flush();
    store.corrupt(b.segment, b.offset + RECORD_HEADER_BYTES + 3, 0xee);
    await store.append(b.segment, new Uint8Array(100)); // file extended, data never landed
    const reopened = await SegmentLog.open(store, { segmentBytes: 1 << 16 });
    expect(reopened.recovery?.keptBytes).toBe(a.length);
  });

  it('fails the open when damage is followed by valid records (not a torn tail)', async () => {
    const store = new MemorySegmentStore();
    const log = await SegmentLog.open(store, { segmentBytes: 1 << 16 });
    const a = await appendChunk(log, bytes(64, 1));
    await appendChunk(log, bytes(64, 2));
    await log.flush();
    store.corrupt(a.segment, a.offset + RECORD_HEADER_BYTES, 0xee);
    await expect(SegmentLog.open(store, { segmentBytes: 1 << 16 })).rejects.toBeInstanceOf(CorruptSegmentError);
  });

  it('reports a damaged payload in an older segment as a typed error on read', async () => {
    const store = new MemorySegmentStore();
    const log = await SegmentLog.open(store, { segmentBytes: 512 });
    const a = await appendChunk(log, bytes(200, 1));
    await appendChunk(log, bytes(300, 2)); // next segment
    await log.flush();
    store.corrupt(a.segment, a.offset + RECORD_HEADER_BYTES + 10);
    await expect(log.read(a)).rejects.toBeInstanceOf(CorruptRecordError);
    const [scanned] = await log.scan(a.segment);
    await expect(scanned!.verified()).rejects.toBeInstanceOf(CorruptRecordError);
  });

  it('reports a payload that does not hash to its stored hash (even with a valid CRC)', async () => {
    const store = new MemorySegmentStore();
    const log = await SegmentLog.open(store, { segmentBytes: 4096 });
    const wrongHash = await sha256Hex(bytes(10, 9));
    const a = log.append(RecordKind.chunk, wrongHash, 0, bytes(10, 1)); // CRC computed over the lie
    await log.flush();
    await expect(log.read(a)).rejects.toBeInstanceOf(ChunkHashMismatchError);
    const right = await sha256Hex(bytes(10, 1));
    await expect(log.read(a, right)).rejects.toBeInstanceOf(ChunkHashMismatchError);
  });

  it('will not delete the open head', async () => {
    const log = await SegmentLog.open(new MemorySegmentStore(), { segmentBytes: 4096 });
    const a = await appendChunk(log, bytes(10, 1));
    await expect(log.deleteSegment(a.segment)).rejects.toThrow(/open head/);
    log.sealHead();
    await log.deleteSegment(segmentId(a.segment));
    expect(log.segments()).toEqual([]);
  });
});
