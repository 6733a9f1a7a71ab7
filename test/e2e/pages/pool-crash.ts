// Runs in the page test/e2e/pages/pool-crash.html (main thread of a window, driven by
// Playwright). mode=write: streams commits to the pool forever and reports each one the
// pool acknowledged (window.__poolCrashAcked and a console line) — the test closes the page in the
// middle. mode=verify&acked=N: reopens the same pool and checks that it is consistent,
// every checksum verifies and every commit up to N (and nothing torn) is present.
import { Pool } from '../../../host/pool';

const BS = 65536;
const BLOCKS = 1024;
const PER_COMMIT = 4; // blocks written by each commit
const MAX_COMMITS = Math.floor(BLOCKS / PER_COMMIT) - 1;

declare global {
  interface Window {
    __poolCrashAcked: number[];
    __poolCrashResult?: { ok: boolean; problems: string[]; maxPresent: number; txg: number };
  }
}

/** Content of block j of commit k: unique (no dedup) except every 3rd block, which repeats. */
function pattern(k: number, j: number): Uint8Array {
  const b = new Uint8Array(BS);
  const dv = new DataView(b.buffer);
  const seed = j % 3 === 2 ? 0xdead : k * 16 + j;
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < BS; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    dv.setUint32(i, x >>> 0);
  }
  return b;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const params = new URLSearchParams(location.search);
const db = params.get('db') ?? 'pool-crash';
const log = (s: string): void => {
  document.getElementById('log')!.textContent += s + '\n';
};
window.__poolCrashAcked = [];

async function write(): Promise<void> {
  const pool = await Pool.open(db);
  if (!pool.list().some((d) => d.name === 'v')) {
    await pool.createVolume('v', { sizeBytes: BLOCKS * BS, blockSize: BS });
    await pool.commit();
  }
  // Resume after the last whole commit: the dev server may reload this page (another
  // engineer's edit), and a reload is just one more crash to survive.
  const firsts = await pool.readBlocks('v', Array.from({ length: MAX_COMMITS }, (_, i) => (i + 1) * PER_COMMIT));
  const start = firsts.findIndex((b) => !b.some((x) => x !== 0)) + 1;
  if (start === 0) return log('done');
  for (let k = start; k <= MAX_COMMITS; k++) {
    const data = new Uint8Array(PER_COMMIT * BS);
    for (let j = 0; j < PER_COMMIT; j++) data.set(pattern(k, j), j * BS);
    await pool.write('v', k * PER_COMMIT, data);
    // Snapshots come and go so that refcounts and frees are part of what must survive.
    if (k % 5 === 0) await pool.snapshot('v', `s${k}`);
    if (k % 5 === 0 && k > 10) await pool.destroy(`s${k - 10}`);
    const txg = await pool.commit();
    window.__poolCrashAcked.push(k);
    console.log(`acked ${k} txg ${txg}`);
  }
  log('done');
}

async function verify(): Promise<void> {
  const acked = Number(params.get('acked') ?? '0');
  const problems: string[] = [];
  const pool = await Pool.open(db);
  const report = await pool.fsck({ data: true });
  problems.push(...report.problems);
  const lbas = Array.from({ length: BLOCKS }, (_, i) => i);
  const blocks = await pool.readBlocks('v', lbas);
  // Commits are sequential, so what is present must be exactly commits 1..maxPresent.
  let maxPresent = 0;
  for (let k = 1; k <= MAX_COMMITS; k++) {
    const present = blocks[k * PER_COMMIT]!.some((x) => x !== 0);
    if (!present) break;
    maxPresent = k;
  }
  for (let k = 1; k <= MAX_COMMITS; k++) {
    for (let j = 0; j < PER_COMMIT; j++) {
      const got = blocks[k * PER_COMMIT + j]!;
      const want = k <= maxPresent ? pattern(k, j) : new Uint8Array(BS);
      if (!equal(got, want)) problems.push(`commit ${k} block ${j}: ${k <= maxPresent ? 'wrong bytes' : 'present past the last whole commit (torn)'}`);
    }
  }
  if (maxPresent < acked) problems.push(`acknowledged commit ${acked} lost: pool holds commits up to ${maxPresent}`);
  // Txg 1 created the volume; commit k is txg k + 1.
  if (pool.txg !== maxPresent + 1) problems.push(`txg ${pool.txg} does not match ${maxPresent} commits`);
  const snaps = pool.list().filter((d) => d.kind === 'snapshot').map((d) => d.name);
  const wantSnaps = [];
  for (let k = 5; k <= maxPresent; k += 5) if (k > maxPresent - 10) wantSnaps.push(`s${k}`);
  if (snaps.join() !== wantSnaps.join()) problems.push(`snapshots ${snaps.join()} expected ${wantSnaps.join()}`);
  pool.close();
  window.__poolCrashResult = { ok: problems.length === 0, problems, maxPresent, txg: report.txg };
  log(JSON.stringify(window.__poolCrashResult));
}

(params.get('mode') === 'verify' ? verify() : write()).catch((e: unknown) => {
  console.error('pool-crash page failed', e);
  window.__poolCrashResult = { ok: false, problems: [String(e)], maxPresent: -1, txg: -1 };
});
