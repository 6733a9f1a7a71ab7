// Runs in a plain dedicated worker of the SQLite comparison (bench/sqlite.mjs): one tenant
// as absurd-sql's users run it: the sql.js fork it needs (@jlongster/sql.js), absurd-sql's
// IndexedDB backend mounted at /sql, its own copy of the database written through that file
// system. absurd-sql reaches IndexedDB through a worker of its own that the page spawns
// for it (initBackend in sqlite-bench-page.ts).
import initSqlJs, { type SqlJsDatabase } from '@jlongster/sql.js';
import { SQLiteFS } from 'absurd-sql';
import IndexedDBBackend from 'absurd-sql/dist/indexeddb-backend';
import { expose } from 'comlink';
import { collectGarbage, countRows, instantiateWith, type QueryParams, type TenantApi } from './tenant-api';

let db: SqlJsDatabase | null = null;

const api: TenantApi = {
  async add(name, bytes, cacheSize, wasm) {
    const SQL = await initSqlJs(instantiateWith(wasm));
    const sqlFs = new SQLiteFS(SQL.FS, new IndexedDBBackend());
    SQL.register_for_idb(sqlFs);
    SQL.FS.mkdir('/sql');
    SQL.FS.mount(sqlFs, {}, '/sql');
    const path = `/sql/${name}`;
    const t0 = performance.now();
    const data = new Uint8Array(bytes);
    const stream = SQL.FS.open(path, 'w+');
    SQL.FS.write(stream, data, 0, data.byteLength, 0);
    SQL.FS.close(stream); // absurd-sql writes its buffered blocks to IndexedDB on close
    const copyMs = performance.now() - t0;
    db = new SQL.Database(path, { filename: true });
    db.exec(`PRAGMA cache_size=${cacheSize}`);
    return { copyMs };
  },
  async query(sql: string, params?: QueryParams): Promise<number> {
    if (!db) throw new Error('query before add');
    const stmt = db.prepare(sql);
    try {
      return countRows(stmt, params, true);
    } finally {
      stmt.free();
    }
  },
  settle: collectGarbage,
};
expose(api);
