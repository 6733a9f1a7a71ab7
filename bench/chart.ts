// Runs in the chart page: draws the benchmark JSON as grouped bars (log-free, each group
// on its own scale) and the target table. bench/run.mjs calls window.renderBench(json).
interface BenchJson {
  env: { browser: string; cores: number; date: string; quick: boolean };
  metrics: Record<string, { value: number; unit: string }>;
  targets: { name: string; op: string; goal: number; value: number | null; met: boolean | null }[];
}

const GROUPS: { title: string; unit: string; keys: [string, string, boolean][] }[] = [
  {
    title: 'Read latency of one 64 KiB block (lower is better)',
    unit: 'ns',
    keys: [
      ['read_hit_cached_ns', 'zero-copy, cached mapping', false],
      ['read_hit_ring_ns', 'zero-copy, ring round trip', false],
      ['read_hit_ring_sync_ns', 'zero-copy, ring, blocking', false],
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
  if (unit === 'ns') return v >= 1e6 ? `${(v / 1e6).toFixed(2)} ms` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} µs` : `${v.toFixed(0)} ns`;
  return `${v.toFixed(1)} ${unit}`;
}

function renderBench(data: BenchJson): void {
  document.getElementById('env')!.textContent = `Headless Chromium ${data.env.browser} · ${data.env.cores} cores · ${data.env.date}${data.env.quick ? ' · quick run' : ''}`;
  const charts = document.getElementById('charts')!;
  charts.replaceChildren();
  for (const g of GROUPS) {
    const rows = g.keys.filter(([k]) => data.metrics[k]);
    if (rows.length === 0) continue;
    const max = Math.max(...rows.map(([k]) => data.metrics[k]!.value));
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
      const val = document.createElement('span');
      val.className = 'val';
      val.textContent = fmt(v, g.unit);
      row.append(name, barWrap, val);
      section.append(row);
    }
    charts.append(section);
  }
  const table = document.getElementById('targets')!;
  table.innerHTML = '<tr><th>target</th><th>ratio</th><th>goal</th><th></th></tr>';
  for (const t of data.targets) {
    const tr = document.createElement('tr');
    const cells = [t.name, t.value === null ? '–' : t.value.toPrecision(3), `${t.op} ${t.goal}`, t.met === null ? 'n/a' : t.met ? 'met' : 'missed'];
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
