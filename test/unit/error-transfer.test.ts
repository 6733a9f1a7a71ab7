// Runs in Node. Errors thrown behind a comlink endpoint arrive as the same class with the
// same fields, through a real MessageChannel (structured clone, as between the page and a
// worker). Every class of the registry is thrown once.
import { afterAll, describe, expect, it } from 'vitest';
import { expose, wrap, type Remote } from 'comlink';
import { installErrorTransfer, REGISTRY, fromWire, toWire, type WireError } from '../../shared/errors/error-transfer';
import { ALL_ERROR_CLASSES } from '../../shared/errors/all-error-classes';
import * as pool from '../../shared/errors/pool-errors';
import * as archive from '../../shared/errors/archive-errors';
import { ArenaFullError, BlockDeviceError, DatasetInUseError } from '../../shared/errors/device-errors';
import { RingGeometryError } from '../../shared/ring-layout';
import { IdcError } from '../../shared/idc-layout';
import { SqliteFormatError } from '../../shared/sqlite-layout';
import { Status } from '../../shared/protocol';

/** One instance of every concrete registered class, as the code raises them. */
function samples(): Error[] {
  const quota = new DOMException('quota', 'QuotaExceededError');
  const hashErr = new archive.ChunkHashMismatchError('aa', 'bb', 'segment 1');
  return [
    new pool.UnknownDatasetError('nope'),
    new pool.DatasetExistsError('img'),
    new pool.OutOfRangeError('img', 99, 16),
    new pool.ReadOnlyDatasetError('img@base'),
    new pool.HasClonesError('img@base', ['vm1', 'vm2']),
    new pool.InvalidArgumentError('block size must be a power of two'),
    new pool.ChecksumError({ chunkId: 3, metaslab: 1, offset: 4096, expected: 'e'.repeat(64), actual: null, dataset: 'img', lba: 2 }),
    new pool.StaleBlockRefError(7),
    new pool.PoolFullError(5, quota),
    new pool.CommitError(5, new TypeError('boom')),
    new pool.GroupDroppedError(7, new pool.CommitError(7, new TypeError('boom'))),
    new pool.PoolClosedError('closed'),
    new pool.PoolFormatError('format 9'),
    new pool.PoolStorageError('IndexedDB could not open pool', { cause: new DOMException('Internal error opening backing store', 'UnknownError') }),
    new pool.PoolLostError('pool p is gone'),
    new archive.ArchiveError('generic'),
    new archive.CorruptRecordError(2, 128, 'bad crc', { cause: new RangeError('inner') }),
    hashErr,
    new archive.RecordTooLargeError(10, 5),
    new archive.SegmentRangeError(1, 2, 3, 4),
    new archive.CorruptSegmentError('torn'),
    new archive.CorruptRunError('run'),
    new archive.ChunkNotFoundError('cc'),
    new archive.SnapshotNotFoundError('vm1@monday'),
    new archive.ArchiveUsageError('closed'),
    new archive.RestoreCorruptionError('vm1@monday', [{ hash: 'aa', lbas: [1, 2], error: hashErr }]),
    new BlockDeviceError('block 16 is outside this volume', Status.OUT_OF_RANGE),
    new ArenaFullError('tenant-a'),
    new DatasetInUseError('vm1', 3),
    new RingGeometryError('capacity'),
    new IdcError('policy', 'guests 1 and 2 may not talk'),
    new SqliteFormatError('not a SQLite 3 database'),
    new RangeError('unknown trust group x'),
    new TypeError('bad'),
  ];
}

interface Thrower {
  throwIt(i: number): Promise<void>;
  throwValue(v: unknown): never;
}

describe('typed errors across a comlink boundary', () => {
  installErrorTransfer(ALL_ERROR_CLASSES);
  const { port1, port2 } = new MessageChannel();
  const service: Thrower = {
    async throwIt(i) {
      throw samples()[i]!;
    },
    throwValue(v) {
      throw v;
    },
  };
  expose(service, port1);
  const remote: Remote<Thrower> = wrap<Thrower>(port2);
  afterAll(() => {
    port1.close();
    port2.close();
  });

  it('every registered class is thrown by the samples (the test covers the registry)', () => {
    const thrown = new Set(samples().map((e) => Object.getPrototypeOf(e) as object));
    const concrete = [...REGISTRY].filter(([key]) => !['Error', 'SyntaxError', 'ReferenceError', 'PoolError'].includes(key));
    expect(concrete.filter(([, cls]) => !thrown.has(cls.prototype as object)).map(([k]) => k)).toEqual([]);
  });

  samples().forEach((original, i) => {
    it(`${original.name} keeps its class, code, fields and cause`, async () => {
      const got = await remote.throwIt(i).then(
        () => null,
        (e: unknown) => e,
      );
      expect(got).toBeInstanceOf(Object.getPrototypeOf(original).constructor as new () => Error);
      expect(got).toBeInstanceOf(Error);
      const err = got as Error & Record<string, unknown>;
      expect(err.name).toBe(original.name);
      expect(err.message).toBe(original.message);
      expect(err.code).toBe((original as unknown as { code?: string }).code);
      for (const key of Object.keys(original)) {
        if (key === 'cause' || key === 'blocks') continue;
        expect(err[key], key).toEqual((original as unknown as Record<string, unknown>)[key]);
      }
      if ('cause' in original) {
        expect(err.cause).toBeDefined();
        const c = original.cause;
        if (c instanceof Error) {
          expect(err.cause).toBeInstanceOf(Object.getPrototypeOf(c).constructor as new () => Error);
          expect((err.cause as Error).message).toBe(c.message);
        }
      } else {
        expect('cause' in err).toBe(false);
      }
      expect(err.stack).toContain(original.message.slice(0, 20));
    });
  });

  it('nested errors in fields come back typed (RestoreCorruptionError.blocks)', async () => {
    const i = samples().findIndex((e) => e instanceof archive.RestoreCorruptionError);
    const err = (await remote.throwIt(i).catch((e: unknown) => e)) as archive.RestoreCorruptionError;
    expect(err.blocks[0]!.lbas).toEqual([1, 2]);
    expect(err.blocks[0]!.error).toBeInstanceOf(archive.ChunkHashMismatchError);
    expect(err.cause).toBeInstanceOf(archive.ChunkHashMismatchError);
  });

  it('a subclass nobody registered arrives as its nearest registered ancestor, name intact', async () => {
    class LocalError extends pool.InvalidArgumentError {
      override readonly name: string = 'LocalError'; // every project error names itself (minified builds rename classes)
    }
    const e = new LocalError('local');
    const back = fromWire(structuredClone(toWire(e)));
    expect(back).toBeInstanceOf(pool.InvalidArgumentError);
    expect(back).toBeInstanceOf(pool.PoolError);
    expect((back as pool.PoolError).code).toBe('invalid-argument');
    expect(back.name).toBe('LocalError');
  });

  it('a class this realm does not register (a guest registers only its own) arrives as an Error with its name, code and fields, and passes on its class', async () => {
    // As a guest worker would get a pool error: its registry has no pool classes.
    const wire: WireError = { ...toWire(new pool.PoolLostError('pool p is gone')), cls: 'NotRegisteredHereError' };
    const got = fromWire(structuredClone(wire)) as Error & { code?: string };
    expect(got).toBeInstanceOf(Error);
    expect(got.name).toBe('PoolLostError');
    expect(got.code).toBe('pool-lost');
    expect(got.message).toBe('pool p is gone');
    // Thrown on to a realm that knows the class, it becomes that class again.
    expect(toWire(got).cls).toBe('NotRegisteredHereError');
    const passedOn = fromWire(structuredClone({ ...toWire(got), cls: 'PoolLostError' }));
    expect(passedOn).toBeInstanceOf(pool.PoolLostError);
  });

  it('fields that cannot be cloned are dropped instead of failing the reply', async () => {
    const e = Object.assign(new pool.InvalidArgumentError('with a function'), { hook: () => 1, n: 3 });
    const back = fromWire(structuredClone(toWire(e))) as unknown as Record<string, unknown>;
    expect(back.n).toBe(3);
    expect(back.hook).toBeUndefined();
  });

  it('thrown non-errors pass through as they are', async () => {
    await expect(remote.throwValue('plain string')).rejects.toBe('plain string');
    await expect(remote.throwValue({ why: 1 })).rejects.toEqual({ why: 1 });
  });
});

describe('error names survive minification', () => {
  // A minified build renames classes, so `new.target.name` or `constructor.name` would
  // read 'e' in the built site; every project error spells its name out.
  it('every pool and archive error class declares its own name, in its source', async () => {
    const { readFileSync } = await import('node:fs');
    for (const file of ['pool-errors.ts', 'archive-errors.ts', 'device-errors.ts']) {
      const src = readFileSync(new URL(`../../shared/errors/${file}`, import.meta.url), 'utf8');
      const classes = [...src.matchAll(/export (?:abstract )?class (\w+)/g)].map((m) => m[1]!);
      expect(classes.length).toBeGreaterThan(2);
      for (const cls of classes) expect(src, `${file}: ${cls} names itself`).toMatch(new RegExp(`class ${cls}\\b[^{]*\\{[^}]*?name(?:: string)? = '${cls}'`, 's'));
    }
  });
});
