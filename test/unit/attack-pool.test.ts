// Node, the real pool on fake-indexeddb: attacks on the pool against a reference model.
// 1. Dataset ids of a dropped group are handed out again (state.ts discard() rolls back
//    nextDatasetId, unlike chunk ids), and an import addresses its volume by id: after
//    another caller's failed commit drops the import's new volume, the import writes into,
//    completes, or destroys the volume that took the id. Both failed before dataset ids got
//    their floor (PoolState.newDatasetId, attack review of 2026-12-03).
// 2. A seeded random walk (seeds 1..16, POOL_WALK_SEEDS for more; the seed is printed on
//    failure) of the whole Pool: writes
//    (dedup across datasets and groups, lent bytes, several LBAs per step), snapshots,
//    clones (other trust groups), destroys (HasClonesError), commits with injected
//    failures, discards, extent-cleaner passes (failing steps, writes and reads between
//    steps, two passes at once), reads from inside commits, hashChunks, reopens; after
//    every tenth step every dataset reads what the model says and fsck({ data: true }) is
//    clean (no leaked record). It found nothing.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { Pool } from '../../host/pool';
import { mulberry32 } from '../../scripts/seed.mjs';
import { HasClonesError } from '../../shared/errors/pool-errors';

const BS = 4096;
const block = (fill: number): Uint8Array => new Uint8Array(BS).fill(fill);
let dbCount = 0;
const dbName = (p: string): string => `attack-${p}-${Date.now()}-${dbCount++}`;

function failingPool(name: string, extra: Parameters<typeof Pool.open>[1] = {}) {
  const ctl = { failNext: false, failures: 0 };
  const open = () =>
    Pool.open(name, {
      registry: null,
      durability: 'relaxed',
      ...extra,
      hooks: {
        beforeComplete: () => {
          if (ctl.failNext) {
            ctl.failNext = false;
            ctl.failures++;
            throw new Error('injected commit failure');
          }
        },
      },
    });
  return { ctl, open };
}

describe('dataset ids of a dropped group', () => {
  it('an import whose volume was dropped with another caller\'s failed commit does not write into a volume created after it', async () => {
    const { ctl, open } = failingPool(dbName('import-id'));
    const pool = await open();
    const src = new Uint8Array(4 * BS).fill(0x11);
    // A source that is slow to read (a File on a slow disk): its first slice arrives once
    // the other callers below are done.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    class SlowBlob extends Blob {
      override slice(start?: number, end?: number): Blob {
        const part = super.slice(start, end);
        return Object.assign(part, { arrayBuffer: async () => (await gate, await Blob.prototype.arrayBuffer.call(part)) });
      }
    }
    // The import stages its (incomplete) volume, then reads its first slice from the Blob.
    const imp = pool.importVolume(new SlowBlob([src]), { name: 'imported', blockSize: BS }).then(
      (i) => ({ ok: true as const, i }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    // Meanwhile another caller's commit fails: the open group (with the import's volume) is dropped.
    ctl.failNext = true;
    await pool.commit().catch(() => undefined);
    // A third caller creates its volume and writes to it.
    await pool.createVolumeCommitted('victim', { sizeBytes: 4 * BS, blockSize: BS });
    await pool.write('victim', 0, block(0x22));
    await pool.commit();
    release();
    const r = await imp;
    // Model: the victim holds 0x22 at block 0 and holes elsewhere; the import either failed,
    // or made a volume 'imported' with its bytes.
    const victim = await pool.readBlocks('victim', [0, 1, 2, 3]);
    const names = pool.list().map((d) => d.name);
    expect({ importOk: r.ok, importName: r.ok ? r.i.name : null, names }).toEqual(
      r.ok ? { importOk: true, importName: 'imported', names: expect.arrayContaining(['imported', 'victim']) } : { importOk: false, importName: null, names: ['victim'] },
    );
    expect(victim.map((b) => b[0])).toEqual([0x22, 0, 0, 0]);
    pool.close();
  });
  it("an import undone after its group was dropped does not destroy the volume that took its id", async () => {
    const { ctl, open } = failingPool(dbName('import-undo-id'));
    const pool = await open();
    await pool.createVolumeCommitted('base', { sizeBytes: 4 * BS, blockSize: BS });
    // Right after the import has staged its slice (before it stages its end and commits),
    // another caller's commit fails, dropping the open group (the import's new volume and
    // its slice), and a third caller creates its volume and commits it. Those calls are
    // queued at that moment; the wrapper only picks the moment, it changes nothing else.
    const stage = pool.stagePreparedBlocks.bind(pool);
    let others: Promise<unknown> | null = null;
    pool.stagePreparedBlocks = async (...args) => {
      const g = await stage(...args);
      ctl.failNext = true;
      others = Promise.all([
        pool.commit().then(() => 'committed', () => 'failed'),
        pool.createVolumeCommitted('victim', { sizeBytes: 4 * BS, blockSize: BS }).then(() => 'victim created'),
      ]);
      return g;
    };
    const r = await pool.importVolume(block(0x11).buffer as ArrayBuffer, { name: 'imported', blockSize: BS }).then(
      (i) => ({ ok: true as const, name: i.name }),
      (e: unknown) => ({ ok: false as const, name: (e as Error).name }),
    );
    expect(await others).toEqual(['failed', 'victim created']);
    // The model: the import failed (its group was dropped); base and victim, both committed, exist.
    expect(r.ok).toBe(false);
    expect(pool.list().map((d) => d.name).sort()).toEqual(['base', 'victim']);
    await pool.write('victim', 1, block(0x33));
    await pool.commit();
    expect((await pool.readBlocks('victim', [0, 1])).map((b) => b[0])).toEqual([0, 0x33]);
    pool.close();
  });
});

// --- a random walk of the real pool against a model ----------------------------------------

const BLOCKS = 40;
export const STATS = { moved: 0, compactCommits: 0, compactFailed: 0 };
function content(seed: number): Uint8Array {
  const b = new Uint8Array(BS);
  if (seed === 0) return b;
  b.fill(seed & 0xff);
  new DataView(b.buffer).setUint32(0, seed);
  return b;
}
interface MDs {
  kind: 'volume' | 'snapshot' | 'clone';
  origin: string | null;
  blocks: Map<number, number>;
}
type Model = Map<string, MDs>;
const cloneModel = (m: Model): Model => new Map([...m].map(([k, v]) => [k, { ...v, blocks: new Map(v.blocks) }]));

async function checkAll(pool: Pool, model: Model, where: string): Promise<void> {
  const names = pool.list().map((d) => d.name).sort();
  const want = [...model.keys()].sort();
  if (JSON.stringify(names) !== JSON.stringify(want)) throw new Error(`${where}: datasets ${names.join(',')}, model ${want.join(',')}`);
  for (const [name, ds] of model) {
    const got = await pool.readBlocks(name, Array.from({ length: BLOCKS }, (_, i) => i));
    for (let lba = 0; lba < BLOCKS; lba++) {
      const g = got[lba]!;
      const s = ds.blocks.get(lba) ?? 0;
      const gs = g.every((x) => x === 0) ? 0 : new DataView(g.buffer, g.byteOffset, g.byteLength).getUint32(0);
      if (gs !== s || (s !== 0 && g[BS - 1] !== (s & 0xff))) throw new Error(`${where}: ${name} block ${lba} reads ${gs}, model ${s}`);
    }
  }
  const f = await pool.fsck({ data: true });
  if (!f.ok) throw new Error(`${where}: fsck: ${f.problems.join('; ')}`);
}

async function walk(seed: number, steps: number): Promise<void> {
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const extentBlocks = [0, 4, 16, 64][seed % 4]!;
  const { ctl, open } = failingPool(dbName(`walk-${seed}`), { extentBytes: extentBlocks * BS, metaslabBytes: 1 << 20, ...(seed % 3 === 0 ? { dedupThreshold: 2 } : {}) });
  let pool = await open();
  let model: Model = new Map();
  for (const [name, group] of [['a', 'g'], ['b', 'g'], ['c', 'h']] as const) {
    await pool.createVolume(name, { sizeBytes: BLOCKS * BS, blockSize: BS, group });
    model.set(name, { kind: 'volume', origin: null, blocks: new Map() });
  }
  await pool.commit();
  let committed = cloneModel(model);
  let uniq = 1000;
  // Reads issued from inside a commit (Pool.setCommitYield, as dom0 polls its rings between
  // a commit's requests) must read what the model says at that moment.
  let readsInCommit: Promise<void>[] = [];
  let readInCommit = false;
  const installYield = (): void =>
    pool.setCommitYield(() => {
      if (!readInCommit || rnd() < 0.7) return;
      const names = [...model.keys()];
      const name = names[int(names.length)]!;
      const want = new Map(model.get(name)!.blocks);
      const lbas = Array.from({ length: BLOCKS }, (_, i) => i);
      readsInCommit.push(
        pool.readBlocks(name, lbas).then((got) => {
          got.forEach((g, lba) => {
            const s = want.get(lba) ?? 0;
            const gs = g.every((x) => x === 0) ? 0 : new DataView(g.buffer, g.byteOffset, g.byteLength).getUint32(0);
            if (gs !== s) throw new Error(`read inside a commit: ${name} block ${lba} reads ${gs}, model ${s}`);
          });
        }),
      );
    });
  installYield();
  const settleReads = async (): Promise<void> => {
    const rs = readsInCommit;
    readsInCommit = [];
    await Promise.all(rs);
  };
  let n = 0;
  const log: string[] = [];
  const writable = () => [...model].filter(([, d]) => d.kind !== 'snapshot').map(([k]) => k);
  const snaps = () => [...model].filter(([, d]) => d.kind === 'snapshot').map(([k]) => k);
  const doWrite = async (): Promise<void> => {
    const ws = writable();
    if (ws.length === 0) return;
    const name = ws[int(ws.length)]!;
    const lba = int(BLOCKS);
    const len = Math.min(1 + int(6), BLOCKS - lba);
    const seeds = Array.from({ length: len }, () => (rnd() < 0.15 ? 0 : rnd() < 0.6 ? 1 + int(5) : uniq++));
    const bytes = new Uint8Array(len * BS);
    seeds.forEach((s, i) => bytes.set(content(s), i * BS));
    log.push(`write ${name}@${lba} [${seeds.join(',')}]`);
    // The model changes at the call: writes stage in call order, and a commit started
    // from the queue right after the write is staged may run before this caller resumes.
    const d = model.get(name)!;
    seeds.forEach((s, i) => (s === 0 ? d.blocks.delete(lba + i) : d.blocks.set(lba + i, s)));
    await pool.write(name, lba, bytes);
  };
  for (let step = 0; step < steps; step++) {
    const r = int(100);
    if (r < 30) await doWrite();
    else if (r < 36) {
      // Several LBAs of one dataset in one step, some lent (owned) to the pool.
      const ws = writable();
      if (ws.length === 0) continue;
      const name = ws[int(ws.length)]!;
      const entries = Array.from({ length: 1 + int(4) }, () => {
        const lba = int(BLOCKS);
        const len = Math.min(1 + int(3), BLOCKS - lba);
        const seeds = Array.from({ length: len }, () => (rnd() < 0.1 ? 0 : rnd() < 0.6 ? 1 + int(5) : uniq++));
        const bytes = new Uint8Array(len * BS);
        seeds.forEach((x, i) => bytes.set(content(x), i * BS));
        return { lba, bytes, seeds };
      });
      const owned = rnd() < 0.5;
      log.push(`writeBlocks ${name} ${entries.map((e) => `${e.lba}:[${e.seeds.join(',')}]`).join(' ')} owned=${owned}`);
      const d = model.get(name)!;
      for (const e of entries) e.seeds.forEach((x, i) => (x === 0 ? d.blocks.delete(e.lba + i) : d.blocks.set(e.lba + i, x)));
      await pool.writeBlocks(name, entries.map(({ lba, bytes }) => ({ lba, bytes })), { owned });
    } else if (r < 40) {
      // A partial read of a random set of LBAs (the reader's runs and record cache).
      const names = [...model.keys()];
      const name = names[int(names.length)]!;
      const lbas = [...new Set(Array.from({ length: 1 + int(12) }, () => int(BLOCKS)))];
      if (rnd() < 0.5) lbas.sort((a, b) => a - b);
      const got = await pool.readBlocks(name, lbas);
      got.forEach((g, k) => {
        const want = model.get(name)!.blocks.get(lbas[k]!) ?? 0;
        const gs = g.every((x) => x === 0) ? 0 : new DataView(g.buffer, g.byteOffset, g.byteLength).getUint32(0);
        if (gs !== want) throw new Error(`partial read ${name} block ${lbas[k]} reads ${gs}, model ${want} (${log.slice(-8).join(' | ')})`);
      });
      if (rnd() < 0.3) {
        // Give some chunks a SHA-256 (what the archive does), outside the queue.
        const refs = (await pool.resolve(name, lbas)).filter((x) => x !== null);
        await pool.hashChunks(refs.map((x) => x.chunkId), async (b) => new Uint8Array(await crypto.subtle.digest('SHA-256', b.slice())));
      }
    }
    else if (r < 47) {
      const ws = [...model.keys()];
      const src = ws[int(ws.length)]!;
      const name = `s${n++}`;
      log.push(`snapshot ${src} ${name}`);
      await pool.snapshot(src, name);
      model.set(name, { kind: 'snapshot', origin: src, blocks: new Map(model.get(src)!.blocks) });
    } else if (r < 53) {
      const ss = snaps();
      if (ss.length === 0) continue;
      const src = ss[int(ss.length)]!;
      const name = `c${n++}`;
      const group = rnd() < 0.5 ? undefined : rnd() < 0.5 ? 'g' : 'h';
      log.push(`clone ${src} ${name} ${group}`);
      await pool.clone(src, name, group ? { group } : {});
      model.set(name, { kind: 'clone', origin: src, blocks: new Map(model.get(src)!.blocks) });
    } else if (r < 60) {
      const ws = [...model.keys()];
      if (ws.length <= 1) continue;
      const name = ws[int(ws.length)]!;
      const hasClones = [...model.values()].some((d) => d.kind === 'clone' && d.origin === name) && model.get(name)!.kind === 'snapshot';
      log.push(`destroy ${name}`);
      const e = await pool.destroy(name).then(() => null, (x: unknown) => x);
      if (hasClones) {
        if (!(e instanceof HasClonesError)) throw new Error(`destroy ${name}: expected HasClonesError, got ${String(e)}`);
      } else {
        if (e) throw e;
        model.delete(name);
      }
    } else if (r < 72) {
      const fail = rnd() < 0.3;
      log.push(`commit${fail ? ' (fails)' : ''}`);
      ctl.failNext = fail;
      const before = ctl.failures;
      readInCommit = !fail;
      const e = await pool.commit().then(() => null, (x: unknown) => x);
      readInCommit = false;
      await settleReads();
      ctl.failNext = false;
      const failed = ctl.failures > before;
      if (failed !== (e !== null)) throw new Error(`commit: failed=${failed} but got ${String(e)}`);
      if (failed) model = cloneModel(committed);
      else committed = cloneModel(model);
    } else if (r < 75) {
      log.push('discard');
      await pool.discard();
      model = cloneModel(committed);
    } else if (r < 90) {
      const liveBelow = [0.25, 0.5, 0.75, 1][int(4)]!;
      const stepBytes = (1 + int(8)) * BS;
      const fail = rnd() < 0.25;
      const between = rnd() < 0.6;
      log.push(`compact ${liveBelow} ${stepBytes} fail=${fail} between=${between}`);
      if (fail) {
        await pool.commit();
        committed = cloneModel(model);
        ctl.failNext = true;
      }
      const pending: Promise<void>[] = [];
      readInCommit = !fail;
      const e = await pool
        .compact({
          liveBelow,
          stepBytes,
          onProgress: () => {
            if (!between) return;
            // Reads issued between steps must read what the model says now.
            const snap = cloneModel(model);
            const names = [...snap.keys()];
            const name = names[int(names.length)]!;
            pending.push(
              pool.readBlocks(name, Array.from({ length: BLOCKS }, (_, i) => i)).then((got) => {
                got.forEach((g, lba) => {
                  const s = snap.get(name)!.blocks.get(lba) ?? 0;
                  const gs = g.every((x) => x === 0) ? 0 : new DataView(g.buffer, g.byteOffset, g.byteLength).getUint32(0);
                  if (gs !== s) throw new Error(`read during compact: ${name} block ${lba} reads ${gs}, model ${s}`);
                });
              }),
            );
            // A write between steps (staged now, committed by the next step).
            pending.push(doWrite());
          },
        })
        .then((rep) => {
          STATS.moved += rep.chunksMoved;
          STATS.compactCommits += rep.commits;
          return null;
        }, (x: unknown) => { STATS.compactFailed++; return x; });
      await Promise.all(pending);
      readInCommit = false;
      await settleReads();
      ctl.failNext = false;
      if (e && !fail) throw e;
      if (e && !/injected/.test(String((e as Error).cause ?? e))) throw e;
      if (e) model = cloneModel(committed); // only moves (and writes between steps, if staged) dropped
      else committed = cloneModel(model);
    } else if (r < 93) {
      // Two passes at once (two callers), with a write and an export between their steps.
      log.push('compact x2');
      const pending: Promise<void>[] = [];
      // No reads inside these commits: a write called from one pass's progress is queued
      // behind the other pass's step, so the model (changed at the call) runs ahead of it.
      const pass = (liveBelow: number) =>
        pool.compact({ liveBelow, stepBytes: (1 + int(4)) * BS, onProgress: () => void (rnd() < 0.5 && pending.push(doWrite())) });
      const reps = await Promise.all([pass(1), pass([0.5, 0.75, 1][int(3)]!)]);
      await Promise.all(pending);
      STATS.moved += reps[0]!.chunksMoved + reps[1]!.chunksMoved;
      await pool.commit();
      committed = cloneModel(model);
    } else if (r < 96) {
      log.push('reopen');
      pool.close();
      pool = await open();
      installYield();
      model = cloneModel(committed);
    } else {
      log.push('check');
      await checkAll(pool, model, `step ${step}`);
    }
    if (step % 10 === 9) await checkAll(pool, model, `step ${step} (${log.slice(-6).join(' | ')})`);
  }
  await pool.commit();
  committed = cloneModel(model);
  pool.close();
  pool = await open();
  await checkAll(pool, committed, 'after reopen');
  pool.close();
  void log;
}

describe('random walk of the real pool against a model', () => {
  it('reads back the model after writes, snapshots, clones, destroys, dedup, compaction, failed commits and reopens', async () => {
    // Fixed seeds: 16 in CI (about 6 s); POOL_WALK_SEEDS=48 or more for a longer run.
    const seeds = Number(process.env.POOL_WALK_SEEDS ?? 16);
    for (let seed = 1; seed <= seeds; seed++) {
      try {
        await walk(seed, 160);
      } catch (e) {
        throw new Error(`seed ${seed}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
    // The walk is only worth its time if the cleaner really moved blocks under it.
    expect(STATS.moved, `cleaner's work over ${seeds} seeds: ${JSON.stringify(STATS)}`).toBeGreaterThan(0);
    expect(STATS.compactCommits).toBeGreaterThan(0);
  }, 120_000);
});
