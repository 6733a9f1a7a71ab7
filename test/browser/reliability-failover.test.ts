// Real Chromium: guest failover and session takeover. Two
// failover-capable guests (guest/workloads/session-guest.ts) are partners; one is killed — its worker
// terminated without telling anyone, as a crash would — in the middle of a stream of
// journaled writes. The host notices the silent heartbeat, fences it, and the partner
// assumes its identity (same domain id, same clone), replays its journal, and answers its
// sessions. Every acknowledged write must be present afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../host/page/hypervisor';
import { FailoverManager, type ReliableGuest, type TakeoverEvent } from '../../host/page/failover';
import type { SessionGuestApi } from '../../guest/workloads/session-guest';

const BS = 65536;
const BLOCKS = 64;
const GUEST = new URL('../../guest/workloads/session-guest.ts', import.meta.url);

describe('guest failover', () => {
  let hv: Hypervisor;
  let fo: FailoverManager;
  const spawn = (): Promise<ReliableGuest> => hv.guests.spawn<SessionGuestApi>({ base: 'vol@base', module: GUEST, init: { heartbeatMs: 25 } });
  const nextTakeover = (): Promise<TakeoverEvent> =>
    new Promise((resolve, reject) => {
      fo.onTakeover = resolve;
      fo.onError = reject;
    });

  beforeAll(async () => {
    hv = await Hypervisor.start({ poolName: `rel-failover-${crypto.randomUUID()}`, arenaFrames: 256 });
    await hv.pool.create('vol', BLOCKS * BS, { blockSize: BS });
    await hv.pool.snapshot('vol', 'vol@base');
    fo = new FailoverManager(hv, { deadlineMs: 200 });
  });
  afterAll(async () => {
    fo?.close();
    await hv?.shutdown();
  });

  it('a guest killed mid-stream is taken over by its partner; every acknowledged write is present', async () => {
    const [a, b] = [await spawn(), await spawn()];
    await fo.pair(a, b);
    const lbas = Array.from({ length: 32 }, (_, i) => i);
    const board = new SharedArrayBuffer(4 * lbas.length);
    await a.api.startStream({ lbas, concurrency: 8, ackBoard: board });
    await new Promise((r) => setTimeout(r, 400));
    const takeover = nextTakeover();
    const killedAt = performance.now();
    a.worker.terminate(); // no goodbye: dom0 and the host find out from the heartbeat
    const acked = Array.from(new Int32Array(board)); // nothing can be acknowledged after this
    const ev = await takeover;
    const outage = performance.now() - killedAt;
    expect(ev).toMatchObject({ identity: a.id, survivor: b.id, cause: 'heartbeat' });
    expect(fo.ownerOf(a.id)).toBe(b);
    expect(acked.reduce((x, y) => x + y)).toBeGreaterThan(32); // the stream ran
    const present = await b.api.versions(a.id, lbas);
    for (let i = 0; i < lbas.length; i++) {
      expect(present[i], `block ${i}: acked version ${acked[i]}`).toBeGreaterThanOrEqual(acked[i]!);
    }
    // With 8 writes in flight the kill lands on unacknowledged records; the survivor finished them.
    expect(ev.report.replayed).toBeGreaterThan(0);
    expect(ev.report.problems).toEqual([]);
    expect((await hv.pool.stats()).domains.map((d) => d.id)).toContain(a.id);
    // Timings are reported here and measured in the benchmark (failover_takeover_ms), never asserted.
    console.log(`failover: outage ${outage.toFixed(0)} ms (deadline 200), takeover ${ev.takeoverMs.toFixed(1)} ms, replayed ${ev.report.replayed}, since last beat ${ev.sinceLastBeatMs.toFixed(0)} ms`);
  });

  it('a session request in flight when its guest dies is answered by the survivor before the session timeout', async () => {
    const [a, b] = [await spawn(), await spawn()];
    await fo.pair(a, b);
    const sid = 7;
    const open = await fo.request(a.id, { sid, req: 1, op: 'open', base: 40, length: 8 });
    expect(open).toMatchObject({ ok: true, value: 1, answeredBy: a.id });
    expect(await fo.request(a.id, { sid, req: 2, op: 'append', handle: 1, fill: 0x21 })).toMatchObject({ ok: true, value: 0 });
    // The next append is journaled but held before it reaches dom0: it exists only in the journal.
    await a.api.setSessionHooks(a.id, { holdBeforeSubmitMs: 10_000 });
    const takeover = nextTakeover();
    const inflight = fo.request(a.id, { sid, req: 3, op: 'append', handle: 1, fill: 0x22 }, 2000);
    await new Promise((r) => setTimeout(r, 100));
    a.worker.terminate();
    const reply = await inflight; // rejects with SessionTimeoutError after 2 s if nobody answers
    const ev = await takeover;
    expect(reply).toMatchObject({ ok: true, value: 1, answeredBy: b.id, recovered: true });
    // `reply` is an answer, not a SessionTimeoutError: it came before the session's timeout.
    expect(ev.report).toMatchObject({ replayed: 1, openHandles: 1 });
    expect(ev.answered).toBe(1);
    expect(ev.resent).toBe(0);
    // The session goes on at the survivor: the handle, its cursor and the replayed block are there.
    expect(await fo.request(a.id, { sid, req: 4, op: 'read', handle: 1, index: 1 })).toMatchObject({ ok: true, value: 0x22, answeredBy: b.id });
    expect(await fo.request(a.id, { sid, req: 5, op: 'append', handle: 1, fill: 0x23 })).toMatchObject({ ok: true, value: 2 });
    expect(await b.api.firstByte(b.id)).toBe(0); // b still serves its own identity too
    // b hosts both domains now: when b goes, both go.
    await b.kill();
    const left = (await hv.pool.stats()).domains.map((d) => d.id);
    expect(left).not.toContain(a.id);
    expect(left).not.toContain(b.id);
  });
});
