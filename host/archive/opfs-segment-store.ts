// Runs in a page or a worker with the Origin Private File System. One OPFS file per
// segment (`seg-0000000042`) in a directory of its own (`tabvisor-archive-<name>`).
//
// Uses the async File / FileSystemWritableFileStream API, which exists in pages and
// workers alike; `createSyncAccessHandle` is faster but exists only in dedicated workers,
// and the archive must also run in the page. Quirk (Chromium): a writable with
// `keepExistingData: true` copies the file to a swap file and swaps it in on close(),
// so an append costs O(file size) — which is why SegmentLog buffers and appends large
// pieces. The swap on close() is also what makes an append all-or-nothing here, so a torn
// tail is mostly an IndexedDB/other-backend concern; the log checks regardless.

import { ArchiveUsageError, SegmentRangeError } from '../../shared/errors/archive-errors';
import { type SegmentId, type SegmentStore, segmentId } from './segment-store';

const PREFIX = 'seg-';
const NAME = /^seg-(\d{10})$/;

// lib "DOM.AsyncIterable" is not in this project's tsconfig, so directory iteration is
// typed here, narrowly, instead of pulling the whole lib in for one call.
interface IterableDirectory {
  keys(): AsyncIterable<string>;
}

function fileName(id: SegmentId): string {
  return PREFIX + String(id).padStart(10, '0');
}

function asArrayBufferView(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  // Writables reject views onto a SharedArrayBuffer; copy in that case.
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

function isNotFound(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'NotFoundError';
}

export class OpfsSegmentStore implements SegmentStore {
  readonly backend = 'opfs' as const;
  #queue: Promise<unknown> = Promise.resolve(); // writes to one file must not overlap

  private constructor(readonly directory: FileSystemDirectoryHandle) {}

  /** OPFS with writable streams is present (Chromium, Firefox; not WebKitGTK's page). */
  static isAvailable(): boolean {
    return (
      typeof navigator !== 'undefined' &&
      typeof navigator.storage?.getDirectory === 'function' &&
      typeof FileSystemFileHandle !== 'undefined' &&
      'createWritable' in FileSystemFileHandle.prototype
    );
  }

  static async open(name: string): Promise<OpfsSegmentStore> {
    if (!OpfsSegmentStore.isAvailable()) throw new ArchiveUsageError('OPFS with writable streams is not available here');
    const root = await navigator.storage.getDirectory();
    return new OpfsSegmentStore(await root.getDirectoryHandle(`tabvisor-archive-${name}`, { create: true }));
  }

  /** Remove the whole store (tests, and "destroy archive"). */
  static async destroy(name: string): Promise<void> {
    const root = await navigator.storage.getDirectory();
    await root.removeEntry(`tabvisor-archive-${name}`, { recursive: true }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  append(id: SegmentId, bytes: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      const handle = await this.directory.getFileHandle(fileName(id), { create: true });
      const size = (await handle.getFile()).size;
      const w = await handle.createWritable({ keepExistingData: true });
      try {
        await w.write({ type: 'write', position: size, data: asArrayBufferView(bytes) });
        await w.close();
      } catch (err: unknown) {
        await w.abort().catch(() => undefined); // the original error is the one to report
        throw err;
      }
    });
  }

  async read(id: SegmentId, offset: number, length: number): Promise<Uint8Array> {
    await this.#queue.catch(() => undefined); // see our own completed appends
    const file = await this.#file(id);
    if (!file || offset < 0 || length < 0 || offset + length > file.size) {
      throw new SegmentRangeError(id, offset, length, file?.size);
    }
    return new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
  }

  async list(): Promise<SegmentId[]> {
    return [...(await this.sizes()).keys()];
  }

  async sizes(): Promise<Map<SegmentId, number>> {
    await this.#queue.catch(() => undefined);
    const ids: SegmentId[] = [];
    for await (const name of (this.directory as unknown as IterableDirectory).keys()) {
      const m = NAME.exec(name);
      if (m) ids.push(segmentId(Number(m[1])));
    }
    ids.sort((a, b) => a - b);
    const out = new Map<SegmentId, number>();
    for (const id of ids) {
      const f = await this.#file(id);
      if (f) out.set(id, f.size);
    }
    return out;
  }

  truncate(id: SegmentId, length: number): Promise<void> {
    return this.#serial(async () => {
      const handle = await this.directory.getFileHandle(fileName(id)).catch(() => null);
      if (!handle) return;
      const w = await handle.createWritable({ keepExistingData: true });
      await w.truncate(length);
      await w.close();
    });
  }

  delete(id: SegmentId): Promise<void> {
    return this.#serial(async () => {
      await this.directory.removeEntry(fileName(id)).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    });
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => undefined);
  }

  async #file(id: SegmentId): Promise<File | null> {
    try {
      return await (await this.directory.getFileHandle(fileName(id))).getFile();
    } catch (err: unknown) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
