// Runs in the browser project's page. Deleting a test's IndexedDB databases: resolves on
// success, error or blocked alike, since a test's cleanup must not hang on a connection it
// could not close.
export function deleteDatabase(name: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const q = indexedDB.deleteDatabase(name);
    q.onsuccess = q.onerror = q.onblocked = () => resolve();
  });
}

/**
 * Put `bytes` in place of a chunk's stored bytes, behind the pool's back: inside the data
 * record (the extent, format 4) that holds it, at the chunk's place in it.
 */
export async function overwriteChunk(db: IDBDatabase, ref: { metaslab: number; offset: number; extent: number }, bytes: Uint8Array): Promise<void> {
  const key = [ref.metaslab, ref.extent];
  const rec = await new Promise<unknown>((resolve, reject) => {
    const r = db.transaction('data', 'readonly').objectStore('data').get(key);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  if (!(rec instanceof ArrayBuffer)) throw new Error(`no data record at ${key.join(':')}`);
  const copy = new Uint8Array(rec.slice(0));
  copy.set(bytes, ref.offset - ref.extent);
  await new Promise<void>((resolve, reject) => {
    const tx = db.transaction('data', 'readwrite');
    tx.objectStore('data').put(copy.buffer, key);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

/** A connection to database `name` at whatever version it has, behind the pool's back. */
export function rawDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}
