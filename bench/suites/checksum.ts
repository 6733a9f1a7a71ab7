// Runs in the benchmark page (main thread, standing in for dom0's thread, where the pool
// verifies reads). The measurement behind the pool's read checksum (docs/pool.md,
// "Checksums"): every candidate over the same 64 KiB ArrayBuffers that IndexedDB hands
// the reader, alone and end to end behind real getAll runs.
//
//   checksum_<alg>_gb_s        throughput over `volume` bytes of 64 KiB buffers, best of 3
//                              (GB = 10^9 bytes)
//   verify_read_<alg>_mb_s     a cold read of the volume in the reader's access pattern
//                              (one readonly transaction, getAll runs of 64 records, all
//                              issued at once) with every record checksummed as it arrives;
//                              `none` is the same reads unverified; rounds interleave the
//                              variants and the best round of each is reported
//   verify_read_<alg>_vs_none  the ratio of the two, the cost of verification
//
// Candidates: SHA-256 in WebCrypto (what the pool used for reads before), SHA-256 in
// WebAssembly (hash-wasm), xxh3-64 and crc32c... in WebAssembly (hash-wasm), xxh64 in
// WebAssembly (xxhash-wasm), fletcher4 in JS (four running sums of 32-bit words, as ZFS,
// here mod 2^32), and the pool's choice, chunkChecksum (host/pool/hash.ts, `pool_js`), and
// its lanes in WebAssembly SIMD behind a copy into WebAssembly memory (`pool_wasm`,
// lane-hash-wasm.ts: measured, not used). Also dom0's
// frame check (checksum_frame_wasm / checksum_frame_js): see below.
import { createCRC32, createSHA256, createXXHash128, createXXHash3 } from 'hash-wasm';
import xxhash from 'xxhash-wasm';
import { chunkChecksum } from '../../host/pool/hash';
import { mixLanesWasm } from './lane-hash-wasm';
import { checksumKey, frameChecksum } from '../../host/dom0/checksum';
import { sharedArenaMemory, wasmFrameHasher } from '../../host/dom0/frame-hash-wasm';

type Metrics = Record<string, { value: number; unit: string }>;
type Check = (buf: ArrayBuffer) => unknown;

const BLOCK = 65536;
const RUN = 64;

function fletcher4(buf: ArrayBuffer): number {
  const w = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  for (let i = 0; i < w.length; i++) {
    a = (a + w[i]!) | 0;
    b = (b + a) | 0;
    c = (c + b) | 0;
    d = (d + c) | 0;
  }
  return a ^ b ^ c ^ d;
}

/** The pool's read checksum lanes in WebAssembly SIMD (measured, not used by the pool). */
function poolLanesWasm(bytes: Uint8Array): Int32Array {
  const l = Int32Array.of(1, 2, 3, 4);
  mixLanesWasm(l, bytes, bytes.byteLength >>> 2);
  return l;
}

async function candidates(): Promise<[string, Check | 'webcrypto'][]> {
  const sha = await createSHA256();
  const x3 = await createXXHash3();
  const x128 = await createXXHash128();
  const crc = await createCRC32(0x82f63b78); // Castagnoli
  const { h64Raw } = await xxhash();
  return [
    ['sha256_webcrypto', 'webcrypto'],
    ['sha256_wasm', (b) => sha.init().update(new Uint8Array(b)).digest('binary')],
    ['xxh3_wasm', (b) => x3.init().update(new Uint8Array(b)).digest('binary')],
    ['xxh128_wasm', (b) => x128.init().update(new Uint8Array(b)).digest('binary')],
    ['crc32c_wasm', (b) => crc.init().update(new Uint8Array(b)).digest('binary')],
    ['xxh64_wasm', (b) => h64Raw(new Uint8Array(b))],
    ['fletcher4_js', fletcher4],
    ['pool_js', (b) => chunkChecksum(new Uint8Array(b))],
    ['pool_wasm', (b) => poolLanesWasm(new Uint8Array(b))],
  ];
}

async function applyAll(check: Check | 'webcrypto', bufs: ArrayBuffer[]): Promise<void> {
  if (check === 'webcrypto') await Promise.all(bufs.map((b) => crypto.subtle.digest('SHA-256', b)));
  else for (const b of bufs) check(b);
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function withDb<T>(records: ArrayBuffer[], f: (open: () => Promise<IDBDatabase>) => Promise<T>): Promise<T> {
  const name = `bench-checksum-${crypto.randomUUID()}`;
  const open = () => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('data');
    return req(r);
  };
  const db = await open();
  const tx = db.transaction('data', 'readwrite', { durability: 'relaxed' });
  records.forEach((b, i) => tx.objectStore('data').put(b, [0, i * BLOCK]));
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
  db.close();
  try {
    return await f(open);
  } finally {
    await new Promise<void>((resolve) => {
      const r = indexedDB.deleteDatabase(name);
      r.onsuccess = r.onerror = r.onblocked = () => resolve();
    });
  }
}

/** The reader's pattern: one transaction, getAll runs of RUN records, all in flight, each record checked on arrival. */
async function verifiedRead(db: IDBDatabase, n: number, check: Check | 'webcrypto' | null): Promise<number> {
  const store = db.transaction('data', 'readonly').objectStore('data');
  const t0 = performance.now();
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += RUN) {
    const last = Math.min(n, i + RUN) - 1;
    runs.push(
      req(store.getAll(IDBKeyRange.bound([0, i * BLOCK], [0, last * BLOCK]))).then(async (vs) => {
        if (vs.length !== last - i + 1) throw new Error(`getAll returned ${vs.length} records`);
        if (check) await applyAll(check, vs as ArrayBuffer[]);
      }),
    );
  }
  await Promise.all(runs);
  return performance.now() - t0;
}

export async function run(opts: { quick: boolean }): Promise<Metrics> {
  const volume = (opts.quick ? 4 : 64) * 2 ** 20;
  const n = volume / BLOCK;
  const bufs = Array.from({ length: n }, () => {
    const b = new Uint8Array(BLOCK);
    crypto.getRandomValues(b);
    return b.buffer;
  });
  const all = await candidates();
  const out: Metrics = {};
  for (const [name, check] of all) {
    await applyAll(check, bufs.slice(0, 64)); // warm-up (JIT, WebAssembly tiers)
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await applyAll(check, bufs);
      best = Math.min(best, performance.now() - t0);
    }
    out[`checksum_${name}_gb_s`] = { value: volume / 1e9 / (best / 1000), unit: 'GB/s' };
  }
  // dom0's frame check (host/dom0/checksum.ts): in place over a shared WebAssembly.Memory
  // arena in WASM SIMD (what dom0 uses where it can), and its JS reference (the fallback).
  const frames = 64;
  const mem = sharedArenaMemory(frames * BLOCK);
  const hash = mem && wasmFrameHasher(mem);
  if (mem && hash) {
    const arena = new Uint8Array(mem.buffer);
    for (let f = 0; f < frames; f++) arena.set(new Uint8Array(bufs[f % n]!), f * BLOCK);
    const key = checksumKey();
    const words = new Int32Array(mem.buffer);
    const frameCheck: [string, (i: number) => number][] = [
      ['frame_wasm', (i) => hash((i % frames) * BLOCK, BLOCK, key)],
      ['frame_js', (i) => frameChecksum(key, words.subarray(((i % frames) * BLOCK) >> 2, (((i % frames) + 1) * BLOCK) >> 2))],
    ];
    for (const [name, check] of frameCheck) {
      for (let i = 0; i < 64; i++) check(i);
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) check(i);
        best = Math.min(best, performance.now() - t0);
      }
      out[`checksum_${name}_gb_s`] = { value: volume / 1e9 / (best / 1000), unit: 'GB/s' };
    }
  }
  // Quick mode: throughput only. End to end: only the candidates worth a place on the read
  // path (the slowest WebAssembly ones are left out to keep the suite short; their
  // throughput above says why).
  if (opts.quick) return out;
  const e2e: [string, Check | 'webcrypto' | null][] = [['none', null], ...all.filter(([k]) => ['sha256_webcrypto', 'xxh3_wasm', 'xxh128_wasm', 'fletcher4_js', 'pool_js', 'pool_wasm'].includes(k))];
  const times = new Map<string, number[]>(e2e.map(([k]) => [k, []]));
  await withDb(bufs, async (open) => {
    // Three rounds (four until 2026-12-02): on a disk of 30 MB/s each is seven cold reads
    // of the volume, and the full run has to stay under ten minutes; the choice these
    // numbers made (docs/pool.md, "Checksums") stands on every host measured since. (Quick
    // mode returned above.)
    const rounds = 3;
    for (let r = 0; r < rounds; r++) {
      for (const [k, check] of e2e) {
        const db = await open(); // a new connection per read: nothing of ours cached in JS
        try {
          times.get(k)!.push(await verifiedRead(db, n, check));
        } finally {
          db.close();
        }
      }
    }
  });
  const mbps = (ms: number) => volume / 1e6 / (ms / 1000);
  const none = mbps(Math.min(...times.get('none')!));
  for (const [k] of e2e) {
    const v = mbps(Math.min(...times.get(k)!));
    out[`verify_read_${k}_mb_s`] = { value: v, unit: 'MB/s' };
    if (k !== 'none') out[`verify_read_${k}_vs_none`] = { value: v / none, unit: 'ratio' };
  }
  return out;
}
