// @ts-check
// Runs in Node, Linux only: `node scripts/thread-cpu.mjs [--every 100] [--min 2] [--all] -- <command ...>`.
// Runs the command (e.g. `node bench/run.mjs --only reads,limits --out /tmp/x.json`) and,
// while it runs, samples every thread of Chromium's renderer processes (`--all`: of every
// Chromium process) from /proc every `--every` ms: the time each ran on a CPU and the time
// it was runnable but waited for one (/proc/<pid>/task/<tid>/schedstat). Prints the
// command's output lines stamped with the sampler's clock, and per window each thread that
// ran or waited at least `--min` % of it, by name and tid. What it is for: telling which
// thread takes a core from dom0 or a guest in a phase of the benchmark (docs/design.md,
// "Where dom0's no-op time goes").
import { readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const dashes = args.indexOf('--');
if (dashes < 0 || dashes === args.length - 1) {
  console.error('usage: node scripts/thread-cpu.mjs [--every ms] [--min percent] [--all] -- <command ...>');
  process.exit(2);
}
const opt = (/** @type {string} */ name, /** @type {number} */ dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i < dashes ? Number(args[i + 1]) : dflt;
};
const everyMs = opt('--every', 100);
const minPct = opt('--min', 2);
const rendererOnly = !args.slice(0, dashes).includes('--all');
const [program, ...programArgs] = /** @type {[string, ...string[]]} */ (args.slice(dashes + 1));

const t0 = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;

/** Chromium's processes, found again every second (renderers come and go). */
let pids = /** @type {number[]} */ ([]);
let pidsAt = -Infinity;
function chromiumPids() {
  if (ms() - pidsAt < 1000) return pids;
  pidsAt = ms();
  pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/comm`, 'utf8').trim().startsWith('chrom')) continue;
      // Renderers only (the page, its workers, V8's threads): reading every process's
      // threads every few ms took enough CPU to halve what it measured.
      if (rendererOnly && !readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      pids.push(Number(d));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * Every renderer thread's run and wait time now, by tid; a thread's name is read once
 * (taken from `prev`, the last sample, when it was there).
 * @param {Map<string, { name: string, run: number, wait: number }>} prev
 */
function sample(prev) {
  /** @type {Map<string, { name: string, run: number, wait: number }>} */
  const now = new Map();
  for (const pid of chromiumPids()) {
    let tids;
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const [run = 0, wait = 0] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        const name = prev.get(tid)?.name ?? `${readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()}/${pid}`;
        now.set(tid, { name, run, wait });
      } catch {
        // gone
      }
    }
  }
  return now;
}

let prevT = ms();
let prev = sample(new Map());
const timer = setInterval(() => {
  const t = ms();
  const cur = sample(prev);
  const span = (t - prevT) * 1e6;
  const rows = [];
  for (const [tid, c] of cur) {
    const p = prev.get(tid);
    if (!p) continue;
    const run = (c.run - p.run) / span;
    const wait = (c.wait - p.wait) / span;
    if (run * 100 >= minPct || wait * 100 >= minPct) rows.push(`${c.name}:${tid} ${(run * 100).toFixed(0)}/${(wait * 100).toFixed(0)}`);
  }
  if (rows.length > 0) console.log(`${t.toFixed(0).padStart(7)} cpu ${rows.join('  ')}`);
  prev = cur;
  prevT = t;
}, everyMs);

const child = spawn(program, programArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
let buf = '';
child.stdout.on('data', (/** @type {Buffer} */ d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    console.log(`${ms().toFixed(0).padStart(7)} out ${buf.slice(0, nl)}`);
    buf = buf.slice(nl + 1);
  }
});
child.on('exit', (/** @type {number | null} */ code) => {
  clearInterval(timer);
  process.exit(code ?? 1);
});
