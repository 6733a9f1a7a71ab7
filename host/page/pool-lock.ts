// Runs on the console's main thread. One dom0 per pool: the pool keeps its state in the
// dom0 worker's memory, so two tabs opening the same IndexedDB database would each commit
// over the other's view. A Web Lock named after the pool says whether another tab of this
// origin (and storage partition) has it; if so this tab runs on a temporary pool instead.
export interface PoolClaim {
  poolName: string;
  /** Plain words for the page when we could not have the persistent pool. */
  note: string | null;
}

export async function claimPool(poolName: string): Promise<PoolClaim> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return { poolName, note: null };
  const got = await new Promise<boolean>((resolve) => {
    // Measured in headless Chromium 156: in a cross-site frame whose storage is blocked the
    // request never calls back, so give up after a second and go on without the lock.
    const timer = setTimeout(() => resolve(true), 1000);
    locks
      .request(`tabvisor-pool:${poolName}`, { ifAvailable: true }, (lock) => {
        clearTimeout(timer);
        resolve(lock !== null);
        // Held for the life of the page: the returned promise never settles.
        return lock ? new Promise<void>(() => undefined) : undefined;
      })
      .catch(() => {
        clearTimeout(timer);
        resolve(true);
      });
  });
  if (got) return { poolName, note: null };
  const temp = `${poolName}-tmp-${Date.now().toString(36)}`;
  addEventListener('pagehide', () => void deletePool(temp));
  return { poolName: temp, note: 'The console is open in another tab, which owns the saved pool; this tab uses a temporary pool that is deleted when you leave.' };
}

/** Delete the pool's IndexedDB database; resolves when done (or blocked: then on the next open). */
export function deletePool(poolName: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(poolName);
    req.onsuccess = () => resolve();
    req.onerror = () => resolve();
    req.onblocked = () => resolve();
  });
}
