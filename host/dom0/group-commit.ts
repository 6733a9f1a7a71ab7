// Runs in the dom0 driver worker. Writes from every domain that arrive close together are
// made durable by one commit (one IndexedDB transaction), and each is acknowledged only
// after that commit resolves (ARCHITECTURE.md invariant 5). A failed commit rejects every
// write in it; none of them is acknowledged.
import { soon } from './soon';

export class GroupCommit {
  private staged: Promise<void>[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly commit: () => Promise<void>) {}

  /** `staging` stages one write; the returned promise resolves when it is durable. */
  add(staging: Promise<void>): Promise<void> {
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
      await Promise.all(staged);
      if (staged.length > 0) await this.commit();
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}
