// Runs in a guest worker: SQLite's VFS on the guest's block device (docs/sqlite.md).
// SQLite (wa-sqlite's synchronous build) calls these methods synchronously; each one
// returns a SQLite result code. The database and its rollback journal are the two regions
// of the domain's volume (shared/sqlite-layout.ts); temporary files live in memory.
//
// - xRead: `readSync` on the zero-copy transport hands back a view onto the shared frame;
//   the bytes are copied once, into SQLite's page buffer in the WASM heap.
// - xWrite/xSync: whole dirty blocks. A transaction is held in guest memory, its rollback
//   journal too, and committed as one atomic group when SQLite syncs the database
//   (`writeAtomicSync`); past `holdBytes`, or refused by dom0, the journal goes to the volume
//   and the transaction commits the journaled way (`writeSync`). docs/sqlite.md.
// - xFileSize/xTruncate: the database's size is SQLite's own in-header size, read when
//   the VFS starts and kept in memory after (see docs/sqlite.md for why that is durable);
//   the journal exists while its first byte is non-zero.
// - xLock/xUnlock/xCheckReservedLock: SQLite's five lock levels between the connections
//   of this guest. A clone belongs to one domain, so no other writer exists elsewhere.
import * as VFS from '@journeyapps/wa-sqlite/src/VFS.js';
import { BlockDeviceError, type BlockDevice } from '../block-device';
import { parseSqliteHeader, sqliteRegions, SQLITE_HEADER_BYTES } from '../../shared/sqlite-layout';
import { FileFullError, RegionFile, type RegionFileStats } from './region-file';

/** The parts of the Emscripten module the VFS touches. */
export interface WasmHeap {
  readonly HEAPU8: Uint8Array;
  UTF8ToString(ptr: number): string;
}

type Kind = 'db' | 'journal' | 'temp';

/** A file's bytes in guest memory: temp files, and the journal of a held transaction. */
class MemFile {
  data = new Uint8Array(0);
  size = 0;

  /** Copy into `dst` from `offset`; zeros past the end. Returns the bytes that were inside. */
  read(dst: Uint8Array, offset: number): number {
    const got = Math.max(0, Math.min(dst.length, this.size - offset));
    if (got > 0) dst.set(this.data.subarray(offset, offset + got));
    dst.fill(0, got);
    return got;
  }

  write(src: Uint8Array, offset: number): void {
    const end = offset + src.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2));
      grown.set(this.data.subarray(0, this.size));
      this.data = grown;
    }
    this.data.set(src, offset);
    this.size = Math.max(this.size, end);
  }
}

interface OpenFile {
  readonly kind: Kind;
  readonly name: string;
  /** Temp files only: their bytes. */
  temp?: MemFile;
  lock: number;
}

export interface BlockVfsStats {
  db: RegionFileStats;
  journal: RegionFileStats;
  /** Bytes copied into the WASM heap by xRead (the one copy of a read). */
  bytesIntoHeap: number;
  /** SQLITE_BUSY answers from xLock. */
  busy: number;
  /** Held transactions whose journal went to the volume (past `holdBytes`, or refused as a group by dom0). */
  journalToVolume: number;
}

/**
 * How much of a transaction (its changed pages and its journal) the VFS holds in guest
 * memory by default, to commit it as one atomic group; past it, the journaled way.
 */
export const HOLD_TRANSACTION_BYTES = 64 << 20;

function offsetOf(lo: number, hi: number): number {
  return hi * 0x1_0000_0000 + (lo >>> 0);
}

export class BlockVfs extends VFS.Base {
  override mxPathname = 64;
  readonly db: RegionFile;
  readonly journal: RegionFile;
  private readonly files = new Map<number, OpenFile>();
  private bytesIntoHeap = 0;
  private busy = 0;
  private journalToVolume = 0;
  /**
   * The journal of the transaction being held in memory; null while the journal is the
   * volume's region (a hot journal found at open, holding off, or a transaction that
   * outgrew `holdBytes`), until SQLite deletes it.
   */
  private heldJournal: MemFile | null = null;
  /** The error behind the last failed call, for the guest API to report in words. */
  lastError: Error | null = null;

  constructor(
    name: string,
    private readonly heap: WasmHeap,
    private readonly dev: BlockDevice,
    /** The database's file name; the journal is `${dbName}-journal`. */
    readonly dbName = 'main.db',
    /** Offer batch-atomic commits (off: every transaction goes through the rollback journal, as before 2026-12-01). */
    readonly batchAtomic = true,
    /** Hold transactions up to this many bytes (changed pages + journal) in memory and commit each as one group; 0: never. */
    readonly holdBytes = HOLD_TRANSACTION_BYTES,
  ) {
    super(name, heap);
    const r = sqliteRegions(dev.blocks);
    const first = new Uint8Array(SQLITE_HEADER_BYTES);
    {
      using v = dev.readSync(0);
      first.set(v.bytes.subarray(0, SQLITE_HEADER_BYTES));
    }
    const header = parseSqliteHeader(first);
    const dbBytes = header?.fileBytes ?? 0;
    if (dbBytes > r.dbBlocks * dev.blockBytes) throw new RangeError(`the database (${dbBytes} bytes) is larger than its region of the volume (${r.dbBlocks * dev.blockBytes} bytes)`);
    this.db = new RegionFile(dev, 0, r.dbBlocks, dbBytes);
    let hot = false;
    {
      using v = dev.readSync(r.journalFirst);
      hot = v.bytes[0] !== 0;
    }
    // A journal left by a crash: its records are found from its headers, so its size is
    // the whole region; SQLite rolls it back and deletes it on the first read.
    this.journal = new RegionFile(dev, r.journalFirst, r.journalBlocks, 0, 0);
    if (hot) this.journal.size = this.journal.capacity;
    else this.holdNext();
  }

  /** The next transaction is held in memory (if holding is on). */
  private holdNext(): void {
    if (this.holdBytes <= 0) return;
    this.heldJournal = new MemFile();
    this.db.holdWrites = true;
  }

  /** Past `holdBytes`: the held transaction continues the journaled way. */
  private checkHold(): void {
    if (this.heldJournal && this.db.dirtyBytes + this.heldJournal.size > this.holdBytes) this.journalOut();
  }

  /**
   * The held journal goes to the volume's journal region, durably (its header block last),
   * before any page it protects can reach the volume; from then on the transaction is an
   * ordinary journaled one, as if SQLite's journal writes had gone to the volume all along.
   */
  private journalOut(): void {
    const j = this.heldJournal;
    if (!j) return;
    this.heldJournal = null;
    this.db.holdWrites = false;
    this.journalToVolume++;
    if (j.size > 0) {
      this.journal.write(j.data.subarray(0, j.size), 0);
      this.journal.sync();
    }
  }

  /**
   * SQLite syncs the database once per transaction, at its commit: a held transaction is
   * committed here, whole. Refused as a group (past dom0's limit), its journal goes to the
   * volume first and the pages follow the journaled way, so a crash in between rolls back.
   */
  private syncDb(): void {
    if (!this.heldJournal || this.db.dirtyBlocks === 0) {
      this.db.sync();
      return;
    }
    try {
      this.db.commitAtomic();
    } catch (err) {
      if (!(err instanceof BlockDeviceError && err.code === 'held-limit')) throw err;
      this.journalOut();
      this.db.sync();
    }
  }

  /** The journal is deleted or truncated to nothing: SQLite's commit (or rollback) is done. */
  private journalGone(): void {
    if (this.heldJournal) {
      this.heldJournal = new MemFile();
      return;
    }
    this.journal.discard();
    this.journal.zeroBlock(0);
    this.journal.size = 0;
    this.holdNext();
  }

  stats(): BlockVfsStats {
    return { db: { ...this.db.stats }, journal: { ...this.journal.stats }, bytesIntoHeap: this.bytesIntoHeap, busy: this.busy, journalToVolume: this.journalToVolume };
  }

  private kindOf(name: string): Kind | null {
    const n = name.replace(/^\/+/, '');
    if (n === this.dbName) return 'db';
    if (n === `${this.dbName}-journal`) return 'journal';
    return null;
  }

  private region(f: OpenFile): RegionFile {
    return f.kind === 'db' ? this.db : this.journal;
  }

  private fail(err: unknown, code: number): number {
    this.lastError = err instanceof Error ? err : new Error(String(err));
    return code;
  }

  override xOpen(_pVfs: number, zName: number, pFile: number, flags: number, pOutFlags: number): number {
    const name = zName ? this.heap.UTF8ToString(zName) : '';
    let kind: Kind;
    if (!zName || flags & (VFS.SQLITE_OPEN_TEMP_DB | VFS.SQLITE_OPEN_TEMP_JOURNAL | VFS.SQLITE_OPEN_SUBJOURNAL | VFS.SQLITE_OPEN_TRANSIENT_DB)) {
      kind = 'temp';
    } else {
      const k = this.kindOf(name);
      // Only the database and its rollback journal have a home on the volume: no WAL, no
      // super-journal, no second database.
      if (!k) return this.fail(new Error(`no file "${name}" on this block device (only ${this.dbName} and its journal)`), VFS.SQLITE_CANTOPEN);
      kind = k;
    }
    const file: OpenFile = { kind, name, lock: VFS.SQLITE_LOCK_NONE };
    if (kind === 'temp') file.temp = new MemFile();
    this.files.set(pFile, file);
    new DataView(this.heap.HEAPU8.buffer).setInt32(pOutFlags, flags, true);
    return VFS.SQLITE_OK;
  }

  override xDelete(_pVfs: number, zName: number, _syncDir: number): number {
    const kind = this.kindOf(this.heap.UTF8ToString(zName));
    if (kind !== 'journal') return VFS.SQLITE_OK;
    try {
      // Deleting the journal is the commit point of a rollback-journal transaction: the
      // header block goes to zeros, durably, before this returns (a held journal was never
      // on the volume: its transaction became durable whole at the database's sync).
      this.journalGone();
      return VFS.SQLITE_OK;
    } catch (err) {
      return this.fail(err, VFS.SQLITE_IOERR_DELETE);
    }
  }

  override xAccess(_pVfs: number, zName: number, _flags: number, pResOut: number): number {
    const kind = this.kindOf(this.heap.UTF8ToString(zName));
    const exists = kind === 'db' ? true : kind === 'journal' ? (this.heldJournal ?? this.journal).size > 0 : false;
    new DataView(this.heap.HEAPU8.buffer).setInt32(pResOut, exists ? 1 : 0, true);
    return VFS.SQLITE_OK;
  }

  override xFullPathname(_pVfs: number, zName: number, nOut: number, zOut: number): number {
    const name = this.heap.UTF8ToString(zName);
    const out = this.heap.HEAPU8.subarray(zOut, zOut + nOut);
    const { read, written } = new TextEncoder().encodeInto(name, out);
    if (read < name.length || written >= out.length) return VFS.SQLITE_CANTOPEN;
    out[written] = 0;
    return VFS.SQLITE_OK;
  }

  override xClose(pFile: number): number {
    const f = this.files.get(pFile);
    this.files.delete(pFile);
    // SQLite syncs what it needs durable before closing; what it left unsynced may go too.
    try {
      if (f?.kind === 'db') this.syncDb();
      else if (f?.kind === 'journal' && !this.heldJournal) this.journal.sync();
    } catch (err) {
      return this.fail(err, VFS.SQLITE_IOERR);
    }
    return VFS.SQLITE_OK;
  }

  override xRead(pFile: number, pData: number, iAmt: number, lo: number, hi: number): number {
    const f = this.files.get(pFile);
    if (!f) return VFS.SQLITE_IOERR_READ;
    const dst = this.heap.HEAPU8.subarray(pData, pData + iAmt);
    const offset = offsetOf(lo, hi);
    try {
      let got: number;
      const mem = f.temp ?? (f.kind === 'journal' ? this.heldJournal : null);
      if (mem) {
        got = mem.read(dst, offset);
      } else {
        got = this.region(f).read(dst, offset);
        this.bytesIntoHeap += got;
      }
      return got < iAmt ? VFS.SQLITE_IOERR_SHORT_READ : VFS.SQLITE_OK;
    } catch (err) {
      return this.fail(err, VFS.SQLITE_IOERR_READ);
    }
  }

  override xWrite(pFile: number, pData: number, iAmt: number, lo: number, hi: number): number {
    const f = this.files.get(pFile);
    if (!f) return VFS.SQLITE_IOERR_WRITE;
    const src = this.heap.HEAPU8.subarray(pData, pData + iAmt);
    const offset = offsetOf(lo, hi);
    try {
      const mem = f.temp ?? (f.kind === 'journal' ? this.heldJournal : null);
      if (mem) mem.write(src, offset);
      else this.region(f).write(src, offset);
      if (f.kind !== 'temp') this.checkHold();
      return VFS.SQLITE_OK;
    } catch (err) {
      return this.fail(err, err instanceof FileFullError ? VFS.SQLITE_FULL : VFS.SQLITE_IOERR_WRITE);
    }
  }

  override xTruncate(pFile: number, lo: number, hi: number): number {
    const f = this.files.get(pFile);
    if (!f) return VFS.SQLITE_IOERR_TRUNCATE;
    const size = offsetOf(lo, hi);
    try {
      const mem = f.temp ?? (f.kind === 'journal' ? this.heldJournal : null);
      // journal_mode=TRUNCATE commits here: same as deleting it.
      if (f.kind === 'journal' && size === 0) this.journalGone();
      else if (mem) mem.size = Math.min(mem.size, size);
      else this.region(f).truncate(size);
      return VFS.SQLITE_OK;
    } catch (err) {
      return this.fail(err, VFS.SQLITE_IOERR_TRUNCATE);
    }
  }

  override xSync(pFile: number, _flags: number): number {
    const f = this.files.get(pFile);
    if (!f) return VFS.SQLITE_IOERR_FSYNC;
    try {
      // A held journal needs no sync: nothing it protects reaches the volume before the
      // whole transaction does, at the database's sync.
      if (f.kind === 'db') this.syncDb();
      else if (f.kind === 'journal' && !this.heldJournal) this.journal.sync();
      return VFS.SQLITE_OK;
    } catch (err) {
      return this.fail(err, VFS.SQLITE_IOERR_FSYNC);
    }
  }

  override xFileSize(pFile: number, pSize: number): number {
    const f = this.files.get(pFile);
    if (!f) return VFS.SQLITE_IOERR;
    const size = (f.temp ?? (f.kind === 'journal' ? this.heldJournal : null) ?? this.region(f)).size;
    new DataView(this.heap.HEAPU8.buffer).setBigInt64(pSize, BigInt(size), true);
    return VFS.SQLITE_OK;
  }

  /** Lock levels other connections of this guest hold on the database. */
  private others(pFile: number): number[] {
    const out: number[] = [];
    for (const [id, f] of this.files) if (id !== pFile && f.kind === 'db') out.push(f.lock);
    return out;
  }

  override xLock(pFile: number, level: number): number {
    const f = this.files.get(pFile);
    if (!f) return VFS.SQLITE_IOERR_LOCK;
    if (f.kind !== 'db' || level <= f.lock) return VFS.SQLITE_OK;
    const others = this.others(pFile);
    let ok: boolean;
    if (level === VFS.SQLITE_LOCK_SHARED) ok = others.every((l) => l < VFS.SQLITE_LOCK_PENDING);
    else if (level === VFS.SQLITE_LOCK_RESERVED) ok = others.every((l) => l < VFS.SQLITE_LOCK_RESERVED);
    else {
      // EXCLUSIVE (SQLite asks for it directly; PENDING is the state on the way): while
      // readers remain we hold PENDING, so no new reader starts and the writer is not starved.
      ok = others.every((l) => l < VFS.SQLITE_LOCK_SHARED);
      if (!ok) f.lock = Math.max(f.lock, VFS.SQLITE_LOCK_PENDING);
    }
    if (!ok) {
      this.busy++;
      return VFS.SQLITE_BUSY;
    }
    f.lock = level;
    return VFS.SQLITE_OK;
  }

  override xUnlock(pFile: number, level: number): number {
    const f = this.files.get(pFile);
    if (!f) return VFS.SQLITE_IOERR_UNLOCK;
    if (level < f.lock) f.lock = level;
    return VFS.SQLITE_OK;
  }

  override xCheckReservedLock(pFile: number, pResOut: number): number {
    const reserved = this.others(pFile).some((l) => l >= VFS.SQLITE_LOCK_RESERVED);
    new DataView(this.heap.HEAPU8.buffer).setInt32(pResOut, reserved ? 1 : 0, true);
    return VFS.SQLITE_OK;
  }

  /**
   * Batch-atomic commits (SQLITE_IOCAP_BATCH_ATOMIC): SQLite keeps its rollback journal in
   * memory and brackets the transaction's database writes with BEGIN and COMMIT; the
   * commit is one atomic group on the device (`writeAtomicSync`), so a transaction costs
   * one pool commit and no journal blocks. A refused group (past dom0's limit) answers an
   * I/O error, on which SQLite rolls the group back and commits through its journal.
   */
  override xFileControl(pFile: number, op: number, _pArg: number): number {
    const f = this.files.get(pFile);
    if (!f || f.kind !== 'db') return VFS.SQLITE_NOTFOUND;
    switch (op) {
      case VFS.SQLITE_FCNTL_BEGIN_ATOMIC_WRITE:
        this.db.beginAtomic();
        return VFS.SQLITE_OK;
      case VFS.SQLITE_FCNTL_COMMIT_ATOMIC_WRITE:
        try {
          this.db.commitAtomic();
          return VFS.SQLITE_OK;
        } catch (err) {
          return this.fail(err, VFS.SQLITE_IOERR_COMMIT_ATOMIC);
        }
      case VFS.SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE:
        this.db.rollbackAtomic();
        return VFS.SQLITE_OK;
      default:
        return VFS.SQLITE_NOTFOUND;
    }
  }

  /** A block is the unit the pool replaces atomically: SQLite journals whole blocks. */
  override xSectorSize(_pFile: number): number {
    return Math.min(this.dev.blockBytes, 65536);
  }

  /**
   * Writing one block never damages another (copy-on-write replaces whole blocks), and a
   * group of blocks can be written atomically (xFileControl).
   */
  override xDeviceCharacteristics(pFile: number): number {
    const f = this.files.get(pFile);
    return VFS.SQLITE_IOCAP_POWERSAFE_OVERWRITE | (f?.kind === 'db' && this.batchAtomic ? VFS.SQLITE_IOCAP_BATCH_ATOMIC : 0);
  }
}
