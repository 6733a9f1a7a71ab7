// Runs in a page or a worker with IndexedDB: the fallback where OPFS is missing. Its own
// database (`tabvisor-archive-<name>`), never the pool's.
//
// A segment is a run of "pieces", one record per append, keyed [segment, start, end]
// (byte offsets). Keys sort by segment then start, so a segment is one key range, and an
// append is one put in one transaction: all-or-nothing, as IndexedDB transactions are.
// The key list is loaded once on open and kept in memory, so sizes and the pieces a read
// needs are known without touching the database.

import { type DBSchema, type IDBPDatabase, deleteDB, openDB } from 'idb';
import { SegmentRangeError } from '../../shared/errors/archive-errors';
import type { SegmentId, SegmentStore } from './segment-store';

type PieceKey = [segment: number, start: number, end: number];

interface SegmentDb extends DBSchema {
  pieces: { key: PieceKey; value: Uint8Array };
}

interface Piece {
  start: number;
  end: number;
}

const DB_VERSION = 1;

function dbName(name: string): string {
  return `tabvisor-archive-${name}`;
}

export class IdbSegmentStore implements SegmentStore {
  readonly backend = 'indexeddb' as const;
  readonly #db: IDBPDatabase<SegmentDb>;
  readonly #pieces: Map<SegmentId, Piece[]>; // ascending by start, contiguous from 0
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(db: IDBPDatabase<SegmentDb>, pieces: Map<SegmentId, Piece[]>) {
    this.#db = db;
    this.#pieces = pieces;
  }

  static isAvailable(): boolean {
    return typeof indexedDB !== 'undefined';
  }

  static async open(name: string): Promise<IdbSegmentStore> {
    const db = await openDB<SegmentDb>(dbName(name), DB_VERSION, {
      upgrade(d) {
        d.createObjectStore('pieces');
      },
    });
    const pieces = new Map<SegmentId, Piece[]>();
    for (const [seg, start, end] of await db.getAllKeys('pieces')) {
      const id = seg as SegmentId;
      let list = pieces.get(id);
      if (!list) pieces.set(id, (list = []));
      list.push({ start, end }); // getAllKeys returns keys in key order
    }
    return new IdbSegmentStore(db, pieces);
  }

  static async destroy(name: string): Promise<void> {
    await deleteDB(dbName(name));
  }

  append(id: SegmentId, bytes: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      const start = this.#size(id) ?? 0;
      const end = start + bytes.length;
      // A view onto a larger buffer would store the whole buffer; store exactly the bytes.
      const value = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      const tx = this.#db.transaction('pieces', 'readwrite');
      await Promise.all([tx.store.put(value, [id, start, end]), tx.done]);
      const list = this.#pieces.get(id) ?? [];
      list.push({ start, end });
      this.#pieces.set(id, list);
    });
  }

  async read(id: SegmentId, offset: number, length: number): Promise<Uint8Array> {
    await this.#queue.catch(() => undefined);
    const size = this.#size(id);
    if (size === undefined || offset < 0 || length < 0 || offset + length > size) {
      throw new SegmentRangeError(id, offset, length, size);
    }
    const end = offset + length;
    const needed = (this.#pieces.get(id) ?? []).filter((p) => p.start < end && p.end > offset);
    const tx = this.#db.transaction('pieces', 'readonly');
    const values = await Promise.all(needed.map((p) => tx.store.get([id, p.start, p.end])));
    await tx.done;
    const out = new Uint8Array(length);
    needed.forEach((p, i) => {
      const v = values[i];
      if (!v) throw new SegmentRangeError(id, p.start, p.end - p.start, size); // deleted under us
      const from = Math.max(offset, p.start);
      const to = Math.min(end, p.end);
      out.set(v.subarray(from - p.start, to - p.start), from - offset);
    });
    return out;
  }

  async list(): Promise<SegmentId[]> {
    await this.#queue.catch(() => undefined);
    return [...this.#pieces.keys()].sort((a, b) => a - b);
  }

  async sizes(): Promise<Map<SegmentId, number>> {
    const ids = await this.list();
    return new Map(ids.map((id) => [id, this.#size(id) ?? 0]));
  }

  truncate(id: SegmentId, length: number): Promise<void> {
    return this.#serial(async () => {
      const list = this.#pieces.get(id);
      if (!list) return;
      const tx = this.#db.transaction('pieces', 'readwrite');
      const kept: Piece[] = [];
      const ops: Promise<unknown>[] = []; // awaited with tx.done: no unhandled rejections
      for (const p of list) {
        if (p.end <= length) {
          kept.push(p);
        } else if (p.start >= length) {
          ops.push(tx.store.delete([id, p.start, p.end]));
        } else {
          const v = await tx.store.get([id, p.start, p.end]);
          ops.push(tx.store.delete([id, p.start, p.end]));
          if (v) ops.push(tx.store.put(v.slice(0, length - p.start), [id, p.start, length]));
          kept.push({ start: p.start, end: length });
        }
      }
      await Promise.all([...ops, tx.done]);
      this.#pieces.set(id, kept);
    });
  }

  delete(id: SegmentId): Promise<void> {
    return this.#serial(async () => {
      const tx = this.#db.transaction('pieces', 'readwrite');
      // Array keys compare element-wise and a prefix sorts first, so [id] ≤ every piece
      // of segment id < [id + 1].
      await Promise.all([tx.store.delete(IDBKeyRange.bound([id], [id + 1], false, true)), tx.done]);
      this.#pieces.delete(id);
    });
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => undefined);
    this.#db.close();
  }

  #size(id: SegmentId): number | undefined {
    const list = this.#pieces.get(id);
    if (!list) return undefined;
    return list.length ? list[list.length - 1]!.end : 0;
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
