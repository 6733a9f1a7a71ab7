// Runs in a plain dedicated worker of the SQLite comparison (bench/sqlite.mjs): one tenant
// as wa-sqlite's users run it, with its own copy of the database (the worker's name):
//   opfs-coop  OPFSCoopSyncVFS on the synchronous build; the copy is one OPFS file written
//              through a sync access handle.
//   idb-batch  IDBBatchAtomicVFS on the Asyncify build; the copy is written page by page
//              through the VFS in one atomic batch (the way wa-sqlite's own file-import demo
//              does it), so the blocks are laid out as SQLite's writes would lay them out.
// Same @journeyapps/wa-sqlite release as the Tabvisor tenants, same queries, same cache_size.
import * as SQLite from '@journeyapps/wa-sqlite';
import { expose } from 'comlink';
import { collectGarbage, instantiateWith, type QueryParams, type TenantApi } from './tenant-api';

// The worker's name is the VFS to run (set by the page: new Worker(url, { name })).
const vfsKind = self.name;

interface SyncAccess {
  truncate(n: number): void;
  write(b: Uint8Array, o: { at: number }): number;
  flush(): void;
  close(): void;
}

/** The JavaScript-side methods of a wa-sqlite FacadeVFS that an import needs. */
interface FacadeMethods {
  jOpen(name: string, fileId: number, flags: number, pOutFlags: DataView): number | Promise<number>;
  jLock(fileId: number, lockType: number): number | Promise<number>;
  jUnlock(fileId: number, lockType: number): number | Promise<number>;
  jWrite(fileId: number, data: Uint8Array, offset: number): number | Promise<number>;
  jFileControl(fileId: number, op: number, arg: DataView): number | Promise<number>;
  jSync(fileId: number, flags: number): number | Promise<number>;
  jClose(fileId: number): number | Promise<number>;
}

async function check(what: string, rc: number | Promise<number>): Promise<void> {
  const code = await rc;
  if (code !== SQLite.SQLITE_OK) throw new Error(`${what} answered SQLite code ${code}`);
}

/** Write the database file page by page through `vfs`, as one write transaction. */
async function importThroughVfs(vfs: FacadeMethods, name: string, bytes: Uint8Array): Promise<void> {
  const pageSize = ((field) => (field === 1 ? 65536 : field))(new DataView(bytes.buffer, bytes.byteOffset).getUint16(16));
  const fileId = 0x7e57;
  const none = new DataView(new ArrayBuffer(4));
  await check('xOpen', vfs.jOpen(name, fileId, SQLite.SQLITE_OPEN_MAIN_DB | SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE, none));
  try {
    await check('xLock SHARED', vfs.jLock(fileId, SQLite.SQLITE_LOCK_SHARED));
    await check('xLock RESERVED', vfs.jLock(fileId, SQLite.SQLITE_LOCK_RESERVED));
    await check('xLock EXCLUSIVE', vfs.jLock(fileId, SQLite.SQLITE_LOCK_EXCLUSIVE));
    await vfs.jFileControl(fileId, SQLite.SQLITE_FCNTL_BEGIN_ATOMIC_WRITE, none);
    for (let at = 0; at < bytes.byteLength; at += pageSize) await check('xWrite', vfs.jWrite(fileId, bytes.subarray(at, at + pageSize), at));
    await vfs.jFileControl(fileId, SQLite.SQLITE_FCNTL_COMMIT_ATOMIC_WRITE, none);
    await vfs.jFileControl(fileId, SQLite.SQLITE_FCNTL_SYNC, none);
    await check('xSync', vfs.jSync(fileId, SQLite.SQLITE_SYNC_NORMAL));
    await check('xUnlock', vfs.jUnlock(fileId, SQLite.SQLITE_LOCK_NONE));
  } finally {
    await vfs.jClose(fileId);
  }
}

/** The file into OPFS through a sync access handle, as an app importing a .db does. */
async function importIntoOpfs(name: string, bytes: Uint8Array): Promise<void> {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(name, { create: true });
  // Worker-only API, absent from TypeScript's DOM lib.
  const access = await (handle as unknown as { createSyncAccessHandle(): Promise<SyncAccess> }).createSyncAccessHandle();
  access.truncate(0);
  access.write(bytes, { at: 0 });
  access.flush();
  access.close();
}

let sqlite3: SQLiteAPI | null = null;
let db = 0;

const api: TenantApi = {
  async add(name, bytes, cacheSize, wasm) {
    let data: Uint8Array | null = new Uint8Array(bytes);
    let copyMs: number;
    if (vfsKind === 'opfs-coop') {
      const t0 = performance.now();
      await importIntoOpfs(name, data);
      copyMs = performance.now() - t0;
      data = null;
      const { default: factory } = await import('@journeyapps/wa-sqlite/dist/wa-sqlite.mjs');
      const module: unknown = await factory(instantiateWith(wasm));
      sqlite3 = SQLite.Factory(module);
      // @ts-expect-error -- an example VFS of wa-sqlite, shipped without type declarations
      const { OPFSCoopSyncVFS } = await import('@journeyapps/wa-sqlite/src/examples/OPFSCoopSyncVFS.js');
      sqlite3.vfs_register((await OPFSCoopSyncVFS.create(`opfs-${name}`, module)) as SQLiteVFS, true);
    } else if (vfsKind === 'idb-batch') {
      const { default: factory } = await import('@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs');
      const module: unknown = await factory(instantiateWith(wasm));
      sqlite3 = SQLite.Factory(module);
      const { IDBBatchAtomicVFS } = await import('@journeyapps/wa-sqlite/src/examples/IDBBatchAtomicVFS.js');
      // The shipped declarations describe an older version of this VFS (no create()).
      const create = (IDBBatchAtomicVFS as unknown as { create(n: string, m: unknown): Promise<SQLiteVFS & FacadeMethods> }).create;
      const vfs = await create.call(IDBBatchAtomicVFS, `idb-${name}`, module);
      const t0 = performance.now();
      await importThroughVfs(vfs, name, data);
      copyMs = performance.now() - t0;
      data = null;
      sqlite3.vfs_register(vfs, true);
    } else throw new Error(`wa-sqlite tenant: unknown vfs ${String(vfsKind)}`);
    db = await sqlite3.open_v2(name);
    await sqlite3.exec(db, `PRAGMA cache_size=${cacheSize}`);
    return { copyMs };
  },
  async query(sql: string, params?: QueryParams): Promise<number> {
    const s = sqlite3;
    if (!s) throw new Error('query before add');
    let rows = 0;
    for await (const stmt of s.statements(db, sql)) {
      if (params && s.bind_parameter_count(stmt) > 0) s.bind_collection(stmt, params);
      while ((await s.step(stmt)) === SQLite.SQLITE_ROW) rows++;
    }
    return rows;
  },
  settle: collectGarbage,
};
expose(api);
