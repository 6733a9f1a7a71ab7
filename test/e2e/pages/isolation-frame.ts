// Runs in a guest frame of the isolation matrix page: starts the probe responder towards
// the parent. Replies go to '*': the probe carries nothing secret, and the same frame is
// embedded by pages on both loopback names.
import { answerTransportProbe } from '../../../shared/transport-probe';
import { windowTransport } from '../../../shared/transport';

const el = document.getElementById('origin');
if (el) el.textContent = `${location.origin} · crossOriginIsolated=${String(crossOriginIsolated)}`;
answerTransportProbe(windowTransport(parent, '*'));
