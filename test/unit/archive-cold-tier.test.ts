// Runs in node (vitest project `unit`; node ≥ 20 has CompressionStream). Cold tiering:
// superseded chunks move to a compressed log, the warm copies are cleaned away, and every
// snapshot — including the old ones that need cold chunks — still restores exactly.
import { describe, expect, it } from 'vitest';
import { Archive } from '../../host/archive/archive';
import { ColdCodec, ColdTier, moveToColdTier, supersededChunks } from '../../host/archive/cold-tier';
import { MemorySegmentStore } from '../../host/archive/memory-segment-store';
import { MemoryRunStore } from '../../host/archive/run-store';
import { CleaningPolicy } from '../../host/archive/segment-usage';
import { ChunkHashMismatchError, CorruptRecordError } from '../../shared/errors/archive-errors';
import { RECORD_HEADER_BYTES } from '../../host/archive/segment-format';

// Compressible, distinct chunks (a volume's blocks are often mostly zeros or text).
const chunk = (i: number) => new TextEncoder().encode(`block ${i} `.repeat(200));

async function setup(codec: ColdCodec) {
  const coldStore = new MemorySegmentStore();
  const cold = await ColdTier.open(coldStore, { segmentBytes: 1 << 16, codec });
  const segs = new MemorySegmentStore();
  const runs = new MemoryRunStore();
  const archive = await Archive.open(segs, runs, { segmentBytes: 1 << 15, cold });
  return { archive, cold, coldStore, segs, runs };
}

describe.each([ColdCodec.gzip, ColdCodec.raw])('cold tier (codec %i)', (codec) => {
  it('moves superseded chunks out of the warm tier and still restores every snapshot', async () => {
    const { archive, cold } = await setup(codec);
    const v1 = Array.from({ length: 20 }, (_, i) => chunk(i));
    const v2 = v1.map((c, i) => (i < 8 ? chunk(100 + i) : c));
    await archive.archiveSnapshot('vol@1', v1);
    await archive.archiveSnapshot('vol@2', v2);
    const superseded = await supersededChunks(archive, ['vol@1'], 'vol@2');
    expect(superseded).toHaveLength(8);
    const warmBefore = archive.stats().liveWarmBytes;
    const report = await moveToColdTier(archive, cold, superseded);
    expect(report.chunksMoved).toBe(8);
    if (codec === ColdCodec.gzip) expect(report.bytesOut).toBeLessThan(report.bytesIn / 4);
    expect(archive.stats().coldChunks).toBe(8);
    expect(archive.stats().liveWarmBytes).toBeLessThan(warmBefore);
    for (let i = 0; i < 5; i++) await archive.clean(CleaningPolicy.costBenefit, 10);
    expect(await archive.restoreSnapshot('vol@1')).toEqual(v1);
    expect(await archive.restoreSnapshot('vol@2')).toEqual(v2);
  });
});

it('reopens with cold locations intact', async () => {
  const { archive, cold, coldStore, segs, runs } = await setup(ColdCodec.gzip);
  const v1 = [chunk(1), chunk(2)];
  await archive.archiveSnapshot('a', v1);
  await archive.archiveSnapshot('b', [chunk(3)]);
  await moveToColdTier(archive, cold, await supersededChunks(archive, ['a'], 'b'));
  const cold2 = await ColdTier.open(coldStore, { segmentBytes: 1 << 16 });
  const reopened = await Archive.open(segs, runs, { segmentBytes: 1 << 15, cold: cold2 });
  expect(await reopened.restoreSnapshot('a')).toEqual(v1);
});

it('reports a damaged cold chunk instead of restoring it', async () => {
  const { archive, cold, coldStore } = await setup(ColdCodec.gzip);
  await archive.archiveSnapshot('a', [chunk(1)]);
  await archive.archiveSnapshot('b', [chunk(2)]);
  const [h] = await supersededChunks(archive, ['a'], 'b');
  await moveToColdTier(archive, cold, [h!]);
  const loc = archive.lsm.get(h!)!;
  coldStore.corrupt(loc.segment, loc.offset + loc.length - 3); // inside the gzip stream
  await expect(archive.restoreSnapshot('a')).rejects.toSatisfy(
    (e: unknown) => e instanceof CorruptRecordError || e instanceof ChunkHashMismatchError,
  );
});
