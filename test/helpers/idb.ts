// Runs in the browser project's page. Deleting a test's IndexedDB databases: resolves on
// success, error or blocked alike, since a test's cleanup must not hang on a connection it
// could not close.
export function deleteDatabase(name: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const q = indexedDB.deleteDatabase(name);
    q.onsuccess = q.onerror = q.onblocked = () => resolve();
  });
}
