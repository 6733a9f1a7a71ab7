// Imported by both sides: the host (page or dom0) builds the boot message, the guest's
// bootstrap (guest/bootstrap.ts, in the guest worker) parses it. The first message a
// guest worker acts on says which module to load; everything else a guest gets arrives
// later, by message, from the host.
import type { TransportKind } from './transport';
import type { DomainGrant } from './grant';

export const BOOT_TAG = {
  /** host → guest: load this module. */
  boot: 'tabvisor:guest-boot',
  /** guest → host: the module loaded (and its default export, if any, returned). */
  booted: 'tabvisor:guest-booted',
  /** guest → host: hardening or loading failed; no guest code ran after the failure. */
  failed: 'tabvisor:guest-boot-failed',
  /** host → guest: dom0 is gone; fail every I/O request with the reason. */
  dom0Gone: 'tabvisor:dom0-gone',
  /** guest → host, before guest code loads: how the host will notice this worker's end. */
  life: 'tabvisor:guest-life',
} as const;

export interface BootMessage {
  readonly tag: typeof BOOT_TAG.boot;
  /** Absolute URL of the guest's ES module; must be same-origin with the bootstrap. */
  readonly moduleUrl: string;
  /** The transport the host chose after probing (shared/transport-probe.ts). */
  readonly transport: TransportKind;
  /** Anything structured-cloneable the guest module's `default(ctx)` receives. */
  readonly init?: unknown;
  /**
   * How the host notices that this worker ended by itself (`self.close()`, a crash): the
   * bootstrap holds, until the worker's end, an exclusive Web Lock of this name, and never
   * lets guest code near it.
   */
  readonly life?: { readonly lock: string };
}

/** guest → host: the bootstrap holds the life lock (`held`), or why it could not. */
export interface LifeMessage {
  readonly tag: typeof BOOT_TAG.life;
  readonly lock: 'held' | 'refused';
  /** Why the lock was refused (no Web Locks in this context, an error, no answer). */
  readonly reason?: string;
}

export interface BootedMessage {
  readonly tag: typeof BOOT_TAG.booted;
  /** Names the bootstrap removed before loading guest code, for the host's log. */
  readonly removed: readonly string[];
}

export interface BootFailedMessage {
  readonly tag: typeof BOOT_TAG.failed;
  /** Errors travel as data (comlink's convention) and are rethrown by the host if it wants. */
  readonly error: { readonly name: string; readonly message: string };
}

/** What a guest module's default export is called with. */
export interface GuestContext {
  readonly transport: TransportKind;
  readonly init: unknown;
}

export function bootMessage(moduleUrl: string | URL, transport: TransportKind, init?: unknown, life?: BootMessage['life']): BootMessage {
  return { tag: BOOT_TAG.boot, moduleUrl: String(moduleUrl), transport, init, ...(life ? { life } : {}) };
}

/** Narrow an incoming message to a boot message, or undefined for anything else. */
export function parseBootMessage(data: unknown): BootMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  if (m.tag !== BOOT_TAG.boot || typeof m.moduleUrl !== 'string') return undefined;
  if (m.transport !== 'zero-copy' && m.transport !== 'copy') return undefined;
  const life = m.life as { lock?: unknown } | undefined;
  const validLife = life && typeof life.lock === 'string' ? { lock: life.lock } : undefined;
  return { tag: BOOT_TAG.boot, moduleUrl: m.moduleUrl, transport: m.transport, init: m.init, ...(validLife ? { life: validLife } : {}) };
}

/** What a guest module receives in `ctx.init`. */
export interface GuestInit {
  grant: DomainGrant;
  /** A port for the guest to expose an API to the host (comlink), or anything else. */
  control: MessagePort;
  /** The guest's port for inter-domain channels (guest/idc.ts `openIdc`). */
  idc?: MessagePort;
  [key: string]: unknown;
}
