// Imported by the bench guest and by the limits worker: it lives beside the guests because a
// guest may load modules only from the paths the dev server's guest policy allows
// (scripts/guest-csp.ts, DEV_GUEST_SCRIPT_PATHS), which bench/workers/ is not.
//
// How the benchmark keeps a ring fed: `depth` batches outstanding at once, each lane
// sending its next batch as soon as its last one is answered, the way a block driver keeps
// several requests in flight (fio's iodepth). At depth 1 the guest builds its next batch
// only after dom0 has answered the last, so the two ends take turns and the rate is a
// round trip per batch; at depth 2 one end works while the other does.

/** Sends `total` operations in batches of `batch`, `depth` batches in flight; returns operations per second. */
export async function batchedOpsPerS(total: number, batch: number, depth: number, send: (count: number) => Promise<void>): Promise<number> {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`queue depth must be a positive integer, got ${depth}`);
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < total) {
      sent += batch;
      await send(batch);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: depth }, lane));
  return sent / ((performance.now() - t0) / 1000);
}
