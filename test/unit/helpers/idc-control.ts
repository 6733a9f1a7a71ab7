// Node tests: a guest's IDC control plane wired straight to a broker, as the page and dom0
// would wire it.
import type { IdcBroker } from '../../../host/dom0/idc-broker';
import type { IdcControlPlane } from '../../../guest/idc';
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
