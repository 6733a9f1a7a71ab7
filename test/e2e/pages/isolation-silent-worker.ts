// Worker for test/e2e/isolation-probe.spec.ts (guest side) that never starts the probe
// responder: the probe must give up after its timeout and pick the copy transport.
export {};
