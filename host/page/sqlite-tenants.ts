// Runs on the host page's main thread: SQLite databases as volumes, and SQL guests on
// clones of them (docs/sqlite.md).
//
//   await importDatabase(hv, 'shop', file);              // a .db file → volume 'shop' (block = page size)
//   await hv.pool.snapshot('shop', 'shop@base');         // an instant, consistent database snapshot
//   const t = await spawnSqlGuest(hv, { base: 'shop@base' });   // a tenant: an O(1) clone + a guest
//   await t.api.query('SELECT count(*) FROM orders WHERE total > ?', [100]);
//   const { db, journal } = await exportDatabase(hv, t.dataset); // what the sqlite3 CLI opens
import wasmUrl from '@journeyapps/wa-sqlite/dist/wa-sqlite.wasm?url';
import { guestModuleUrl } from './guest-runtime';
import type { GuestHandle, Hypervisor, SpawnOptions } from './hypervisor';
import type { SqlGuestApi } from '../../guest/workloads/sql-guest';
import { MIN_BLOCK_BYTES } from '../pool/tree-math';
import { InvalidArgumentError } from '../../shared/errors/pool-errors';
import { parseSqliteHeader, sqliteRegions, SqliteFormatError, SQLITE_HEADER_BYTES, volumeBlocksFor } from '../../shared/sqlite-layout';

export const SQL_GUEST_URL = guestModuleUrl('guest/workloads/sql-guest');

let compiled: Promise<WebAssembly.Module> | null = null;

/** wa-sqlite's WASM, compiled once per page: every SQL guest instantiates this one module. */
export function sqliteWasm(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compileStreaming(fetch(wasmUrl)).catch((err: unknown) => {
    compiled = null;
    throw err;
  });
  return compiled;
}

export interface ImportDatabaseOptions {
  group?: string;
  /** Room for the database to grow into, in bytes (default: 1.5 × its size plus 4 MiB). Unwritten space costs nothing. */
  capacityBytes?: number;
  /** Called after each commit of the import with bytes done and total (the volume's, holes included). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

const ZERO_RUN = new Uint8Array(1 << 20);

/**
 * Import a SQLite database file as a volume whose block size is the database's page size.
 * The volume holds the database region (the file, then room to grow) and the journal
 * region; only the file's bytes are written, the rest are holes.
 */
export async function importDatabase(hv: Hypervisor, name: string, source: Blob, opts: ImportDatabaseOptions = {}) {
  if (opts.capacityBytes !== undefined && !(Number.isFinite(opts.capacityBytes) && opts.capacityBytes > 0)) {
    throw new InvalidArgumentError(`capacityBytes must be a positive number of bytes, got ${opts.capacityBytes}`);
  }
  if (source.size === 0) {
    // SQLite itself opens a 0-byte file as a new, empty database; a volume needs a size.
    throw new SqliteFormatError(`the file is empty: for a new, empty database use createDatabaseVolume(hv, name, capacityBytes)`);
  }
  const first = new Uint8Array(await source.slice(0, SQLITE_HEADER_BYTES).arrayBuffer());
  const header = parseSqliteHeader(first);
  if (!header) throw new SqliteFormatError('the file is empty or all zeros: not a SQLite database');
  if (source.size < header.fileBytes) {
    throw new SqliteFormatError(`the header says ${header.fileBytes} bytes (${header.pageCount} pages of ${header.pageSize}) but the file has ${source.size}: truncated?`);
  }
  if (header.pageSize < MIN_BLOCK_BYTES) {
    // A page is one block, and the pool's blocks are 4 KiB to 1 MiB: say so in SQLite's terms.
    throw new SqliteFormatError(
      `the database's page size is ${header.pageSize} bytes; a database volume needs pages of at least ${MIN_BLOCK_BYTES} bytes ` +
        `(with the sqlite3 CLI: PRAGMA page_size=${MIN_BLOCK_BYTES}; VACUUM;)`,
    );
  }
  // A WAL-mode file (read/write versions 2 at bytes 18-19) makes SQLite look for WAL
  // support, which the volume's VFS does not give (docs/sqlite.md): every statement would
  // fail with "unable to open database file". A lone .db file is the whole database (a
  // -wal file beside it is not imported), so it is imported in rollback mode (versions 1),
  // which is what PRAGMA journal_mode=DELETE writes into the header.
  const wal = first[18] === 2 || first[19] === 2;
  if (wal) {
    first[18] = 1;
    first[19] = 1;
  }
  const capacity = Math.max(opts.capacityBytes ?? Math.ceil(header.fileBytes * 1.5) + (4 << 20), header.fileBytes);
  const blocks = volumeBlocksFor(capacity, header.pageSize);
  // Zeros up to the volume's size from one reused buffer: the import turns them into holes.
  const parts: BlobPart[] = wal ? [first, source.slice(SQLITE_HEADER_BYTES, header.fileBytes)] : [source.slice(0, header.fileBytes)];
  for (let left = blocks * header.pageSize - header.fileBytes; left > 0; left -= ZERO_RUN.length) {
    parts.push(left >= ZERO_RUN.length ? ZERO_RUN : ZERO_RUN.subarray(0, left));
  }
  const onProgress = opts.onProgress;
  return hv.pool.import(name, new Blob(parts), {
    blockSize: header.pageSize,
    ...(opts.group ? { group: opts.group } : {}),
    ...(onProgress ? { onProgress: (p: { bytesDone: number; bytesTotal: number }) => onProgress(p.bytesDone, p.bytesTotal) } : {}),
  });
}

/** A new, empty database volume of `capacityBytes` (SQLite creates the file on first write). */
export function createDatabaseVolume(hv: Hypervisor, name: string, capacityBytes: number, opts: { pageSize?: number; group?: string } = {}) {
  const pageSize = opts.pageSize ?? 4096;
  const blocks = volumeBlocksFor(capacityBytes, pageSize);
  return hv.pool.create(name, blocks * pageSize, { blockSize: pageSize, ...(opts.group ? { group: opts.group } : {}) });
}

export interface ExportedDatabase {
  /** The database file, as long as its header says. */
  db: Blob;
  /**
   * The rollback journal, when the volume holds a hot one (it was snapshotted or left
   * mid-transaction). Save it beside the database as `<name>-journal`: the sqlite3 CLI
   * rolls it back on open, as SQLite would here.
   */
  journal: Blob | null;
}

/** Export a database volume (or snapshot) as files the sqlite3 command line opens. */
export async function exportDatabase(hv: Hypervisor, dataset: string): Promise<ExportedDatabase> {
  const volume = await hv.pool.export(dataset);
  const header = parseSqliteHeader(new Uint8Array(await volume.slice(0, SQLITE_HEADER_BYTES).arrayBuffer()));
  const info = (await hv.pool.list()).find((d) => d.name === dataset);
  if (!info) throw new RangeError(`no dataset ${dataset}`);
  const r = sqliteRegions(info.blocks);
  const journalStart = r.journalFirst * info.blockSize;
  const first = new Uint8Array(await volume.slice(journalStart, journalStart + 1).arrayBuffer());
  return {
    db: volume.slice(0, header?.fileBytes ?? 0, 'application/vnd.sqlite3'),
    journal: first[0] !== 0 ? volume.slice(journalStart, volume.size) : null,
  };
}

export interface SqlTenantOptions extends Omit<SpawnOptions, 'module' | 'init'> {
  /** PRAGMA cache_size for the guest's connection (default −2000: 2000 KiB). */
  cacheSize?: number;
  /** Batch-atomic commits (default true): one atomic group per transaction, the journal in memory (guest/sqlite/database.ts). */
  batchAtomic?: boolean;
  /** Transactions up to this many bytes held in memory and committed whole (default 64 MiB; 0: the journaled way; guest/sqlite/database.ts). */
  holdBytes?: number;
}

/**
 * A tenant's private frames by default: a write transaction rewrites pages the tenant then
 * reads back, and a table's pages outgrow the 8 MiB other guests get (the benchmark's
 * `order_items`, 17 MiB, was re-read from the pool page by page). Held only as written.
 */
export const SQL_TENANT_PRIVATE_BYTES = 32 << 20;

/** A SQL guest on a clone of `base` (or on `dataset` as is): one tenant. */
export async function spawnSqlGuest(hv: Hypervisor, opts: SqlTenantOptions): Promise<GuestHandle<SqlGuestApi>> {
  const { cacheSize, batchAtomic, holdBytes, ...spawn } = opts;
  const wasm = await sqliteWasm();
  return hv.guests.spawn<SqlGuestApi>({
    privateBytes: SQL_TENANT_PRIVATE_BYTES,
    ...spawn,
    module: SQL_GUEST_URL,
    init: {
      sqliteWasm: wasm,
      ...(cacheSize !== undefined ? { cacheSize } : {}),
      ...(batchAtomic !== undefined ? { batchAtomic } : {}),
      ...(holdBytes !== undefined ? { holdBytes } : {}),
    },
  });
}
