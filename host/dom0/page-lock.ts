// Runs in the dom0 driver worker. One lock per page (dataset + LBA), FIFO. The mirror
// routine holds a page's lock while it copies the page out and until the remote fault
// domain has it; a WRITE to that page waits for the lock before it stages (seed 002,
// US 7,774,645: "locks the shared data, copies it, releases the lock"). Why it matters
// here: the routine clears the dirty bit when the remote acknowledges; without the lock a
// write committed between the copy and the clear would leave its page marked clean and
// never be mirrored.
export class PageLocks {
  private readonly held = new Map<string, (() => void)[]>();
  /** Acquisitions that had to wait. */
  waits = 0;

  /** Take the lock: undefined if it was free (no await needed), else a promise for our turn. */
  acquire(key: string): Promise<void> | undefined {
    const queue = this.held.get(key);
    if (!queue) {
      this.held.set(key, []);
      return undefined;
    }
    this.waits++;
    return new Promise<void>((resolve) => queue.push(resolve));
  }

  /** Hand the lock to the next waiter, or free it. */
  release(key: string): void {
    const queue = this.held.get(key);
    if (!queue) throw new Error(`page lock ${key} released but not held`);
    const next = queue.shift();
    if (next) next();
    else this.held.delete(key);
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }
}
