// Runs in Node. Branded ids and the one "frame + 1" word encoding (shared/ids.ts), and the
// request/completion word offsets derived from one running layout (shared/protocol.ts):
// the wire format those offsets describe must not move.
import { describe, expect, expectTypeOf, it } from 'vitest';
import fc from 'fast-check';
import { assertLba, decodeFrame, domainId, encodeFrame, frameNo, isFrameNo, isLba, lba, NO_FRAME, type DomainId, type FrameNo, type Lba } from '../../shared/ids';
import * as P from '../../shared/protocol';
import { fcParams } from '../helpers/seed.ts';

describe('ids', () => {
  it('checked constructors take exactly the integers in range', () => {
    fc.assert(
      fc.property(fc.double({ min: -10, max: 40 }), fc.integer({ min: 1, max: 32 }), (n, limit) => {
        const ok = Number.isInteger(n) && n >= 0 && n < limit;
        expect(isFrameNo(n, limit)).toBe(ok);
        expect(isLba(n, limit)).toBe(ok);
        if (ok) expect(frameNo(n, limit)).toBe(n);
        else expect(() => lba(n, limit)).toThrow(RangeError);
      }),
      fcParams({ numRuns: 100 }),
    );
    expect(() => frameNo(Number.NaN, 4)).toThrow(RangeError);
    expect(() => domainId(0)).toThrow(RangeError);
    expect(() => domainId(2 ** 31)).toThrow(RangeError);
    expect(domainId(7)).toBe(7);
  });

  it('encodeFrame and decodeFrame are inverse, and 0 is no frame', () => {
    expect(encodeFrame(NO_FRAME)).toBe(0);
    expect(decodeFrame(0)).toBe(NO_FRAME);
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 2 }), (f) => decodeFrame(encodeFrame(f)) === f && encodeFrame(f) > 0), fcParams({ numRuns: 100 }));
  });

  it('brands do not mix', () => {
    expectTypeOf<number>().not.toExtend<FrameNo>();
    expectTypeOf<FrameNo>().not.toExtend<Lba>();
    expectTypeOf<Lba>().not.toExtend<DomainId>();
    expectTypeOf<FrameNo>().toExtend<number>();
    const n: number = 3;
    assertLba(n, 4);
    expectTypeOf(n).toEqualTypeOf<Lba>();
  });
});

describe('protocol word offsets', () => {
  it('are the wire format: distinct, consecutive from 0, within an entry', () => {
    expect([P.REQ_OP, P.REQ_TAG, P.REQ_LBA, P.REQ_ARG0, P.REQ_ARG1, P.REQ_ARG2, P.REQ_USED]).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([P.CPL_TAG, P.CPL_STATUS, P.CPL_FRAME, P.CPL_GEN, P.CPL_OP, P.CPL_USED]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(P.REQ_USED).toBeLessThanOrEqual(P.ENTRY_WORDS);
    expect(P.CPL_USED).toBeLessThanOrEqual(P.ENTRY_WORDS);
  });
});
