// Entry of the dom0 driver worker (dedicated worker owned by the host page). Exposes the
// control plane over comlink; the data plane (rings) never goes through here.
import { expose } from 'comlink';
import { Dom0Service } from './dom0-service';
import { installErrorTransfer } from '../../shared/errors/error-transfer';
import { ALL_ERROR_CLASSES } from '../../shared/errors/all-error-classes';

installErrorTransfer(ALL_ERROR_CLASSES);
const service = new Dom0Service();
// Every control-plane call is counted while it runs (Dom0Service.controlCall): dom0 does
// not nap in Atomics.wait meanwhile, since the call's IndexedDB events and follow-up work
// only its event loop delivers.
expose(
  new Proxy(service, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => target.controlCall(() => (v as (...a: unknown[]) => unknown).apply(target, args));
    },
  }),
);
