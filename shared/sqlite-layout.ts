// Runs on both sides: where a SQLite database and its rollback journal live on a volume,
// and what SQLite's own file header says about the database. The page uses it to import
// and export `.db` files; the guest's VFS uses it to map files onto blocks.
//
// A database volume is two regions of one volume (docs/sqlite.md):
//
//   block 0 .. dbBlocks-1         the database file, byte for byte (page p at byte (p-1)·pageSize)
//   dbBlocks .. blocks-1          the rollback journal ("<db>-journal"), a persistent journal
//
// Both are in the same volume so that a pool snapshot catches the database and its journal
// at the same instant: a snapshot taken mid-transaction holds a hot journal, and the first
// connection on a clone of it rolls the transaction back, as SQLite does after a crash.
// The regions' split is a function of the volume's size, so nothing else needs storing.
// Unwritten blocks are holes in the pool: a large region costs nothing until written.

/** Bytes of SQLite's database header (https://www.sqlite.org/fileformat.html#the_database_header). */
export const SQLITE_HEADER_BYTES = 100;
const MAGIC = 'SQLite format 3\0';

/** Journal blocks per database block, as a fraction NUM/DEN of the volume. */
const JOURNAL_NUM = 17;
const JOURNAL_DEN = 32;

export interface SqliteRegions {
  /** Blocks of the database region, from block 0. */
  readonly dbBlocks: number;
  /** First block of the journal region. */
  readonly journalFirst: number;
  readonly journalBlocks: number;
}

/**
 * The split of a database volume. The journal region is a little larger than the database
 * region (17/32 of the volume): a rollback journal holds at most every page of the database
 * before the transaction, plus 8 bytes per page and a header per sector.
 */
export function sqliteRegions(blocks: number): SqliteRegions {
  if (!Number.isInteger(blocks) || blocks < 4) throw new RangeError(`a database volume needs at least 4 blocks, got ${blocks}`);
  const journalBlocks = Math.ceil((blocks * JOURNAL_NUM) / JOURNAL_DEN);
  const dbBlocks = blocks - journalBlocks;
  return { dbBlocks, journalFirst: dbBlocks, journalBlocks };
}

/** Volume blocks needed for a database region of at least `dbBytes`. */
export function volumeBlocksFor(dbBytes: number, blockBytes: number): number {
  const dbBlocks = Math.max(2, Math.ceil(dbBytes / blockBytes));
  let blocks = Math.ceil((dbBlocks * JOURNAL_DEN) / (JOURNAL_DEN - JOURNAL_NUM));
  while (sqliteRegions(blocks).dbBlocks < dbBlocks) blocks++;
  return blocks;
}

export interface SqliteHeader {
  readonly pageSize: number;
  /** Pages in the database, from the header ("in-header database size"). */
  readonly pageCount: number;
  /** Bytes of the database file the header describes: pageSize × pageCount. */
  readonly fileBytes: number;
}

/** A file that cannot be a database volume: not SQLite 3, damaged, or pages under 4 KiB. */
export class SqliteFormatError extends Error {
  override name = 'SqliteFormatError';
  readonly code = 'sqlite-format';
}

/**
 * Parse the first 100 bytes of a database file. Null for an all-zero header (a database
 * that was never written: SQLite treats a zero-length file the same way). Throws
 * `SqliteFormatError` for anything else that is not a SQLite 3 database whose in-header
 * size can be trusted (SQLite ≥ 3.7.0 keeps it valid; an older writer leaves the
 * version-valid-for number stale, and then only the file's length would say the size).
 */
export function parseSqliteHeader(bytes: Uint8Array): SqliteHeader | null {
  if (bytes.byteLength < SQLITE_HEADER_BYTES) throw new SqliteFormatError(`a SQLite header is ${SQLITE_HEADER_BYTES} bytes, got ${bytes.byteLength}`);
  if (bytes.subarray(0, SQLITE_HEADER_BYTES).every((b) => b === 0)) return null;
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) throw new SqliteFormatError('not a SQLite 3 database (the header string "SQLite format 3" is missing)');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, SQLITE_HEADER_BYTES);
  const raw = dv.getUint16(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw new SqliteFormatError(`invalid page size ${raw} in the SQLite header`);
  const changeCounter = dv.getUint32(24);
  const validFor = dv.getUint32(92);
  const pageCount = dv.getUint32(28);
  if (changeCounter !== validFor || pageCount === 0) {
    throw new SqliteFormatError('the header\'s database size is not valid (written by SQLite before 3.7.0?): run VACUUM with a current sqlite3 first');
  }
  return { pageSize, pageCount, fileBytes: pageSize * pageCount };
}
