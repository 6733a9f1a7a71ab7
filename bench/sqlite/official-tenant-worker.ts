// Runs in a plain dedicated worker of the SQLite comparison (bench/sqlite.mjs): one tenant
// as users of the official SQLite WASM build (@sqlite.org/sqlite-wasm) run it, with its own
// copy of the database (the worker's name):
//   opfs     the "opfs" VFS (SharedArrayBuffer + Atomics, plus the build's own async proxy
//            worker); the copy by OpfsDb.importDb.
//   sahpool  the "opfs-sahpool" VFS (a pool of sync access handles, in a directory of its
//            own per tenant); the copy by the pool's importDb.
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import type { Database, Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { expose } from 'comlink';
import { collectGarbage, countRows, instantiateWith, type QueryParams, type TenantApi } from './tenant-api';

// The worker's name is the VFS to run (set by the page: new Worker(url, { name })).
const vfsKind = self.name;

/** The declared init takes no arguments; the Emscripten module options still pass through. */
type InitWithOptions = (opts: {
  instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void): object;
  print?: (...a: unknown[]) => void;
}) => Promise<Sqlite3Static>;

let db: Database | null = null;

const api: TenantApi = {
  async add(name, bytes, cacheSize, wasm) {
    const sqlite3 = await (sqlite3InitModule as unknown as InitWithOptions)({
      ...instantiateWith(wasm),
      // The build logs its version and each VFS it installs; the benchmark reads no console.
      print: () => {},
    });
    let data: Uint8Array | null = new Uint8Array(bytes);
    let copyMs: number;
    if (vfsKind === 'opfs') {
      const OpfsDb = sqlite3.oo1.OpfsDb;
      if (!OpfsDb) throw new Error('the official build did not install its "opfs" VFS here (it needs a worker, SharedArrayBuffer and OPFS)');
      const t0 = performance.now();
      await OpfsDb.importDb(name, data);
      copyMs = performance.now() - t0;
      data = null;
      db = new OpfsDb(name);
    } else if (vfsKind === 'sahpool') {
      const pool = await sqlite3.installOpfsSAHPoolVfs({ name: `sahpool-${name}`, directory: `.sahpool-${name}` });
      const t0 = performance.now();
      await pool.importDb(`/${name}`, data);
      copyMs = performance.now() - t0;
      data = null;
      db = new pool.OpfsSAHPoolDb(`/${name}`);
    } else throw new Error(`official tenant: unknown vfs ${String(vfsKind)}`);
    db.exec(`PRAGMA cache_size=${cacheSize}`);
    return { copyMs };
  },
  async query(sql: string, params?: QueryParams): Promise<number> {
    if (!db) throw new Error('query before add');
    const stmt = db.prepare(sql);
    try {
      return countRows(stmt, params, stmt.parameterCount > 0);
    } finally {
      stmt.finalize();
    }
  },
  settle: collectGarbage,
};
expose(api);
