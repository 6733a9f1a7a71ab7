// Entry of the dom0 driver worker (dedicated worker owned by the host page). Exposes the
// control plane over comlink; the data plane (rings) never goes through here.
import { expose } from 'comlink';
import { Dom0Service } from './dom0-service';
import { installErrorTransfer } from '../../shared/errors/error-transfer';

installErrorTransfer();
const service = new Dom0Service();
// Registered before comlink's listener, so the scheduler knows before the call runs.
addEventListener('message', () => service.activity());
expose(service);
