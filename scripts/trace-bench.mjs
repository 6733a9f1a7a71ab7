// @ts-check
// Runs in Node. Runs one benchmark suite in Chromium with tracing on and says, per thread,
// how much wall time its tasks took and how much CPU they got: the tool that showed where
// the ring round trip's mean goes (docs/design.md, "Where the mean goes"). A thread whose
// tasks get much less CPU than wall time was runnable but off-CPU; V8's compiler and GC
// threads show up as ThreadPool workers.
//   node scripts/trace-bench.mjs                 # the reads suite, full size
//   SUITE=scaling QUICK=1 node scripts/trace-bench.mjs
//   OUT=/tmp/t.json node scripts/trace-bench.mjs # keep the trace (chrome://tracing, Perfetto)
// Code under test can mark moments with console.timeStamp('label'); each mark is printed
// with the thread it came from. Tracing costs CPU itself: compare threads within one trace,
// not a traced run's timings with an untraced one's.
import { chromium } from 'playwright-core';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startQuietServer } from './quiet-server.mjs';
import { chromiumLaunchOptions } from './chromium.mjs';

const suite = process.env.SUITE ?? 'reads';
const quick = process.env.QUICK === '1';
const keep = process.env.OUT;
const path = keep ?? join(tmpdir(), `trace-bench-${process.pid}.json`);

const server = await startQuietServer();
const browser = await chromium.launch(chromiumLaunchOptions());
try {
  const page = await browser.newPage();
  await browser.startTracing(page, {
    path,
    categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'disabled-by-default-v8.gc', 'IndexedDB'],
  });
  await page.goto(new URL(`bench/index.html?${quick ? 'quick=1&' : ''}only=${suite}`, server.base).href);
  /** @type {{ done: boolean, log: string[], errors: string[] } | undefined} */
  let st;
  for (;;) {
    st = await page.evaluate(() => /** @type {any} */ (window).__tabvisorBench);
    if (st?.done) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await browser.stopTracing();
  for (const line of st?.log ?? []) console.log(`  ${line}`);
  if (st?.errors.length) console.log('errors:', st.errors);
} finally {
  await browser.close();
  await server.close();
}

/** @typedef {{ name: string, ph: string, pid: number, tid: number, ts: number, dur?: number, tdur?: number, args?: any }} TraceEvent */
const raw = JSON.parse(readFileSync(path, 'utf8'));
/** @type {TraceEvent[]} */
const events = raw.traceEvents ?? raw;
if (!keep) rmSync(path, { force: true });
const key = (/** @type {TraceEvent} */ e) => `${e.pid}:${e.tid}`;
const names = new Map(events.filter((e) => e.name === 'thread_name').map((e) => [key(e), e.args?.name ?? '?']));
// Top-level tasks only (RunTask on a thread's own loop, ThreadPool_RunTask on a pool
// worker): the slices nested in them would count the same time twice.
/** @type {Map<string, { tasks: number, wallUs: number, cpuUs: number, gcUs: number }>} */
const threads = new Map();
for (const e of events) {
  if (e.ph !== 'X') continue;
  const task = e.name === 'RunTask' || e.name === 'ThreadPool_RunTask';
  const gc = e.name === 'MinorGC' || e.name === 'MajorGC';
  if (!task && !gc) continue;
  const t = threads.get(key(e)) ?? { tasks: 0, wallUs: 0, cpuUs: 0, gcUs: 0 };
  if (task) {
    t.tasks++;
    t.wallUs += e.dur ?? 0;
    t.cpuUs += e.tdur ?? 0;
  } else t.gcUs += e.dur ?? 0;
  threads.set(key(e), t);
}
const first = events.reduce((min, e) => (e.ts > 0 && e.ts < min ? e.ts : min), Infinity);
console.log(`\nper thread (top-level tasks): wall ms, CPU ms, GC ms`);
for (const [k, t] of [...threads].sort((a, b) => b[1].cpuUs - a[1].cpuUs).slice(0, 16)) {
  const share = t.wallUs > 0 ? ` (${Math.round((100 * t.cpuUs) / t.wallUs)} % on CPU)` : '';
  console.log(`  ${`${names.get(k) ?? "?"} ${k.split(":")[1]}`.slice(0, 34).padEnd(34)} ${String(t.tasks).padStart(7)} tasks ${(t.wallUs / 1000).toFixed(0).padStart(8)} ${(t.cpuUs / 1000).toFixed(0).padStart(8)}${share.padEnd(16)} ${(t.gcUs / 1000).toFixed(0).padStart(6)}`);
}
const marks = events.filter((e) => e.name === 'TimeStamp');
if (marks.length > 0) {
  console.log(`\nconsole.timeStamp marks (${marks.length}; first 40), ms from the trace's start:`);
  for (const m of marks.slice(0, 40)) console.log(`  ${((m.ts - first) / 1000).toFixed(1).padStart(9)}  ${(names.get(key(m)) ?? key(m)).padEnd(24)} ${m.args?.data?.message ?? ''}`);
}
