// Runs on the console's main thread: the SQL guests' database. The demo ships a sample
// "shop" database (scripts/sqlite-sample-plugin.ts builds it with the reference sqlite3 and
// serves it at /sample/shop.db); the first SQL guest imports it once into the pool as
// volume `shop` in trust group `sql` and snapshots it as `shop@base`, the base every SQL
// guest clones. A .db file of your own imports the same way (importSqlDatabase).
import type { Hypervisor } from '../page/hypervisor';
import { importDatabase } from '../page/sqlite-tenants';
import { parseSqliteHeader, SQLITE_HEADER_BYTES } from '../../shared/sqlite-layout';

export const SQL_SAMPLE = 'shop';
export const SQL_SAMPLE_BASE = 'shop@base';
/** The trust group of 4 KiB-page databases: their own arena of small frames. */
export const SQL_GROUP = 'sql';
/** Frames of the `sql` arena: 12,288 × 4 KiB = 48 MiB, so the 33 MiB sample stays resident after one scan (16 MiB made a full scan refill pages 19,000 times). */
export const SQL_GROUP_FRAMES = 12_288;
/** Pages one SQL guest may map at once (dom0 lowers it to a fair share when others need frames). */
export const SQL_QUOTA = 12_288;
export const SAMPLE_URL = `${import.meta.env.BASE_URL}sample/shop.db`;

/** The sample database could not be fetched: the page says how to use a .db of your own. */
export class SampleMissingError extends Error {
  override readonly name = 'SampleMissingError';
}

export type Progress = (bytesDone: number, bytesTotal: number) => void;

/** The trust group of a database with `pageSize`-byte pages: 4 KiB pages share `sql`'s arena. */
export function sqlGroupFor(pageSize: number): string {
  return pageSize === 4096 ? SQL_GROUP : `${SQL_GROUP}-${pageSize}`;
}

/** Whether a dataset of this trust group holds a SQLite database imported here. */
export function isSqlGroup(group: string): boolean {
  return group === SQL_GROUP || group.startsWith(`${SQL_GROUP}-`);
}

/** Whether `file` starts with SQLite's header (its first 100 bytes name the format and page size). */
export async function isSqliteFile(file: Blob): Promise<boolean> {
  const head = new Uint8Array(await file.slice(0, SQLITE_HEADER_BYTES).arrayBuffer());
  try {
    return parseSqliteHeader(head) !== null;
  } catch {
    return false;
  }
}

/**
 * Import a SQLite database as volume `name` in its page size's SQL group and snapshot it as
 * `<name>@base`. A volume left by an import that died half-way is replaced.
 */
export async function importSqlDatabase(hv: Hypervisor, name: string, db: Blob, onProgress?: Progress): Promise<string> {
  const head = parseSqliteHeader(new Uint8Array(await db.slice(0, SQLITE_HEADER_BYTES).arrayBuffer()));
  const group = sqlGroupFor(head?.pageSize ?? 4096);
  const base = `${name}@base`;
  if ((await hv.pool.list()).some((d) => d.name === name)) await hv.pool.destroy(name);
  await importDatabase(hv, name, db, { group, ...(onProgress ? { onProgress } : {}) });
  await hv.pool.snapshot(name, base);
  return base;
}

/** `shop@base`, fetching and importing the sample first if the pool has no such snapshot. */
export async function ensureSampleDatabase(hv: Hypervisor, onProgress: Progress, say: (text: string) => void): Promise<string> {
  if ((await hv.pool.list()).some((d) => d.name === SQL_SAMPLE_BASE)) return SQL_SAMPLE_BASE;
  say('Fetching the sample database…');
  let res: Response;
  try {
    res = await fetch(SAMPLE_URL);
  } catch (err: unknown) {
    throw new SampleMissingError(`the sample database could not be fetched (${err instanceof Error ? err.message : String(err)}). ${OWN_DB_HINT}`);
  }
  if (!res.ok) {
    const why = (await res.text().catch(() => '')).slice(0, 200);
    throw new SampleMissingError(`no sample database at ${SAMPLE_URL} (${res.status}${why ? `: ${why}` : ''}). ${OWN_DB_HINT}`);
  }
  const blob = await res.blob();
  if (!(await isSqliteFile(blob))) throw new SampleMissingError(`${SAMPLE_URL} is not a SQLite database. ${OWN_DB_HINT}`);
  say(`Importing the sample database (${(blob.size / 1048576).toFixed(1)} MiB) as volume ${SQL_SAMPLE}, once…`);
  return importSqlDatabase(hv, SQL_SAMPLE, blob, onProgress);
}

export const OWN_DB_HINT =
  'Use a database of your own: import a .db file with “Import a file as a volume”, pick its snapshot as Base snapshot, and spawn SQL guests on it.';
