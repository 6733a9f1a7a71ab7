// Runs in real Chromium (vitest project `browser`). The OPFS and IndexedDB segment stores:
// the SegmentStore contract, torn-tail detection through SegmentLog on reopen, and a full
// archive → restore → clean round trip on each backend.
import { afterEach, describe, expect, it } from 'vitest';
import { OpfsSegmentStore } from '../../host/archive/opfs-segment-store';
import { IdbSegmentStore } from '../../host/archive/idb-segment-store';
import { openSegmentStore } from '../../host/archive/open-segment-store';
import { SegmentLog } from '../../host/archive/segment-log';
import { RecordKind, encodeRecord } from '../../host/archive/segment-format';
import { sha256Hex } from '../../host/archive/chunk-hash';
import { type SegmentStore, segmentId } from '../../host/archive/segment-store';
import { SegmentRunStore } from '../../host/archive/run-store';
import { Archive } from '../../host/archive/archive';
import { CleaningPolicy } from '../../host/archive/segment-usage';
import { ChunkHashMismatchError, CorruptRecordError, SegmentRangeError } from '../../shared/errors/archive-errors';

const backends = [
  { name: 'OPFS', open: (n: string) => OpfsSegmentStore.open(n), destroy: (n: string) => OpfsSegmentStore.destroy(n) },
  { name: 'IndexedDB', open: (n: string) => IdbSegmentStore.open(n), destroy: (n: string) => IdbSegmentStore.destroy(n) },
] as const;

const opened: SegmentStore[] = [];
const created: { name: string; destroy: (n: string) => Promise<void> }[] = [];
afterEach(async () => {
  // Close first: deleting an IndexedDB database waits for every open connection.
  for (const s of opened.splice(0)) await s.close();
  for (const c of created.splice(0)) await c.destroy(c.name);
});

let counter = 0;
const uniqueName = (tag: string) => `test-${tag}-${Date.now()}-${counter++}`;
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

describe.each(backends)('$name segment store', (backend) => {
  async function open(name: string) {
    if (!created.some((c) => c.name === name)) created.push({ name, destroy: backend.destroy });
    const s = await backend.open(name);
    opened.push(s);
    return s;
  }

  it('appends, reads ranges across appends, lists, truncates and deletes', async () => {
    const name = uniqueName('contract');
    const s = await open(name);
    const a = bytes(100, 1);
    const b = bytes(50, 2);
    await s.append(segmentId(3), a);
    await s.append(segmentId(3), b);
    await s.append(segmentId(1), bytes(10, 3));
    expect(await s.list()).toEqual([1, 3]);
    expect(await s.sizes()).toEqual(new Map([[1, 10], [3, 150]]));
    const expected = new Uint8Array([...a, ...b]);
    expect(await s.read(segmentId(3), 90, 20)).toEqual(expected.slice(90, 110)); // spans both appends
    await expect(s.read(segmentId(3), 140, 20)).rejects.toBeInstanceOf(SegmentRangeError);
    await expect(s.read(segmentId(7), 0, 1)).rejects.toBeInstanceOf(SegmentRangeError);
    await s.truncate(segmentId(3), 120);
    expect((await s.sizes()).get(segmentId(3))).toBe(120);
    expect(await s.read(segmentId(3), 0, 120)).toEqual(expected.slice(0, 120));
    await s.delete(segmentId(1));
    await s.delete(segmentId(99)); // absent: not an error
    expect(await s.list()).toEqual([3]);
    await s.close();
    opened.pop();
    const again = await open(name); // persisted
    expect(await again.read(segmentId(3), 0, 120)).toEqual(expected.slice(0, 120));
  });

  it('ignores a torn record at the end of the last segment on reopen', async () => {
    const name = uniqueName('torn');
    const s = await open(name);
    const log = await SegmentLog.open(s, { segmentBytes: 1 << 16 });
    const payloads = [bytes(700, 1), bytes(900, 2)];
    const addrs = [];
    for (const p of payloads) addrs.push(log.append(RecordKind.chunk, await sha256Hex(p), 1, p));
    await log.flush();
    // A crash mid-append: only part of the next record reached the store.
    const next = bytes(500, 3);
    const torn = encodeRecord(RecordKind.chunk, await sha256Hex(next), 2, next).subarray(0, 300);
    await s.append(addrs[0]!.segment, torn);
    await s.close();
    opened.pop();

    const reopenedStore = await open(name);
    const reopened = await SegmentLog.open(reopenedStore, { segmentBytes: 1 << 16 });
    expect(reopened.recovery).toMatchObject({ droppedBytes: 300 });
    const scanned = await reopened.scan(addrs[0]!.segment);
    expect(scanned.map((r) => r.address)).toEqual(addrs);
    for (const [i, a] of addrs.entries()) expect((await reopened.read(a)).payload).toEqual(payloads[i]);
    expect((await reopenedStore.sizes()).get(addrs[0]!.segment)).toBe(addrs[1]!.offset + addrs[1]!.length);
    // Appending continues cleanly after the cut.
    const c = reopened.append(RecordKind.chunk, await sha256Hex(next), 3, next);
    await reopened.flush();
    expect((await reopened.read(c)).payload).toEqual(next);
  });

  it('reports damaged bytes as typed errors, never as data', async () => {
    const name = uniqueName('damage');
    const s = await open(name);
    const log = await SegmentLog.open(s, { segmentBytes: 4096 });
    const p = bytes(200, 9);
    const a = log.append(RecordKind.chunk, await sha256Hex(p), 1, p);
    const lie = log.append(RecordKind.chunk, await sha256Hex(bytes(5, 0)), 1, bytes(200, 8));
    await log.flush();
    await expect(log.read(lie)).rejects.toBeInstanceOf(ChunkHashMismatchError);
    // Rewrite the segment with one payload byte flipped.
    const whole = await s.read(a.segment, 0, a.length);
    whole[a.length - 1]! ^= 1;
    await s.truncate(a.segment, 0);
    await s.append(a.segment, whole);
    await expect(log.read(a)).rejects.toBeInstanceOf(CorruptRecordError);
  });

  it('archives, restores and cleans snapshots end to end', async () => {
    const dataName = uniqueName('data');
    const runsName = uniqueName('runs');
    const segs = await open(dataName);
    const runs = await open(runsName);
    const options = { segmentBytes: 64 * 1024 };
    let archive = await Archive.open(segs, new SegmentRunStore(runs), options);
    const vol = Array.from({ length: 40 }, (_, i) => bytes(4096, i));
    await archive.archiveSnapshot('vol@1', vol);
    const vol2 = vol.map((c, i) => (i % 10 === 0 ? bytes(4096, 100 + i) : c));
    const second = await archive.archiveSnapshot('vol@2', vol2);
    expect(second.chunksWritten).toBe(4);
    await archive.deleteSnapshot('vol@1');
    await archive.clean(CleaningPolicy.costBenefit, 10);
    archive = await Archive.open(segs, new SegmentRunStore(runs), options);
    expect(archive.snapshotNames()).toEqual(['vol@2']);
    expect(await archive.restoreSnapshot('vol@2')).toEqual(vol2);
  });
});

it('openSegmentStore picks OPFS in Chromium', async () => {
  const name = uniqueName('pick');
  const s = await openSegmentStore(name);
  opened.push(s);
  created.push({ name, destroy: OpfsSegmentStore.destroy });
  expect(s.backend).toBe('opfs');
});
