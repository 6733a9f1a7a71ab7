// Runs in real Chromium: an import's SHA-256 digests computed in the pool's digest worker
// (host/pool/offthread-digests.ts) are the same identities the pool's own thread computes,
// a reused buffer carries nothing of the slice before it, and a worker that cannot start
// leaves the import to hash on its own thread.
import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from '../../host/pool';
import { OffThreadDigests } from '../../host/pool/offthread-digests';
import { prepareBlocks } from '../../host/pool/write-path';
import { toHex } from '../../host/pool/hash';
import { deleteDatabase } from '../helpers/idb';
import { Hypervisor } from '../../host/page/hypervisor';

const BS = 4096;
const opened: Pool[] = [];
const names: string[] = [];
const clients: OffThreadDigests[] = [];

function client(start?: () => Worker): OffThreadDigests {
  const c = new OffThreadDigests(start);
  clients.push(c);
  return c;
}

/** Random bytes, every third block zero (a hole, not hashed). */
function bytesOf(n: number): Uint8Array {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out.subarray(0, Math.min(n, 65536)));
  for (let o = 65536; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  for (let b = 2; b * BS < n; b += 3) out.fill(0, b * BS, Math.min(n, (b + 1) * BS));
  return out;
}

const hex = (hs: (Uint8Array | null)[]): (string | null)[] => hs.map((h) => (h ? toHex(h) : null));

afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  for (const p of opened.splice(0)) p.close();
  for (const n of names.splice(0)) await deleteDatabase(n);
});

describe('SHA-256 in the digest worker', () => {
  it('gives the digests the pool thread gives, holes and a partial last block included', async () => {
    const bytes = bytesOf(37 * BS + 123);
    const here = await prepareBlocks(bytes, BS);
    const there = await prepareBlocks(bytes, BS, { digests: client() });
    expect(hex(there.hashes)).toEqual(hex(here.hashes));
    expect([there.hashedOffThread, here.hashedOffThread]).toEqual([true, false]);
    expect(here.hashes.filter((h) => h === null).length).toBeGreaterThan(10);
    expect(hex(there.checks)).toEqual(hex(here.checks));
  });

  it('zero-pads a reused buffer: a short slice after a full one hashes as the pool thread does', async () => {
    const c = client();
    const full = bytesOf(8 * BS);
    full.fill(0xff, 7 * BS); // the tail a stale buffer would still hold
    await prepareBlocks(full, BS, { digests: c });
    await prepareBlocks(full, BS, { digests: c }); // both buffers now come from the worker
    const short = bytesOf(7 * BS + 1); // 8 blocks, the last one byte then zeros
    short[7 * BS] = 7;
    const there = await prepareBlocks(short, BS, { digests: c });
    const here = await prepareBlocks(short, BS);
    expect(hex(there.hashes)).toEqual(hex(here.hashes));
  });

  it('hashes the bytes as they were when prepareBlocks was called, not after', async () => {
    const bytes = bytesOf(16 * BS);
    const expected = hex((await prepareBlocks(bytes.slice(), BS)).hashes);
    const pending = prepareBlocks(bytes, BS, { owned: true, digests: client() });
    bytes.fill(1); // the caller changes its buffer while the worker hashes
    expect(hex((await pending).hashes)).toEqual(expected);
  });

  it('falls back to the pool thread when the worker cannot start, and stays there', async () => {
    let starts = 0;
    const broken = client(() => {
      starts++;
      return new Worker(new URL('./no-such-digest-worker.js', import.meta.url), { type: 'module' });
    });
    const bytes = bytesOf(12 * BS);
    const here = await prepareBlocks(bytes, BS);
    const there = await prepareBlocks(bytes, BS, { digests: broken });
    expect(hex(there.hashes)).toEqual(hex(here.hashes));
    expect(there.hashedOffThread).toBe(false); // what the pool's stats count
    expect(broken.digest(bytes, BS, new Uint8Array(12))).toBeNull();
    expect(starts).toBe(1);
  });

  it('an imported volume dedups against the same bytes written through the pool thread', async () => {
    const name = `pool-digest-worker-${crypto.randomUUID()}`;
    names.push(name);
    const pool = await Pool.open(name, { dedupThreshold: 1 });
    opened.push(pool);
    const bytes = bytesOf(64 * BS);
    await pool.importVolume(bytes.slice().buffer, { name: 'imported', blockSize: BS, group: 'g', digests: client() });
    const stored = pool.stats().counters.blocksStored;
    expect(stored).toBeGreaterThan(40);
    await pool.createVolume('written', { sizeBytes: bytes.length, blockSize: BS, group: 'g' });
    await pool.writeBlocks('written', [{ lba: 0, bytes }]);
    await pool.commit();
    const c = pool.stats().counters;
    expect(c.blocksStored).toBe(stored);
    expect(c.blocksDeduped).toBe(stored);
  });
});

describe('in the product: an import through the hypervisor', () => {
  it('hashes in the digest worker dom0 starts, and the volume reads back', async () => {
    const hv = await Hypervisor.start({ poolName: `digest-worker-hv-${crypto.randomUUID()}`, arenaFrames: 16, scrubEveryMs: 0 });
    try {
      const bytes = bytesOf(48 * BS);
      await hv.pool.import('img', bytes.slice().buffer, { blockSize: BS });
      const counters = (await hv.pool.stats()).pool.counters;
      // One slice (48 blocks is under the 16 MiB commit size), hashed off dom0's thread: a
      // worker script missing from the build, or refused in the dom0 worker, would leave 0.
      expect(counters.slicesHashedOffThread).toBe(1);
      expect(counters.blocksStored).toBe(32);
      const back = new Uint8Array(await (await hv.pool.export('img')).arrayBuffer());
      expect(back).toEqual(bytes);
    } finally {
      await hv.shutdown();
    }
  });
});
