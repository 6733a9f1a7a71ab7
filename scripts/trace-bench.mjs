// @ts-check
// Runs in Node. Runs one benchmark suite in Chromium with tracing on and says, per thread,
// how much wall time its tasks took and how much CPU they got: the tool that showed where
// the ring round trip's mean goes (docs/design.md, "Where the mean goes"). A thread whose
// tasks get much less CPU than wall time was runnable but off-CPU; V8's compiler and GC
// threads show up as ThreadPool workers.
//   node scripts/trace-bench.mjs                 # the reads suite, full size
//   SUITE=scaling QUICK=1 node scripts/trace-bench.mjs
//   OUT=/tmp/t.json node scripts/trace-bench.mjs # keep the trace (chrome://tracing, Perfetto)
//   DISK=1 SUITE=busy node scripts/trace-bench.mjs  # IndexedDB on disk (a profile in TMPDIR)
//   LONG=20 ...                                  # also list every top-level task over 20 ms
// Code under test can mark moments with console.timeStamp('label'); each mark is printed
// with the thread it came from. Tracing costs CPU itself: compare threads within one trace,
// not a traced run's timings with an untraced one's. Off the record (the default) Chromium
// keeps IndexedDB in memory; with DISK=1 the page runs on a profile on disk, as the
// benchmark does, and is traced through a CDP session on the page (Playwright's
// startTracing needs a Browser, which a persistent context does not give).
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startQuietServer } from './quiet-server.mjs';
import { chromiumLaunchOptions } from './chromium.mjs';

const suite = process.env.SUITE ?? 'reads';
const quick = process.env.QUICK === '1';
const keep = process.env.OUT;
const path = keep ?? join(tmpdir(), `trace-bench-${process.pid}.json`);

const disk = process.env.DISK === '1';
const longMs = Number(process.env.LONG ?? 0);
const categories = ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'disabled-by-default-v8.gc', 'IndexedDB'];

const server = await startQuietServer();
const profile = disk ? mkdtempSync(join(tmpdir(), 'trace-bench-profile-')) : null;
const ctx = profile ? await chromium.launchPersistentContext(profile, chromiumLaunchOptions()) : null;
const browser = ctx ? null : await chromium.launch(chromiumLaunchOptions());
/** @type {import('playwright-core').CDPSession | null} */
let cdp = null;
try {
  const page = ctx ? (ctx.pages()[0] ?? (await ctx.newPage())) : await /** @type {import('playwright-core').Browser} */ (browser).newPage();
  if (ctx) {
    cdp = await ctx.newCDPSession(page);
    await cdp.send('Tracing.start', { transferMode: 'ReturnAsStream', traceConfig: { includedCategories: categories, recordMode: 'recordAsMuchAsPossible' } });
  } else await /** @type {import('playwright-core').Browser} */ (browser).startTracing(page, { path, categories });
  await page.goto(new URL(`bench/index.html?${quick ? 'quick=1&' : ''}only=${suite}`, server.base).href);
  /** @type {{ done: boolean, log: string[], errors: string[] } | undefined} */
  let st;
  for (;;) {
    st = await page.evaluate(() => /** @type {any} */ (window).__tabvisorBench);
    if (st?.done) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (cdp) {
    const session = cdp;
    const complete = new Promise((resolve) => session.once('Tracing.tracingComplete', resolve));
    await session.send('Tracing.end');
    const { stream } = /** @type {{ stream: string }} */ (await complete);
    /** @type {Buffer[]} */
    const parts = [];
    for (;;) {
      const r = await session.send('IO.read', { handle: stream, size: 1 << 22 });
      parts.push(Buffer.from(r.data, r.base64Encoded ? 'base64' : 'utf8'));
      if (r.eof) break;
    }
    await session.send('IO.close', { handle: stream });
    writeFileSync(path, Buffer.concat(parts));
  } else await /** @type {import('playwright-core').Browser} */ (browser).stopTracing();
  for (const line of st?.log ?? []) console.log(`  ${line}`);
  if (st?.errors.length) console.log('errors:', st.errors);
} finally {
  await ctx?.close();
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
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

if (longMs > 0) {
  // Each top-level task over LONG ms: when it started, its wall time and the CPU it got (a
  // task with much less CPU than wall time was runnable and waiting for a core), and the
  // longest slices nested in it on the same thread (what it ran).
  const tasks = events.filter((e) => e.ph === 'X' && (e.name === 'RunTask' || e.name === 'ThreadPool_RunTask') && (e.dur ?? 0) >= longMs * 1000);
  console.log(`\ntop-level tasks over ${longMs} ms (${tasks.length}), ms from the trace's start: start, wall, CPU, thread, longest nested slices`);
  /** @type {Map<string, TraceEvent[]>} */
  const byThread = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || e.name === 'RunTask' || e.name === 'ThreadPool_RunTask') continue;
    const list = byThread.get(key(e)) ?? [];
    list.push(e);
    byThread.set(key(e), list);
  }
  const label = (/** @type {TraceEvent} */ e) => {
    const d = e.args?.data ?? e.args?.beginData ?? {};
    const what = d.functionName || d.url?.split('/').pop() || d.type || d.name || '';
    return `${e.name}${what ? ` ${what}` : ''} ${((e.dur ?? 0) / 1000).toFixed(1)}`;
  };
  for (const t of tasks.sort((a, b) => a.ts - b.ts)) {
    const end = t.ts + (t.dur ?? 0);
    const nested = (byThread.get(key(t)) ?? []).filter((e) => e.ts >= t.ts && e.ts + (e.dur ?? 0) <= end && (e.dur ?? 0) >= 1000);
    const top = nested.sort((a, b) => (b.dur ?? 0) - (a.dur ?? 0)).slice(0, 4).map(label).join(' | ');
    console.log(`  ${((t.ts - first) / 1000).toFixed(1).padStart(9)} ${((t.dur ?? 0) / 1000).toFixed(1).padStart(7)} ${((t.tdur ?? 0) / 1000).toFixed(1).padStart(7)}  ${`${names.get(key(t)) ?? '?'} ${key(t).split(':')[1]}`.slice(0, 26).padEnd(26)} ${top}`);
  }
}
