// Runs wherever the pool runs. Writes one transaction group: every staged change (data
// records, chunk map, tree nodes, datasets, metaslab accounting, superblock with the new
// txg) in ONE readwrite IndexedDB transaction. IndexedDB transactions are atomic, so after
// a crash or a failed commit the database is exactly the previous commit.
//
// Requests go through the raw IDB API without a promise each: the transaction's
// completion is the only thing that matters, and a failing request (QuotaExceededError,
// ConstraintError) aborts the transaction and surfaces as its error.
import type { IDBPDatabase } from 'idb';
import { unwrap } from 'idb';
import { CommitError, InvalidArgumentError, PoolFullError } from '../../shared/errors/pool-errors';
import { bytesEqual, chunkChecksum } from './hash';
import { encodePage, pageOf } from './chunk-map-page';
import { FORMAT_VERSION, type PoolDB, type PoolStoreName } from './schema';
import type { PoolState, StagedData, StagedPart } from './state';

export type Durability = 'strict' | 'relaxed' | 'default';

/** Test hooks. Never set in production; they exist to prove the failure contract. */
export interface CommitHooks {
  /** Called after every request of the commit is issued, before waiting for completion. Throw to fail the commit. */
  beforeComplete?: (tx: IDBTransaction, txg: number) => void;
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    // An aborted transaction reports the first failing request's error; abort() alone has none.
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
    // No onerror handler on purpose: preventDefault() on a request's error event would
    // tell IndexedDB the failure was handled and let the rest of the group commit.
  });
}

/**
 * The buffer each extent's chunks are copied into on their way into IndexedDB, used again
 * for the next extent of the same size. put() clones its value before it returns, so the
 * buffer is free again at once; a fresh ArrayBuffer per block cost a 64 MiB import about
 * 0.4 s of page faults (docs/pool.md). The copy is also where a lent block (a view of a
 * caller's bytes, write-path.ts prepareBlocks) is checked against the read checksum it
 * was staged with: bytes changed since they were checksummed must not be stored under the
 * old checksum. The pool's own bytes carry no `check`.
 */
class Scratch {
  private buf = new Uint8Array(0);

  copyChecked(d: StagedData & { parts: StagedPart[] }): ArrayBuffer {
    if (this.buf.length !== d.bytes) this.buf = new Uint8Array(d.bytes);
    const start = d.key[1];
    for (const p of d.parts) {
      const at = p.offset - start;
      this.buf.set(p.bytes, at);
      if (p.check && !bytesEqual(chunkChecksum(this.buf.subarray(at, at + p.bytes.length)), p.check)) {
        throw new InvalidArgumentError(
          `the block stored at ${d.key[0]}:${p.offset} changed after it was checksummed: bytes lent to a write were modified before its commit`,
        );
      }
    }
    return this.buf.buffer;
  }
}

/**
 * Data requests between two calls of a commit's `between` (Pool.setCommitYield). Under
 * load each `put()` of a block waits about a millisecond on the browser (docs/pool.md, "What
 * holds dom0's thread during an import"), so this bounds how long the thread is away. 1:
 * the busy suite's p50 while importing was 0.6–1.2 ms with a poll after every request,
 * 1.8–2.3 ms with one after every fourth (p99 11–19 against 17–28 ms), and a poll of rings
 * with nothing in them costs next to nothing beside a put().
 */
export const REQUESTS_BETWEEN_YIELDS = 1;

function isQuota(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'QuotaExceededError';
}

/**
 * The stores this group writes: 'meta' always (the superblock carries the txg, so every
 * commit is ordered after the one before), the others only when they have changes. A
 * clone or snapshot touches datasets, nodes and meta; scoped that narrowly, its
 * readwrite transaction does not queue behind readonly transactions on 'data' (guests'
 * pool reads), which IndexedDB would otherwise make it wait for.
 */
export function commitScope(state: PoolState): PoolStoreName[] {
  const scope: PoolStoreName[] = ['meta'];
  if (state.datasets.dirtyCount > 0) scope.push('datasets');
  if (state.nodes.dirtyCount > 0) scope.push('nodes');
  if (state.chunks.dirtyCount > 0) scope.push('chunkmap');
  if (state.metaslabs.dirtyCount > 0) scope.push('metaslabs');
  if (state.data.size > 0) scope.push('data');
  return scope;
}

/** Write the open group as `state.openTxg`. On any failure nothing is written and the error is typed. */
export async function writeTxg(
  db: IDBPDatabase<PoolDB>,
  state: PoolState,
  durability: Durability,
  hooks: CommitHooks | undefined,
  between?: () => void,
): Promise<number> {
  const txg = state.openTxg;
  let tx: IDBTransaction;
  try {
    tx = unwrap(db).transaction(commitScope(state), 'readwrite', { durability });
  } catch (e) {
    throw new CommitError(txg, e);
  }
  const completion = done(tx);
  const scope = tx.objectStoreNames;
  try {
    // A store outside the scope has no changes, and objectStore() would throw for it.
    if (scope.contains('data')) {
      const data = tx.objectStore('data');
      const scratch = new Scratch();
      // A list taken first: `between` runs other code of this thread (dom0's ring
      // service), and nothing it starts may change what this group writes.
      const records = [...state.data.values()];
      for (let i = 0; i < records.length; i++) {
        const d = records[i]!;
        if (d.parts) data.put(scratch.copyChecked(d as StagedData & { parts: StagedPart[] }), d.key);
        else data.delete(d.key);
        if (between && i % REQUESTS_BETWEEN_YIELDS === REQUESTS_BETWEEN_YIELDS - 1) between();
      }
    }
    if (scope.contains('chunkmap')) {
      const chunkmap = tx.objectStore('chunkmap');
      const pages = new Set<number>();
      for (const [id] of state.chunks.changes()) pages.add(pageOf(id));
      for (const page of pages) {
        const rec = encodePage(page, (id) => state.chunks.get(id));
        if (rec) chunkmap.put(rec);
        else chunkmap.delete(page);
      }
    }
    if (scope.contains('nodes')) {
      const nodes = tx.objectStore('nodes');
      for (const [id, n] of state.nodes.changes()) n ? nodes.put(n) : nodes.delete(id);
    }
    if (scope.contains('datasets')) {
      const datasets = tx.objectStore('datasets');
      for (const [id, d] of state.datasets.changes()) d ? datasets.put(d) : datasets.delete(id);
    }
    if (scope.contains('metaslabs')) {
      const metaslabs = tx.objectStore('metaslabs');
      for (const [id, m] of state.metaslabs.changes()) m ? metaslabs.put(m) : metaslabs.delete(id);
    }
    // Every commit writes the current format: a format-1 pool is upgraded by its first.
    tx.objectStore('meta').put({ ...state.sup, formatVersion: FORMAT_VERSION, txg }, 'super');
    hooks?.beforeComplete?.(tx, txg);
  } catch (e) {
    try {
      tx.abort();
    } catch {
      // already finished aborting
    }
    await completion.catch(() => undefined);
    throw isQuota(e) ? new PoolFullError(txg, e) : new CommitError(txg, e);
  }
  try {
    await completion;
  } catch (e) {
    throw isQuota(e) ? new PoolFullError(txg, e) : new CommitError(txg, e);
  }
  return txg;
}
