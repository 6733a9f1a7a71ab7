// Dedicated worker for the isolation matrix page (guest side): nothing but the transport
// probe's responder, so the row measures the platform and not our bootstrap.
import { answerTransportProbe } from '../../../shared/transport-probe';
import type { Transport } from '../../../shared/transport';

answerTransportProbe(globalThis as unknown as Transport);
