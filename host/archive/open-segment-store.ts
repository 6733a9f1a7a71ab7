// Runs in a page or a worker. Picks the segment backend: OPFS where the browser has it,
// IndexedDB otherwise (the rule), and says which it chose.

import { ArchiveUsageError } from '../../shared/errors/archive-errors';
import { IdbSegmentStore } from './idb-segment-store';
import { OpfsSegmentStore } from './opfs-segment-store';
import type { SegmentStore } from './segment-store';

export async function openSegmentStore(name: string): Promise<SegmentStore> {
  if (OpfsSegmentStore.isAvailable()) {
    try {
      return await OpfsSegmentStore.open(name);
    } catch {
      // getDirectory() rejects in some private-browsing modes (SecurityError): fall back.
    }
  }
  if (IdbSegmentStore.isAvailable()) return IdbSegmentStore.open(name);
  throw new ArchiveUsageError('neither OPFS nor IndexedDB is available for the archive');
}
