// Runs in a plain dedicated worker of the SQLite comparison (bench/sqlite.mjs): one tenant
// as wa-sqlite's users run it on OPFS — its own copy of the database in an OPFS file,
// OPFSCoopSyncVFS, the same wa-sqlite build and queries as the Tabvisor tenants.
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import * as SQLite from '@journeyapps/wa-sqlite';
// @ts-expect-error -- an example VFS of wa-sqlite, shipped without type declarations
import { OPFSCoopSyncVFS } from '@journeyapps/wa-sqlite/src/examples/OPFSCoopSyncVFS.js';
import { expose } from 'comlink';

interface SyncAccess {
  truncate(n: number): void;
  write(b: Uint8Array, o: { at: number }): number;
  flush(): void;
  close(): void;
}

let sqlite3: SQLiteAPI | null = null;
let db = 0;

const api = {
  /** Copy `bytes` into OPFS as `name` (the tenant's own database) and open it. */
  async add(name: string, bytes: ArrayBuffer, cacheSize: number, wasm: WebAssembly.Module): Promise<void> {
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle(name, { create: true });
    // Worker-only API, absent from TypeScript's DOM lib.
    const access = await (handle as unknown as { createSyncAccessHandle(): Promise<SyncAccess> }).createSyncAccessHandle();
    access.truncate(0);
    access.write(new Uint8Array(bytes), { at: 0 });
    access.flush();
    access.close();
    const module = await SQLiteESMFactory({
      instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
        void WebAssembly.instantiate(wasm, imports).then((i) => done(i, wasm));
        return {};
      },
    });
    sqlite3 = SQLite.Factory(module);
    const vfs = (await OPFSCoopSyncVFS.create(`opfs-${name}`, module)) as SQLiteVFS;
    sqlite3.vfs_register(vfs, true);
    db = await sqlite3.open_v2(name);
    await sqlite3.exec(db, `PRAGMA cache_size=${cacheSize}`);
  },
  async query(sql: string, params?: Record<string, string | number>): Promise<number> {
    const s = sqlite3!;
    let rows = 0;
    for await (const stmt of s.statements(db, sql)) {
      if (params && s.bind_parameter_count(stmt) > 0) s.bind_collection(stmt, params);
      while ((await s.step(stmt)) === SQLite.SQLITE_ROW) rows++;
    }
    return rows;
  },
};
export type OpfsTenantApi = typeof api;
expose(api);
