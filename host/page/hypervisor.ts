// Runs on the host page's main thread: the hypervisor's public API. It owns the dom0 driver
// worker (control plane over comlink) and the guest workers. It never blocks and never
// touches a ring: guests and dom0 talk through shared memory directly.
//
//   const hv = await Hypervisor.start({ poolName: 'tabvisor' });
//   await hv.pool.import('image', file, { blockSize: 65536 });
//   await hv.pool.snapshot('image', 'image@base');
//   const guest = await hv.guests.spawn({ base: 'image@base', module: new URL('./my-guest.ts', import.meta.url) });
//   await guest.kill();
//
// The dom0 worker's own RPC object stays private: callers see the facades (facades.ts),
// and domain plumbing (creating and destroying domains, fault reports) happens here.
import { proxy, wrap, type Endpoint, type Remote } from 'comlink';
import { bootMessage, BOOT_TAG, type GuestInit } from '../../shared/boot-protocol';
import { checkHostCapability, probeTransport } from '../../shared/transport-probe';
import { installErrorTransfer } from '../../shared/errors/error-transfer';
import { ALL_ERROR_CLASSES } from '../../shared/errors/all-error-classes';
import { guestBootstrapUrl } from './guest-runtime';
import type { DomainGrant } from '../../shared/grant';
import type { TransportKind } from '../../shared/transport';
import type { Dom0Config, Dom0Service } from '../dom0/dom0-service';
import type { PoolStorage } from '../dom0/pool-storage';
import { Channels } from './channels';
import { archiveApi, integrityApi, memoryApi, mirrorApi, poolApi, type ArchiveApi, type IntegrityApi, type MemoryApi, type MirrorApi, type PoolApi } from './facades';
import { lockPool, type PoolLock } from './pool-lock';
import { RING_CLOSED_I32, RING_PROD_I32 } from '../../shared/ring-layout';

installErrorTransfer(ALL_ERROR_CLASSES);

/**
 * `faulted`: dom0 stopped serving it (a malformed request); `destroyed`: the host killed it;
 * `ended`: its worker ended by itself (`self.close()`, a crash) and the host noticed.
 */
export type GuestState = 'booting' | 'running' | 'faulted' | 'destroyed' | 'ended';
export type GuestEndState = Exclude<GuestState, 'booting' | 'running'>;

/**
 * Whether the host will notice this guest's worker ending by itself: `lock` when the
 * bootstrap holds its life lock (a Web Lock it keeps until the worker ends); otherwise
 * `lockRefused` says why, and only a kill, a fault or a heartbeat of the embedder's ends it.
 */
export type LifeWatch = { lock: boolean; lockRefused?: string };

export interface HypervisorOptions extends Partial<Dom0Config> {
  /** Force the copy transport even where zero-copy works (tests, comparisons). */
  forceCopy?: boolean;
}

export interface SpawnOptions {
  /** A snapshot to clone for this guest (the usual case), or `dataset` to run on as is. */
  base?: string;
  dataset?: string;
  /** Name of the clone; default `<base>/dom<N>`. */
  name?: string;
  /** Trust group of the clone (default: the base's). Frames are shared only inside one. */
  group?: string;
  /** URL of the guest's ES module; its default export gets a GuestContext. */
  module: string | URL;
  quota?: number;
  /**
   * Memory for the blocks only this guest may read (its own writes), in bytes: what it can
   * read back without a pool read. Default 8 MiB (`spawnSqlGuest`: 32 MiB); allocated as
   * used, so a guest that does not write holds none of it.
   */
  privateBytes?: number;
  /** 'copy' to give this guest copies of its blocks even where zero-copy works (to compare). */
  transport?: TransportKind;
  /** Extra structured-cloneable data for the guest module. */
  init?: Record<string, unknown>;
  /** Objects in `init` to transfer rather than clone (MessagePorts must be). */
  transfer?: Transferable[];
}


export class GuestHandle<Api = unknown> {
  state: GuestState = 'booting';
  fault: string | null = null;
  /** Why the guest ended (killed, faulted, or ended by itself); null while it lives. */
  endReason: string | null = null;
  /** Resolves, never rejects, with the error every call gets once the guest has ended, whichever way. */
  readonly ended: Promise<GuestEndedError>;
  /** How this guest's own end is noticed (see LifeWatch). */
  life: LifeWatch = { lock: false };
  /**
   * The guest module's API. A call still waiting when the guest is killed or faulted
   * rejects with the reason, instead of waiting forever on a worker that is gone.
   */
  readonly api: Remote<Api>;
  private end: (reason: GuestEndedError) => void = () => {};

  constructor(
    readonly id: number,
    readonly dataset: string,
    readonly transport: TransportKind,
    readonly transportReason: string,
    readonly worker: Worker,
    control: MessagePort,
    private readonly hv: Hypervisor,
  ) {
    this.ended = new Promise<GuestEndedError>((resolve) => (this.end = resolve));
    const rejection = this.ended.then((err) => Promise.reject(err));
    rejection.catch(() => undefined); // nobody may be calling when it ends
    this.api = rejectCallsWhenEnded(wrap<Api>(control), rejection);
  }

  /** Terminate the guest's worker at once (as a crash would) and release its domain. */
  kill(): Promise<void> {
    return this.hv.guests.kill(this.id);
  }

  /** The worker is gone: settle every pending and future API call with why. First call wins. */
  settle(state: GuestEndState, reason: string): void {
    if (this.endReason !== null) return;
    this.state = state;
    this.endReason = reason;
    if (state === 'faulted') this.fault = reason;
    this.end(new GuestEndedError(this.id, state, reason));
  }
}

/** dom0 died or was aborted: every control call (pool, guests, archive, mirror) rejects with this. */
export class Dom0GoneError extends Error {
  override name = 'Dom0GoneError';
  readonly code = 'DOM0_GONE';
  constructor(readonly reason: string) {
    super(`dom0 is gone: ${reason}`);
  }
}

const END_CODES = { faulted: 'GUEST_FAULTED', destroyed: 'GUEST_KILLED', ended: 'GUEST_ENDED' } as const;

/**
 * Every call on a guest's API that is outstanding when the guest ends, and every later one,
 * rejects with this. `code`: GUEST_FAULTED (dom0 stopped serving it), GUEST_KILLED (the
 * host killed it), GUEST_ENDED (its worker closed itself or died); `reason` names the cause.
 */
export class GuestEndedError extends Error {
  override name = 'GuestEndedError';
  readonly code: (typeof END_CODES)[GuestEndState];
  constructor(
    readonly guestId: number,
    readonly state: GuestEndState,
    readonly reason: string,
  ) {
    super(`guest ${guestId} ${state === 'faulted' ? `faulted: ${reason}` : state === 'ended' ? `ended: ${reason}` : 'was destroyed'}`);
    this.code = END_CODES[state];
  }
}

/**
 * Wrap comlink's remote so that every method call races the guest's end. Property reads
 * pass through untouched (a comlink member is a callable proxy that is also thenable).
 */
function rejectCallsWhenEnded<T>(remote: Remote<T>, ended: Promise<never>): Remote<T> {
  return new Proxy(remote as object, {
    get(target, prop, receiver) {
      const member: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop === 'symbol' || typeof member !== 'function') return member;
      return new Proxy(member, {
        apply: (fn, thisArg, args) => Promise.race([Reflect.apply(fn, thisArg, args) as Promise<unknown>, ended]),
      });
    },
  }) as Remote<T>;
}

/** The guests of a hypervisor: hardened workers, each on its own domain. */
export interface GuestsApi {
  /** Clone `base` for a new domain, boot a hardened guest worker on it, load `module`. */
  spawn<Api = unknown>(opts: SpawnOptions): Promise<GuestHandle<Api>>;
  /** Live guests (booting, running), in spawn order. */
  list(): GuestHandle[];
  get(id: number): GuestHandle | undefined;
  /** Terminate a guest's worker at once (as a crash would) and release its domain; its clone stays in the pool. */
  kill(id: number): Promise<void>;
}

/**
 * Domain plumbing for page-side code that manages domains itself (guest failover): not
 * part of the Hypervisor's surface. Reach it with `domainPlumbing(hv)`.
 */
export interface DomainPlumbing {
  /** Create a domain on `dataset`; `id` assumes a dead domain's id (failover). */
  createDomain(dataset: string, transport: TransportKind, quota?: number, id?: number, privateBytes?: number): Promise<DomainGrant>;
  /** Release a domain that no guest of this hypervisor holds (already-faulted ones included). */
  destroyDomain(id: number): Promise<void>;
  /**
   * Record that `host` now serves domain `domainId` too (it assumed a dead partner's
   * identity): that domain's faults are the host worker's faults, and it goes when the
   * host goes.
   */
  adopt(domainId: number, host: GuestHandle): void;
}

const plumbing = new WeakMap<Hypervisor, DomainPlumbing>();

/** The domain plumbing of `hv` (see DomainPlumbing). */
export function domainPlumbing(hv: Hypervisor): DomainPlumbing {
  const p = plumbing.get(hv);
  if (!p) throw new TypeError('not a started Hypervisor');
  return p;
}

export class Hypervisor {
  readonly pool: PoolApi;
  readonly guests: GuestsApi;
  readonly archive: ArchiveApi;
  readonly mirror: MirrorApi;
  readonly integrity: IntegrityApi;
  readonly memory: MemoryApi;
  private readonly guestsById = new Map<number, GuestHandle>();
  /** Domains a guest took over from a dead partner (failover): domain id → hosting guest. */
  private readonly adopted = new Map<number, GuestHandle>();
  onGuestFault: ((guest: GuestHandle, reason: string) => void) | null = null;
  /** A guest's worker ended by itself (closed, crashed); its domain is already being released. */
  onGuestEnded: ((guest: GuestHandle, reason: string) => void) | null = null;
  /** Per live guest: stops watching its life lock and port (on kill, fault or end). */
  private readonly lifeWatches = new Map<number, () => void>();
  /** Guests whose domains are being released (killed, or ended by themselves). */
  private readonly releasing = new Map<number, Promise<void>>();
  /** Inter-domain channels: the policy of who may talk, and what dom0 handed out. */
  readonly channels: Channels;
  private cloneSeq = 0;
  /** Why dom0 is gone (null while it runs). */
  dom0Gone: string | null = null;
  private endDom0: (err: Dom0GoneError) => void = () => undefined;
  /** Each zero-copy guest's control buffer and completion ring, to mark closed when dom0 goes. */
  private readonly rings = new Map<number, { control: SharedArrayBuffer; completionRingByteOffset: number }>();
  /** dom0's RPC object; every call on it rejects with Dom0GoneError once dom0 is gone. */
  private readonly dom0: Remote<Dom0Service>;

  private constructor(
    rawDom0: Remote<Dom0Service>,
    private readonly dom0Worker: Worker,
    readonly hostTransport: { kind: TransportKind; reason: string },
    private readonly forceCopy: boolean,
    /** Where the pool lives ('memory' where the browser refused IndexedDB), and why. */
    readonly storage: PoolStorage,
    /** The pool's exclusive Web Lock (null for a pool in memory). */
    private readonly lock: PoolLock | null,
  ) {
    const gone = new Promise<never>((_, reject) => (this.endDom0 = reject));
    gone.catch(() => undefined); // nobody may be calling when it goes
    const dom0 = rejectCallsWhenEnded(rawDom0, gone);
    this.dom0 = dom0;
    dom0Worker.addEventListener('error', (ev) => this.abort(`uncaught error in dom0: ${ev.message}`));
    this.channels = new Channels(dom0);
    this.pool = poolApi(dom0);
    this.archive = archiveApi(dom0);
    this.mirror = mirrorApi(dom0);
    this.integrity = integrityApi(dom0);
    this.memory = memoryApi(dom0);
    this.guests = {
      spawn: <Api>(opts: SpawnOptions) => this.spawnGuest<Api>(opts),
      list: () => [...this.guestsById.values()],
      get: (id) => this.guestsById.get(id),
      kill: (id) => this.destroyGuest(id),
    };
    plumbing.set(this, {
      createDomain: (dataset, transport, quota, id, privateBytes) => dom0.createDomain(dataset, transport, quota, id, privateBytes),
      destroyDomain: async (id) => dom0.destroyDomain(id),
      adopt: (domainId, host) => this.adopt(domainId, host),
    });
  }

  /**
   * Stop dom0 at once, as a crash would (nothing staged is committed; what was
   * acknowledged is in the pool), and tell everyone: every control call, outstanding or
   * later, rejects with Dom0GoneError; every guest's outstanding and later I/O rejects with
   * ChannelClosedError (code DOM0_GONE) naming `reason`. Guest workers keep running. Also
   * what happens when dom0's worker reports an uncaught error.
   */
  abort(reason: string): void {
    if (this.dom0Gone !== null) return;
    this.dom0Gone = reason;
    this.dom0Worker.terminate();
    this.endDom0(new Dom0GoneError(reason));
    for (const { control, completionRingByteOffset } of this.rings.values()) {
      const header = new Int32Array(control, completionRingByteOffset, RING_CLOSED_I32 + 1);
      Atomics.store(header, RING_CLOSED_I32, 1);
      Atomics.notify(header, RING_PROD_I32);
    }
    for (const g of this.guestsById.values()) g.worker.postMessage({ tag: BOOT_TAG.dom0Gone, reason });
    // This dom0 can commit no more: the pool may have another owner now.
    this.lock?.release();
  }

  /**
   * Take the pool's exclusive Web Lock, start dom0 and open the pool. Throws
   * PoolLockedError (code POOL_LOCKED) if another tab or Hypervisor of this origin owns
   * the pool. Where no lock can be had at all, the pool is kept in memory, never opened
   * unlocked (`storage.reason` says why).
   */
  static async start(options: HypervisorOptions = {}): Promise<Hypervisor> {
    const verdict = checkHostCapability();
    const shared = !verdict && !options.forceCopy;
    const poolName = options.poolName ?? 'tabvisor';
    let storageChoice = options.storage ?? 'auto';
    let lock: PoolLock | null = null;
    let unlockedReason: string | null = null;
    if (storageChoice !== 'memory') {
      const got = await lockPool(poolName);
      if ('release' in got) lock = got;
      else if (storageChoice === 'indexeddb') throw new Error(`cannot own pool "${poolName}": ${got.reason}`);
      else {
        storageChoice = 'memory';
        unlockedReason = `${got.reason}, so the pool lives in memory and is gone when the page closes`;
      }
    }
    const worker = new Worker(new URL('../dom0/dom0-worker.ts', import.meta.url), { type: 'module', name: 'dom0' });
    const endpoint = bellRingingEndpoint(worker);
    const dom0 = wrap<Dom0Service>(endpoint);
    try {
      await dom0.init({
        poolName,
        arenaFrames: options.arenaFrames ?? 2048,
        ...(options.groupFrames ? { groupFrames: options.groupFrames } : {}),
        promoteAt: options.promoteAt ?? 2,
        quota: options.quota ?? 1024,
        shared,
        dedupThreshold: options.dedupThreshold ?? 1,
        ...(options.extentBytes !== undefined ? { extentBytes: options.extentBytes } : {}),
        storage: storageChoice,
        ...(options.acceptLoss ? { acceptLoss: true } : {}),
        ...(options.scrubEveryMs !== undefined ? { scrubEveryMs: options.scrubEveryMs } : {}),
        ...(options.privateFrames !== undefined ? { privateFrames: options.privateFrames } : {}),
        ...(options.heldLimitBytes !== undefined ? { heldLimitBytes: options.heldLimitBytes } : {}),
        ...(options.heldTotalLimitBytes !== undefined ? { heldTotalLimitBytes: options.heldTotalLimitBytes } : {}),
        ...(options.ringWorker !== undefined ? { ringWorker: options.ringWorker } : {}),
      });
      const hostTransport = verdict
        ? { kind: verdict.kind, reason: verdict.reason }
        : options.forceCopy
          ? { kind: 'copy' as const, reason: 'copy transport forced by configuration' }
          : { kind: 'zero-copy' as const, reason: 'page is cross-origin isolated and has SharedArrayBuffer' };
      endpoint.ring(await dom0.controlBell());
      const opened = await dom0.storageInfo();
      const storage = unlockedReason ? { kind: opened.kind, reason: unlockedReason } : opened;
      const hv = new Hypervisor(dom0, worker, hostTransport, !!options.forceCopy, storage, lock);
      await dom0.onFault(proxy((id: number, reason: string) => hv.faulted(id, reason)));
      return hv;
    } catch (err) {
      // A refused start leaves nothing running and nothing held.
      worker.terminate();
      lock?.release();
      throw err;
    }
  }

  /**
   * Clone `base` for a new domain, boot a hardened guest worker on it, load `module`. A
   * refused or failed spawn undoes everything it started: the worker is terminated, the
   * domain destroyed and a clone it made destroyed, so a refusal leaves nothing behind.
   */
  private async spawnGuest<Api = unknown>(opts: SpawnOptions): Promise<GuestHandle<Api>> {
    let dataset = opts.dataset;
    let madeClone: string | null = null;
    if (!dataset) {
      if (!opts.base) throw new TypeError('guests.spawn needs `base` (a snapshot to clone) or `dataset`');
      dataset = opts.name ?? `${opts.base.replace(/@.*/, '')}/dom${Date.now().toString(36)}${(this.cloneSeq++).toString(36)}`;
      await this.dom0.clone(opts.base, dataset, opts.group ? { group: opts.group } : {});
      madeClone = dataset;
    }
    let worker: Worker | null = null;
    let handle: GuestHandle<Api> | null = null;
    try {
      worker = new Worker(guestBootstrapUrl(), { type: 'module', name: `guest:${dataset}` });
      let kind: TransportKind = 'copy';
      let reason = opts.transport === 'copy' ? 'copy transport chosen for this guest' : this.hostTransport.reason;
      if (this.hostTransport.kind === 'zero-copy' && !this.forceCopy && opts.transport !== 'copy') {
        const probe = await probeTransport(worker);
        kind = probe.kind;
        reason = probe.reason;
      }
      const grant = await this.dom0.createDomain(dataset, kind, opts.quota, undefined, opts.privateBytes);
      const control = new MessageChannel();
      const h = new GuestHandle<Api>(grant.domainId, dataset, grant.kind, reason, worker, control.port1, this);
      handle = h;
      this.guestsById.set(h.id, h as GuestHandle);
      const w = worker;
      const life = this.watchLife(h, w);
      const booted = new Promise<void>((resolve, reject) => {
        const onMessage = (ev: MessageEvent<{ tag?: string; error?: { name: string; message: string } }>): void => {
          if (ev.data?.tag === BOOT_TAG.booted) {
            w.removeEventListener('message', onMessage);
            h.state = 'running';
            resolve();
          } else if (ev.data?.tag === BOOT_TAG.failed) {
            w.removeEventListener('message', onMessage);
            reject(new Error(`guest ${h.id} failed to boot: ${ev.data.error?.name}: ${ev.data.error?.message}`));
          }
        };
        w.addEventListener('message', onMessage);
        w.addEventListener('error', (ev) => reject(new Error(`guest ${h.id} worker error: ${ev.message}`)), { once: true });
      });
      if (grant.kind === 'zero-copy') this.rings.set(h.id, { control: grant.control, completionRingByteOffset: grant.domainLayout.completionRing.byteOffset });
      const idc = this.channels.attach(h.id);
      const init: GuestInit = { ...(opts.init ?? {}), grant, control: control.port2, idc };
      const transfers: Transferable[] = [control.port2, idc, ...(opts.transfer ?? [])];
      if (grant.kind === 'copy') transfers.push(grant.port);
      worker.postMessage(bootMessage(new URL(opts.module, location.href), grant.kind, init, life), transfers);
      // A guest whose worker ends while its module loads would never say booted.
      const endedWhileBooting = h.ended.then((e) => Promise.reject(e));
      endedWhileBooting.catch(() => undefined); // it usually ends long after booting
      await Promise.race([booted, endedWhileBooting]);
      return h;
    } catch (err) {
      // A guest that ended by itself is being released already: wait for that, so its clone can go.
      if (handle) await (this.guestsById.has(handle.id) ? this.destroyGuest(handle.id) : this.releasing.get(handle.id));
      else worker?.terminate();
      if (madeClone) await this.dom0.destroyDataset(madeClone).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Watch for `h`'s worker ending by itself. Returns what the boot message must carry: the
   * life lock's name. The bootstrap takes the lock and says so with a `life` message; the
   * host then queues for it, and is granted it when the worker's context has ended.
   */
  private watchLife(h: GuestHandle, worker: Worker): { lock: string } {
    const lock = `tabvisor-guest:${crypto.randomUUID()}`;
    const stop = new AbortController();
    const onLife = (ev: MessageEvent<{ tag?: unknown; lock?: unknown; reason?: unknown }>): void => {
      if (ev.data?.tag !== BOOT_TAG.life) return;
      worker.removeEventListener('message', onLife);
      const locks = (navigator as Navigator & { locks?: LockManager }).locks;
      if (ev.data.lock !== 'held' || !locks) {
        h.life = { lock: false, lockRefused: String(ev.data.reason ?? 'no Web Locks on the page') };
        return;
      }
      h.life = { lock: true };
      // Granted exactly when the guest's context has ended and the browser released its locks.
      locks
        .request(lock, { signal: stop.signal }, () => {
          if (!stop.signal.aborted) void this.guestEnded(h.id, 'its worker closed itself or died (its life lock was released)');
        })
        .catch(() => undefined); // aborted: the guest was killed or faulted first
    };
    worker.addEventListener('message', onLife);
    this.lifeWatches.set(h.id, () => {
      stop.abort();
      worker.removeEventListener('message', onLife);
    });
    return { lock };
  }

  /** `id`'s worker ended by itself: mark it ended, reject its calls, release its domain. */
  private async guestEnded(id: number, reason: string): Promise<void> {
    const g = this.guestsById.get(id);
    if (!g) return;
    const released = this.release(g, 'ended', reason);
    this.onGuestEnded?.(g, reason);
    await released.catch(() => undefined); // dom0 gone: nothing left to release

  }

  private adopt(domainId: number, host: GuestHandle): void {
    if (!this.guestsById.has(host.id)) throw new RangeError(`unknown guest ${host.id}`);
    this.adopted.set(domainId, host);
  }

  /** Stop a guest's worker and release its domain (and any it adopted); clones stay in the pool. */
  private async destroyGuest(id: number): Promise<void> {
    const g = this.guestsById.get(id);
    if (!g) throw new RangeError(`unknown guest ${id}`);
    await this.release(g, 'destroyed', 'killed by the host');
  }

  /**
   * Terminate `g`'s worker (a guest that only claims to be dead is stopped too), settle its
   * API with `state`/`reason` unless it already ended, and release its domain and the
   * domains it adopted.
   */
  private release(g: GuestHandle, state: 'destroyed' | 'ended', reason: string): Promise<void> {
    const id = g.id;
    g.worker.terminate();
    this.guestsById.delete(id);
    this.rings.delete(id);
    this.lifeWatches.get(id)?.();
    this.lifeWatches.delete(id);
    g.settle(state, reason);
    const done = this.releaseDomains(g).finally(() => this.releasing.delete(id));
    this.releasing.set(id, done);
    return done;
  }

  private async releaseDomains(g: GuestHandle): Promise<void> {
    const id = g.id;
    await this.channels.detach(id);
    for (const domainId of this.adoptedBy(g)) {
      this.adopted.delete(domainId);
      await this.dom0.destroyDomain(domainId).catch(() => undefined);
    }
    await this.dom0.destroyDomain(id).catch(() => undefined); // already gone after a fault
  }

  private adoptedBy(g: GuestHandle): number[] {
    return [...this.adopted].filter(([, host]) => host === g).map(([domainId]) => domainId);
  }

  private faulted(id: number, reason: string): void {
    // A fault of an adopted domain is its host worker's doing: that worker goes.
    const host = this.adopted.get(id);
    if (host) {
      this.adopted.delete(id);
      this.faulted(host.id, `while serving adopted domain ${id}: ${reason}`);
      return;
    }
    const g = this.guestsById.get(id);
    if (!g) return;
    g.worker.terminate();
    this.lifeWatches.get(id)?.();
    this.lifeWatches.delete(id);
    g.settle('faulted', reason);
    void this.channels.detach(id);
    this.onGuestFault?.(g, reason);
  }

  async shutdown(): Promise<void> {
    try {
      for (const id of [...this.guestsById.keys()]) await this.destroyGuest(id);
      await Promise.all([...this.releasing.values()].map((p) => p.catch(() => undefined)));
      if (this.dom0Gone === null) await this.dom0.close();
    } finally {
      this.dom0Worker.terminate();
      // Only now may another context open the pool: this dom0 can commit no more.
      this.lock?.release();
    }
  }
}

/**
 * dom0's worker as comlink's endpoint, ringing dom0's doorbell after each message once
 * `ring` has given it the bell: dom0 may be napping in Atomics.wait between ring requests
 * (host/dom0/ring-scheduler.ts), and a message is only delivered once its event loop runs.
 * The page's main thread may notify, though not wait. Measured (2026-11-30): the nap takes
 * a ring round trip after 3 ms of guest computing from 255–285 µs to 140–160 µs (median).
 */
function bellRingingEndpoint(worker: Worker): Endpoint & { ring(bell: SharedArrayBuffer | null): void } {
  let word: Int32Array | null = null;
  return {
    postMessage(message: unknown, transfer?: Transferable[]) {
      worker.postMessage(message, transfer ?? []);
      if (word) {
        Atomics.add(word, 0, 1);
        Atomics.notify(word, 0);
      }
    },
    addEventListener: worker.addEventListener.bind(worker),
    removeEventListener: worker.removeEventListener.bind(worker),
    ring(bell) {
      word = bell ? new Int32Array(bell, 0, 1) : null;
    },
  };
}
