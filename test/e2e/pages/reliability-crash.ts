// Runs in the page test/e2e/pages/reliability-crash.html (main thread), driven by the crash
// campaign, which SIGKILLs the whole browser at random moments.
// mode=write: a hypervisor on pool `db`; a guest streams writes (version k to block k % 32,
//   4 in flight) through the rings into volume `vol`, resuming after the highest version
//   present. Meanwhile the page snapshots `vol`, clones the snapshot and imports small
//   volumes of known bytes and runs the extent cleaner over a record it made sparse on
//   purpose, one after another; window.__crash.done() = the names of those acknowledged (the
//   call resolved, so committed; a cleaner's pass is `compact:<tag>-<n>`, not a dataset).
//   window.__crash.moved() = chunks the acknowledged passes moved.
// mode=verify: opens the pool directly (no dom0), runs fsck with data verification and
//   returns, per block, the stream version it holds (-1: bytes that are no stream block),
//   the datasets present, and the imports whose bytes are not what was imported; then
//   window.__crash.startWrite() runs write mode in the same page.
import { Hypervisor } from '../../../host/page/hypervisor';
import { Pool } from '../../../host/pool';
import { streamVersion, type SessionGuestApi } from '../../../guest/workloads/session-guest';
import { guestModuleUrl } from '../../../host/page/guest-runtime';

declare global {
  interface Window {
    __crash?: {
      ready: boolean;
      error?: string;
      /** The failure's `code` (PoolError and others carry one): 'pool-lost' when the pool reports its data deleted. */
      errorCode?: string;
      from?: number;
      acked?: () => number[];
      done?: () => string[];
      /** When each of `done` was acknowledged, in ms after the operations started. */
      doneAt?: () => number[];
      /** Chunks moved by the extent cleaner's acknowledged passes. */
      moved?: () => number;
      /** A snapshot, clone, import or cleaner's pass that failed while the browser was still alive. */
      opsError?: () => string | null;
      verify?: { problems: string[]; versions: number[]; verified: number; names: string[]; pruned: string[] };
      /** In verify mode, once the pool is closed again: start write mode in this page (`ready` goes false until it has). */
      startWrite?: () => void;
    };
  }
}

const BS = 65536;
const LBAS = Array.from({ length: 32 }, (_, i) => i);
const GUEST = guestModuleUrl('guest/workloads/session-guest');
const params = new URLSearchParams(location.search);
const db = params.get('db') ?? 'reliability-crash';
const state: NonNullable<Window['__crash']> = { ready: false };
const IMPORT_BLOCKS = 4;
const KEEP_SESSIONS = 3;
const CLEANER_GROUP = 'cleaner';

/**
 * The bytes imported as `name`: every byte derived from the name, so verify can recompute
 * them, and no two blocks alike (they would dedup into one chunk).
 */
function importBytes(name: string): Uint8Array {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) | 0;
  const b = new Uint8Array(IMPORT_BLOCKS * BS);
  for (let i = 0; i < b.length; i += 64) b[i] = Math.imul(h ^ (i / 64), 2654435761) >>> 24 || 1;
  return b;
}

/** What `k-<tag>-<n>` holds: the first block of the scratch import `s-<tag>-<n>`. */
function keptBytes(name: string): Uint8Array {
  return importBytes(`s-${name.slice(2)}`).subarray(0, BS);
}

/**
 * Snapshots, clones, imports and cleaner's passes, one at a time; names acknowledged go to
 * `done`. Two rounds per session, so a campaign of many kills does not grow the pool (and
 * each fsck) without end.
 */
async function poolOps(hv: Hypervisor, done: string[], doneAt: number[], moved: { chunks: number }): Promise<void> {
  const tag = Date.now().toString(36);
  const t0 = performance.now();
  const ack = (name: string): void => {
    done.push(name);
    doneAt.push(Math.round(performance.now() - t0));
  };
  for (let n = 0; n < 2; n++) {
    const snap = `vol@${tag}-${n}`;
    await hv.pool.snapshot('vol', snap);
    ack(snap);
    await hv.pool.clone(snap, `c-${tag}-${n}`);
    ack(`c-${tag}-${n}`);
    const imp = `i-${tag}-${n}`;
    await hv.pool.import(imp, importBytes(imp).slice().buffer, { blockSize: BS });
    ack(imp);
    // A record one quarter live, so the cleaner always has a chunk to move (the stream's
    // records may or may not be sparse, by timing): the scratch import's four blocks are
    // one record, the kept import dedups against its first block (dedup stays inside a
    // trust group, so both are in one), and the scratch goes.
    const scratch = `s-${tag}-${n}`;
    const keep = `k-${tag}-${n}`;
    await hv.pool.import(scratch, importBytes(scratch).slice().buffer, { blockSize: BS, group: CLEANER_GROUP });
    await hv.pool.import(keep, keptBytes(keep).slice().buffer, { blockSize: BS, group: CLEANER_GROUP });
    ack(keep);
    await hv.pool.destroy(scratch);
    // The cleaner's pass, while the guest's writes go on: each step is its own commit.
    const r = await hv.pool.compact();
    moved.chunks += r.chunksMoved;
    ack(`compact:${tag}-${n}`);
  }
}
window.__crash = state;

async function write(): Promise<void> {
  const hv = await Hypervisor.start({ poolName: db, arenaFrames: 128, storage: 'indexeddb' });
  if (!(await hv.pool.list()).some((d) => d.name === 'vol')) await hv.pool.create('vol', 64 * BS, { blockSize: BS });
  const g = await hv.guests.spawn<SessionGuestApi>({ dataset: 'vol', module: GUEST });
  const present = await g.api.versions(g.id, LBAS);
  const from = Math.max(0, ...present) + 1;
  const board = new SharedArrayBuffer(4 * LBAS.length);
  await g.api.startStream({ lbas: LBAS, concurrency: 4, ackBoard: board, from });
  state.from = from;
  state.acked = () => Array.from(new Int32Array(board));
  const done: string[] = [];
  const doneAt: number[] = [];
  state.done = () => [...done];
  state.doneAt = () => [...doneAt];
  let opsError: string | null = null;
  state.opsError = () => opsError;
  const moved = { chunks: 0 };
  state.moved = () => moved.chunks;
  void poolOps(hv, done, doneAt, moved).catch((e: unknown) => {
    opsError = String(e);
  });
}

async function verify(): Promise<void> {
  const pool = await Pool.open(db, params.get('acceptLoss') ? { acceptLoss: true } : {});
  const problems: string[] = [];
  const report = await pool.fsck({ data: true });
  problems.push(...report.problems);
  let versions: number[] = LBAS.map(() => 0);
  if (pool.list().some((d) => d.name === 'vol')) {
    const blocks = await pool.readBlocks('vol', LBAS);
    versions = blocks.map(streamVersion);
  }
  const names = pool.list().map((d) => d.name);
  for (const name of names.filter((n) => n.startsWith('i-') || n.startsWith('k-'))) {
    const got = new Uint8Array(await (await pool.exportVolume(name)).arrayBuffer());
    const want = name.startsWith('k-') ? keptBytes(name) : importBytes(name);
    if (got.length !== want.length || got.some((b, i) => b !== want[i])) problems.push(`import ${name}: bytes differ from what was imported (partial or torn)`);
  }
  const pruned = problems.length === 0 ? await prune(pool, names) : [];
  pool.close();
  state.verify = { problems, versions, verified: report.verified, names, pruned };
}

/**
 * Destroy the snapshots, clones and imports of all but the last KEEP_SESSIONS write
 * sessions, so a campaign of a thousand kills keeps a pool (and an fsck) of bounded size.
 * Runs in verify mode, where no kill can interrupt it; the campaign stops expecting what
 * was pruned.
 */
async function prune(pool: Pool, names: string[]): Promise<string[]> {
  // `s-`: a scratch import a kill left before its destroy.
  const tagOf = (n: string): string | null => /^(?:vol@|c-|i-|k-|s-)([0-9a-z]+)-\d+$/.exec(n)?.[1] ?? null;
  const tags = [...new Set(names.map(tagOf).filter((t): t is string => t !== null))].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const old = new Set(tags.slice(0, Math.max(0, tags.length - KEEP_SESSIONS)));
  const doomed = names.filter((n) => old.has(tagOf(n) ?? ''));
  // Clones before the snapshots they came from.
  const order = (n: string): number => (n.startsWith('c-') ? 0 : n.startsWith('vol@') ? 1 : 2);
  for (const n of doomed.sort((a, b) => order(a) - order(b))) await pool.destroy(n);
  if (doomed.length) await pool.commit();
  return doomed;
}

function run(step: () => Promise<void>): void {
  state.ready = false;
  step().then(
    () => (state.ready = true),
    (e: unknown) => {
      console.error('reliability-crash page failed', e);
      const code = (e as { code?: unknown } | null)?.code;
      if (typeof code === 'string') state.errorCode = code;
      state.error = String(e);
    },
  );
}

if (params.get('mode') === 'verify') {
  // After a clean verify the campaign writes from this same page: a second page load per
  // round, in a browser just launched, was a second of every round on the CI machine.
  state.startWrite = () => run(write);
  run(verify);
} else {
  run(write);
}
