// @ts-nocheck -- a diagnostic run by hand, not product or test code: it drives CDP
// through puppeteer-core's untyped session objects and reads the bench page's globals.
//
// Runs in Node. CPU profiles of every worker of the benchmark page (dom0, guests, the copy
// server), taken over the Chrome DevTools Protocol, with the self time under chosen
// functions printed per worker. How the cached-hit regression of 2026-11-29 was found
// (docs/design.md, "Ring service"). Environment:
//   QUICK=0            full-size suite (default: quick)
//   ONLY=reads         which bench suites run (bench/index.html?only=)
//   START_AT / STOP_AT start and stop profiling when the bench log has a line containing this
//                      (default: from worker creation until "baselines")
//   ROOTS=a,b          functions whose subtrees are summed ('*' = everything)
//   INTERVAL=25        sampling interval, µs; TOP=22 rows per table
//   DEV=1              serve with Vite's dev server instead of the bench build
//   node scripts/profile-workers.mjs
//   QUICK=0 START_AT='ring round trips' STOP_AT='cached hits' ROOTS='serve' node scripts/profile-workers.mjs
// Profiles are also written to /tmp/prof-N.cpuprofile (open them in DevTools).
import puppeteer from 'puppeteer-core';
import { writeFileSync } from 'node:fs';
import { startBuiltPreview, startQuietServer } from './quiet-server.mjs';
import { chromiumLaunchOptions } from './chromium.mjs';
// The build, as `npm run bench` serves it (DEV=1: Vite's dev server, which compiles on demand).
const server = process.env.DEV === '1' ? await startQuietServer() : await startBuiltPreview('bench/vite.config.ts');
const opts = chromiumLaunchOptions();
const browser = await puppeteer.launch({ executablePath: opts.executablePath, args: opts.args, headless: true });
const sessions = [];
const attach = async (w) => {
  try {
    const s = w.client;
    await s.send('Profiler.enable');
    await s.send('Profiler.setSamplingInterval', { interval: Number(process.env.INTERVAL ?? 25) });
    if (!process.env.START_AT) await s.send('Profiler.start');
    sessions.push({ s, url: w.url() });
  } catch (e) { console.error('attach failed', w.url(), e.message); }
};
const page = await browser.newPage();
page.on('workercreated', attach);
const q = process.env.QUICK === '0' ? '' : 'quick=1&';
await page.goto(new URL(`bench/index.html?${q}only=${process.env.ONLY ?? 'reads'}`, server.base).href);
let st;
const profiles = [];
let started = !process.env.START_AT;
for (;;) {
  st = await page.evaluate(() => window.__tabvisorBench);
  if (st && !started && st.log.some((l) => l.includes(process.env.START_AT))) { started = true; for (const { s } of sessions) await s.send('Profiler.start').catch(() => {}); }
  if (st && profiles.length === 0 && st.log.some((l) => l.includes(process.env.STOP_AT ?? 'baselines'))) {
    for (const { s, url } of sessions) { try { profiles.push({ profile: (await s.send('Profiler.stop')).profile, url }); } catch (e) { console.error('stop failed', url, e.message); } }
  }
  if (st?.done) break; await new Promise((r) => setTimeout(r, 20));
}
console.log(st.log.slice(-5).join("\n"));
console.log(JSON.stringify(Object.fromEntries(Object.entries(st.metrics ?? {}).map(([k, v]) => [k, Math.round(v.value)]))));
console.log('sessions', sessions.length); let i = 0;
for (const { profile, url } of profiles) {
  try {
    writeFileSync(`/tmp/prof-${i}.cpuprofile`, JSON.stringify(profile));
    analyse(profile, url, i++);
  } catch (e) { console.error('stop failed', url, e.message); }
}
await browser.close();
await server.close();

function analyse(p, url, idx) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const dt = new Map();
  p.samples.forEach((id, k) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[k + 1] ?? 0)));
  for (const root of (process.env.ROOTS ?? 'cachedHitNs,cachedHitSyncNs').split(',')) {
    const self = new Map(); let total = 0;
    for (const [id, t] of dt) {
      let x = id, under = false;
      while (x !== undefined) { if (root === '*' || byId.get(x).callFrame.functionName === root) { under = true; break; } x = parent.get(x); }
      if (!under) continue;
      const cf = byId.get(id).callFrame;
      const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + t); total += t;
    }
    if (total === 0) continue;
    console.log(`\n== worker ${idx} ${url.slice(-60)} under ${root}: ${(total / 1000).toFixed(0)} ms`);
    [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 22)).forEach(([k, t]) => console.log(`${(100 * t / total).toFixed(1).padStart(5)}%  ${k}`));
  }
}
