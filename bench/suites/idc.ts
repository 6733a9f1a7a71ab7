// Runs in the benchmark page (main thread). Channels between two guests: a 64 KiB message
// sent, viewed and released, against postMessage copying and transferring the same 64 KiB
// between the same two workers in the same run; small messages batched; and a relay
// through a third guest, forwarding each 64 KiB message under a grant against copying it
// (reported, no target: docs/design.md, "Renewal"). Timings are taken inside the sending
// guest (bench/guests/idc-bench-guest.ts).
import { Hypervisor } from '../../host/page/hypervisor';
import type { IdcBenchApi } from '../guests/idc-bench-guest';
import { guestModuleUrl } from '../../host/page/guest-runtime';

type Metrics = Record<string, { value: number; unit: string }>;

const GUEST = guestModuleUrl('bench/guests/idc-bench-guest');
const KIB = 1024;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(opts: { quick: boolean; log: (line: string) => void }): Promise<Metrics> {
  const { quick, log } = opts;
  const hv = await Hypervisor.start({ poolName: `bench-idc-${crypto.randomUUID()}`, arenaFrames: 16 });
  try {
    await hv.pool.import('img', new Uint8Array(64 * KIB).buffer, { blockSize: 64 * KIB });
    await hv.pool.snapshot('img', 'img@base');
    const pm = new MessageChannel();
    const spawn = (port: MessagePort) => hv.guests.spawn<IdcBenchApi>({ base: 'img@base', module: GUEST, init: { pm: port }, transfer: [port] });
    const a = await spawn(pm.port1);
    const b = await spawn(pm.port2);
    hv.channels.allow(a.id, b.id);
    // One buffer per side for latency (each message waits for its buffer to come back),
    // many small ones for throughput.
    await hv.channels.open(a.id, b.id, { buffersPerSide: 1, bufferBytes: 64 * KIB });
    await hv.channels.open(a.id, b.id, { buffersPerSide: 256, bufferBytes: 256 });
    const [lat, tput] = await a.api.accept(2);
    await b.api.accept(2);

    const n = quick ? 2_000 : 20_000;
    const latency = async (): Promise<number> => {
      const served = b.api.serve(lat!, n + 1); // the untimed first message and n timed ones
      const ns = await a.api.latencyNs(lat!, n, 64 * KIB);
      await served;
      return ns;
    };
    log('idc: 64 KiB message round trips');
    await latency(); // warm-up: JIT on both ends
    const idcNs = median([await latency(), await latency(), await latency()]);
    log('idc: postMessage baselines (copy, transfer)');
    const pmN = quick ? 300 : 2_000;
    await a.api.postMessageNs(pmN, 64 * KIB, 'copy');
    const copyNs = median([await a.api.postMessageNs(pmN, 64 * KIB, 'copy'), await a.api.postMessageNs(pmN, 64 * KIB, 'copy')]);
    const transferNs = median([await a.api.postMessageNs(pmN, 64 * KIB, 'transfer'), await a.api.postMessageNs(pmN, 64 * KIB, 'transfer')]);
    log('idc: small messages, batched');
    const total = quick ? 200_000 : 2_000_000;
    const throughput = async (): Promise<number> => {
      const drained = b.api.drain(tput!, total);
      const perS = await a.api.throughput(tput!, total, 64, 64);
      await drained;
      return perS;
    };
    await throughput();
    const perS = median([await throughput(), await throughput(), await throughput()]);
    const sa = await a.api.stats(lat!);
    const sb = await b.api.stats(lat!);

    // A relay, a → b → c, 64 KiB messages: b forwards each under a grant (zero-copy; a's
    // buffer comes back retired and is renewed), against b copying each into its own buffer.
    log('idc: relay through a third guest (forward vs copy)');
    const c = await spawn(new MessageChannel().port1);
    hv.channels.allow(b.id, c.id);
    const relayBuffers = 8;
    await hv.channels.open(a.id, b.id, { buffersPerSide: relayBuffers, bufferBytes: 64 * KIB });
    const [ra] = await a.api.accept(1);
    const [rb] = await b.api.accept(1);
    await hv.channels.open(b.id, c.id, { buffersPerSide: relayBuffers, bufferBytes: 64 * KIB });
    const [rbc] = await b.api.accept(1);
    const [rc] = await c.api.accept(1);
    const relayN = quick ? 200 : 2_000;
    const relay = async (mode: 'forward' | 'copy'): Promise<number> => {
      const [sent, passed, drained] = await Promise.allSettled([a.api.relaySend(ra!, relayN, 64 * KIB), b.api.relay(rb!, rbc!, relayN, mode), c.api.relayDrain(rc!, relayN)]);
      // Every end's failure, not only the first to time out: a stalled relay is usually one end's fault.
      const failed = [sent, passed, drained].flatMap((r, i) => (r.status === 'rejected' ? [`${'abc'[i]}: ${String(r.reason)}`] : []));
      if (failed.length > 0 || sent.status !== 'fulfilled') throw new Error(`relay (${mode}): ${failed.join('; ')}`);
      return sent.value;
    };
    await relay('forward'); // warm-up
    const forwardPerS = median([await relay('forward'), await relay('forward'), await relay('forward')]);
    await relay('copy');
    const copyPerS = median([await relay('copy'), await relay('copy'), await relay('copy')]);
    const rs = await a.api.stats(ra!);
    log(`idc: relay ${forwardPerS.toFixed(0)} msgs/s forwarded, ${copyPerS.toFixed(0)} copied; first guest's buffers retired ${rs.retired}, renewed ${rs.renewed}, renewals refused ${rs.renewRefused}`);
    if (rs.renewed !== rs.retired) throw new Error(`relay: ${rs.retired} buffers retired but ${rs.renewed} renewed`);
    return {
      idc_msg_64k_ns: { value: idcNs, unit: 'ns' },
      idc_postmessage_copy_64k_ns: { value: copyNs, unit: 'ns' },
      idc_postmessage_transfer_64k_ns: { value: transferNs, unit: 'ns' },
      idc_msgs_per_s: { value: perS, unit: 'msgs/s' },
      idc_bytes_copied: { value: sa.bytesCopied + sb.bytesCopied, unit: 'bytes' },
      idc_relay_forward_64k_msgs_per_s: { value: forwardPerS, unit: 'msgs/s' },
      idc_relay_copy_64k_msgs_per_s: { value: copyPerS, unit: 'msgs/s' },
      idc_relay_renewed: { value: rs.renewed, unit: 'buffers' },
    };
  } finally {
    await hv.shutdown();
  }
}
