// Node, fast-check: dom0 under arbitrary input from guests. The real
// driver and RingPorts over SharedArrayBuffers, an in-memory store with two trust groups,
// and reliability hooks installed. Each run is a random program of hostile actions:
// entries pushed on a domain's request ring with arbitrary words, arbitrary bytes written
// anywhere in a domain's control buffer (ring headers, page map, staging), arbitrary
// control-plane calls (create/destroy domains, direct driver calls with any arguments),
// journals full of garbage. Properties:
//   - no exception escapes dom0 (ring polling never throws, no unhandled rejection);
//     control-plane calls either succeed or reject with an Error that says why;
//   - a domain is only ever handed frames of its own trust group's arena, holding the
//     block its own clone has at that address (checked on every page-map publication and
//     on dom0's trusted shadow maps at rest);
//   - a domain is faulted only if its own memory was tampered with, and always with a reason.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dom0Driver, type Domain } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { RingPort } from '../../host/dom0/ring-port';
import { Dom0Reliability } from '../../host/dom0/dom0-reliability';
import { domainLayout, type DomainLayout } from '../../shared/memory-layout';
import { RingProducer } from '../../shared/ring';
import { ENTRY_WORDS, Op, REQ_ARG0, REQ_ARG1, REQ_LBA, REQ_OP, REQ_TAG } from '../../shared/protocol';
import { readJournal } from '../../guest/workloads/journal';
import { journalLayout } from '../../shared/journal-layout';
import { parseBatch } from '../../host/mirror/mirror-protocol';
import { fcParams } from '../helpers/seed.ts';

const BS = 4096;
const BLOCKS = 12;
const DATASETS = ['a1', 'a2', 'x1', 'base@snap', 'nope', ''];

interface Guest {
  d: Domain;
  port: RingPort;
  control: SharedArrayBuffer;
  layout: DomainLayout;
  producer: RingProducer;
  tampered: boolean;
}

async function world() {
  const store = new MemoryBlockStore();
  const image = new Map<number, Uint8Array>();
  for (let i = 0; i < 6; i++) image.set(i, new Uint8Array(BS).fill(i + 1));
  store.addVolume('base@snap', { blocks: BLOCKS, blockBytes: BS, readOnly: true, group: 'g1' }, image);
  store.cloneVolume('base@snap', 'a1');
  store.cloneVolume('base@snap', 'a2');
  store.cloneVolume('base@snap', 'x1', 'g2');
  const driver = new Dom0Driver(store, { arenaFrames: 6, promoteAt: 2, quota: 4, shared: true });
  new Dom0Reliability(driver);
  const faults: [number, string][] = [];
  driver.onFault = (d, reason) => faults.push([d.id, reason]);
  const guests: Guest[] = [];
  const violations: string[] = [];
  const attach = (d: Domain): Guest => {
    const layout = domainLayout(BLOCKS, BS, 8, 2);
    const control = new SharedArrayBuffer(layout.totalBytes);
    const port = new RingPort(driver, d, control, layout);
    const sink = d.port!;
    // Every frame handed to a guest: its group's arena or its own private frames, its own
    // clone's block at that address; a block only its clone holds never in the arena.
    d.port = {
      clearLeased: (lba, keep) => sink.clearLeased(lba, keep),
      keptAsked: (lba) => sink.keptAsked(lba),
      publish: (lba, frame) => {
        if (frame >= 0) {
          const want = store.resolveSync(d.dataset, [lba])[0];
          const arena = d.group.layout.frames;
          const info = frame < arena ? d.group.table.info(frame) : d.priv.info(frame - arena);
          if (!want || info.key !== want.key) violations.push(`domain ${d.id} (${d.dataset}) got frame ${frame} holding ${info.key} for lba ${lba}, its clone has ${want?.key}`);
          if (want?.exclusive && frame < arena) violations.push(`domain ${d.id}'s private block ${want.key} was put in the group arena`);
          // The frame number indexes d.group's arena, the only arena this guest was given.
          if (d.group.id !== d.volume.group || d.group !== driver.groups.get(d.volume.group)) violations.push(`domain ${d.id} of ${d.volume.group} served from group ${d.group.id}`);
          if (frame >= arena + d.priv.layout.frames) violations.push(`domain ${d.id} got frame ${frame}, outside its arena and private frames`);
        }
        sink.publish(lba, frame);
      },
    };
    const g = { d, port, control, layout, producer: new RingProducer(control, layout.requestRing), tampered: false };
    guests.push(g);
    return g;
  };
  for (const ds of ['a1', 'a2', 'x1']) attach(await driver.createDomain(ds));
  return { store, driver, guests, faults, violations, attach };
}

const word = fc.oneof(fc.integer({ min: -5, max: 20 }), fc.integer(), fc.constantFrom(0x7fffffff, -1, 0x80000000 | 0));
const action = fc.oneof(
  // A well-formed-ish request with arbitrary fields, pushed the way a guest pushes.
  fc.record({ kind: fc.constant('push' as const), g: fc.nat(5), op: fc.oneof(fc.constantFrom(...Object.values(Op)), word), lba: word, arg0: word, arg1: fc.oneof(fc.constant(BS), word), arg2: word }),
  // Arbitrary bytes anywhere in the domain's control buffer.
  fc.record({ kind: fc.constant('scribble' as const), g: fc.nat(5), at: fc.nat(), value: fc.integer() }),
  fc.record({ kind: fc.constant('create' as const), ds: fc.constantFrom(...DATASETS), quota: fc.oneof(fc.constant(4), word), id: fc.option(word) }),
  fc.record({ kind: fc.constant('destroy' as const), id: word }),
  fc.record({ kind: fc.constant('direct' as const), g: fc.nat(5), which: fc.constantFrom('read', 'unmap', 'unmap-kept', 'write', 'flush', 'held', 'commit', 'discard'), lba: word, frame: word, len: fc.constantFrom(BS, 0, 1, BS + 1) }),
  fc.record({ kind: fc.constant('poll' as const) }),
);

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('fuzz: dom0 under arbitrary guest input', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  beforeEach(() => void process.on('unhandledRejection', onUnhandled));
  afterEach(() => void process.off('unhandledRejection', onUnhandled));

  it('never crashes, never serves a frame outside the caller’s group and clone, faults only the offender with a reason', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 40 }), async (program) => {
        const w = await world();
        let tag = 1;
        for (const a of program) {
          const live = w.guests.filter((g) => g.d.alive);
          const g = 'g' in a ? w.guests[a.g % w.guests.length]! : null;
          switch (a.kind) {
            case 'push':
              g!.producer.produce(1, (words, base) => {
                for (let k = 0; k < ENTRY_WORDS; k++) words[base + k] = 0;
                words[base + REQ_OP] = a.op;
                words[base + REQ_TAG] = tag++;
                words[base + REQ_LBA] = a.lba;
                words[base + REQ_ARG0] = a.arg0;
                words[base + REQ_ARG1] = a.arg1;
                words[base + REQ_ARG0 + 2] = a.arg2;
              });
              g!.producer.publish();
              if (!(typeof a.op === 'number' && Object.values(Op).includes(a.op as Op))) g!.tampered = true;
              if (a.op === Op.WRITE || a.op === Op.WRITE_HELD || a.op === Op.UNMAP) g!.tampered = true; // bad slots/lengths/pins fault by design
              break;
            case 'scribble': {
              const i32 = new Int32Array(g!.control);
              i32[a.at % i32.length] = a.value;
              g!.tampered = true;
              break;
            }
            case 'create':
              try {
                w.attach(await w.driver.createDomain(a.ds, a.quota, a.id ?? undefined));
              } catch (err) {
                expect(err).toBeInstanceOf(Error);
                expect((err as Error).message.length).toBeGreaterThan(0);
              }
              break;
            case 'destroy':
              try {
                w.driver.destroyDomain(a.id);
              } catch (err) {
                expect(err).toBeInstanceOf(RangeError);
              }
              break;
            case 'direct': {
              const d = g!.d;
              if (!d.alive) break;
              if (a.which === 'read') await w.driver.read(d, a.lba);
              else if (a.which === 'unmap') w.driver.unmap(d, a.lba, a.frame);
              else if (a.which === 'unmap-kept') w.driver.unmap(d, a.lba, -1, true);
              else if (a.which === 'write') await w.driver.write(d, a.lba, new Uint8Array(a.len).fill(a.frame & 0xff));
              else if (a.which === 'held') w.driver.writeHeld(d, a.lba, new Uint8Array(a.len).fill(a.frame & 0xff));
              else if (a.which === 'commit') await w.driver.commitHeld(d);
              else if (a.which === 'discard') w.driver.discardHeld(d);
              else await w.driver.flush(d);
              break;
            }
            case 'poll':
              for (const x of live) expect(() => x.port.poll()).not.toThrow();
              await settle();
              break;
          }
        }
        for (let i = 0; i < 3; i++) {
          for (const x of w.guests) if (x.d.alive) x.port.poll();
          await settle();
        }
        expect(w.violations).toEqual([]);
        // dom0's trusted shadow maps, at rest: own group, own clone's block, recorded as a mapper.
        for (const d of w.driver.domains.values()) {
          if (!d.alive) continue;
          for (let lba = 0; lba < d.shadow.length; lba++) {
            const f = d.shadow[lba]! - 1;
            if (f < 0) continue;
            // A group frame, or one of the domain's private frames (its own writes are mapped from them).
            const arena = d.group.layout.frames;
            const info = f < arena ? d.group.table.info(f) : d.priv.info(f - arena);
            expect(info.state).toBe('resident');
            expect(info.key).toBe(w.store.resolveSync(d.dataset, [lba])[0]?.key);
            expect(info.mappedBy.has(d.id)).toBe(true);
          }
        }
        // A domain no longer served holds no atomic group (it goes with the domain).
        for (const d of w.driver.domains.values()) if (!d.alive) expect(d.held, `domain ${d.id} (${d.fault}) still holds a group`).toBeNull();
        for (const [id, reason] of w.faults) {
          expect(reason.length).toBeGreaterThan(5);
          const g = w.guests.find((x) => x.d.id === id && x.d.fault === reason);
          expect(g?.tampered, `domain ${id} faulted (${reason}) without tampering`).toBe(true);
        }
        expect(unhandled).toEqual([]);
      }),
      fcParams({ numRuns: Number(process.env.FUZZ_RUNS ?? 150) }),
    );
  }, 60_000);

  it('a journal region full of garbage never throws on replay and yields only in-range records', () => {
    const layout = journalLayout(8, 512);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(layout.totalBytes / 4 - 1), fc.integer()), { maxLength: 200 }), fc.boolean(), (pokes, magic) => {
        const buf = new SharedArrayBuffer(layout.totalBytes);
        const i32 = new Int32Array(buf);
        if (magic) i32[0] = 0x4a524e31;
        for (const [at, v] of pokes) i32[at] = v;
        const snap = readJournal(buf, 8, 512, 16);
        for (const r of snap.records) {
          expect(r.lba).toBeGreaterThanOrEqual(0);
          expect(r.lba).toBeLessThan(16);
          expect(r.bytes.byteLength).toBe(512);
        }
        expect(snap.records.length).toBeLessThanOrEqual(9);
      }),
      fcParams({ numRuns: 500 }),
    );
  });

  it('the mirror target’s parser rejects anything that is not a well-formed batch, without throwing', () => {
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        expect(typeof parseBatch(junk)).toBe('string');
      }),
      fcParams({ numRuns: 500 }),
    );
  });
});
