// Guest module (runs in a hardened guest worker, loaded by guest/bootstrap.ts): a SQLite
// tenant. Opens the database on its block device (its own copy-on-write clone of a base
// database) and offers SQL to the host as a comlink API on `ctx.init.control`.
//
// ctx.init: { grant, control, sqliteWasm: WebAssembly.Module, cacheSize?: number, batchAtomic?: boolean, holdBytes?: number }
import { expose } from 'comlink';
import { openBlockDevice, type BlockDeviceStats } from '../block-device';
import type { GuestContext } from '../../shared/boot-protocol';
import type { DomainGrant } from '../../shared/grant';
import type { BlockVfsStats } from '../sqlite/block-vfs';
import { SqlDatabase, type QueryOptions, type QueryResult, type SqlParams } from '../sqlite/database';

export type { QueryOptions, QueryResult, SqlParams, SqlValue } from '../sqlite/database';

export interface SqlGuestStats {
  device: BlockDeviceStats;
  vfs: BlockVfsStats;
}

export interface SqlGuestApi {
  /** Rows of the last statement of `sql` that returned rows; `params` bound to each statement that takes them. */
  query(sql: string, params?: SqlParams, opts?: QueryOptions): Promise<QueryResult>;
  /** One statement for its effect: rows changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
  /** `PRAGMA integrity_check`: 'ok' or the problems. */
  integrityCheck(): Promise<string>;
  /** True when no transaction is open. */
  autocommit(): boolean;
  stats(): SqlGuestStats;
  close(): Promise<void>;
}

interface SqlGuestInit {
  grant: DomainGrant;
  control: MessagePort;
  sqliteWasm: WebAssembly.Module;
  cacheSize?: number;
  batchAtomic?: boolean;
  holdBytes?: number;
}

export default async function main(ctx: GuestContext): Promise<void> {
  const init = ctx.init as SqlGuestInit;
  const dev = openBlockDevice(init.grant);
  // Expose first, open lazily: a failure to open reaches the caller of the first query as
  // an error, instead of a guest that never answers.
  let opened: Promise<SqlDatabase> | null = null;
  const db = (): Promise<SqlDatabase> =>
    (opened ??= SqlDatabase.open(dev, {
      wasm: init.sqliteWasm,
      ...(init.cacheSize !== undefined ? { cacheSize: init.cacheSize } : {}),
      ...(init.batchAtomic !== undefined ? { batchAtomic: init.batchAtomic } : {}),
      ...(init.holdBytes !== undefined ? { holdBytes: init.holdBytes } : {}),
    }));
  let current: SqlDatabase | null = null;
  void db().then(
    (d) => (current = d),
    () => undefined,
  );
  const api: SqlGuestApi = {
    query: async (sql, params, opts) => (await db()).query(sql, params, opts),
    run: async (sql, params) => (await db()).run(sql, params),
    integrityCheck: async () => (await db()).integrityCheck(),
    autocommit: () => current?.autocommit ?? true,
    stats: () => ({ device: dev.stats(), vfs: current?.stats() ?? emptyVfsStats() }),
    close: async () => (await db()).close(),
  };
  expose(api, init.control);
}

function emptyVfsStats(): BlockVfsStats {
  const file = { blockReads: 0, dirtyHits: 0, blocksWritten: 0, readModifyWrites: 0, syncs: 0, atomicCommits: 0, atomicFallbacks: 0 };
  return { db: { ...file }, journal: { ...file }, bytesIntoHeap: 0, busy: 0, journalToVolume: 0 };
}
