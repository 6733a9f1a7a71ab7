// Runs in any browser, driven over WebDriver by scripts/webkit-check.mjs (WebKitGTK: no
// SharedArrayBuffer) and scripts/firefox-check.mjs (Firefox ESR: zero-copy). The hypervisor
// must pick the transport the browser allows by itself, and the flow must give the same
// results on either: shared blocks read once from the pool, copy-on-write diverging one
// clone only, readSync working (zero-copy) or refused with the reason (copy), a killed
// guest leaving the other running, a guest that closes itself noticed. Results are left on window.__flow for the runner.
import { Hypervisor } from '../../host/page/hypervisor';
import type { ProbeGuestApi } from '../browser/fixtures/guests/probe-guest';
import type { LifecycleGuestApi } from '../browser/fixtures/guests/lifecycle-guest';

interface Outcome {
  done: boolean;
  ok: boolean;
  transport: string;
  steps: string[];
  error: string;
  userAgent: string;
  hasSharedArrayBuffer: boolean;
}
const canShare = typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated === true;
const out: Outcome = { done: false, ok: false, transport: '', steps: [], error: '', userAgent: navigator.userAgent, hasSharedArrayBuffer: typeof SharedArrayBuffer === 'function' };
(window as unknown as { __flow: Outcome }).__flow = out;
const log = document.getElementById('log')!;
function check(cond: boolean, what: string): void {
  out.steps.push(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  log.textContent += `${cond ? 'ok  ' : 'FAIL'} ${what}\n`;
  if (!cond) throw new Error(`check failed: ${what}`);
}

const BS = 65536;
try {
  const hv = await Hypervisor.start({ poolName: `flow-${Date.now().toString(36)}` });
  const expected = canShare ? 'zero-copy' : 'copy';
  out.transport = hv.hostTransport.kind;
  check(hv.hostTransport.kind === expected, `host chose the ${expected} transport (${hv.hostTransport.reason})`);
  const img = new Uint8Array(8 * BS);
  for (let b = 0; b < 8; b++) img.fill(b + 1, b * BS, (b + 1) * BS);
  await hv.pool.import('img', img.buffer, { blockSize: BS });
  await hv.pool.snapshot('img', 'img@base');
  const module = new URL('../browser/fixtures/guests/probe-guest.ts', import.meta.url);
  const a = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module });
  const b = await hv.guests.spawn<ProbeGuestApi>({ base: 'img@base', module });
  check(a.transport === expected && (await a.api.transport()) === expected, `guests run on the ${expected} transport`);
  const ra = await a.api.read(3);
  const rb = await b.api.read(3);
  check(ra.first === 4 && rb.first === 4 && ra.shared === canShare, `both guests read block 3 (${canShare ? 'a view of one frame' : 'a copy each'})`);
  const s = await hv.pool.stats();
  check(s.driver.poolReads === 1, `the pool was read once for both (${s.driver.poolReads})`);
  check(s.driver.bytesCopied === (canShare ? 0 : 2 * BS), `bytes copied across the boundary: ${s.driver.bytesCopied}`);
  if (canShare) {
    const [pa, pb] = [await hv.memory.pageMap(a.id), await hv.memory.pageMap(b.id)];
    check(pa[3] === pb[3] && pa[3]! >= 0, `both page maps point at frame ${pa[3]}`);
  }
  await a.api.write(5, 0xab);
  check((await a.api.read(5)).first === 0xab && (await b.api.read(5)).first === 6, 'copy-on-write diverged one clone only');
  if (canShare) {
    check((await a.api.readSync(1)).first === 2, 'readSync blocks and returns the block');
  } else {
    let refused = '';
    try {
      await a.api.readSync(1);
    } catch (err) {
      refused = String(err);
    }
    check(/zero-copy transport/.test(refused), 'readSync is refused with the reason');
  }
  await a.kill();
  check((await b.api.read(1)).first === 2, 'a killed guest leaves the other running');
  // A guest that closes its own worker raises no event on the Worker; its life lock must
  // tell the host (the browser releases a dead context's Web Locks).
  const c = await hv.guests.spawn<LifecycleGuestApi>({ base: 'img@base', module: new URL('../browser/fixtures/guests/lifecycle-guest.ts', import.meta.url) });
  const pending = (c.api.never() as Promise<unknown>).then(() => 'resolved', (e: { code?: string }) => e.code ?? String(e));
  // Measured from the request: the guest may be gone before its answer arrives.
  const t0 = performance.now();
  void c.api.closeSoon(0).catch(() => undefined);
  const noticed = await Promise.race([c.ended.then((e) => e.code), new Promise<string>((r) => setTimeout(() => r('not noticed in 10 s'), 10_000))]);
  const ms = performance.now() - t0;
  check(noticed === 'GUEST_ENDED' && c.state === 'ended', `a guest that calls self.close() is noticed in ${ms.toFixed(0)} ms (${noticed}; life lock ${c.life.lock ? 'held' : `refused: ${c.life.lockRefused}`})`);
  check((await pending) === 'GUEST_ENDED', 'its outstanding call rejects with GUEST_ENDED');
  // The domain is released right after the guest is marked ended: wait for dom0 to say so.
  let left = (await hv.pool.stats()).domains.map((d) => d.id);
  for (let i = 0; i < 50 && left.includes(c.id); i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = (await hv.pool.stats()).domains.map((d) => d.id);
  }
  check(!left.includes(c.id), `dom0 released its domain (domains left: ${left.join(', ')})`);
  await hv.shutdown();
  out.ok = true;
} catch (err) {
  out.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  log.textContent += `error: ${out.error}\n`;
}
out.done = true;
