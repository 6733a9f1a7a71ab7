// Node tests: a guest's IDC control plane wired straight to a broker, as the page and dom0
// would wire it.
import type { IdcBroker } from '../../../host/dom0/idc-broker';
import type { IdcControlPlane, IdcEndpoint } from '../../../guest/idc';
import type { RenewedBuffer } from '../../../shared/idc-layout';

/**
 * The control plane of `domain`. Async like the real one: a broker refusal is a rejection,
 * never a throw. `tellPeer` plays the page's part in a renewal: it gets the notice for the
 * peer (deliver it to the peer's endpoint, `renewedPeer`, now or later).
 */
export function controlOf(broker: IdcBroker, domain: number, tellPeer: (peer: number, r: RenewedBuffer) => void = () => undefined): IdcControlPlane {
  return {
    grant: async (c, b, to) => broker.grant(domain, c, b, to),
    map: async (ref) => broker.map(domain, ref),
    end: async (ref) => void broker.end(domain, ref),
    renew: async (c, b) => {
      const { renewed, peer } = broker.renew(domain, c, b);
      tellPeer(peer, renewed);
      return renewed;
    },
  };
}

/** Send `text` in a free buffer of `ep`; returns the buffer id. */
export function sendText(ep: IdcEndpoint, text: string): number {
  const b = ep.alloc();
  if (!b) throw new Error('no free buffer');
  const n = new TextEncoder().encodeInto(text, b.bytes).written;
  ep.send(b, n);
  return b.id;
}

/** A received payload as text (copied first: a peer can change it meanwhile). */
export const text = (u8: Uint8Array): string => new TextDecoder().decode(u8.slice());
