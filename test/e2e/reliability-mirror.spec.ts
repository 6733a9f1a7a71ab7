// Playwright, real Chromium, two tabs of one origin. Tab A's dom0 mirrors
// the dirty pages of a volume a guest is writing to tab B — a separate host with its own
// IndexedDB database — over a BroadcastChannel, in sync mode (a write is acknowledged only
// once B has it durable). Writes appear in B's mirror while A runs; A is closed mid-stream;
// B promotes the mirror, boots a guest on it, and every write A acknowledged is there.
import { expect, test } from '@playwright/test';
import type {} from './pages/reliability-mirror';

test('a second tab mirrors dirty pages and serves the volume with every acknowledged write after the first closes', async ({ context }) => {
  const id = Date.now().toString(36);
  const chan = `mirror-${id}`;
  const b = await context.newPage();
  await b.goto(`/test/e2e/pages/reliability-mirror.html?role=target&db=rel-mirror-b-${id}&chan=${chan}`);
  await b.waitForFunction(() => window.__relMirror?.ready || window.__relMirror?.error);
  const a = await context.newPage();
  await a.goto(`/test/e2e/pages/reliability-mirror.html?role=source&db=rel-mirror-a-${id}&chan=${chan}`);
  await a.waitForFunction(() => window.__relMirror?.ready || window.__relMirror?.error, null, { timeout: 30_000 });
  expect(await a.evaluate(() => window.__relMirror.error ?? null)).toBeNull();

  // Writes in A appear in B's mirror while A runs.
  await expect.poll(() => b.evaluate(() => window.__relMirror.target!().blocks), { timeout: 20_000 }).toBeGreaterThan(100);
  const stats = await a.evaluate(() => window.__relMirror.mirror!());
  const acked = await a.evaluate(() => window.__relMirror.acked!());
  await a.close(); // mid-stream: writes are in flight
  expect(acked.reduce((x, y) => x + y, 0)).toBeGreaterThan(32);

  const present = await b.evaluate(() => window.__relMirror.promote!());
  for (let i = 0; i < acked.length; i++) expect(present[i], `block ${i}: acked version ${acked[i]}`).toBeGreaterThanOrEqual(acked[i]!);
  expect(stats!.degraded).toBeNull();
  expect(stats!.bytesMirrored).toBeGreaterThan(0);
  const ratio = stats!.bytesMirrored / stats!.bytesWritten;
  const line = `mirror (sync): ${stats!.writes} writes, lag p50 ${stats!.lagMs.p50.toFixed(1)} ms p90 ${stats!.lagMs.p90.toFixed(1)} ms, bytes mirrored/written ${ratio.toFixed(3)}, lock waits ${stats!.lockWaits}`;
  console.log(line);
  test.info().annotations.push({ type: 'mirror', description: line });
});
