// Runs on both sides of the boundary (host page, dom0 worker, guest workers, guest frames).
// One transport interface in comlink's `Endpoint` shape, so comlink's expose/wrap run over
// any of them unchanged. A dedicated worker, a MessagePort and a worker's own global scope
// already satisfy it; a frame needs the small adapter below (postMessage on a Window takes
// a target origin, and its messages arrive on the *listening* window, mixed with every
// other frame's). Zero-copy and copy guests differ only in which kind they are tagged
// with: the kind decides whether block data travels as SharedArrayBuffer views or as
// copies in messages (transport-probe.ts decides the kind).

/** How block data crosses the boundary. */
export const TRANSPORT_KIND = {
  /** Guest gets views onto the host's SharedArrayBuffer; messages carry only control. */
  zeroCopy: 'zero-copy',
  /** Guest gets copies (structured clone or transferred ArrayBuffers) in messages. */
  copy: 'copy',
} as const;
export type TransportKind = (typeof TRANSPORT_KIND)[keyof typeof TRANSPORT_KIND];

type Listener = EventListenerOrEventListenerObject;

/**
 * comlink's Endpoint, spelled out here so shared/ does not depend on comlink's types.
 * Structurally assignable to comlink's `Endpoint` (a compile-time check in
 * test/e2e/pages/isolation-matrix.ts).
 */
export interface Transport {
  // `unknown`, not comlink's `any`: callers must narrow what they receive.
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: Listener, options?: AddEventListenerOptions): void;
  removeEventListener(type: string, listener: Listener, options?: EventListenerOptions): void;
  start?: () => void;
}

/** A transport together with the kind of data path it carries, and why that kind. */
export interface TaggedTransport {
  readonly kind: TransportKind;
  readonly endpoint: Transport;
  /** Plain words for the status line ("zero-copy: …" / "copy: …"). */
  readonly reason: string;
}

/** Anything with Window's postMessage signature (a Window, a WindowProxy of a frame). */
export interface WindowLike {
  postMessage(message: unknown, options: WindowPostMessageOptions): void;
}

/**
 * Adapter for talking to another window: the host to a frame (`frame.contentWindow`),
 * or a frame to its parent (`parent`). Only messages whose `source` is `peer` reach the
 * listeners, so several frames on one page do not hear each other.
 *
 * `targetOrigin` must be the peer's origin where it is known; an opaque-origin frame
 * (sandbox without allow-same-origin) has origin "null", which postMessage cannot name,
 * so the caller passes '*' there and must put nothing secret in those messages.
 */
export function windowTransport(
  peer: WindowLike,
  targetOrigin: string,
  listenOn: Pick<Window, 'addEventListener' | 'removeEventListener'> = globalThis as unknown as Window,
): Transport {
  // One wrapper per (listener, type) so removeEventListener finds what was added.
  const wrapped = new Map<Listener, Map<string, EventListener>>();
  return {
    postMessage(message, transfer = []) {
      peer.postMessage(message, { targetOrigin, transfer });
    },
    addEventListener(type, listener, options) {
      const perType = wrapped.get(listener) ?? new Map<string, EventListener>();
      if (perType.has(type)) return; // the platform also ignores a duplicate add
      const filter: EventListener = (ev) => {
        if ((ev as MessageEvent).source !== (peer as unknown)) return;
        if (typeof listener === 'function') listener(ev);
        else listener.handleEvent(ev);
      };
      perType.set(type, filter);
      wrapped.set(listener, perType);
      listenOn.addEventListener(type, filter, options);
    },
    removeEventListener(type, listener, options) {
      const perType = wrapped.get(listener);
      const filter = perType?.get(type);
      if (!perType || !filter) return;
      perType.delete(type);
      if (perType.size === 0) wrapped.delete(listener);
      listenOn.removeEventListener(type, filter, options);
    },
  };
}
