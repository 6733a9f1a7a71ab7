// Runs wherever the pool runs. A FIFO queue for the pool's mutating steps: staging and
// commit must not interleave (a commit iterates the overlay across awaits), and writes
// must stage in call order even though their hashing runs concurrently.

export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(step: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(step, step);
    // The queue continues whether or not this step failed; the caller sees the failure.
    this.tail = next.catch(() => undefined);
    return next;
  }
}
