// Runs in a browser without SharedArrayBuffer (WebKitGTK), driven by scripts/webkit-check.mjs
// over WebDriver. The hypervisor must choose the copy transport by itself and give the
// same results as the zero-copy tests: shared blocks read once from the pool, copy-on-write
// diverging one clone only, readSync refused with a reason, a killed guest leaving the other
// running. Results are left on window.__webkit for the runner.
import { Hypervisor } from '../../host/hypervisor';
import type { ProbeGuestApi } from '../browser/fixtures/guests/probe-guest';

interface Outcome {
  done: boolean;
  ok: boolean;
  steps: string[];
  error: string;
  userAgent: string;
  hasSharedArrayBuffer: boolean;
}
const out: Outcome = { done: false, ok: false, steps: [], error: '', userAgent: navigator.userAgent, hasSharedArrayBuffer: typeof SharedArrayBuffer === 'function' };
(window as unknown as { __webkit: Outcome }).__webkit = out;
const log = document.getElementById('log')!;
function check(cond: boolean, what: string): void {
  out.steps.push(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  log.textContent += `${cond ? 'ok  ' : 'FAIL'} ${what}\n`;
  if (!cond) throw new Error(`check failed: ${what}`);
}

const BS = 65536;
try {
  const hv = await Hypervisor.start({ poolName: `webkit-${Date.now().toString(36)}` });
  check(hv.hostTransport.kind === 'copy', `host chose the copy transport (${hv.hostTransport.reason})`);
  const img = new Uint8Array(8 * BS);
  for (let b = 0; b < 8; b++) img.fill(b + 1, b * BS, (b + 1) * BS);
  await hv.dom0.importImage('img', img.buffer, { blockSize: BS });
  await hv.dom0.snapshot('img', 'img@base');
  const module = new URL('../browser/fixtures/guests/probe-guest.ts', import.meta.url);
  const a = await hv.spawnGuest<ProbeGuestApi>({ base: 'img@base', module });
  const b = await hv.spawnGuest<ProbeGuestApi>({ base: 'img@base', module });
  check(a.transport === 'copy' && (await a.api.transport()) === 'copy', 'guests run on the copy transport');
  const ra = await a.api.read(3);
  const rb = await b.api.read(3);
  check(ra.first === 4 && rb.first === 4 && !ra.shared, 'both guests read block 3 (a copy each)');
  const s = await hv.dom0.stats();
  check(s.driver.poolReads === 1, `the pool was read once for both (${s.driver.poolReads})`);
  check(s.driver.bytesCopied === 2 * BS, `each guest got its own copy (${s.driver.bytesCopied} bytes copied)`);
  await a.api.write(5, 0xab);
  check((await a.api.read(5)).first === 0xab && (await b.api.read(5)).first === 6, 'copy-on-write diverged one clone only');
  let refused = '';
  try {
    await a.api.readSync(1);
  } catch (err) {
    refused = String(err);
  }
  check(/zero-copy transport/.test(refused), 'readSync is refused with the reason');
  await a.kill();
  check((await b.api.read(1)).first === 2, 'a killed guest leaves the other running');
  await hv.shutdown();
  out.ok = true;
} catch (err) {
  out.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  log.textContent += `error: ${out.error}\n`;
}
out.done = true;
