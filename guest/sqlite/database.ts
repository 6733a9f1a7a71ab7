// Runs in a guest worker: SQLite on the guest's block device, as a small API.
//
//   const db = await SqlDatabase.open(dev, { wasm });          // wasm: a compiled WebAssembly.Module
//   await db.run('INSERT INTO t(a, b) VALUES (?, ?)', [1, 'x']);
//   const { columns, rows } = await db.query('SELECT * FROM t WHERE a > ?', [0]);
//
// The engine is wa-sqlite's synchronous build (docs/sqlite.md says why). A guest cannot
// fetch (harden.ts removes it), so the host compiles the WASM once and hands every guest
// the same WebAssembly.Module: each guest instantiates it with its own heap.
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import * as SQLite from '@journeyapps/wa-sqlite';
import type { BlockDevice } from '../block-device';
import { BlockVfs, HOLD_TRANSACTION_BYTES, type BlockVfsStats, type WasmHeap } from './block-vfs';

/** A value SQLite can store, as it crosses to and from the guest. */
export type SqlValue = number | bigint | string | Uint8Array | null;
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export interface QueryResult {
  columns: string[];
  rows: SqlValue[][];
  /** Rows the statement returned, when more than `maxRows` (only the first `maxRows` are in `rows`). */
  total?: number;
}

export interface QueryOptions {
  /** Keep at most this many rows (the statement still runs to its end and counts the rest). */
  maxRows?: number;
}

export interface OpenOptions {
  /** The compiled wa-sqlite module (wa-sqlite.wasm). */
  wasm: WebAssembly.Module;
  /** PRAGMA cache_size (pages if > 0, KiB if < 0). Default SQLite's −2000 (2000 KiB). */
  cacheSize?: number;
  /**
   * Commit each transaction as one atomic group of blocks, its rollback journal kept in
   * memory (SQLite's batch-atomic writes; default true). False: every transaction writes
   * and syncs the journal on the volume first, as before 2026-12-01 (for comparison).
   */
  batchAtomic?: boolean;
  /**
   * Hold a transaction of up to this many bytes (its changed pages and its rollback
   * journal) in guest memory and commit it as one atomic group when SQLite syncs the
   * database, so no journal block reaches the volume (default 64 MiB); past it, or refused
   * by dom0, the journal goes to the volume and the transaction commits the journaled way.
   * 0: every transaction the journaled way.
   */
  holdBytes?: number;
}

export class SqlError extends Error {
  override name = 'SqlError';
  constructor(
    message: string,
    /** SQLite's result code. */
    readonly code: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

let vfsSeq = 0;

export class SqlDatabase {
  private closed = false;

  private constructor(
    private readonly sqlite3: SQLiteAPI,
    private readonly handle: number,
    readonly vfs: BlockVfs,
  ) {}

  static async open(dev: BlockDevice, opts: OpenOptions): Promise<SqlDatabase> {
    if (dev.transport !== 'zero-copy') {
      throw new SqlError('SQLite on the block device needs the zero-copy transport: its VFS reads and writes synchronously (readSync/writeSync)', SQLite.SQLITE_CANTOPEN);
    }
    const module = (await SQLiteESMFactory({
      instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
        void WebAssembly.instantiate(opts.wasm, imports).then((instance) => done(instance, opts.wasm));
        return {};
      },
    })) as WasmHeap;
    const sqlite3 = SQLite.Factory(module);
    if (opts.holdBytes !== undefined && !(Number.isFinite(opts.holdBytes) && opts.holdBytes >= 0)) {
      throw new SqlError(`holdBytes must be a number of bytes ≥ 0, got ${opts.holdBytes}`, SQLite.SQLITE_MISUSE);
    }
    const vfs = new BlockVfs(`tabvisor-block-${vfsSeq++}`, module, dev, 'main.db', opts.batchAtomic ?? true, opts.holdBytes ?? HOLD_TRANSACTION_BYTES);
    sqlite3.vfs_register(vfs, false);
    let handle: number;
    try {
      handle = await sqlite3.open_v2(vfs.dbName, SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE, vfs.name);
    } catch (err) {
      throw wrap(err, vfs);
    }
    const db = new SqlDatabase(sqlite3, handle, vfs);
    // A rollback journal in the volume's journal region (WAL would need a third region
    // and shared memory). FULL: the journal is synced before its header says "hot".
    await db.exec(`PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA cache_size=${Math.trunc(opts.cacheSize ?? -2000)}`);
    return db;
  }

  private check(): void {
    if (this.closed) throw new SqlError('the database is closed', SQLite.SQLITE_MISUSE);
  }

  /** Run every statement of `sql` (no parameters); returns the rows of the last one that has any. */
  async exec(sql: string): Promise<QueryResult> {
    return this.query(sql);
  }

  /**
   * Run `sql` with `params` bound (by position, or by name with their `:`/`@`/`$` prefix)
   * to each statement that takes parameters; rows of the last statement that returned any.
   */
  async query(sql: string, params?: SqlParams, opts: QueryOptions = {}): Promise<QueryResult> {
    this.check();
    const max = opts.maxRows ?? Infinity;
    let result: QueryResult = { columns: [], rows: [] };
    try {
      for await (const stmt of this.sqlite3.statements(this.handle, sql)) {
        if (params && this.sqlite3.bind_parameter_count(stmt) > 0) {
          this.sqlite3.bind_collection(stmt, params as Parameters<SQLiteAPI['bind_collection']>[1]);
        }
        const columns = this.sqlite3.column_names(stmt);
        const rows: SqlValue[][] = [];
        let total = 0;
        while ((await this.sqlite3.step(stmt)) === SQLite.SQLITE_ROW) {
          // A blob column is a view of the WASM heap: copy it before SQLite reuses it.
          if (total++ < max) rows.push(this.sqlite3.row(stmt).map((v) => (v instanceof Uint8Array ? v.slice() : Array.isArray(v) ? Uint8Array.from(v) : v)));
        }
        if (columns.length > 0) result = total > rows.length ? { columns, rows, total } : { columns, rows };
      }
    } catch (err) {
      throw wrap(err, this.vfs);
    }
    return result;
  }

  /** Run one statement for its effect; returns the number of rows it changed. */
  async run(sql: string, params?: SqlParams): Promise<number> {
    await this.query(sql, params);
    return this.sqlite3.changes(this.handle);
  }

  /** `PRAGMA integrity_check`: 'ok', or SQLite's list of problems joined by newlines. */
  async integrityCheck(): Promise<string> {
    const r = await this.query('PRAGMA integrity_check');
    return r.rows.map((row) => String(row[0])).join('\n');
  }

  /** True outside a transaction (SQLite's autocommit mode). */
  get autocommit(): boolean {
    return this.sqlite3.get_autocommit(this.handle) !== 0;
  }

  stats(): BlockVfsStats {
    return this.vfs.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sqlite3.close(this.handle);
  }
}

/** wa-sqlite's SQLiteError with the VFS's own reason attached, when it had one. */
function wrap(err: unknown, vfs: BlockVfs): Error {
  const code = typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : SQLite.SQLITE_ERROR;
  const why = vfs.lastError ? ` (${vfs.lastError.message})` : '';
  vfs.lastError = null;
  return new SqlError(`${err instanceof Error ? err.message : String(err)}${why}`, code, { cause: err });
}
