// Entry script of every guest domain's dedicated worker (guest side of the boundary):
//   new Worker(new URL('./bootstrap.ts', import.meta.url), { type: 'module' })
// Order matters and is the whole point of this file:
//   1. harden the worker (guest/harden.ts); on failure report and load nothing;
//   2. answer the host's transport probe (shared/transport-probe.ts);
//   3. on the first boot message, stop probing, take the life lock (below) and `import()`
//      the guest's module.
// Its static imports are our own modules and none of them keeps a reference to an API
// that harden() removes, so nothing captured before step 1 leaks to guest code. The one
// reference this file keeps is the LockManager, in a module-local binding no guest code
// can reach, used once, before guest code loads.
//
// Life lock: a closed or crashed worker raises no event on its Worker object. So the
// bootstrap takes an exclusive Web Lock under a name the host chose, and holds it for the
// worker's whole life; the host queues for the same lock and is granted it exactly when
// this worker's context ends (the browser releases a dead context's locks). Guest code
// cannot touch it: harden() removed `navigator.locks`, so it cannot release, steal or
// query the lock, and the LockManager reference lives only in this module.
//
// CSP: a worker takes its Content-Security-Policy from its own script's response, so
// this file (served under /guest/) must come with GUEST_CSP (scripts/guest-csp.ts). CSP
// is what stops `import('https://elsewhere/…')`, which no hardening can remove.
import { answerTransportProbe } from '../shared/transport-probe';
import type { Transport } from '../shared/transport';
import {
  BOOT_TAG,
  parseBootMessage,
  type BootFailedMessage,
  type BootMessage,
  type BootedMessage,
  type GuestContext,
  type LifeMessage,
} from '../shared/boot-protocol';
import { installErrorTransfer } from '../shared/errors/error-transfer';
import { GUEST_ERROR_CLASSES } from '../shared/errors/guest-error-classes';
import { harden, type HardenReport } from './harden';
import { closeAllChannels } from './channel';

// A guest's API answers the page over comlink: its errors keep their class and code.
// Only the classes a guest raises: the page knows them all (error-transfer.ts says why).
installErrorTransfer(GUEST_ERROR_CLASSES);

// The worker's global scope; typed through unknown because tsconfig's lib is DOM (the
// page's view), not WebWorker, and the two cannot be loaded together.
interface WorkerScope extends Transport {
  readonly location: { readonly href: string; readonly origin: string };
}
const scope = globalThis as unknown as WorkerScope;

function post(message: BootedMessage | BootFailedMessage | LifeMessage): void {
  scope.postMessage(message);
}

function errorData(err: unknown): BootFailedMessage['error'] {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
}

/** Taken before harden() removes `navigator.locks`; used once, for the life lock. */
const lockManager: LockManager | undefined = (globalThis.navigator as Navigator & { locks?: LockManager } | undefined)?.locks;
/** How long to wait for the life lock before booting without it (a frame whose storage is blocked never answers). */
const LIFE_LOCK_WAIT_MS = 2000;

let report: HardenReport | undefined;
try {
  report = harden(globalThis);
} catch (err: unknown) {
  post({ tag: BOOT_TAG.failed, error: errorData(err) });
}

if (report) {
  const hardened = report;
  const stopProbe = answerTransportProbe(scope);
  const onMessage = (ev: Event): void => {
    const boot = parseBootMessage((ev as MessageEvent).data);
    if (!boot) return;
    // One boot per worker: later boot messages are the guest's business, not ours.
    scope.removeEventListener('message', onMessage);
    stopProbe();
    void load(boot, hardened);
  };
  scope.addEventListener('message', onMessage);
  // For the worker's whole life: the host says when dom0 is gone, and every I/O request
  // outstanding or made later fails with that reason instead of waiting for ever.
  scope.addEventListener('message', (ev: Event) => {
    const data = (ev as MessageEvent).data as { tag?: unknown; reason?: unknown } | null;
    if (data?.tag === BOOT_TAG.dom0Gone) closeAllChannels('DOM0_GONE', String(data.reason));
  });
}

/**
 * Take the life lock and hold it until this context ends (the callback's promise never
 * settles). Resolves once it is held, or with why it is not.
 */
function holdLifeLock(name: string): Promise<LifeMessage> {
  const locks = lockManager;
  if (!locks) return Promise.resolve({ tag: BOOT_TAG.life, lock: 'refused', reason: 'no Web Locks in this worker' });
  return new Promise<LifeMessage>((resolve) => {
    let answered = false;
    const answer = (m: LifeMessage): void => {
      if (answered) return;
      answered = true;
      resolve(m);
    };
    const timer = setTimeout(() => answer({ tag: BOOT_TAG.life, lock: 'refused', reason: `the Web Lock was not granted in ${LIFE_LOCK_WAIT_MS} ms` }), LIFE_LOCK_WAIT_MS);
    locks
      .request(name, { mode: 'exclusive' }, () => {
        clearTimeout(timer);
        // Granted after we gave up: the host was told 'refused' and does not wait for it.
        if (answered) return undefined;
        answer({ tag: BOOT_TAG.life, lock: 'held' });
        return new Promise<never>(() => undefined);
      })
      .catch((err: unknown) => {
        clearTimeout(timer);
        answer({ tag: BOOT_TAG.life, lock: 'refused', reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      });
  });
}

async function load(boot: BootMessage, hardened: HardenReport): Promise<void> {
  if (boot.life) post(await holdLifeLock(boot.life.lock));
  try {
    const url = new URL(boot.moduleUrl, scope.location.href);
    // CSP enforces this too (script-src 'self'); checking here gives a clear error where
    // CSP would only give a generic import failure.
    if (url.origin !== scope.location.origin) {
      throw new Error(`guest module must be same-origin with the bootstrap, got ${url.origin}`);
    }
    // Spelled this way on purpose. Vite's dev server rewrites `import(expr)` into
    // `import(__vite__injectQuery(expr))` with that helper imported from /@vite/client,
    // and the client opens an HMR WebSocket as it loads: a live socket in the guest
    // worker, created before harden() ran. Vite leaves the call alone when the argument's
    // source text is a template literal whose text has no file extension (vite 8,
    // importAnalysis: urlIsStringRE + isExplicitImportRequired), hence a dot-free
    // identifier. test/browser/guest-harden.test.ts checks the served bootstrap does not
    // import /@vite/client, so a Vite change here fails loudly.
    const href = url.href;
    const mod = (await import(/* @vite-ignore */ `${href}`)) as { default?: unknown };
    // Booted as soon as the module has loaded: a guest's main may run a service loop that
    // never returns. A main that throws or rejects later is still reported as failed.
    post({ tag: BOOT_TAG.booted, removed: hardened.removals.filter((r) => r.wasPresent).map((r) => r.name) });
    if (typeof mod.default === 'function') {
      const ctx: GuestContext = { transport: boot.transport, init: boot.init };
      await (mod.default as (ctx: GuestContext) => unknown)(ctx);
    }
  } catch (err: unknown) {
    post({ tag: BOOT_TAG.failed, error: errorData(err) });
  }
}
