// Runs in Node. The crash campaign (scripts/soak.mjs) tells a deletion the pool reported
// (PoolLostError, code 'pool-lost') from every other failure of the verify page by the
// error's code: the browser's report and the pool registry's word it differently, and a
// failure that merely mentions a deletion is still a failure.
import { describe, expect, it } from 'vitest';
import { reportedLoss } from '../../scripts/soak.mjs';

const failed = (message: string, errorCode?: string) => ({
  problems: [`verify page failed: ${message}`],
  versions: [],
  verified: 0,
  names: [],
  pruned: [],
  ...(errorCode ? { errorCode } : {}),
});

describe('reportedLoss', () => {
  it('counts a reported deletion, whoever noticed it', () => {
    expect(reportedLoss(failed("PoolLostError: pool p is gone: when its database was opened on 2026-11-29T10:00:00.000Z, the browser reported it had deleted this site's earlier data (total: IndexedDB (database was corrupt): checksum mismatch). Open it with acceptLoss to start again from an empty pool.", 'pool-lost'))).toBe(true);
    expect(reportedLoss(failed('PoolLostError: pool p is gone: its database was found created from nothing on 2026-11-29T10:00:00.000Z (the database is gone while the pool registry (OPFS) says this pool existed: …). Open it with acceptLoss to start again from an empty pool.', 'pool-lost'))).toBe(true);
  });

  it('anything else is a failure, whatever its words', () => {
    expect(reportedLoss(failed("Error: the browser reported it had deleted this site's earlier data"))).toBe(false);
    expect(reportedLoss(failed('PoolStorageError: IndexedDB could not open pool p', 'pool-storage'))).toBe(false);
    expect(reportedLoss({ ...failed('x', 'pool-lost'), problems: ['verify page failed: x', 'block 3: acknowledged version 9 lost, holds 2'] })).toBe(false);
    expect(reportedLoss({ problems: [], versions: [0], verified: 0, names: [], pruned: [] })).toBe(false);
  });
});
