// Node: both ports serve through one serve-and-fault path (host/dom0/request-dispatch.ts).
// A request whose service throws synchronously, or whose completion rejects, faults the
// requesting domain alone, with a reason; nothing escapes dom0 and another domain on the
// same driver goes on being served.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Dom0Driver, type Domain } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { CopyPort } from '../../host/dom0/copy-port';
import { RingPort } from '../../host/dom0/ring-port';
import { RingProducer } from '../../shared/ring';
import { domainLayout } from '../../shared/memory-layout';
import { CPL_STATUS, ENTRY_WORDS, Op, REQ_LBA, REQ_OP, REQ_TAG, Status } from '../../shared/protocol';
import type { CopyMessage } from '../../shared/grant';

const BS = 4096;
const BLOCKS = 8;
/** LBAs whose service fails: 1 throws inside dispatch, 2 rejects later. */
const THROWS = 1;
const REJECTS = 2;

async function world() {
  const store = new MemoryBlockStore();
  const image = new Map<number, Uint8Array>();
  for (let i = 0; i < BLOCKS; i++) image.set(i, new Uint8Array(BS).fill(i + 1));
  store.addVolume('base@snap', { blocks: BLOCKS, blockBytes: BS, readOnly: true, group: 'g' }, image);
  store.cloneVolume('base@snap', 'victim');
  store.cloneVolume('base@snap', 'bystander');
  const driver = new Dom0Driver(store, { arenaFrames: 8, promoteAt: 2, quota: 4, shared: false });
  const faults: [number, string][] = [];
  driver.onFault = (d, reason) => faults.push([d.id, reason]);
  const victim = await driver.createDomain('victim');
  const bystander = await driver.createDomain('bystander');
  // A bug of ours or a pool error on one request, for the victim only.
  const read = driver.read.bind(driver);
  driver.read = (d: Domain, lba: number) => {
    if (d === victim && lba === THROWS) throw new Error('synchronous failure in the driver');
    if (d === victim && lba === REJECTS) return Promise.reject(new Error('pool read failed'));
    return read(d, lba);
  };
  return { driver, faults, victim, bystander };
}

function request(op: number, lba: number, tag: number): Int32Array {
  const words = new Int32Array(ENTRY_WORDS);
  words[REQ_OP] = op;
  words[REQ_LBA] = lba;
  words[REQ_TAG] = tag;
  return words;
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('one serve-and-fault path for both ports', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  for (const lba of [THROWS, REJECTS]) {
    it(`copy port: a request that ${lba === THROWS ? 'throws' : 'rejects'} faults only its domain`, async () => {
      const w = await world();
      const ends = [w.victim, w.bystander].map((d) => {
        const ch = new MessageChannel();
        new CopyPort(w.driver, d, ch.port1);
        const replies: CopyMessage[] = [];
        ch.port2.onmessage = (ev: MessageEvent<CopyMessage>) => void replies.push(ev.data);
        return { port: ch.port2, replies };
      });
      ends[0]!.port.postMessage({ words: request(Op.READ, lba, 1) });
      await settle();
      ends[1]!.port.postMessage({ words: request(Op.READ, 3, 2) });
      await settle();
      expect(w.faults).toHaveLength(1);
      expect(w.faults[0]![0]).toBe(w.victim.id);
      expect(w.faults[0]![1]).toMatch(/dom0 error serving opcode \d+: (synchronous failure in the driver|pool read failed)/);
      expect(w.victim.alive).toBe(false);
      expect(w.bystander.alive).toBe(true);
      expect(ends[1]!.replies.map((r) => r.words[CPL_STATUS])).toEqual([Status.OK]);
      expect(ends[1]!.replies[0]!.bytes?.[0]).toBe(4);
      expect(unhandled).toEqual([]);
      for (const e of ends) e.port.close();
    });

    it(`ring port: a request that ${lba === THROWS ? 'throws' : 'rejects'} faults only its domain`, async () => {
      const w = await world();
      const layout = domainLayout(BLOCKS, BS, 8, 2);
      const guests = [w.victim, w.bystander].map((d) => {
        const control = new SharedArrayBuffer(layout.totalBytes);
        const port = new RingPort(w.driver, d, control, layout);
        return { port, producer: new RingProducer(control, layout.requestRing) };
      });
      const push = (g: (typeof guests)[number], words: Int32Array): void => {
        g.producer.produce(1, (ring, base) => {
          for (let k = 0; k < ENTRY_WORDS; k++) ring[base + k] = words[k]!;
        });
        g.producer.publish();
        g.port.poll();
      };
      push(guests[0]!, request(Op.READ, lba, 1));
      await settle();
      push(guests[1]!, request(Op.READ, 3, 2));
      await settle();
      expect(w.faults).toHaveLength(1);
      expect(w.faults[0]![0]).toBe(w.victim.id);
      expect(w.faults[0]![1]).toMatch(/dom0 error serving opcode \d+/);
      expect(w.victim.alive).toBe(false);
      expect(w.bystander.alive).toBe(true);
      expect(w.bystander.counters.requests).toBeGreaterThan(0);
      expect(unhandled).toEqual([]);
    });
  }
});
