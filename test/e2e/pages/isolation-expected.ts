// Imported by the matrix page (browser) and the isolation specs (Node): the expected
// isolation matrix, copied from ARCHITECTURE.md section 1 (measured in Chromium 156 with
// COOP same-origin + COEP require-corp on every response). The spec asserts what the
// browser does against this, so a browser that changes its mind fails loudly.

/** What happened to a SharedArrayBuffer posted to a context. */
export type SabOutcome =
  | 'received' // arrived, and a write by the guest was visible to the host: shared memory
  | 'messageerror' // the guest got a `messageerror` instead of the message
  | 'timeout' // no answer at all (guest never started its responder)
  | 'other'; // anything else; the row's probe result says what

export const CONTEXTS = [
  { id: 'worker', label: 'dedicated worker' },
  { id: 'hardened-worker', label: 'dedicated worker running guest/bootstrap.ts (hardened)' },
  { id: 'same-origin-iframe', label: 'same-origin iframe' },
  { id: 'sandboxed-opaque-iframe', label: 'sandboxed iframe, sandbox="allow-scripts" (opaque origin)' },
  { id: 'sandboxed-opaque-coi-iframe', label: 'sandboxed iframe, sandbox="allow-scripts" + allow="cross-origin-isolated"' },
  { id: 'sandboxed-same-origin-iframe', label: 'sandboxed iframe, sandbox="allow-scripts allow-same-origin"' },
  { id: 'cross-origin-iframe', label: 'cross-origin iframe (localhost vs 127.0.0.1), allow="cross-origin-isolated"' },
] as const;
export type ContextId = (typeof CONTEXTS)[number]['id'];

export const EXPECTED: Readonly<Record<ContextId, SabOutcome>> = {
  'worker': 'received',
  // Not in ARCHITECTURE.md's table; a hardened guest is still a dedicated worker.
  'hardened-worker': 'received',
  'same-origin-iframe': 'received',
  'sandboxed-opaque-iframe': 'messageerror',
  // Not in ARCHITECTURE.md's table: granting cross-origin-isolated to the opaque frame
  // gives it a SharedArrayBuffer constructor of its own, but not our buffer.
  'sandboxed-opaque-coi-iframe': 'messageerror',
  'sandboxed-same-origin-iframe': 'received',
  'cross-origin-iframe': 'messageerror',
};
