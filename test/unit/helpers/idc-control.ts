// Node tests: a guest's IDC control plane wired straight to a broker, as the page and dom0
// would wire it.
import type { IdcBroker } from '../../../host/dom0/idc-broker';
import type { IdcControlPlane } from '../../../guest/idc';

/** The control plane of `domain`. Async like the real one: a broker refusal is a rejection, never a throw. */
export function controlOf(broker: IdcBroker, domain: number): IdcControlPlane {
  return {
    grant: async (c, b, to) => broker.grant(domain, c, b, to),
    map: async (ref) => broker.map(domain, ref),
    end: async (ref) => void broker.end(domain, ref),
  };
}
