// Runs in Node, with fake-indexeddb as the browser's IndexedDB and an in-memory directory
// as OPFS. The pool registry: a pool whose database was deleted under it (what Chromium
// does to every database of a site it finds damaged, telling only the first one opened)
// must refuse to open with PoolLostError, not come back empty; a pool deleted through the
// API, a new pool and a pool in memory must not; an unreachable registry never stops an
// open. Real Chromium: test/e2e/pool-loss.spec.ts.
import 'fake-indexeddb/auto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openPool } from '../../host/dom0/pool-storage';
import { deletePool, discardPool } from '../../host/pool/delete-pool';
import { Pool } from '../../host/pool';
import { directoryRegistry, entryName, registryVerdict, type PoolRegistry, type RegistryAnswer, type RegistryDirectory } from '../../host/pool/registry';
import { PoolLostError } from '../../shared/errors/pool-errors';
import { fcParams } from '../helpers/seed.ts';

const BS = 65536;

/** An in-memory OPFS directory; `fail` makes every call reject with that error. */
class FakeDirectory implements RegistryDirectory {
  readonly files = new Set<string>();
  fail: DOMException | null = null;
  calls = 0;
  async getFileHandle(name: string, options?: { create?: boolean }): Promise<unknown> {
    this.calls++;
    if (this.fail) throw this.fail;
    if (!this.files.has(name)) {
      if (!options?.create) throw new DOMException(`${name} not found`, 'NotFoundError');
      this.files.add(name);
    }
    return { name };
  }
  async removeEntry(name: string): Promise<void> {
    this.calls++;
    if (this.fail) throw this.fail;
    if (!this.files.delete(name)) throw new DOMException(`${name} not found`, 'NotFoundError');
  }
}

/** The browser deleting a database without telling this pool (no dataLoss on its upgrade). */
function wipe(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const q = indexedDB.deleteDatabase(name);
    q.onsuccess = () => resolve();
    q.onerror = () => reject(q.error);
  });
}

let seq = 0;
const unique = (tag: string) => `reg-${tag}-${++seq}`;

async function fill(name: string, registry: PoolRegistry | null): Promise<void> {
  const pool = await Pool.open(name, { registry, durability: 'relaxed' });
  await pool.createVolume('vol', { sizeBytes: 2 * BS, blockSize: BS });
  await pool.write('vol', 0, new Uint8Array(BS).fill(7));
  await pool.commit();
  pool.close();
}

async function opens(name: string, registry: PoolRegistry | null, acceptLoss = false): Promise<string[] | { code: string; message: string }> {
  try {
    const pool = await Pool.open(name, { registry, acceptLoss });
    const names = pool.list().map((d) => d.name);
    pool.close();
    return names;
  } catch (e) {
    if (e instanceof PoolLostError) return { code: e.code, message: e.message };
    throw e;
  }
}

describe('registryVerdict', () => {
  it('refuses only a fresh database of a pool the registry holds, unless the loss is accepted', () => {
    const answers: RegistryAnswer[] = ['present', 'absent', 'unknown'];
    for (const fresh of [true, false])
      for (const answer of answers)
        for (const accept of [true, false])
          expect(registryVerdict(fresh, answer, accept), `${fresh} ${answer} ${accept}`).toBe(fresh && answer === 'present' && !accept ? 'refuse' : 'record');
  });
});

describe('entryName', () => {
  it('gives every pool name its own legal OPFS file name', async () => {
    const names = ['tabvisor', '.', '..', '', 'a/b', 'a\\b', 'a.2f', 'a/', 'a.', 'é', 'e\u0301', 'x'.repeat(199), 'x'.repeat(200), 'x'.repeat(5000), '/'.repeat(100)];
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.oneof(fc.constantFrom(...names), fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 300 })), { minLength: 2, maxLength: 20 }), async (batch) => {
        const files = await Promise.all(batch.map(entryName));
        expect(new Set(files).size).toBe(batch.length);
        for (const f of files) {
          expect(f).toMatch(/^(p-[A-Za-z0-9_.-]{0,200}|h-[0-9a-f]{64})$/);
          expect(f).not.toMatch(/[/\\]/);
        }
        expect(await Promise.all(batch.map(entryName))).toEqual(files);
      }),
      fcParams({ numRuns: 200 }),
    );
  });
});

describe('directoryRegistry', () => {
  it('records, answers and forgets a pool', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    expect(await reg.has('a')).toBe('absent');
    expect(await reg.add('a')).toBe(true);
    expect(await reg.add('a')).toBe(true);
    expect(await reg.has('a')).toBe('present');
    expect(await reg.has('b')).toBe('absent');
    expect(await reg.remove('a')).toBe(true);
    expect(await reg.remove('a')).toBe(true);
    expect(await reg.has('a')).toBe('absent');
    expect(reg.unavailable).toBeNull();
  });

  it('a registry that never answers costs one deadline, then is skipped', async () => {
    const reg = directoryRegistry(() => new Promise<RegistryDirectory>(() => undefined), 50);
    const t0 = Date.now();
    expect(await reg.has('a')).toBe('unknown');
    expect(reg.unavailable).toMatch(/did not answer within 50 ms/);
    expect(await reg.add('a')).toBe(false);
    expect(await reg.remove('a')).toBe(false);
    // Hang guard, not a speed check: the later calls must not wait for the dead registry again.
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a refusal makes it unavailable; any other failure is unknown for that call only', async () => {
    const refused = directoryRegistry(async () => {
      throw new DOMException('The request is not allowed', 'SecurityError');
    });
    expect(await refused.has('a')).toBe('unknown');
    expect(refused.unavailable).toMatch(/refused.*SecurityError/);

    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    dir.fail = new DOMException('disk trouble', 'InvalidStateError');
    expect(await reg.has('a')).toBe('unknown');
    expect(await reg.add('a')).toBe(false);
    expect(reg.unavailable).toBeNull();
    dir.fail = null;
    expect(await reg.add('a')).toBe(true);
    expect(await reg.has('a')).toBe('present');
  });
});

describe('Pool.open with a registry', () => {
  it('every pool of the site whose database was deleted refuses, until its loss is accepted', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    const [a, b] = [unique('a'), unique('b')];
    await fill(a, reg);
    await fill(b, reg);
    await wipe(a);
    await wipe(b);
    for (const name of [a, b]) {
      const got = await opens(name, reg);
      expect(got).toMatchObject({ code: 'pool-lost' });
      expect((got as { message: string }).message).toMatch(/database is gone while the pool registry \(OPFS\) says this pool existed.*acceptLoss/);
      // Not once: every open refuses, and the empty database it left is no way around that.
      expect(await opens(name, reg)).toMatchObject({ code: 'pool-lost' });
    }
    expect(await opens(a, reg, true)).toEqual([]);
    expect(await opens(a, reg)).toEqual([]);
    // Accepted and written to again, it is an ordinary pool: a second deletion is reported too.
    await fill(a, reg);
    await wipe(a);
    expect(await opens(a, reg)).toMatchObject({ code: 'pool-lost' });
    expect(await opens(b, reg)).toMatchObject({ code: 'pool-lost' });
  });

  it('a pool deleted through the API and created again under its name reports nothing', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    const a = unique('del');
    await fill(a, reg);
    expect(await deletePool(a, reg)).toBe('deleted');
    expect(dir.files.size).toBe(0);
    expect(await opens(a, reg)).toEqual([]);
  });

  it('a temporary pool discarded at pagehide: the database deletion is requested at once, the entry goes after', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    const t = unique('tmp');
    await fill(t, reg);
    const requested: string[] = [];
    const original = indexedDB.deleteDatabase.bind(indexedDB);
    indexedDB.deleteDatabase = (n: string) => (requested.push(n), original(n));
    try {
      discardPool(t, reg);
      expect(requested).toEqual([t]); // synchronously, before any OPFS call could finish
    } finally {
      indexedDB.deleteDatabase = original;
    }
    await expect.poll(() => dir.files.size).toBe(0);
    expect((await indexedDB.databases()).map((d) => d.name)).not.toContain(t);
  });

  it('a new pool reports nothing, and is recorded before its open returns', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    const a = unique('new');
    const pool = await Pool.open(a, { registry: reg });
    expect(pool.registered).toBe(true);
    expect(dir.files.has(await entryName(a))).toBe(true);
    pool.close();
  });

  it('a crash between creating the database and recording it: the next open records it', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    const a = unique('crash');
    // The entry never got written (as if the context died right after the database was made).
    dir.fail = new DOMException('gone', 'InvalidStateError');
    const first = await Pool.open(a, { registry: reg });
    expect(first.registered).toBe(false);
    first.close();
    dir.fail = null;
    await fill(a, reg);
    expect(dir.files.has(await entryName(a))).toBe(true);
    await wipe(a);
    expect(await opens(a, reg)).toMatchObject({ code: 'pool-lost' });
  });

  it('an unreachable registry never stops an open (and then cannot report)', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    const a = unique('down');
    await fill(a, reg);
    await wipe(a);
    const dead = directoryRegistry(() => new Promise<RegistryDirectory>(() => undefined), 50);
    const pool = await Pool.open(a, { registry: dead });
    expect(pool.registered).toBe(false);
    expect(pool.list()).toEqual([]);
    pool.close();
  });

  it('a pool in memory never touches the registry', async () => {
    const dir = new FakeDirectory();
    const reg = directoryRegistry(async () => dir);
    const { pool, storage } = await openPool(unique('mem'), { registry: reg }, 'memory');
    expect(storage.kind).toBe('memory');
    await pool.createVolume('v', { sizeBytes: BS, blockSize: BS });
    await pool.commit();
    expect(pool.registered).toBe(false);
    pool.close();
    expect(dir.calls).toBe(0);
  });
});
