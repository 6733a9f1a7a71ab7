// Runs on the console's main thread. The machine over the last minute, drawn by uPlot
// (a small, maintained canvas charting library): guest block reads per second against
// pool reads (frame fills) and evictions per second, and the arena hit rate (reads
// answered by a resident frame ÷ all reads that reached dom0). Rates come from counter
// deltas between samples; a domain that went away does not make a rate negative.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Dom0Stats } from '../dom0/dom0-service';
import { h, legend, legendKey, setText } from './dom';

const KEEP = 240; // samples: a minute at the poller's 4 per second

interface Sample {
  t: number;
  requests: Map<number, number>;
  hits: Map<number, number>;
  misses: Map<number, number>;
  fills: Map<string, number>;
  evictions: Map<string, number>;
}

function delta<K>(now: Map<K, number>, before: Map<K, number>): number {
  let d = 0;
  for (const [k, v] of now) d += Math.max(0, v - (before.get(k) ?? 0));
  return d;
}

export class ChartsView {
  readonly root = h('section', { class: 'panel charts', 'aria-labelledby': 'ch-h' }, h('h2', { id: 'ch-h' }, 'Over time (last minute)'));
  private readonly summary = h('p', { class: 'summary', id: 'charts-summary' });
  private readonly ratesBox = h('div', { class: 'chart', role: 'img', 'aria-label': 'Reads, fills and evictions per second over the last minute' });
  private readonly hitBox = h('div', { class: 'chart', role: 'img', 'aria-label': 'Arena hit rate over the last minute' });
  private readonly data: { t: number[]; reads: number[]; fills: number[]; evictions: number[]; hit: (number | null)[] } = { t: [], reads: [], fills: [], evictions: [], hit: [] };
  private prev: Sample | null = null;
  private rates: uPlot | null = null;
  private hits: uPlot | null = null;
  private width = 0;

  constructor() {
    this.root.append(
      legend(
        legendKey('line-reads', 'guest reads/s (requests to dom0)'),
        legendKey('line-fills', 'fills/s (pool reads into a frame)'),
        legendKey('line-evict', 'evictions/s'),
        legendKey('line-hit', 'hit rate: reads served from a resident frame'),
      ),
      this.ratesBox,
      this.hitBox,
      this.summary,
    );
    new ResizeObserver(() => this.resize()).observe(this.root);
    // Off screen (scrolled away in the machine column, or hidden) the charts keep their
    // data but do not draw; they catch up when they come into view.
    new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      if (this.visible) this.draw();
    }).observe(this.root);
  }

  private visible = true;

  private make(): void {
    const width = Math.max(200, this.root.clientWidth - 24);
    const axes = (label: string): uPlot.Axis[] => [
      { stroke: 'currentColor', grid: { stroke: '#8883' }, ticks: { stroke: '#8883' }, values: (_u, ts) => ts.map((t) => `${Math.round(t - Date.now() / 1000)} s`) },
      { stroke: 'currentColor', grid: { stroke: '#8883' }, ticks: { stroke: '#8883' }, label, size: 50 },
    ];
    const legend = { show: false };
    this.rates = new uPlot(
      {
        width,
        height: 130,
        legend,
        cursor: { show: false },
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(10, max)] } },
        axes: axes('per s'),
        series: [{}, { label: 'reads/s', stroke: '#2563eb', width: 2 }, { label: 'fills/s', stroke: '#d97706', width: 2 }, { label: 'evictions/s', stroke: '#dc2626', width: 2 }],
      },
      [this.data.t, this.data.reads, this.data.fills, this.data.evictions],
      this.ratesBox,
    );
    this.hits = new uPlot(
      {
        width,
        height: 100,
        legend,
        cursor: { show: false },
        scales: { x: { time: false }, y: { range: [0, 100] } },
        axes: axes('hit %'),
        series: [{}, { label: 'hit rate %', stroke: '#047857', width: 2, spanGaps: false }],
      },
      [this.data.t, this.data.hit],
      this.hitBox,
    );
    this.width = width;
  }

  private resize(): void {
    const width = Math.max(200, this.root.clientWidth - 24);
    if (!this.rates || Math.abs(width - this.width) < 8) return;
    this.width = width;
    this.rates.setSize({ width, height: 130 });
    this.hits?.setSize({ width, height: 100 });
  }

  render(s: Dom0Stats): void {
    const now: Sample = {
      t: performance.now(),
      requests: new Map(s.domains.map((d) => [d.id, d.counters.requests])),
      hits: new Map(s.domains.map((d) => [d.id, d.counters.hits])),
      misses: new Map(s.domains.map((d) => [d.id, d.counters.misses])),
      fills: new Map(s.groups.map((g) => [g.id, g.fills])),
      evictions: new Map(s.groups.map((g) => [g.id, g.evictions])),
    };
    const prev = this.prev;
    this.prev = now;
    if (!prev) return;
    const dt = (now.t - prev.t) / 1000;
    if (dt <= 0) return;
    const hits = delta(now.hits, prev.hits);
    const misses = delta(now.misses, prev.misses);
    const d = this.data;
    d.t.push(Date.now() / 1000);
    d.reads.push(delta(now.requests, prev.requests) / dt);
    d.fills.push(delta(now.fills, prev.fills) / dt);
    d.evictions.push(delta(now.evictions, prev.evictions) / dt);
    d.hit.push(hits + misses > 0 ? (hits / (hits + misses)) * 100 : null);
    if (d.t.length > KEEP) for (const a of Object.values(d)) a.shift();
    this.draw();
  }

  private draw(): void {
    const d = this.data;
    if (!this.visible || d.t.length === 0) return;
    if (!this.rates) {
      if (this.root.offsetParent === null) return; // hidden (compact layout): draw when shown
      this.make();
    }
    this.rates!.setData([d.t, d.reads, d.fills, d.evictions]);
    this.hits!.setData([d.t, d.hit]);
    const last = d.t.length - 1;
    const hit = d.hit[last];
    setText(
      this.summary,
      `Now: ${d.reads[last]!.toFixed(0)} reads/s, ${d.fills[last]!.toFixed(0)} fills/s, ${d.evictions[last]!.toFixed(0)} evictions/s, hit rate ${hit === null || hit === undefined ? '— (no reads)' : `${hit.toFixed(0)} %`}.`,
    );
  }
}
