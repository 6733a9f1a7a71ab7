// Runs in a page or a worker with IndexedDB (the host page's console, tests). Deleting a
// pool through the API: its registry entry and its IndexedDB database, in the order that
// never makes a deleted pool look lost (docs/pool.md, "When the browser deletes the pool").
import { opfsRegistry, type PoolRegistry } from './registry';

export type DeleteOutcome = 'deleted' | 'blocked' | 'failed';

/**
 * Delete pool `name` for good. The registry entry goes first: a crash after it leaves a
 * database without an entry, which its next open records again (nothing is reported); the
 * other order would leave an entry without a database, which the next open under the name
 * would report as a pool the browser deleted. The entry is removed once more when the
 * database is gone, in case an open in between recorded it again.
 * 'blocked': other connections are open; the browser deletes the database when they close.
 */
export function deletePool(name: string, registry: PoolRegistry | null = opfsRegistry()): Promise<DeleteOutcome> {
  return (registry ? registry.remove(name) : Promise.resolve(true)).then(
    () =>
      new Promise<DeleteOutcome>((resolve) => {
        const req = indexedDB.deleteDatabase(name);
        req.onsuccess = () => {
          if (!registry) return resolve('deleted');
          void registry.remove(name).then(() => resolve('deleted'));
        };
        req.onerror = () => resolve('failed');
        req.onblocked = () => resolve('blocked');
      }),
  );
}

/**
 * Delete a pool whose name is never used again (a temporary pool, at `pagehide`): the
 * database deletion is requested at once, in this task, because a page going away may not
 * live through an OPFS call first; the entry is removed after, if the page lives that long.
 * An entry left behind without its database only matters to a later pool of the same name,
 * and there is none.
 */
export function discardPool(name: string, registry: PoolRegistry | null = opfsRegistry()): void {
  const req = indexedDB.deleteDatabase(name);
  req.onsuccess = () => void registry?.remove(name);
}
