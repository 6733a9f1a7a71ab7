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
