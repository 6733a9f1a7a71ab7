// Runs in Node: finding a dataset by name. dom0 resolves every ring read by name, so the
// lookup remembers the id a name last resolved to; this checks that the memory is only a
// hint, against the plain scan, through destroy, re-create, discard and incomplete volumes.
import { describe, expect, it } from 'vitest';
import * as datasets from '../../host/pool/datasets';
import { PoolState } from '../../host/pool/state';
import { UnknownDatasetError } from '../../shared/errors/pool-errors';

const fresh = () => new PoolState({ formatVersion: 1, txg: 0, nextChunkId: 1, nextNodeId: 1, nextDatasetId: 1, metaslabBytes: 1 << 20, allocMetaslab: 0 });
const vol = { sizeBytes: 8 * 4096, blockSize: 4096 };

describe('findDataset by name', () => {
  it('follows a name through destroy and re-create, and never returns a destroyed record', () => {
    const s = fresh();
    const a1 = datasets.createVolume(s, 'a', vol);
    expect(datasets.findDataset(s, 'a').id).toBe(a1.id);
    datasets.destroy(s, 'a');
    expect(() => datasets.findDataset(s, 'a')).toThrow(UnknownDatasetError);
    const a2 = datasets.createVolume(s, 'a', vol);
    expect(a2.id).not.toBe(a1.id);
    expect(datasets.findDataset(s, 'a').id).toBe(a2.id);
  });

  it('a discard takes back a dataset the name resolved to; the committed one is found again', () => {
    const s = fresh();
    const base = datasets.createVolume(s, 'base', vol);
    datasets.snapshot(s, 'base', 'base@1');
    s.applyCommitted(1);
    const c = datasets.clone(s, 'base@1', 'c', undefined);
    expect(datasets.findDataset(s, 'c').id).toBe(c.id);
    expect(datasets.findDataset(s, 'base').id).toBe(base.id);
    s.discard();
    // The discarded clone's id is not handed out again (PoolState.newDatasetId), and 'c'
    // must not be found through its remembered id.
    const d = datasets.clone(s, 'base@1', 'd', undefined);
    expect(d.id).toBeGreaterThan(c.id);
    expect(() => datasets.findDataset(s, 'c')).toThrow(UnknownDatasetError);
    expect(datasets.findDataset(s, 'd').id).toBe(d.id);
    expect(datasets.findDataset(s, 'base').id).toBe(base.id);
  });

  it('an incomplete volume is not found by name until it is completed', () => {
    const s = fresh();
    const v = datasets.createVolume(s, 'img', vol, true);
    expect(() => datasets.findDataset(s, 'img')).toThrow(UnknownDatasetError);
    expect(datasets.findDataset(s, v.id).id).toBe(v.id);
    datasets.complete(s, v.id);
    expect(datasets.findDataset(s, 'img').id).toBe(v.id);
  });

  it('a record changed after it was found (copy-on-first-touch) is the one returned next', () => {
    const s = fresh();
    const base = datasets.createVolume(s, 'base', vol);
    s.applyCommitted(1);
    const before = datasets.findDataset(s, 'base');
    datasets.snapshot(s, 'base', 'base@1'); // stages a copy of base's record
    const after = datasets.findDataset(s, 'base');
    expect(after).toBe(s.datasets.get(base.id));
    expect(before.id).toBe(after.id);
  });
});
