// Runs in the dom0 driver worker. Opens the pool in IndexedDB, or, where the browser
// refuses IndexedDB to this context, in an in-memory IndexedDB (fake-indexeddb), and says
// which. Measured in headless Chromium 156: a widget framed from another site gets
// `UnknownError: The user denied permission to access the database` (third-party storage
// blocking). Without a fallback the embedded console could not run at all; with it, it
// runs and says plainly that nothing is kept after the page closes.
// Only a refusal falls back. Any other failure to open (a browser I/O error, a backing
// store the browser found damaged) is an error: a memory pool would then acknowledge
// writes that vanish with the tab, while the caller believes them durable.
import { Pool, type PoolOptions } from '../pool';
import { PoolError, PoolStorageError } from '../../shared/errors/pool-errors';

export type StorageKind = 'indexeddb' | 'memory';
export interface PoolStorage {
  kind: StorageKind;
  /** Plain words for the page. */
  reason: string;
}

/** 'auto': IndexedDB, falling back to memory when refused. */
export type StorageChoice = StorageKind | 'auto';

export async function openPool(name: string, opts: PoolOptions, choice: StorageChoice): Promise<{ pool: Pool; storage: PoolStorage }> {
  if (choice !== 'memory') {
    try {
      const pool = await Pool.open(name, opts);
      const unregistered = pool.registered ? '' : '; not in the pool registry (OPFS unavailable here), so if the browser deletes it, that is reported only when it is the first pool opened afterwards';
      return { pool, storage: { kind: 'indexeddb', reason: `pool saved in IndexedDB database "${name}"${unregistered}` } };
    } catch (err) {
      if (choice === 'indexeddb' || !isStorageRefusal(err)) {
        // The pool's own errors (a newer format, a bad option) already say what is wrong.
        if (err instanceof PoolError) throw err;
        const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        throw new PoolStorageError(`IndexedDB could not open pool "${name}" (${detail}); it was not opened in memory instead, since writes there would not be kept`, { cause: err });
      }
      const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      await useMemoryIndexedDB();
      return {
        pool: await Pool.open(name, memoryOnly(opts)),
        storage: { kind: 'memory', reason: `the browser refused IndexedDB here (${detail}), so the pool lives in memory and is gone when the page closes` },
      };
    }
  }
  await useMemoryIndexedDB();
  return { pool: await Pool.open(name, memoryOnly(opts)), storage: { kind: 'memory', reason: 'pool kept in memory by configuration; nothing is saved' } };
}

/**
 * A pool in memory has no registry entry: nothing can delete it behind its back, and an
 * entry would outlive it and make the next persistent pool of that name look lost.
 */
function memoryOnly(opts: PoolOptions): PoolOptions {
  return { ...opts, registry: null };
}

/**
 * Whether the browser refused storage to this context, as opposed to failing at it.
 * Chromium, storage partitioning off or third-party storage blocked:
 * `UnknownError: The user denied permission to access the database`. Firefox with
 * storage disabled: `SecurityError: The operation is insecure.`
 */
export function isStorageRefusal(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'SecurityError') return true;
  return err.name === 'UnknownError' && /denied permission|not allowed|blocked/i.test(err.message);
}

/**
 * Point this worker's `indexedDB` at an in-memory implementation. Only dom0's own worker is
 * affected; loaded on demand so the common case does not pay for it.
 */
async function useMemoryIndexedDB(): Promise<void> {
  const fake = await import('fake-indexeddb');
  const scope = globalThis as unknown as Record<string, unknown>;
  for (const name of ['indexedDB', 'IDBKeyRange', 'IDBCursor', 'IDBCursorWithValue', 'IDBDatabase', 'IDBFactory', 'IDBIndex', 'IDBObjectStore', 'IDBOpenDBRequest', 'IDBRequest', 'IDBTransaction', 'IDBVersionChangeEvent']) {
    const value = (fake as unknown as Record<string, unknown>)[name];
    if (value !== undefined) Object.defineProperty(scope, name, { value, configurable: true, writable: true });
  }
}
