// Runs on the console's main thread. Remembers which blocks of each clone its guests
// wrote (copy-on-write), across reloads, for the clone-tree view.
//
// Why an approximation: the pool knows exactly which leaves of a clone's tree are its own
// (Pool.resolve gives each LBA's chunk), but dom0 does not expose that yet, so the console
// records what its guests report writing. Writes made outside this console (or before a
// Reset of localStorage) are not seen. The lead's follow-up: dom0.blockOwnership(dataset)
// (docs/demo.md).
export class EditsStore {
  private readonly key: string;
  private readonly map: Record<string, number[]>;

  constructor(poolName: string) {
    this.key = `tabvisor:own-blocks:${poolName}`;
    let parsed: Record<string, number[]> = {};
    try {
      parsed = JSON.parse(localStorage.getItem(this.key) ?? '{}') as Record<string, number[]>;
    } catch {
      // Corrupt or unavailable storage (a sandboxed embed): start empty.
    }
    this.map = parsed;
  }

  own(dataset: string): Set<number> {
    return new Set(this.map[dataset] ?? []);
  }

  add(dataset: string, lbas: Iterable<number>): boolean {
    const set = this.own(dataset);
    const before = set.size;
    for (const l of lbas) set.add(l);
    if (set.size === before) return false;
    this.map[dataset] = [...set].sort((a, b) => a - b);
    this.save();
    return true;
  }

  forget(dataset: string): void {
    delete this.map[dataset];
    this.save();
  }

  clear(): void {
    try {
      localStorage.removeItem(this.key);
    } catch {
      // nothing stored
    }
  }

  private save(): void {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.map));
    } catch {
      // storage full or blocked: the view just forgets after a reload
    }
  }
}
