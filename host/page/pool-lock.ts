// Runs on the host page's main thread. One writer per pool: the pool keeps its state in
// the dom0 worker's memory, so two tabs (or two Hypervisors in one tab) opening the same
// IndexedDB database would each commit over the other's view and lose data. Every
// `Hypervisor.start` on a persistent pool takes an exclusive Web Lock named after the
// pool, `tabvisor-pool:<name>`, before dom0 opens it, and holds it until `shutdown()` or
// until the page goes away (the browser releases a dead page's locks).

import { deletePool as deletePoolAndEntry, discardPool } from '../pool/delete-pool';
import { within } from '../../shared/within';

/** Another context of this origin already owns the pool. */
export class PoolLockedError extends Error {
  override name = 'PoolLockedError';
  readonly code = 'POOL_LOCKED';
  constructor(readonly poolName: string) {
    super(`pool "${poolName}" is owned by another tab or hypervisor of this origin (Web Lock ${lockName(poolName)} is held); close it, or open this one on another pool`);
  }
}

/** A held pool lock. */
export interface PoolLock {
  readonly poolName: string;
  release(): void;
}

/** Why no lock could be had without the pool being owned by someone else. */
export type NoLock = { kind: 'unsupported' | 'no-answer'; reason: string };

export function lockName(poolName: string): string {
  return `tabvisor-pool:${poolName}`;
}

/**
 * Take the pool's lock, or throw PoolLockedError if another holder has it. Resolves to
 * NoLock where this context cannot lock at all: no `navigator.locks` (then nothing can
 * lock this origin's storage either), or no answer within `answerMs` (measured in
 * headless Chromium 156: in a cross-site frame whose storage is blocked the request never
 * calls back). The caller must then not open the persistent pool.
 */
export async function lockPool(poolName: string, answerMs = 5000): Promise<PoolLock | NoLock> {
  const locks = (globalThis.navigator as Navigator & { locks?: LockManager } | undefined)?.locks;
  if (!locks) return { kind: 'unsupported', reason: 'this browser context has no Web Locks (navigator.locks)' };
  // No AbortSignal: the Web Locks spec refuses `signal` together with `ifAvailable`.
  let abandoned = false;
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const answer = await new Promise<'held' | 'taken' | NoLock>((resolve) => {
    const timer = setTimeout(() => {
      abandoned = true;
      resolve({ kind: 'no-answer', reason: `the Web Lock request for the pool was not answered in ${answerMs} ms (storage blocked in this frame?)` });
    }, answerMs);
    locks
      .request(lockName(poolName), { ifAvailable: true }, (lock) => {
        clearTimeout(timer);
        // Granted after we gave up: let it go at once.
        if (abandoned) return undefined;
        resolve(lock ? 'held' : 'taken');
        return lock ? held : undefined;
      })
      .catch((err: unknown) => {
        clearTimeout(timer);
        // Chromium denies a cross-site frame whose storage is blocked with SecurityError.
        resolve({ kind: 'unsupported', reason: `the browser refused the pool's Web Lock here (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)})` });
      });
  });
  if (answer === 'taken') throw new PoolLockedError(poolName);
  if (answer !== 'held') return answer;
  return { poolName, release };
}

/** Whether another context holds the pool's lock now (a hint for the console; `lockPool` decides). */
export async function poolIsOwned(poolName: string): Promise<boolean> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return false;
  const q = await within(locks.query(), 1000).catch(() => undefined);
  return !!q?.held?.some((l) => l.name === lockName(poolName));
}

export interface PoolClaim {
  poolName: string;
  /** Plain words for the page when we could not have the persistent pool. */
  note: string | null;
}

/** The console's choice: the saved pool if no other tab owns it, else a temporary pool. */
export async function claimPool(poolName: string): Promise<PoolClaim> {
  if (!(await poolIsOwned(poolName))) return { poolName, note: null };
  return temporaryPool(poolName);
}

export function temporaryPool(
  poolName: string,
  note = 'The console is open in another tab, which owns the saved pool; this tab uses a temporary pool that is deleted when you leave.',
): PoolClaim {
  const temp = `${poolName}-tmp-${Date.now().toString(36)}`;
  addEventListener('pagehide', () => discardPool(temp));
  return { poolName: temp, note };
}

/**
 * Delete the pool: its registry entry, then its IndexedDB database; resolves when done (or
 * blocked: then when the other connections close). Never `indexedDB.deleteDatabase` alone:
 * the registry would then report the pool as deleted by the browser on its next open.
 */
export async function deletePool(poolName: string): Promise<void> {
  await deletePoolAndEntry(poolName);
}
