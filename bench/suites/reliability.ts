// Runs in the benchmark page (main thread of a cross-origin-isolated page). Reliability
// reliability figures, measured on the real stack (dom0 worker, IndexedDB pool, guest workers):
//   failover_takeover_ms   a guest's worker is terminated mid-stream; until its partner serves
//                          its identity (heartbeat deadline 200 ms + fence + replay), median
//   failover_replay_ms     of that, the survivor's own work (journal read, replay, sessions)
//   mirror_lag_ms          p50 from a write's acknowledgement to its page being durable in the
//                          mirror (async mode; the mirror is a worker of this page with its own
//                          IndexedDB database, reached by BroadcastChannel)
//   mirror_bytes_ratio     bytes mirrored ÷ bytes written (< 1 when rewrites coalesce)
//   scrub_arena_ms_per_gib checksum scrub of every resident frame, per GiB of frames
import { Hypervisor } from '../../host/page/hypervisor';
import { FailoverManager, type TakeoverEvent } from '../../host/page/failover';
import type { SessionGuestApi } from '../../guest/workloads/session-guest';
import { guestModuleUrl } from '../../host/page/guest-runtime';

type Metrics = Record<string, { value: number; unit: string }>;

const GUEST = guestModuleUrl('guest/workloads/session-guest');
const BS = 65536;
const GIB = 1024 ** 3;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function failover(rounds: number): Promise<{ outage: number; replay: number }> {
  const hv = await Hypervisor.start({ poolName: `bench-failover-${crypto.randomUUID()}`, arenaFrames: 256 });
  const fo = new FailoverManager(hv, { deadlineMs: 200 });
  const outages: number[] = [];
  const replays: number[] = [];
  try {
    await hv.pool.create('vol', 64 * BS, { blockSize: BS });
    await hv.pool.snapshot('vol', 'vol@base');
    for (let r = 0; r < rounds; r++) {
      const spawn = () => hv.guests.spawn<SessionGuestApi>({ base: 'vol@base', module: GUEST, init: { heartbeatMs: 25 } });
      const a = await spawn();
      const b = await spawn();
      await fo.pair(a, b);
      await a.api.startStream({ lbas: Array.from({ length: 32 }, (_, i) => i), concurrency: 8, ackBoard: new SharedArrayBuffer(128) });
      await new Promise((res) => setTimeout(res, 300));
      const done = new Promise<TakeoverEvent>((resolve, reject) => {
        fo.onTakeover = resolve;
        fo.onError = reject;
      });
      const t0 = performance.now();
      a.worker.terminate();
      const ev = await done;
      outages.push(performance.now() - t0);
      replays.push(ev.report.ms);
      await hv.guests.kill(b.id);
    }
  } finally {
    fo.close();
    await hv.shutdown();
  }
  return { outage: median(outages), replay: median(replays) };
}

async function mirror(writes: number): Promise<{ lag: number; ratio: number }> {
  const channel = `bench-${crypto.randomUUID()}`;
  const worker = new Worker(new URL('../../host/mirror/mirror-target-worker.ts', import.meta.url), { type: 'module', name: 'mirror-target' });
  const ready = new Promise<void>((resolve, reject) =>
    worker.addEventListener('message', (ev: MessageEvent<{ ready?: boolean; error?: string }>) => (ev.data.ready ? resolve() : reject(new Error(ev.data.error))), { once: true }),
  );
  worker.postMessage({ db: `bench-mirror-target-${crypto.randomUUID()}`, channel });
  await ready;
  const hv = await Hypervisor.start({ poolName: `bench-mirror-${crypto.randomUUID()}`, arenaFrames: 256 });
  try {
    await hv.pool.create('vol', 64 * BS, { blockSize: BS });
    await hv.mirror.start({ channel, mode: 'async', datasets: ['vol'] });
    const g = await hv.guests.spawn<SessionGuestApi>({ dataset: 'vol', module: GUEST });
    await g.api.startStream({ lbas: Array.from({ length: 32 }, (_, i) => i), concurrency: 4, ackBoard: new SharedArrayBuffer(128), until: writes });
    await g.api.stopStream(); // waits for the stream to reach `until`
    await hv.mirror.drained();
    const s = (await hv.mirror.stats())!;
    if (s.degraded) throw new Error(`mirror degraded: ${s.degraded}`);
    return { lag: s.lagMs.p50, ratio: s.bytesMirrored / s.bytesWritten };
  } finally {
    await hv.shutdown();
    worker.terminate();
  }
}

async function scrub(frames: number): Promise<number> {
  const hv = await Hypervisor.start({ poolName: `bench-scrub-${crypto.randomUUID()}`, arenaFrames: frames + 16, quota: frames + 16 });
  try {
    const image = new Uint8Array(frames * BS);
    for (let o = 0; o < image.length; o += 65536) crypto.getRandomValues(image.subarray(o, o + 65536));
    await hv.pool.import('img', image.buffer, { blockSize: BS });
    await hv.pool.snapshot('img', 'img@base');
    const g = await hv.guests.spawn<SessionGuestApi>({ base: 'img@base', module: GUEST });
    await g.api.versions(g.id, Array.from({ length: frames }, (_, i) => i)); // every block resident
    const perGib: number[] = [];
    for (let r = 0; r < 3; r++) {
      const rep = await hv.integrity.scrub();
      if (rep.frames < frames || rep.corrupt) throw new Error(`scrub saw ${rep.frames} frames, ${rep.corrupt} corrupt`);
      perGib.push(rep.ms / (rep.bytes / GIB));
    }
    return Math.min(...perGib);
  } finally {
    await hv.shutdown();
  }
}

export async function run(opts: { quick: boolean }): Promise<Metrics> {
  const fo = await failover(opts.quick ? 1 : 3);
  const m = await mirror(opts.quick ? 200 : 1000);
  const s = await scrub(opts.quick ? 512 : 2048);
  return {
    failover_takeover_ms: { value: fo.outage, unit: 'ms' },
    failover_replay_ms: { value: fo.replay, unit: 'ms' },
    mirror_lag_ms: { value: m.lag, unit: 'ms' },
    mirror_bytes_ratio: { value: m.ratio, unit: 'ratio' },
    scrub_arena_ms_per_gib: { value: s, unit: 'ms/GiB' },
  };
}
