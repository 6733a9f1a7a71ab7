// Runs wherever the pool runs: the dom0 Web Worker in production, a test page in tests,
// and the host page when it deletes a pool (deletePool). Uses the Origin Private File
// System (navigator.storage.getDirectory, in pages and workers alike); no DOM.
//
// The pool registry: one empty OPFS file per pool that exists, outside IndexedDB, so that
// a pool whose database the browser deleted is noticed even when the browser does not say
// so. Chromium, when it finds a site's IndexedDB files damaged, deletes every database of
// the site but reports it (`dataLoss`) only to the first one opened afterwards; every other
// pool would come back silently empty. Its registry file is still there, so its next open
// sees a database created from nothing for a pool that existed (docs/pool.md, "When the
// browser deletes the pool").
//
// Best effort by design: the registry only adds a report; it never decides whether a pool
// can be opened. Every operation answers within a deadline and never throws: an
// unreachable registry is 'unknown' and the open goes on without it.

/** What the registry knows about one pool name. */
export type RegistryAnswer = 'present' | 'absent' | 'unknown';

export interface PoolRegistry {
  /** Whether pool `name` is recorded. 'unknown' when the registry cannot be reached. Never throws. */
  has(name: string): Promise<RegistryAnswer>;
  /** Record pool `name` (idempotent). False when it could not be recorded. Never throws. */
  add(name: string): Promise<boolean>;
  /** Forget pool `name` (idempotent). False when it could not be removed. Never throws. */
  remove(name: string): Promise<boolean>;
  /** Why the registry cannot be used here, or null while it can. */
  readonly unavailable: string | null;
}

/** The part of FileSystemDirectoryHandle the registry uses (a fake in Node tests). */
export interface RegistryDirectory {
  getFileHandle(name: string, options?: { create?: boolean }): Promise<unknown>;
  removeEntry(name: string): Promise<void>;
}

/** OPFS directory that holds the registry. */
export const REGISTRY_DIRECTORY = 'tabvisor-pools';
/** How long one registry operation may take before the open goes on without it. */
export const REGISTRY_DEADLINE_MS = 2000;
const MAX_PLAIN_NAME = 200;

/**
 * The file name of pool `name`'s entry: `p-` and the name with every character outside
 * [A-Za-z0-9_-] written as `.` and two hex digits per UTF-8 byte (no `/`, `\`, `.` or `..`
 * can come out, which OPFS refuses), or `h-` and the SHA-256 of the name when that would
 * be too long for a file name. One name, one file; two names never share one.
 */
export async function entryName(name: string): Promise<string> {
  let plain = '';
  for (const byte of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(byte);
    plain += /[A-Za-z0-9_-]/.test(c) ? c : `.${byte.toString(16).padStart(2, '0')}`;
  }
  if (plain.length <= MAX_PLAIN_NAME) return `p-${plain}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(name)));
  return `h-${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

class Timeout extends Error {}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Timeout()), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * A registry over a directory handle. `root` is called once, lazily. A deadline passed or a
 * refusal (no OPFS, SecurityError) makes the registry unavailable for the rest of this
 * context's life, so later opens do not wait again; any other failure is 'unknown' for
 * that operation only.
 */
export function directoryRegistry(root: () => Promise<RegistryDirectory>, deadlineMs = REGISTRY_DEADLINE_MS): PoolRegistry {
  let dir: Promise<RegistryDirectory> | null = null;
  let unavailable: string | null = null;
  const run = async <T>(op: (d: RegistryDirectory) => Promise<T>, onNotFound: T, onFailure: T): Promise<T> => {
    if (unavailable !== null) return onFailure;
    try {
      dir ??= within(root(), deadlineMs);
      return await within(
        dir.then((d) => op(d)),
        deadlineMs,
      );
    } catch (err) {
      if (err instanceof DOMException && err.name === 'NotFoundError') return onNotFound;
      if (err instanceof Timeout) unavailable = `the pool registry (OPFS) did not answer within ${deadlineMs} ms`;
      else if (err instanceof DOMException && (err.name === 'SecurityError' || err.name === 'NotAllowedError')) unavailable = `the browser refused the pool registry (OPFS) here (${describe(err)})`;
      // The directory itself failing once is not retried with the same promise.
      if (unavailable === null) dir = null;
      return onFailure;
    }
  };
  return {
    get unavailable() {
      return unavailable;
    },
    has: (name) => run(async (d) => (await d.getFileHandle(await entryName(name)), 'present' as const), 'absent', 'unknown'),
    add: (name) => run(async (d) => (await d.getFileHandle(await entryName(name), { create: true }), true), false, false),
    remove: (name) => run(async (d) => (await d.removeEntry(await entryName(name)), true), true, false),
  };
}

let opfs: PoolRegistry | undefined;

/** This context's OPFS registry (one per context, so an unreachable OPFS is waited for once). */
export function opfsRegistry(): PoolRegistry {
  opfs ??= directoryRegistry(async () => {
    const storage = (globalThis.navigator as Navigator | undefined)?.storage;
    if (typeof storage?.getDirectory !== 'function') throw new DOMException('no Origin Private File System in this context (navigator.storage.getDirectory)', 'NotAllowedError');
    const top = await storage.getDirectory();
    return top.getDirectoryHandle(REGISTRY_DIRECTORY, { create: true });
  });
  return opfs;
}

/**
 * What an open does with the registry, once it knows whether the database was created from
 * nothing (`fresh`: no superblock and no loss record in it):
 * - 'refuse': a fresh database for a pool the registry says existed, not accepted: the
 *   database was deleted under the pool; record the loss and refuse (PoolLostError).
 * - 'record': make sure the entry exists (a new pool, or one whose entry was never written
 *   because a crash came between creating the database and recording it).
 */
export function registryVerdict(fresh: boolean, answer: RegistryAnswer, acceptLoss: boolean): 'refuse' | 'record' {
  return fresh && answer === 'present' && !acceptLoss ? 'refuse' : 'record';
}
