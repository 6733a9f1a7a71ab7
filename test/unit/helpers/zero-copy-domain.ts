// Node tests: serve a driver Domain as the zero-copy transport would, without rings: a
// page map dom0 publishes into and a lease word per LBA the test sets as a guest would.
import type { Dom0Driver, Domain } from '../../../host/dom0/driver';
import { arenaLayout } from '../../../shared/memory-layout';

export interface FakeGuest {
  /** Views and reads in flight per LBA, as the guest runtime would count them. */
  readonly lease: Int32Array;
  /** LBA → frame ref + 1 as published (0: unmapped). */
  readonly pageMap: Int32Array;
  /** The domain's control buffer, its private frames included (what the guest would hold). */
  readonly buffer: SharedArrayBuffer;
  /** Where the private frames lie in `buffer`. */
  readonly layout: ReturnType<typeof arenaLayout>;
}

export function zeroCopy(driver: Dom0Driver, d: Domain): Domain & { guest: FakeGuest } {
  const lease = new Int32Array(d.volume.blocks);
  const pageMap = new Int32Array(d.volume.blocks);
  const layout = arenaLayout(d.priv.layout.frames, d.volume.blockBytes);
  const buffer = new SharedArrayBuffer(layout.totalBytes);
  driver.attachZeroCopy(
    d,
    {
      publish: (lba, ref) => void (pageMap[lba] = ref + 1),
      clearLeased: (lba) => {
        pageMap[lba] = 0;
        return lease[lba] !== 0;
      },
    },
    buffer,
    layout,
  );
  return Object.assign(d, { guest: { lease, pageMap, buffer, layout } });
}
