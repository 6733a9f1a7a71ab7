// Node: dom0's limit on what one domain may hold in inter-domain channels. Written as the
// attack the 2026-11-30 review measured: a guest opening channel after channel to its peer
// (300 in under 2 s, about 158 MB that dom0 and the peer held until the attacker died).
import { describe, expect, it } from 'vitest';
import { IDC_DEFAULT_LIMITS, IdcBroker } from '../../host/dom0/idc-broker';
import { IdcError } from '../../shared/idc-layout';

function refusal(f: () => unknown): IdcError {
  try {
    f();
  } catch (e) {
    if (e instanceof IdcError) return e;
    throw e;
  }
  throw new Error('expected an IdcError, the call succeeded');
}

describe('channels per domain', () => {
  it('a domain opening channels without end is refused at the limit with code quota; other pairs keep opening', () => {
    const broker = new IdcBroker();
    let opened = 0;
    for (let i = 0; i < 300; i++) {
      try {
        broker.createChannel(1, 2);
        opened++;
      } catch (e) {
        expect(e).toBeInstanceOf(IdcError);
        expect((e as IdcError).code).toBe('quota');
        expect((e as IdcError).message).toMatch(/domain 1 already has 64 channels/);
      }
    }
    expect(opened).toBe(IDC_DEFAULT_LIMITS.maxChannelsPerDomain);
    // The peer is at its limit too (every one of those channels is also its), a third pair is not.
    expect(refusal(() => broker.createChannel(2, 3)).code).toBe('quota');
    expect(() => broker.createChannel(3, 4)).not.toThrow();
  });

  it('counts bytes over every channel a domain is in, on either side, and frees them when a domain of the channel ends', () => {
    const broker = new IdcBroker({ maxChannelsPerDomain: 1000, maxBytesPerDomain: 8 << 20 });
    // 2 sides × 16 buffers × 128 KiB = 4 MiB of buffers each, plus control and tables.
    const big = { buffersPerSide: 16, bufferBytes: 128 << 10 };
    broker.createChannel(1, 2, big);
    const e = refusal(() => broker.createChannel(3, 1, big)); // 1 as side 1 counts too
    expect(e.code).toBe('quota');
    expect(e.message).toMatch(/domain 1 has \d+ bytes of channel memory open/);
    expect(() => broker.createChannel(3, 4, big)).not.toThrow();
    expect(refusal(() => broker.createChannel(5, 1, big)).code).toBe('quota');
    broker.closeDomain(2);
    expect(() => broker.createChannel(5, 1, big)).not.toThrow();
  });

  it('a single channel larger than the limit is refused before any memory is made', () => {
    const broker = new IdcBroker();
    // 2 × 1024 × 16 MiB = 32 GiB: the largest geometry channelLayout accepts.
    expect(refusal(() => broker.createChannel(1, 2, { buffersPerSide: 1024, bufferBytes: 16 << 20 })).code).toBe('quota');
  });
});
