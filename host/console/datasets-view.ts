// Runs on the console's main thread. The pool's datasets as a tree (volume → snapshots →
// clones → their snapshots …), with the page's snapshot / clone / boot / destroy actions,
// and for every clone a strip of its blocks: own (written since the clone was made) or
// still shared with its base. Rebuilt only when the set of datasets changes, so focus and
// keyboard position survive the 4×/s refresh; the strips update in place. Below the
// snapshot form, "Compact the pool" runs the extent cleaner with its progress (the archive
// panel's "Reclaim space" is the archive's cleaner).
import type { CompactReport, DatasetInfo } from '../pool';
import { formatBytes, h, setText } from './dom';

export interface DatasetActions {
  snapshot(dataset: string, name: string): Promise<void>;
  clone(snapshot: string): Promise<void>;
  boot(dataset: string): Promise<void>;
  destroy(dataset: string): Promise<void>;
  inUse(dataset: string): boolean;
  own(dataset: string): Set<number>;
  /** Run the extent cleaner; null when it failed (the console says why). */
  compact(onProgress: (p: CompactReport) => void): Promise<CompactReport | null>;
}

/** What a pass of the extent cleaner did, in a sentence (the status line and the log). */
export function compactSummary(r: CompactReport): string {
  const damaged = r.damaged.length ? ` ${r.damaged.length} damaged record${r.damaged.length === 1 ? '' : 's'} left in place (fsck names ${r.damaged.length === 1 ? 'it' : 'them'}).` : '';
  if (r.extentsRewritten === 0) return `Nothing to reclaim: every record is at least half live.${damaged}`;
  const blocks = `${r.chunksMoved} live block${r.chunksMoved === 1 ? '' : 's'}`;
  const records = `${r.extentsRewritten} mostly dead record${r.extentsRewritten === 1 ? '' : 's'}`;
  return `Moved ${blocks} (${formatBytes(r.bytesMoved)}) out of ${records}: the store is ${formatBytes(r.recordBytesFreed - r.bytesMoved)} smaller.${damaged}`;
}

export class DatasetsView {
  readonly root = h('section', { class: 'panel datasets', 'aria-labelledby': 'ds-h' }, h('h2', { id: 'ds-h' }, 'Pool: volumes, snapshots, clones'));
  private readonly tree = h('ul', { class: 'tree', role: 'list' });
  private readonly strips = new Map<string, { canvas: HTMLCanvasElement; text: HTMLElement; info: DatasetInfo }>();
  private signature = '';
  private readonly snapSource = h('select', { id: 'snap-source' });
  /** Every dataset's name, as of the last render. */
  private names = new Set<string>();
  private readonly snapName = h('input', { id: 'snap-name', type: 'text', required: true, pattern: '[^@/]+', 'aria-describedby': 'snap-hint' });
  private readonly compactButton = h('button', { type: 'button', id: 'compact-pool', 'aria-describedby': 'compact-hint' }, 'Compact the pool');
  private readonly compactStatus = h('span', { id: 'compact-status', role: 'status' });

  constructor(private readonly actions: DatasetActions) {
    const form = h(
      'form',
      { class: 'snap-form', 'aria-label': 'Take a snapshot' },
      h('label', { for: 'snap-source' }, 'Snapshot of'),
      this.snapSource,
      h('label', { for: 'snap-name' }, 'named'),
      this.snapName,
      h('button', { type: 'submit', id: 'snap-take' }, 'Take snapshot'),
      h('span', { id: 'snap-hint', class: 'meta' }, 'becomes <volume>@<name>; clone it to boot guests on it'),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const ds = this.snapSource.value;
      const name = this.snapName.value.trim();
      if (!ds || !name) return;
      void this.actions.snapshot(ds, `${ds}@${name}`).then(() => (this.snapName.value = ''));
    });
    this.compactButton.addEventListener('click', () => void this.compact());
    const compact = h(
      'div',
      { class: 'compact-pool' },
      this.compactButton,
      h('span', { id: 'compact-hint', class: 'meta' }, 'rewrites records under half live: blocks overwritten or destroyed leave the rest of their record dead'),
      this.compactStatus,
    );
    this.root.append(form, compact, this.tree);
  }

  private async compact(): Promise<void> {
    this.compactButton.disabled = true;
    setText(this.compactStatus, 'Looking for sparse records…');
    try {
      const r = await this.actions.compact((p) => setText(this.compactStatus, `Read ${formatBytes(p.bytesRead)} of records, moved ${p.chunksMoved} live blocks…`));
      setText(this.compactStatus, r ? compactSummary(r) : 'The cleaner stopped: see the log.');
    } finally {
      this.compactButton.disabled = false;
    }
  }

  /** Offer `ds` in the snapshot form, with a fresh default name (the tree's Snapshot buttons). */
  private pickForSnapshot(ds: string): void {
    this.snapSource.value = ds;
    if (!this.snapName.value) this.snapName.value = this.freshSnapshotName(ds);
    this.snapName.focus();
    this.snapName.select();
  }

  /**
   * `snap-HHMMSS`, with a suffix when `ds` already has a snapshot of that name: two
   * snapshots taken within one second were refused ("already exists") before.
   */
  private freshSnapshotName(ds: string): string {
    const base = `snap-${new Date().toISOString().slice(11, 19).replace(/:/g, '')}`;
    let name = base;
    for (let k = 2; this.names.has(`${ds}@${name}`); k++) name = `${base}-${k}`;
    return name;
  }

  render(list: DatasetInfo[]): void {
    this.names = new Set(list.map((d) => d.name));
    const sig = list.map((d) => `${d.name}:${d.kind}`).sort().join('|');
    if (sig !== this.signature) {
      this.signature = sig;
      this.rebuild(list);
    }
    for (const d of list) {
      const s = this.strips.get(d.name);
      if (s) this.drawStrip(s, d);
    }
    for (const b of this.tree.querySelectorAll<HTMLButtonElement>('button[data-needs-idle]')) {
      const busy = this.actions.inUse(b.dataset.needsIdle!);
      if (b.disabled !== busy) b.disabled = busy;
    }
  }

  private rebuild(list: DatasetInfo[]): void {
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.key : undefined;
    const children = new Map<string | null, DatasetInfo[]>();
    for (const d of list) {
      const k = d.origin && list.some((x) => x.name === d.origin) ? d.origin : null;
      children.set(k, [...(children.get(k) ?? []), d]);
    }
    this.strips.clear();
    const keep = this.snapSource.value;
    this.snapSource.replaceChildren(...list.filter((d) => d.kind !== 'snapshot').map((d) => h('option', { value: d.name }, d.name)));
    if (keep) this.snapSource.value = keep;
    const build = (parent: string | null): HTMLElement[] =>
      (children.get(parent) ?? [])
        .sort((a, b) => a.id - b.id)
        .map((d) => {
          const li = h('li', { 'data-dataset': d.name, 'data-kind': d.kind }, this.row(d));
          const sub = build(d.name);
          if (sub.length) li.append(h('ul', { role: 'list' }, ...sub));
          return li;
        });
    this.tree.replaceChildren(...build(null));
    if (list.length === 0) this.tree.append(h('li', { class: 'muted' }, 'The pool is empty.'));
    if (focused) this.tree.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  private row(d: DatasetInfo): HTMLElement {
    const act = (text: string, key: string, run: () => Promise<void>, idle = false): HTMLButtonElement => {
      const b = h('button', { type: 'button', 'data-key': `${key}:${d.name}`, 'aria-label': `${text} ${d.name}`, 'data-needs-idle': idle ? d.name : null }, text);
      b.addEventListener('click', () => {
        b.disabled = true;
        run().finally(() => (b.disabled = false));
      });
      return b;
    };
    const row = h(
      'div',
      { class: 'ds-row' },
      h('span', { class: `kind ${d.kind}` }, d.kind),
      h('strong', {}, d.name),
      h('span', { class: 'meta' }, `${formatBytes(d.sizeBytes)} · ${d.blocks} blocks · group ${d.group}`),
    );
    if (d.kind === 'snapshot') row.append(act('Clone', 'clone', () => this.actions.clone(d.name)));
    else row.append(act('Snapshot', 'snap', async () => this.pickForSnapshot(d.name)));
    if (d.kind === 'clone') row.append(act('Boot guest', 'boot', () => this.actions.boot(d.name), true));
    row.append(act('Destroy', 'destroy', () => this.actions.destroy(d.name), true));
    if (d.kind === 'clone') {
      const canvas = h('canvas', { class: 'strip', role: 'img', 'aria-label': `blocks of ${d.name}` });
      const text = h('span', { class: 'strip-text' });
      row.append(h('div', { class: 'ds-strip' }, canvas, text));
      this.strips.set(d.name, { canvas, text, info: d });
    }
    return row;
  }

  private drawStrip(s: { canvas: HTMLCanvasElement; text: HTMLElement }, d: DatasetInfo): void {
    const own = this.actions.own(d.name);
    // Redrawn only when what it shows changed: the poll comes 4×/s.
    const key = `${d.blocks}:${[...own].join(',')}`;
    if (s.canvas.dataset.key === key) return;
    s.canvas.dataset.key = key;
    const cell = Math.max(3, Math.min(10, Math.floor(320 / Math.max(1, d.blocks))));
    const cols = Math.min(d.blocks, Math.floor(320 / cell));
    const rows = Math.ceil(d.blocks / Math.max(1, cols));
    if (s.canvas.width !== cols * cell || s.canvas.height !== rows * cell) {
      s.canvas.width = cols * cell;
      s.canvas.height = rows * cell;
    }
    const ctx = s.canvas.getContext('2d');
    if (!ctx) return;
    for (let lba = 0; lba < d.blocks; lba++) {
      ctx.fillStyle = own.has(lba) ? '#dc2626' : '#64748b';
      ctx.fillRect((lba % cols) * cell, Math.floor(lba / cols) * cell, cell - 1, cell - 1);
    }
    const text = `${own.size} own, ${d.blocks - own.size} shared with ${d.origin ?? 'nothing'}`;
    setText(s.text, text);
    s.canvas.setAttribute('aria-label', `blocks of ${d.name}: ${text}`);
  }
}
