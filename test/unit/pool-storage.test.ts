// Runs in Node, with fake-indexeddb as the browser's IndexedDB. Where dom0 opens the pool:
// only the browser refusing storage to this context may put the pool in memory; any other
// failure to open is an error, because a memory pool would acknowledge writes that are
// never kept (the caller would believe them durable).
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isStorageRefusal, openPool } from '../../host/dom0/pool-storage';
import { PoolStorageError } from '../../shared/errors/pool-errors';

const refusal = () => new DOMException('The user denied permission to access the database.', 'UnknownError');
const backingStore = () => new DOMException('Internal error opening backing store for indexedDB.open.', 'UnknownError');

afterEach(() => vi.restoreAllMocks());

describe('isStorageRefusal', () => {
  it('tells a refusal from a failure', () => {
    expect(isStorageRefusal(refusal())).toBe(true);
    expect(isStorageRefusal(new DOMException('The operation is insecure.', 'SecurityError'))).toBe(true);
    expect(isStorageRefusal(backingStore())).toBe(false);
    expect(isStorageRefusal(new DOMException('Version change transaction was aborted', 'AbortError'))).toBe(false);
    expect(isStorageRefusal(new Error('denied permission'))).toBe(false);
    expect(isStorageRefusal('denied permission')).toBe(false);
  });
});

describe('openPool', () => {
  it('opens in IndexedDB when it can', async () => {
    const { pool, storage } = await openPool('ps-ok', {}, 'auto');
    expect(storage.kind).toBe('indexeddb');
    // Node has no OPFS: the pool opens all the same, and says what that costs.
    expect(pool.registered).toBe(false);
    expect(storage.reason).toMatch(/not in the pool registry/);
    pool.close();
  });

  it("'auto' falls back to memory when the browser refuses storage, and says why", async () => {
    vi.spyOn(indexedDB, 'open').mockImplementationOnce(() => {
      throw refusal();
    });
    const { pool, storage } = await openPool('ps-refused', {}, 'auto');
    expect(storage.kind).toBe('memory');
    expect(storage.reason).toMatch(/refused IndexedDB.*denied permission/);
    pool.close();
  });

  it("'auto' refuses to serve from memory when IndexedDB fails for any other reason", async () => {
    vi.spyOn(indexedDB, 'open').mockImplementationOnce(() => {
      throw backingStore();
    });
    const err = await openPool('ps-broken', {}, 'auto').then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(PoolStorageError);
    expect((err as PoolStorageError).code).toBe('pool-storage');
    expect((err as Error).message).toMatch(/could not open pool "ps-broken".*backing store.*not opened in memory/);
    expect((err as Error).cause).toBeInstanceOf(DOMException);
  });

  it("'indexeddb' never falls back, not even on a refusal", async () => {
    vi.spyOn(indexedDB, 'open').mockImplementationOnce(() => {
      throw refusal();
    });
    await expect(openPool('ps-strict', {}, 'indexeddb')).rejects.toBeInstanceOf(PoolStorageError);
  });
});
