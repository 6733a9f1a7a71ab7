// Control worker for test/e2e/isolation-csp.spec.ts (guest side): the same hardened
// bootstrap, but the worker's entry script lives outside /guest/, so the guest-CSP
// plugin does not put its header on this response and the worker runs without CSP.
import '../../../guest/bootstrap';
