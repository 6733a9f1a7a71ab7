// Runs in the browser project's page. The faults a hypervisor reports (onGuestFault), and a
// wait for one guest's, for tests that attack dom0 and expect the attacker faulted.
import type { GuestHandle } from '../../host/page/hypervisor';

export class FaultLog {
  readonly faults: { id: number; reason: string }[] = [];

  /** Set as `hv.onGuestFault`. */
  readonly record = (g: GuestHandle, reason: string): void => {
    this.faults.push({ id: g.id, reason });
  };

  /** The reason `g` was faulted, waiting up to `timeoutMs` for it. */
  async of(g: GuestHandle, timeoutMs = 3000): Promise<string> {
    const t0 = performance.now();
    while (performance.now() - t0 < timeoutMs) {
      const f = this.faults.find((x) => x.id === g.id);
      if (f) return f.reason;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`guest ${g.id} was not faulted within ${timeoutMs} ms`);
  }
}
