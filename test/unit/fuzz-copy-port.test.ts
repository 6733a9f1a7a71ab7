// Node, fast-check: the copy transport's dom0 end under arbitrary messages from a guest.
// The real driver and CopyPort over a real MessageChannel, an in-memory store with two
// trust groups. Each run posts a random program of messages: well-formed requests with any
// words, wrong-length word arrays, other typed arrays, plain objects, strings, null, WRITE
// requests with bytes of any length. Properties:
//   - nothing escapes dom0: no exception from the port, no unhandled rejection;
//   - every READ answer carries exactly the bytes the guest's own clone holds at that LBA
//     (never another group's or another clone's block), or a refusal status;
//   - a malformed message faults that guest, with a reason; a well-formed one never does.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dom0Driver } from '../../host/dom0/driver';
import { MemoryBlockStore } from '../../host/dom0/block-store';
import { CopyPort } from '../../host/dom0/copy-port';
import { CPL_STATUS, CPL_TAG, ENTRY_WORDS, Op, REQ_ARG0, REQ_ARG1, REQ_LBA, REQ_OP, REQ_TAG, Status } from '../../shared/protocol';
import type { CopyMessage } from '../../shared/grant';
import { fcParams } from '../helpers/seed.ts';

const BS = 4096;
const BLOCKS = 8;

type Msg =
  | { kind: 'request'; op: number; lba: number; arg0: number; arg1: number; withBytes: number | null }
  | { kind: 'garbage'; value: unknown };

// Mostly well-formed traffic (so reads are answered and checked), with hostile fields and
// garbage mixed in at a rate that still lets most programs run for a while.
const opArb = fc.oneof(
  { weight: 40, arbitrary: fc.constantFrom(Op.READ, Op.READ, Op.READ, Op.UNMAP, Op.WRITE, Op.FLUSH, Op.NOOP, Op.WRITE_HELD, Op.COMMIT_HELD, Op.DISCARD_HELD) },
  { weight: 1, arbitrary: fc.integer({ min: -3, max: 300 }) },
);
const lbaArb = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: BLOCKS - 1 }) }, { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) });
const requestArb: fc.Arbitrary<Extract<Msg, { kind: 'request' }>> = fc.record({
  kind: fc.constant('request' as const),
  op: opArb,
  lba: lbaArb,
  arg0: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 10 }) }),
  arg1: fc.oneof({ weight: 30, arbitrary: fc.constant(BS) }, { weight: 1, arbitrary: fc.integer({ min: -1, max: 2 * BS }) }),
  withBytes: fc.oneof({ weight: 30, arbitrary: fc.constant<number | null>(BS) }, { weight: 1, arbitrary: fc.option(fc.integer({ min: 0, max: 2 * BS }), { nil: null }) }),
});
const msgArb: fc.Arbitrary<Msg> = fc.oneof(
  { weight: 60, arbitrary: requestArb },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('garbage' as const),
      value: fc.oneof(
        fc.constant(null),
        fc.string(),
        fc.integer(),
        fc.record({ words: fc.array(fc.integer(), { maxLength: 12 }) }),
        fc.integer({ min: 0, max: 16 }).map((n) => ({ words: new Int32Array(n) })),
        fc.constant({ words: new Float64Array(ENTRY_WORDS) }),
        fc.constant({ words: new Uint32Array(ENTRY_WORDS) }),
      ),
    }),
  },
);

const wellFormedProgram: Msg[] = [
  ...Array.from({ length: BLOCKS }, (_, lba): Msg => ({ kind: 'request', op: Op.READ, lba, arg0: 0, arg1: BS, withBytes: null })),
  { kind: 'request', op: Op.WRITE, lba: 1, arg0: 0, arg1: BS, withBytes: BS },
  { kind: 'request', op: Op.FLUSH, lba: 0, arg0: 0, arg1: 0, withBytes: null },
  ...Array.from({ length: BLOCKS }, (_, lba): Msg => ({ kind: 'request', op: Op.READ, lba, arg0: 0, arg1: BS, withBytes: null })),
];

function blockFor(group: string, lba: number): Uint8Array {
  return new Uint8Array(BS).fill((group === 'g1' ? 10 : 100) + lba);
}

async function world() {
  const store = new MemoryBlockStore();
  for (const group of ['g1', 'g2']) {
    const image = new Map<number, Uint8Array>();
    for (let lba = 0; lba < BLOCKS - 2; lba++) image.set(lba, blockFor(group, lba));
    store.addVolume(`${group}@snap`, { blocks: BLOCKS, blockBytes: BS, readOnly: true, group }, image);
  }
  store.cloneVolume('g1@snap', 'mine');
  store.cloneVolume('g2@snap', 'theirs');
  const driver = new Dom0Driver(store, { arenaFrames: 4, promoteAt: 2, quota: 4, shared: false });
  const faults: string[] = [];
  driver.onFault = (_d, reason) => faults.push(reason);
  const other = await driver.createDomain('theirs');
  const d = await driver.createDomain('mine');
  // The other group's blocks are resident: a leak would show as their bytes in our answers.
  for (let lba = 0; lba < BLOCKS - 2; lba++) await driver.read(other, lba);
  const channel = new MessageChannel();
  const port = new CopyPort(driver, d, channel.port1);
  return { store, driver, d, port, guestEnd: channel.port2, faults };
}

describe('copy port under arbitrary guest messages', () => {
  it('never throws, never serves a block that is not the guest\'s own, and faults only malformed senders', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(msgArb, { minLength: 5, maxLength: 30 }), async (program) => {
          const w = await world();
          const replies: CopyMessage[] = [];
          const asked = new Map<number, { op: number; lba: number }>();
          w.guestEnd.onmessage = (ev: MessageEvent<CopyMessage>) => void replies.push(ev.data);
          w.guestEnd.start();
          let malformed = false;
          const written = new Map<number, number>();
          // Held writes count as written only once a COMMIT_HELD follows them: a held block
          // that was never committed must never be read back.
          const held = new Set<number>();
          // A refused held write (here: out of range) drops the group until DISCARD or COMMIT.
          let heldRefused = false;
          program.forEach((m, i) => {
            if (m.kind === 'garbage') {
              malformed = true;
              w.guestEnd.postMessage(m.value);
              return;
            }
            const words = new Int32Array(ENTRY_WORDS);
            words[REQ_OP] = m.op;
            words[REQ_TAG] = i + 1;
            words[REQ_LBA] = m.lba;
            words[REQ_ARG0] = m.arg0;
            words[REQ_ARG1] = m.arg1;
            const bytes = m.withBytes === null ? undefined : new Uint8Array(m.withBytes).fill(0xee);
            // What makes a request malformed (a fault, not a refusal): dispatch's rules.
            const isOp = [Op.READ, Op.UNMAP, Op.WRITE, Op.FLUSH, Op.NOOP, Op.WRITE_HELD, Op.COMMIT_HELD, Op.DISCARD_HELD].includes(m.op as Op);
            if (!isOp) malformed = true;
            const writes = m.op === Op.WRITE || m.op === Op.WRITE_HELD;
            if (writes && (m.arg1 !== BS || m.arg0 !== 0 || bytes?.byteLength !== BS)) malformed = true;
            if (m.op === Op.WRITE && !malformed && m.lba >= 0 && m.lba < BLOCKS) written.set(m.lba, 0xee);
            if (m.op === Op.WRITE_HELD && !malformed && !heldRefused) {
              if (m.lba >= 0 && m.lba < BLOCKS) held.add(m.lba);
              else {
                heldRefused = true;
                held.clear();
              }
            }
            if (m.op === Op.DISCARD_HELD) {
              held.clear();
              heldRefused = false;
            }
            if (m.op === Op.COMMIT_HELD) {
              for (const lba of held) written.set(lba, 0xee);
              held.clear();
              heldRefused = false;
            }
            asked.set(i + 1, { op: m.op, lba: m.lba >>> 0 });
            w.guestEnd.postMessage(bytes ? { words, bytes } : { words });
          });
          // Let the port drain: messages, the driver's batched reads and commits.
          for (let k = 0; k < 20; k++) await new Promise((r) => setTimeout(r, 1));
          for (const r of replies) {
            const q = asked.get(r.words[CPL_TAG]!);
            expect(q, 'a reply to a request the guest made').toBeDefined();
            if (q!.op === Op.READ && r.words[CPL_STATUS] === Status.OK && r.bytes) {
              // The clone's block: the image's, or what this guest wrote there (a read
              // handled before that write's commit still sees the image's). Never the
              // other group's bytes (100 + lba).
              const allowed = new Set([blockFor('g1', q!.lba)[0], ...(written.has(q!.lba) ? [0xee] : [])]);
              expect(r.bytes.byteLength).toBe(BS);
              expect(allowed.has(r.bytes[0]!), `block ${q!.lba} is this clone's own (got ${r.bytes[0]})`).toBe(true);
              expect(r.bytes[BS - 1]).toBe(r.bytes[0]);
            }
          }
          if (w.faults.length > 0) {
            expect(malformed, `faulted without cause: ${w.faults[0]}`).toBe(true);
            for (const f of w.faults) expect(f.length).toBeGreaterThan(10);
          }
          w.port.close();
          w.guestEnd.close();
        }),
        // Always run, whatever the seed: a well-formed program reading every block, with a
        // write in between, so the byte checks above run in every CI run. How many READs
        // a random draw answers with bytes is not asserted.
        { ...fcParams({ numRuns: 150 }), examples: [[wellFormedProgram]] },
      );
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    }
  }, 60_000);
});
