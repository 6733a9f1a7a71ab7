// Runs in the dom0 driver worker. Writes from every domain that arrive close together are
// made durable by one commit (one IndexedDB transaction), and each is acknowledged only
// after that commit resolves (ARCHITECTURE.md invariant 5). A failed commit rejects every
// write in it; none of them is acknowledged. Each write's own outcome is decided apart
// from the others of its batch: one whose staging failed gets its own error, and one whose
// group the store dropped before this commit (someone else's failed commit: the control
// plane's, an import's) gets GroupDroppedError, where the commit, with nothing of it left
// to write, would otherwise have resolved; the other writes of the batch are durable and
// acknowledged. A barrier (FLUSH) resolves once the commit after it has.
import { GroupDroppedError } from '../../shared/errors/pool-errors';
import { soon } from './soon';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  /** Each staging resolves to the store's group the write was staged in. */
  private writes: { staging: Promise<number>; waiter: Waiter }[] = [];
  private barriers: Waiter[] = [];
  private running: Promise<void> | null = null;

  /**
   * `commit` makes everything staged durable; `droppedWhy(group)` says why the store
   * dropped that group, or undefined when it did not (committed, or still open).
   */
  constructor(
    private readonly commit: () => Promise<void>,
    private readonly droppedWhy: (group: number) => unknown,
  ) {}

  /** `staging` stages one write and resolves to its group; the returned promise resolves when the write is durable. */
  add(staging: Promise<number>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.writes.push({ staging, waiter: { resolve, reject } });
      this.kick();
    });
  }

  /** Resolves once everything added before the call is committed (each write's own outcome is its `add`'s). */
  barrier(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.barriers.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running || (this.writes.length === 0 && this.barriers.length === 0)) return;
    this.running = this.run().finally(() => {
      this.running = null;
      this.kick();
    });
  }

  private async run(): Promise<void> {
    await soon(); // let the rest of this batch of requests stage first
    const writes = this.writes;
    const barriers = this.barriers;
    this.writes = [];
    this.barriers = [];
    const staged = await Promise.allSettled(writes.map((w) => w.staging));
    try {
      if (staged.some((s) => s.status === 'fulfilled')) await this.commit();
    } catch (err) {
      writes.forEach((w, i) => w.waiter.reject(staged[i]!.status === 'rejected' ? (staged[i] as PromiseRejectedResult).reason : err));
      for (const b of barriers) b.reject(err);
      return;
    }
    writes.forEach((w, i) => {
      const s = staged[i]!;
      if (s.status === 'rejected') return w.waiter.reject(s.reason);
      const why = this.droppedWhy(s.value);
      if (why === undefined) w.waiter.resolve();
      else w.waiter.reject(new GroupDroppedError(s.value, why));
    });
    for (const b of barriers) b.resolve();
  }
}
