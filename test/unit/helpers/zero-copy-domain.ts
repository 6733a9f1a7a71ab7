// Node tests: serve a driver Domain as the zero-copy transport would, without rings: a
// page map dom0 publishes into and a lease word per LBA the test sets as a guest would.
import type { Dom0Driver, Domain } from '../../../host/dom0/driver';
import { arenaLayout, LEASE_COUNT } from '../../../shared/memory-layout';

export interface FakeGuest {
  /** Views and reads in flight per LBA, as the guest runtime would count them. */
  readonly lease: Int32Array;
  /**
   * LEASE_KEPT per LBA: dom0 sets it when it keeps a pin for the LBA's views; the guest
   * clears it when the LBA's last lease goes and it asks for every pin kept (the test does
   * both guest steps by hand).
   */
  readonly kept: Uint8Array;
  /** LBA → frame ref + 1 as published (0: unmapped). */
  readonly pageMap: Int32Array;
  /** The domain's control buffer, its private frames included (what the guest would hold). */
  readonly buffer: SharedArrayBuffer;
  /** Where the private frames lie in `buffer`. */
  readonly layout: ReturnType<typeof arenaLayout>;
}

export function zeroCopy(driver: Dom0Driver, d: Domain): Domain & { guest: FakeGuest } {
  const lease = new Int32Array(d.volume.blocks);
  const kept = new Uint8Array(d.volume.blocks);
  const pageMap = new Int32Array(d.volume.blocks);
  const layout = arenaLayout(d.priv.layout.frames, d.volume.blockBytes);
  const buffer = new SharedArrayBuffer(layout.totalBytes);
  driver.attachZeroCopy(
    d,
    {
      publish: (lba, ref) => void (pageMap[lba] = ref + 1),
      clearLeased: (lba, keep) => {
        pageMap[lba] = 0;
        if ((lease[lba]! & LEASE_COUNT) === 0) return 'none';
        if (!keep || kept[lba]) return 'held';
        kept[lba] = 1;
        return 'first';
      },
      keptAsked: (lba) => kept[lba] === 0,
    },
    buffer,
    layout,
  );
  return Object.assign(d, { guest: { lease, kept, pageMap, buffer, layout } });
}
