// Runs on both sides of the boundary. The host side (`probeTransport`, on the page or in
// dom0) decides whether a guest gets the zero-copy transport or the copy transport; the
// guest side (`answerTransportProbe`) is a tiny responder every guest context starts
// before anything else.
//
// Why a live probe and not just `crossOriginIsolated`: a SharedArrayBuffer can only be
// deserialized in the agent cluster it was made in, and under cross-origin isolation
// agent clusters are keyed by origin. So an isolated page can still have guests that
// cannot hold its SAB (opaque-origin or cross-origin iframes: ARCHITECTURE.md section 1),
// and the only reliable test is to post one and see whether it arrives. The host also
// checks that a write by the guest is visible to it, so a transport that silently copies
// cannot pass for shared memory.
//
// Protocol (all plain objects, nothing secret: frames may be addressed with '*'):
//   host → guest  { tag: begin, id }          names the probe that follows
//   host → guest  { tag: probe, id, sab }     sab: Int32Array(2) view; [0] = nonce
//   guest → host  { tag: ack, id, guest }     after Atomics.store([1], nonce ^ ACK_MARK)
//   guest → host  { tag: nack, id, why, guest } on `messageerror` (the SAB could not be
//                                              deserialized: the event has no data, so
//                                              the id comes from the preceding `begin`)
//   guest → host  { tag: ready, guest }        once, when the responder is listening
//                                              (a frame's window drops messages posted
//                                              before its document has loaded)
import { TRANSPORT_KIND, type Transport } from './transport';

export const PROBE_TAG = {
  begin: 'tabvisor:transport-probe:begin',
  probe: 'tabvisor:transport-probe',
  ack: 'tabvisor:transport-probe:ack',
  nack: 'tabvisor:transport-probe:nack',
  ready: 'tabvisor:transport-probe:ready',
} as const;

/** What the guest writes into word 1 is the nonce XOR this, so a copy cannot echo it. */
export const ACK_MARK = 0x5a5a5a5a;

/** Default wait for the guest's answer. A module worker's first load through the Vite
 *  dev server transforms its imports on demand, which took up to ~1 s on the 2-core CI
 *  machine; 5 s leaves room without stalling a page whose guest never answers. */
export const PROBE_TIMEOUT_MS = 5_000;

/** What the guest says about itself (for the matrix and for error messages). */
export interface GuestContextReport {
  readonly origin: string;
  readonly crossOriginIsolated: boolean;
  readonly hasSharedArrayBuffer: boolean;
}

/** Why the copy transport was chosen; the `reason` text says the same in plain words. */
export type ProbeCause =
  | 'no-shared-array-buffer'
  | 'not-cross-origin-isolated'
  | 'host-cannot-post'
  | 'guest-messageerror'
  | 'guest-not-a-sab'
  | 'guest-got-copy'
  | 'guest-timeout';

export type ProbeResult =
  | { readonly kind: typeof TRANSPORT_KIND.zeroCopy; readonly reason: string; readonly guest: GuestContextReport }
  | {
      readonly kind: typeof TRANSPORT_KIND.copy;
      readonly cause: ProbeCause;
      readonly reason: string;
      readonly guest?: GuestContextReport;
    };

/** The two globals the host-side check reads; a parameter so tests can vary them. */
export interface HostScope {
  readonly SharedArrayBuffer?: unknown;
  readonly crossOriginIsolated?: boolean;
}

type CopyResult = Extract<ProbeResult, { kind: 'copy' }>;

function copy(cause: ProbeCause, reason: string, guest?: GuestContextReport): CopyResult {
  return guest ? { kind: TRANSPORT_KIND.copy, cause, reason, guest } : { kind: TRANSPORT_KIND.copy, cause, reason };
}

/**
 * The part of the decision that needs no guest: can this context make and post a SAB at
 * all? Returns the copy verdict, or null when it is worth asking the guest.
 * Isolation is checked first because it is the actionable fix: browsers hide the SAB
 * constructor from pages that are not isolated, and "no SAB" would send the reader
 * looking for a browser bug instead of a missing header.
 */
export function checkHostCapability(scope: HostScope = globalThis as HostScope): CopyResult | null {
  const hasSab = typeof scope.SharedArrayBuffer === 'function';
  if (scope.crossOriginIsolated !== true) {
    return copy(
      'not-cross-origin-isolated',
      hasSab
        ? 'page is not cross-origin isolated (missing COOP/COEP headers)'
        : 'page is not cross-origin isolated (missing COOP/COEP headers), so the browser hides SharedArrayBuffer',
    );
  }
  if (!hasSab) return copy('no-shared-array-buffer', 'no SharedArrayBuffer in this browser');
  return null;
}

export interface ProbeOptions {
  readonly timeoutMs?: number;
  readonly scope?: HostScope;
}

let probeSeq = 0;

/**
 * Host side: decide the transport for the guest at the other end of `endpoint`.
 * Never rejects: every failure is a copy verdict with a reason. The guest must be
 * running `answerTransportProbe` (for a frame, wait for its `ready` first:
 * `waitForProbeResponder`).
 */
export function probeTransport(endpoint: Transport, options: ProbeOptions = {}): Promise<ProbeResult> {
  const early = checkHostCapability(options.scope);
  if (early) return Promise.resolve(early);
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;

  const id = `probe-${Date.now().toString(36)}-${(probeSeq++).toString(36)}`;
  const sab = new SharedArrayBuffer(8);
  const words = new Int32Array(sab);
  const nonce = (Math.random() * 0x7fffffff) | 0 || 1;
  Atomics.store(words, 0, nonce);

  return new Promise<ProbeResult>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (result: ProbeResult): void => {
      clearTimeout(timer);
      endpoint.removeEventListener('message', onMessage);
      resolve(result);
    };
    const onMessage = (ev: Event): void => {
      const msg = asRecord((ev as MessageEvent).data);
      if (!msg || msg.id !== id) return;
      const guest = asGuestReport(msg.guest);
      if (msg.tag === PROBE_TAG.ack) {
        // The guest's Atomics.store happened before its postMessage, and our receipt of
        // that message happens after it, so a shared buffer must show the write now.
        if (Atomics.load(words, 1) === (nonce ^ ACK_MARK) && guest) {
          finish({ kind: TRANSPORT_KIND.zeroCopy, reason: 'guest shares memory with this page', guest });
        } else {
          finish(copy('guest-got-copy', 'guest received a copy of the buffer, not shared memory', guest));
        }
      } else if (msg.tag === PROBE_TAG.nack) {
        if (msg.why === 'messageerror') {
          finish(copy('guest-messageerror', `guest context cannot receive SharedArrayBuffer (${whereIs(guest)})`, guest));
        } else {
          finish(copy('guest-not-a-sab', `guest did not get a SharedArrayBuffer (${String(msg.why)})`, guest));
        }
      }
    };
    endpoint.addEventListener('message', onMessage);
    endpoint.start?.();
    timer = setTimeout(() => {
      finish(copy('guest-timeout', `guest did not answer the transport probe within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      endpoint.postMessage({ tag: PROBE_TAG.begin, id });
      endpoint.postMessage({ tag: PROBE_TAG.probe, id, sab });
    } catch (err: unknown) {
      // Chromium throws DataCloneError here when the page has a SAB but is not isolated
      // (e.g. behind a flag); checkHostCapability normally catches that case first.
      const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      finish(copy('host-cannot-post', `this context cannot post a SharedArrayBuffer (${detail})`));
    }
  });
}

/**
 * Host side, for frames: resolves with the guest's report once its responder announces
 * itself, or rejects after `timeoutMs`. Workers need not wait (a worker queues messages
 * until its script has run; a window does not).
 */
export function waitForProbeResponder(endpoint: Transport, timeoutMs = PROBE_TIMEOUT_MS): Promise<GuestContextReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      endpoint.removeEventListener('message', onMessage);
      reject(new Error(`guest did not start its transport-probe responder within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (ev: Event): void => {
      const msg = asRecord((ev as MessageEvent).data);
      const guest = msg?.tag === PROBE_TAG.ready ? asGuestReport(msg.guest) : undefined;
      if (!guest) return;
      clearTimeout(timer);
      endpoint.removeEventListener('message', onMessage);
      resolve(guest);
    };
    endpoint.addEventListener('message', onMessage);
    endpoint.start?.();
  });
}

/**
 * Guest side: answer transport probes arriving on `endpoint` (a worker passes `self`; a
 * frame passes `windowTransport(parent, origin)`). Call it first thing at startup.
 * Returns a function that stops answering.
 *
 * Self-contained on purpose (no reference to anything outside its own body, tags spelled
 * as literals equal to PROBE_TAG): `frameProbeResponderSource` ships this function's
 * source text into opaque-origin frames, which cannot import our modules (module scripts
 * are fetched with CORS, and an opaque origin sends `Origin: null`).
 */
export function answerTransportProbe(endpoint: Transport): () => void {
  const g = globalThis as { crossOriginIsolated?: boolean; origin?: string; SharedArrayBuffer?: unknown };
  const guest = {
    origin: String(g.origin),
    crossOriginIsolated: g.crossOriginIsolated === true,
    hasSharedArrayBuffer: typeof g.SharedArrayBuffer === 'function',
  };
  // id of the last `begin`: a failed deserialization fires `messageerror` with no data.
  let lastBegin: unknown = null;
  const reply = (message: object): void => {
    try {
      endpoint.postMessage(message);
    } catch {
      // The host is gone or refuses messages; nothing a responder can do about it.
    }
  };
  const onMessage = (ev: Event): void => {
    const data: unknown = (ev as MessageEvent).data;
    if (typeof data !== 'object' || data === null) return;
    const msg = data as { tag?: unknown; id?: unknown; sab?: unknown };
    if (msg.tag === 'tabvisor:transport-probe:begin') {
      lastBegin = msg.id;
      return;
    }
    if (msg.tag !== 'tabvisor:transport-probe') return;
    const Sab = g.SharedArrayBuffer;
    if (typeof Sab !== 'function' || !(msg.sab instanceof Sab)) {
      const why = typeof Sab !== 'function'
        ? 'the guest has no SharedArrayBuffer'
        : `got ${Object.prototype.toString.call(msg.sab).slice(8, -1)}`;
      reply({ tag: 'tabvisor:transport-probe:nack', id: msg.id, why, guest });
      return;
    }
    const words = new Int32Array(msg.sab as SharedArrayBuffer, 0, 2);
    // Published with Atomics before the ack is posted, so the host sees it on receipt.
    Atomics.store(words, 1, Atomics.load(words, 0) ^ 0x5a5a5a5a);
    reply({ tag: 'tabvisor:transport-probe:ack', id: msg.id, guest });
  };
  const onMessageError = (): void => {
    reply({ tag: 'tabvisor:transport-probe:nack', id: lastBegin, why: 'messageerror', guest });
  };
  endpoint.addEventListener('message', onMessage);
  endpoint.addEventListener('messageerror', onMessageError);
  endpoint.start?.();
  reply({ tag: 'tabvisor:transport-probe:ready', guest });
  return () => {
    endpoint.removeEventListener('message', onMessage);
    endpoint.removeEventListener('messageerror', onMessageError);
  };
}

/**
 * Classic-script source that runs `answerTransportProbe` in a frame, answering its parent.
 * For frames that cannot load our modules (opaque origin): put it in a `<script>` of the
 * frame's srcdoc. Replies go to '*': the probe carries nothing secret, and the frame's
 * script is the same text whatever page embeds it. It never stops answering, so its
 * removeEventListener is a no-op.
 */
export function frameProbeResponderSource(): string {
  return `(${answerTransportProbe.toString()})({
  postMessage(m) { parent.postMessage(m, '*'); },
  addEventListener(t, l) { addEventListener(t, (e) => { if (e.source === parent) l(e); }); },
  removeEventListener() {},
});`;
}

/** Why a guest that got `messageerror` is in another agent cluster, in plain words. */
function whereIs(guest: GuestContextReport | undefined): string {
  const here = (globalThis as { origin?: string }).origin;
  if (guest?.origin === 'null') return 'opaque-origin frame: a sandbox without allow-same-origin';
  if (guest && guest.origin !== here) return `cross-origin context ${guest.origin}`;
  return 'it is in another agent cluster';
}

function asRecord(data: unknown): Record<string, unknown> | undefined {
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined;
}

function asGuestReport(value: unknown): GuestContextReport | undefined {
  const r = asRecord(value);
  if (!r || typeof r.origin !== 'string') return undefined;
  if (typeof r.crossOriginIsolated !== 'boolean' || typeof r.hasSharedArrayBuffer !== 'boolean') return undefined;
  return { origin: r.origin, crossOriginIsolated: r.crossOriginIsolated, hasSharedArrayBuffer: r.hasSharedArrayBuffer };
}
