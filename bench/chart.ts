// Runs in the chart page: draws the benchmark JSON as grouped bars (log-free, each group
// on its own scale; whiskers from the runs' min to max), the scaling series as lines, and
// the target table. bench/run.mjs calls window.renderBench(json).
interface BenchJson {
  env: { browser: string; cores: number; cpu?: string; date: string; quick: boolean; runs?: number; loadavgBefore?: number[] };
  metrics: Record<string, { value: number; unit: string; min?: number; max?: number }>;
  targets: { name: string; op: string; goal: number; value: number | null; met: boolean | null; min?: number | null; max?: number | null }[];
  series?: { name: string; title: string; xLabel: string; unit: string; lines: { label: string; points: { x: number; y: number; min: number | null; max: number | null }[] }[] }[];
}

const GROUPS: { title: string; unit: string; keys: [string, string, boolean][] }[] = [
  {
    title: 'Read latency of one 64 KiB block against the platform floors (lower is better)',
    unit: 'ns',
    keys: [
      ['raw_view_ns', 'floor: 3 Atomics.loads + subarray', true],
      ['read_hit_cached_sync_ns', 'zero-copy, cached mapping, readSync', false],
      ['await_resolved_ns', 'floor of any async call: await a resolved promise', true],
      ['read_hit_cached_ns', 'zero-copy, cached mapping', false],
      ['read_hit_cached_using_ns', 'the same in a using block (lowered to ES2022)', false],
      ['memcpy_64k_ns', 'floor of a copy: memcpy 64 KiB', true],
      ['atomics_pingpong_spin_ns', 'floor: Atomics ping-pong, spinning', true],
      ['atomics_pingpong_ns', 'floor: Atomics wait/notify ping-pong', true],
      ['read_hit_ring_ns', 'zero-copy, ring round trip', false],
      ['read_hit_ring_sync_ns', 'zero-copy, ring, blocking', false],
      ['read_hit_ring_cold_ns', "zero-copy, ring, a fresh guest's first 128 reads", false],
      ['read_postmessage_copy_ns', 'postMessage copy (baseline)', true],
      ['read_comlink_copy_ns', 'comlink copy (baseline)', true],
      ['read_pool_miss_ns', 'miss: from IndexedDB', false],
    ],
  },
  {
    title: 'Memory, guests reading a whole image (lower is better)',
    unit: 'bytes',
    keys: [
      ['memory_1_guest_bytes', '1 guest, zero-copy', false],
      ['memory_8_guests_bytes', '8 guests, zero-copy', false],
      ['memory_8_guests_copy_bytes', '8 guests, copy transport', true],
    ],
  },
  {
    title: 'Pool throughput (higher is better)',
    unit: 'MB/s',
    keys: [
      ['pool_import_mb_s', 'pool import', false],
      ['idb_raw_put_mb_s', 'raw IndexedDB put', true],
      ['pool_cold_read_mb_s', 'pool cold read', false],
      ['idb_raw_getall_mb_s', 'raw IndexedDB getAll', true],
    ],
  },
];

function fmt(v: number, unit: string): string {
  if (unit === 'bytes') return `${(v / 2 ** 20).toFixed(1)} MiB`;
  if (unit === 'ratio') return v.toPrecision(3);
  if (unit.endsWith('/s') && v >= 1e6) return `${(v / 1e6).toFixed(2)} M${unit}`;
  if (unit.endsWith('/s') && v >= 1e3) return `${(v / 1e3).toFixed(1)} k${unit}`;
  if (unit === 'ns') return v >= 1e6 ? `${(v / 1e6).toFixed(2)} ms` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} µs` : `${v.toFixed(0)} ns`;
  return `${v.toFixed(1)} ${unit}`;
}

const COLOURS = ['#2563eb', '#dc2626', '#059669', '#d97706'];
const SVG = 'http://www.w3.org/2000/svg';

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** One series as lines: x on a log2 axis (the points are powers of two), y linear from 0. */
function lineChart(s: NonNullable<BenchJson['series']>[number]): HTMLElement {
  // Room on the left for a tick label such as "119.1 kreads/s", on the right for a legend
  // such as "metadata bytes per GiB" (both were clipped at 70 and 130 px).
  const W = 540;
  const H = 230;
  const L = 96;
  const R = 160;
  const T = 10;
  const B = 40;
  const xs = [...new Set(s.lines.flatMap((l) => l.points.map((p) => p.x)))].sort((a, b) => a - b);
  const ymax = Math.max(...s.lines.flatMap((l) => l.points.map((p) => p.max ?? p.y))) || 1;
  const lx = (x: number) => Math.log2(x);
  const x0 = lx(xs[0]!);
  const x1 = Math.max(lx(xs[xs.length - 1]!), x0 + 1);
  const px = (x: number) => L + ((lx(x) - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => T + (1 - y / ymax) * (H - T - B);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, style: 'width: 100%; height: auto; max-width: ' + W + 'px' });
  svg.append(svgEl('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999' }), svgEl('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#999' }));
  for (const x of xs) svg.append(svgEl('text', { x: px(x), y: H - B + 14, 'font-size': 11, 'text-anchor': 'middle' }, String(x)));
  svg.append(svgEl('text', { x: (L + W - R) / 2, y: H - 6, 'font-size': 11, 'text-anchor': 'middle' }, s.xLabel));
  for (const f of [0, 0.5, 1]) svg.append(svgEl('text', { x: L - 4, y: py(ymax * f) + 4, 'font-size': 10, 'text-anchor': 'end' }, fmt(ymax * f, s.unit)));
  s.lines.forEach((l, i) => {
    const c = COLOURS[i % COLOURS.length]!;
    svg.append(svgEl('polyline', { points: l.points.map((p) => `${px(p.x)},${py(p.y)}`).join(' '), fill: 'none', stroke: c, 'stroke-width': 2 }));
    for (const p of l.points) {
      svg.append(svgEl('circle', { cx: px(p.x), cy: py(p.y), r: 3, fill: c }));
      if (p.min !== null && p.max !== null && p.max > p.min) svg.append(svgEl('line', { x1: px(p.x), x2: px(p.x), y1: py(p.min), y2: py(p.max), stroke: c }));
    }
    svg.append(svgEl('text', { x: W - R + 8, y: T + 14 + i * 16, 'font-size': 11, fill: c }, l.label));
  });
  const div = document.createElement('div');
  div.className = 'series';
  const h = document.createElement('h2');
  h.textContent = s.title;
  div.append(h, svg);
  return div;
}

function renderBench(data: BenchJson): void {
  const e = data.env;
  document.getElementById('env')!.textContent = `Headless Chromium ${e.browser} · ${e.cpu ? `${e.cpu} · ` : ''}${e.cores} cores · ${e.date}` +
    `${e.runs ? ` · median of ${e.runs} run(s)` : ''}${e.loadavgBefore ? ` · load average ${e.loadavgBefore[0]}` : ''}${e.quick ? ' · quick run' : ''}`;
  const charts = document.getElementById('charts')!;
  charts.replaceChildren();
  for (const g of GROUPS) {
    const rows = g.keys.filter(([k]) => data.metrics[k]);
    if (rows.length === 0) continue;
    // The scale covers the whiskers too, so a run's max never draws over the value column.
    const max = Math.max(...rows.map(([k]) => Math.max(data.metrics[k]!.value, data.metrics[k]!.max ?? 0)));
    const section = document.createElement('div');
    section.className = 'group';
    section.innerHTML = `<h2></h2>`;
    section.querySelector('h2')!.textContent = g.title;
    for (const [k, label, baseline] of rows) {
      const v = data.metrics[k]!.value;
      const row = document.createElement('div');
      row.className = 'row';
      const name = document.createElement('span');
      name.textContent = label;
      const barWrap = document.createElement('div');
      const bar = document.createElement('div');
      bar.className = baseline ? 'bar base' : 'bar';
      bar.style.width = `${Math.max(0.3, (100 * v) / max)}%`;
      barWrap.append(bar);
      const m = data.metrics[k]!;
      if (m.min !== undefined && m.max !== undefined && m.max > m.min) {
        const whisker = document.createElement('div');
        whisker.className = 'whisker';
        whisker.style.left = `${(100 * m.min) / max}%`;
        whisker.style.width = `${(100 * (m.max - m.min)) / max}%`;
        barWrap.append(whisker);
      }
      const val = document.createElement('span');
      val.className = 'val';
      val.textContent = fmt(v, g.unit);
      row.append(name, barWrap, val);
      section.append(row);
    }
    charts.append(section);
  }
  const series = document.getElementById('series')!;
  series.replaceChildren(...(data.series ?? []).map(lineChart));
  const table = document.getElementById('targets')!;
  table.innerHTML = '<tr><th>target</th><th>ratio (median)</th><th>range</th><th>goal</th><th></th></tr>';
  for (const t of data.targets) {
    const tr = document.createElement('tr');
    const range = t.min === null || t.min === undefined || t.max === null || t.max === undefined ? '–' : `${t.min.toPrecision(3)}–${t.max.toPrecision(3)}`;
    const cells = [t.name, t.value === null ? '–' : t.value.toPrecision(3), range, `${t.op} ${t.goal}`, t.met === null ? 'n/a' : t.met ? 'met' : 'missed'];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    (tr.lastElementChild as HTMLElement).className = t.met ? 'met' : t.met === false ? 'miss' : '';
    table.append(tr);
  }
}

(window as unknown as { renderBench: typeof renderBench }).renderBench = renderBench;
