// Runs in the dom0 driver worker. Writes from every domain that arrive close together are
// made durable by one commit (one IndexedDB transaction), and each is acknowledged only
// after that commit resolves (ARCHITECTURE.md invariant 5). A failed commit rejects every
// write in it; none of them is acknowledged. So does a commit that finds the store dropped
// the group a write was staged in (someone else's failed commit: the control plane's, an
// import's), which would otherwise resolve with nothing to write.
import { soon } from './soon';

export class GroupCommit {
  /** Each resolves to the store's group the write was staged in. */
  private staged: Promise<number>[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly commit: (groups: readonly number[]) => Promise<void>) {}

  /** `staging` stages one write and resolves to its group; the returned promise resolves when it is durable. */
  add(staging: Promise<number>): Promise<void> {
    this.staged.push(staging);
    return this.barrier();
  }

  /** Resolves once everything added before the call is durable. */
  barrier(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running || this.waiters.length === 0) return;
    this.running = this.run().finally(() => {
      this.running = null;
      this.kick();
    });
  }

  private async run(): Promise<void> {
    await soon(); // let the rest of this batch of requests stage first
    const staged = this.staged;
    const waiters = this.waiters;
    this.staged = [];
    this.waiters = [];
    try {
      const groups = await Promise.all(staged);
      if (staged.length > 0) await this.commit([...new Set(groups)]);
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}
