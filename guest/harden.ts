// Runs inside each guest's dedicated worker, on the guest side of the boundary, before
// any guest code (guest/bootstrap.ts calls it first). Takes away every API through which
// a guest could reach its origin's storage, the network, other browsing contexts or new
// realms, so that what a guest can do is exactly what the host hands it by message.
//
// How: for each name, delete it from the object *and from every object on its prototype
// chain* (measured in Chromium 156: `fetch`, `indexedDB`, `caches`, `importScripts`,
// `fonts` are accessors/methods on WorkerGlobalScope.prototype, not own properties of
// `self`; `navigator.storage`/`locks` live on WorkerNavigator.prototype), then pin an own
// tombstone on the object: value `undefined`, non-writable, non-configurable. The
// tombstone shadows anything a guest later puts on a prototype, cannot be deleted or
// redefined, and reads as "feature absent" to ordinary feature detection
// (`typeof fetch === 'undefined'`), which a throwing getter would turn into a crash.
// Once the originals are deleted nothing in this realm references them, and a worker
// has no other realm to fetch fresh copies from (no iframes; `Worker` and `ShadowRealm`
// are removed here). What remains is listed in docs/isolation.md, "Residual risks".
//
// Fails closed: if any name cannot be removed, `harden` throws and the bootstrap never
// loads guest code.

/** Names removed from the worker's global scope, by the reason they must go. */
export const GLOBAL_REMOVALS = {
  /** The origin's persistent storage (the pool lives there; guests get blocks by ring). */
  storage: [
    'indexedDB',
    'caches',
    'requestFileSystem',
    'requestFileSystemSync',
    'webkitRequestFileSystem',
    'webkitRequestFileSystemSync',
    'webkitResolveLocalFileSystemURL',
    'webkitResolveLocalFileSystemSyncURL',
  ],
  /** Anything that makes a request. FontFace/fonts load `url(...)` sources; Notification
   *  fetches its icon and shows UI. Dynamic `import()` cannot be removed: CSP covers it. */
  network: [
    'fetch',
    'XMLHttpRequest',
    'WebSocket',
    'WebSocketStream',
    'EventSource',
    'WebTransport',
    'FontFace',
    'fonts',
    'Notification',
  ],
  /** New realms and channels to other same-origin contexts. */
  contexts: ['Worker', 'SharedWorker', 'importScripts', 'BroadcastChannel', 'ShadowRealm'],
} as const;

/** Names removed from `navigator` (WorkerNavigator). */
export const NAVIGATOR_REMOVALS = {
  /** StorageManager (quota, persist, OPFS via getDirectory) and Storage Buckets (which
   *  hand out a fresh `indexedDB` and `caches` per bucket). */
  storage: ['storage', 'storageBuckets'],
  /** Web Locks are shared by every same-origin context: a channel between guests and an
   *  oracle for what the host is doing. */
  contexts: ['locks'],
  /** Devices a user granted to this origin in a window are reachable from its workers. */
  devices: ['usb', 'hid', 'serial'],
} as const;

export type RemovalFamily = keyof typeof GLOBAL_REMOVALS | keyof typeof NAVIGATOR_REMOVALS;

export interface Removal {
  /** `name` for globals, `navigator.name` for navigator members. */
  readonly name: string;
  readonly family: RemovalFamily;
  /** Whether this browser had it before hardening (absent names are tombstoned too). */
  readonly wasPresent: boolean;
}

export interface HardenReport {
  readonly removals: readonly Removal[];
}

export class HardenError extends Error {
  override readonly name = 'HardenError';
}

/** Only the members `harden` touches; a parameter so tests can pass a fake scope. */
export interface HardenScope {
  readonly navigator?: object;
}

const hasOwn = (o: object, name: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(o, name);

/**
 * Delete `name` from `target` and its whole prototype chain, then pin an undefined,
 * non-configurable own property on `target`. Returns whether `name` was anywhere.
 */
function removeEverywhere(target: object, name: string, label: string): boolean {
  let wasPresent = false;
  for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    if (!hasOwn(o, name)) continue;
    wasPresent = true;
    // Reflect.deleteProperty returns false (instead of throwing) for a non-configurable
    // property, e.g. one a previous harden() already pinned; a pinned tombstone is fine.
    if (!Reflect.deleteProperty(o, name) && !(o === target && isTombstone(target, name))) {
      throw new HardenError(`cannot remove ${label}: it is not configurable on ${describe(o)}`);
    }
  }
  if (!isTombstone(target, name)) {
    Object.defineProperty(target, name, { value: undefined, writable: false, enumerable: false, configurable: false });
  }
  return wasPresent;
}

function isTombstone(target: object, name: string): boolean {
  const d = Object.getOwnPropertyDescriptor(target, name);
  return d !== undefined && 'value' in d && d.value === undefined && d.writable === false && d.configurable === false;
}

function describe(o: object): string {
  const ctor: unknown = hasOwn(o, 'constructor') ? (o as { constructor?: unknown }).constructor : undefined;
  return typeof ctor === 'function' && ctor.name ? `${ctor.name}.prototype` : 'the object itself';
}

/**
 * Harden `scope` (the worker's `self`) in place. Idempotent. Throws HardenError when any
 * name cannot be removed; the caller must then not run guest code.
 */
export function harden(scope: HardenScope = globalThis as HardenScope): HardenReport {
  const removals: Removal[] = [];
  // navigator first: removing globals never touches it, and the `navigator` getter on
  // WorkerGlobalScope.prototype is left in place (guest code may read userAgent etc.).
  const nav = scope.navigator;
  if (nav !== undefined && nav !== null) {
    for (const [family, names] of Object.entries(NAVIGATOR_REMOVALS) as [RemovalFamily, readonly string[]][]) {
      for (const name of names) {
        const label = `navigator.${name}`;
        removals.push({ name: label, family, wasPresent: removeEverywhere(nav, name, label) });
      }
    }
  }
  for (const [family, names] of Object.entries(GLOBAL_REMOVALS) as [RemovalFamily, readonly string[]][]) {
    for (const name of names) {
      removals.push({ name, family, wasPresent: removeEverywhere(scope, name, name) });
    }
  }
  const leftovers = findLeftovers(scope);
  if (leftovers.length > 0) throw new HardenError(`still reachable after hardening: ${leftovers.join(', ')}`);
  return { removals };
}

/**
 * Names from the removal lists that are still reachable as anything but `undefined`,
 * through the object or any prototype (empty after a successful `harden`). The
 * bootstrap and the tests both use it.
 */
export function findLeftovers(scope: HardenScope = globalThis as HardenScope): string[] {
  const out: string[] = [];
  const check = (target: object, name: string, label: string): void => {
    if (!isTombstone(target, name)) out.push(label);
    // The tombstone shadows the chain for property reads, but not for code that walks
    // the chain itself (`Object.getPrototypeOf(self).fetch`).
    for (let o = Object.getPrototypeOf(target) as object | null; o !== null; o = Object.getPrototypeOf(o) as object | null) {
      if (hasOwn(o, name)) out.push(`${label} (on ${describe(o)})`);
    }
  };
  for (const names of Object.values(GLOBAL_REMOVALS)) for (const name of names) check(scope, name, name);
  const nav = scope.navigator;
  if (nav !== undefined && nav !== null) {
    for (const names of Object.values(NAVIGATOR_REMOVALS)) for (const name of names) check(nav, name, `navigator.${name}`);
  }
  return out;
}
