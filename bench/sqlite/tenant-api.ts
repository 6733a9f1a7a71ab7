// Imported by the SQLite comparison's page and its tenant workers (bench/sqlite.mjs): what
// a tenant of a layer other than Tabvisor answers, whatever SQLite build and VFS it runs.

export type QueryParams = Record<string, string | number>;

export interface TenantAddResult {
  /** ms of the storage step alone: copying the database into the tenant's own storage. */
  copyMs: number;
}

export interface TenantApi {
  /**
   * Copy `bytes` (the database, transferred) into this tenant's own storage as `name`, then
   * open it with `PRAGMA cache_size=<cacheSize>`. `wasm` is the layer's SQLite build,
   * compiled once by the page.
   */
  add(name: string, bytes: ArrayBuffer, cacheSize: number, wasm: WebAssembly.Module): Promise<TenantAddResult>;
  /** Run one statement with named parameters; the number of rows it returned. */
  query(sql: string, params?: QueryParams): Promise<number>;
  /** A full garbage collection (the browser runs with --expose-gc), before memory is measured. */
  settle(): void;
}

/** The garbage collector exposed by `--js-flags=--expose-gc` (scripts/chromium.mjs). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Emscripten's hook to instantiate the page's compiled module instead of fetching the WASM again. */
export function instantiateWith(wasm: WebAssembly.Module) {
  return {
    instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void): object {
      void WebAssembly.instantiate(wasm, imports).then((i) => done(i, wasm));
      return {};
    },
  };
}

/** Bind `params` (when the statement takes any) and step a prepared statement to its end; the rows it gave. */
export function countRows(stmt: { bind(p: QueryParams): unknown; step(): boolean }, params: QueryParams | undefined, takesParams: boolean): number {
  if (params && takesParams) stmt.bind(params);
  let rows = 0;
  while (stmt.step()) rows++;
  return rows;
}
