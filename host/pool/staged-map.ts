// Runs wherever the pool runs (pure, no IndexedDB). A map with a committed base and a
// staged overlay. The pool keeps every metadata table this way: mutations of the open
// transaction group go to the overlay, a successful commit folds it into the base, a
// failed commit drops it — so memory is back at the last commit without undo logic.
// Records are treated as immutable once in the base; `mut` copies on first touch.

const DELETED = Symbol('deleted');

export class StagedMap<K, V> {
  private readonly base = new Map<K, V>();
  private readonly dirty = new Map<K, V | typeof DELETED>();

  /** Fill the committed base (used when loading the pool). */
  load(key: K, value: V): void {
    this.base.set(key, value);
  }

  get(key: K): V | undefined {
    const d = this.dirty.get(key);
    if (d === DELETED) return undefined;
    return d !== undefined ? d : this.base.get(key);
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V): void {
    this.dirty.set(key, value);
  }

  delete(key: K): void {
    this.dirty.set(key, DELETED);
  }

  /**
   * The staged copy of `key`, made with `copy` from the committed record on first touch,
   * so changes never leak into the base before a commit succeeds.
   */
  mut(key: K, copy: (v: V) => V): V | undefined {
    const d = this.dirty.get(key);
    if (d === DELETED) return undefined;
    if (d !== undefined) return d;
    const b = this.base.get(key);
    if (b === undefined) return undefined;
    const c = copy(b);
    this.dirty.set(key, c);
    return c;
  }

  /** Current view (base with the overlay applied). */
  *values(): IterableIterator<V> {
    for (const [k, v] of this.base) if (!this.dirty.has(k)) yield v;
    for (const v of this.dirty.values()) if (v !== DELETED) yield v;
  }

  /** Current view as [key, value] pairs. */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.base) if (!this.dirty.has(k)) yield [k, v];
    for (const [k, v] of this.dirty) if (v !== DELETED) yield [k, v];
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** Staged changes: value = put, undefined = delete. */
  *changes(): IterableIterator<[K, V | undefined]> {
    for (const [k, v] of this.dirty) yield [k, v === DELETED ? undefined : v];
  }

  /** Fold the overlay into the base (after a successful commit). */
  apply(): void {
    for (const [k, v] of this.dirty) {
      if (v === DELETED) this.base.delete(k);
      else this.base.set(k, v);
    }
    this.dirty.clear();
  }

  /** Drop the overlay (failed commit, or discard()). */
  discard(): void {
    this.dirty.clear();
  }
}
