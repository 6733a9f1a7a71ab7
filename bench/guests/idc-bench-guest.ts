// Guest module for the channel benchmark (runs in a hardened guest worker). Each timing is
// a batch taken inside the sending guest, with the receiver blocking in its own worker, so
// the channel and the postMessage baselines are measured between the same two workers.
import { expose } from 'comlink';
import { openIdc, type IdcEndpoint } from '../../guest/idc';
import type { GuestContext, GuestInit } from '../../shared/boot-protocol';

export interface IdcBenchApi {
  /** Take the channels the host opened to us, in order. */
  accept(count: number): Promise<number[]>;
  /** Sender: `n` messages of `bytes` on a one-buffer channel; each waits for its buffer to come back. */
  latencyNs(channel: number, n: number, bytes: number): number;
  /** Receiver: take `n` messages, touch each, release it. */
  serve(channel: number, n: number): number;
  /** Sender: `total` messages of `bytes`, posted in batches of up to `batch`; messages per second. */
  throughput(channel: number, total: number, bytes: number, batch: number): number;
  /** Receiver: take `total` messages, releasing each batch with one publish. */
  drain(channel: number, total: number): number;
  /** postMessage of `bytes` to the peer and its answer, copying (structured clone) or transferring. */
  postMessageNs(n: number, bytes: number, mode: 'copy' | 'transfer'): Promise<number>;
  stats(channel: number): IdcEndpoint['stats'];
  /**
   * Relay, first guest: `n` messages of `bytes` to the relay, each in a buffer allocated as
   * one comes back (forwarded buffers come back retired and are renewed first). Resolves
   * with messages per second once every buffer is back.
   */
  relaySend(channel: number, n: number, bytes: number): Promise<number>;
  /** Relay, middle guest: pass `n` messages from one channel to another, forwarding each under a grant or copying it. */
  relay(from: number, to: number, n: number, mode: 'forward' | 'copy'): Promise<void>;
  /** Relay, last guest: take `n` messages, check each one's sequence byte, release it. */
  relayDrain(channel: number, n: number): Promise<void>;
}

const WAIT_MS = 10_000;

export default function main(ctx: GuestContext): void {
  const init = ctx.init as GuestInit & { pm?: MessagePort };
  if (!init.idc || !init.pm) throw new Error('idc-bench-guest needs init.idc and init.pm');
  const idc = openIdc(init.idc);
  const pm = init.pm;
  const channels = new Map<number, IdcEndpoint>();
  const ep = (id: number): IdcEndpoint => {
    const e = channels.get(id);
    if (!e) throw new Error(`no channel ${id}`);
    return e;
  };

  // The echo side of the postMessage baselines: copy mode answers with one byte; transfer
  // mode gives the buffer back (the equivalent of a release).
  pm.onmessage = (ev: MessageEvent<{ data: Uint8Array; transfer: boolean }>) => {
    const { data, transfer } = ev.data;
    const touched = data[0]! + data[data.length - 1]!;
    if (transfer) pm.postMessage({ data, transfer }, [data.buffer]);
    else pm.postMessage({ data: new Uint8Array([touched & 255]), transfer });
  };

  const api: IdcBenchApi = {
    async accept(count) {
      const ids: number[] = [];
      for (let i = 0; i < count; i++) {
        const e = await idc.accept(WAIT_MS);
        channels.set(e.channelId, e);
        ids.push(e.channelId);
      }
      return ids;
    },
    latencyNs(channel, n, bytes) {
      const e = ep(channel);
      // The payload is produced in place once; each message then costs the descriptor,
      // the wake-up, the view, the release and the return.
      const first = e.allocSync(WAIT_MS);
      if (!first) throw new Error('no buffer');
      first.bytes.fill(0x5a, 0, bytes);
      e.send(first, bytes);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const b = e.allocSync(WAIT_MS);
        if (!b) throw new Error(`message ${i}: buffer not returned within ${WAIT_MS} ms`);
        b.bytes[0] = i & 255;
        e.send(b, bytes);
      }
      const ns = ((performance.now() - t0) * 1e6) / n;
      const until = performance.now() + WAIT_MS;
      while (e.freeBuffers < e.grant.layout.buffersPerSide) {
        if (performance.now() > until) throw new Error('last buffer not returned');
        e.reclaimSync(WAIT_MS);
      }
      return ns;
    },
    serve(channel, n) {
      const e = ep(channel);
      let sink = 0;
      for (let i = 0; i < n; i++) {
        const v = e.receiveSync(WAIT_MS);
        if (!v) throw new Error(`message ${i} did not arrive within ${WAIT_MS} ms`);
        sink ^= v.bytes[0]! ^ v.bytes[v.length - 1]!;
        v.release();
      }
      return sink;
    },
    throughput(channel, total, bytes, batch) {
      const e = ep(channel);
      const until = performance.now() + 10 * WAIT_MS;
      let sent = 0;
      const t0 = performance.now();
      while (sent < total) {
        let k = 0;
        for (let b = e.alloc(); b; b = k < batch && sent < total ? e.alloc() : null) {
          b.bytes[0] = sent & 255;
          e.post(b, bytes);
          k++;
          sent++;
        }
        if (k > 0) e.flush();
        else e.reclaimSync(WAIT_MS);
        if (e.fault || performance.now() > until) throw new Error(`stalled after ${sent} messages: ${e.fault ?? 'timeout'}`);
      }
      // Done when every message was seen and released: all our buffers are back.
      while (e.freeBuffers < e.grant.layout.buffersPerSide) {
        e.reclaimSync(WAIT_MS);
        if (performance.now() > until) throw new Error('buffers not returned');
      }
      return total / ((performance.now() - t0) / 1000);
    },
    drain(channel, total) {
      const e = ep(channel);
      let got = 0;
      let sink = 0;
      while (got < total) {
        const views = e.poll();
        if (views.length === 0) {
          const v = e.receiveSync(WAIT_MS);
          if (!v) throw new Error(`stalled after ${got} messages`);
          views.push(v);
        }
        for (const v of views) sink ^= v.bytes[0]!;
        e.releaseAll(views);
        got += views.length;
      }
      return sink;
    },
    async postMessageNs(n, bytes, mode) {
      const transfer = mode === 'transfer';
      let data: Uint8Array = new Uint8Array(bytes).fill(0x5a);
      const once = (): Promise<Uint8Array> =>
        new Promise((resolve) => {
          pm.onmessage = (ev: MessageEvent<{ data: Uint8Array }>) => resolve(ev.data.data);
          if (transfer) pm.postMessage({ data, transfer }, [data.buffer]);
          else pm.postMessage({ data, transfer });
        });
      for (let i = 0; i < 20; i++) {
        const back = await once();
        if (transfer) data = back;
      }
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const back = await once();
        if (transfer) data = back;
      }
      return ((performance.now() - t0) * 1e6) / n;
    },
    stats: (channel) => ep(channel).stats,
    async relaySend(channel, n, bytes) {
      const e = ep(channel);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const b = await e.allocAsync(WAIT_MS);
        if (!b) throw new Error(`relay message ${i}: no buffer back within ${WAIT_MS} ms (${e.stats.retired} retired, ${e.stats.renewed} renewed)`);
        b.bytes[0] = i & 255;
        b.bytes[bytes - 1] = i & 255;
        e.send(b, bytes);
      }
      const until = performance.now() + WAIT_MS;
      while (e.freeBuffers < e.grant.layout.buffersPerSide) {
        if (performance.now() > until) throw new Error(`relay: ${e.grant.layout.buffersPerSide - e.freeBuffers} buffers not back (${e.stats.retired} retired, ${e.stats.renewed} renewed)`);
        await new Promise((r) => setTimeout(r, 1));
      }
      return n / ((performance.now() - t0) / 1000);
    },
    async relay(from, to, n, mode) {
      const a = ep(from);
      const c = ep(to);
      for (let i = 0; i < n; i++) {
        const v = await a.receive(WAIT_MS);
        if (!v) throw new Error(`relay: message ${i} did not arrive within ${WAIT_MS} ms`);
        if (mode === 'forward') {
          await a.forward(v, c, WAIT_MS);
        } else {
          const b = await c.allocAsync(WAIT_MS);
          if (!b) throw new Error(`relay: no buffer toward the last guest for message ${i}`);
          b.bytes.set(v.bytes);
          c.recordCopy(v.length);
          c.send(b, v.length);
        }
        // Given back now, or (forwarded) when the last guest gives it back.
        v.release();
        // The last guest's returns end forwards and hand the first guest's buffers back.
        c.reclaim();
      }
      const until = performance.now() + WAIT_MS;
      for (c.reclaim(); c.windowFree < c.window || c.freeBuffers < c.grant.layout.buffersPerSide; c.reclaim()) {
        if (performance.now() > until) throw new Error('relay: the last guest did not give everything back');
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    async relayDrain(channel, n) {
      const e = ep(channel);
      for (let i = 0; i < n; i++) {
        const v = await e.receive(WAIT_MS);
        if (!v) throw new Error(`relay drain: message ${i} did not arrive within ${WAIT_MS} ms`);
        const bytes = v.bytes;
        if (bytes[0] !== (i & 255) || bytes[bytes.length - 1] !== (i & 255)) throw new Error(`relay drain: message ${i} carries ${bytes[0]}/${bytes[bytes.length - 1]}`);
        v.release();
      }
    },
  };
  expose(api, init.control);
}
