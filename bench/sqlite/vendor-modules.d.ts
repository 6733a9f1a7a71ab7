// Types for the JavaScript-only packages the SQLite comparison runs (bench/sqlite/*): only
// what the benchmark calls. absurd-sql 0.0.54 and its sql.js fork ship no declarations.

declare module '@jlongster/sql.js' {
  export interface SqlJsStatement {
    bind(values: Record<string, string | number>): boolean;
    step(): boolean;
    free(): boolean;
  }
  export interface SqlJsDatabase {
    exec(sql: string): unknown;
    prepare(sql: string): SqlJsStatement;
  }
  export interface SqlJsFs {
    mkdir(path: string): void;
    mount(fs: unknown, opts: object, path: string): void;
    open(path: string, flags: string): unknown;
    write(stream: unknown, data: Uint8Array, offset: number, length: number, position: number): number;
    close(stream: unknown): void;
  }
  export interface SqlJsStatic {
    FS: SqlJsFs;
    Database: new (path: string, opts: { filename: true }) => SqlJsDatabase;
    register_for_idb(fs: unknown): void;
  }
  export default function initSqlJs(config: {
    instantiateWasm?(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void): object;
    locateFile?(file: string): string;
  }): Promise<SqlJsStatic>;
}

declare module 'absurd-sql' {
  export class SQLiteFS {
    constructor(fs: unknown, backend: unknown);
  }
}

declare module 'absurd-sql/dist/indexeddb-backend' {
  export default class IndexedDBBackend {}
}

declare module 'absurd-sql/dist/indexeddb-main-thread' {
  /** Lets `worker` spawn absurd-sql's IndexedDB worker through the page. */
  export function initBackend(worker: Worker): void;
}
