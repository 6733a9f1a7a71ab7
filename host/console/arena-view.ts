// Runs on the console's main thread. Draws each trust group's frame arena on a canvas:
// one cell per frame — free, filling, resident (nobody maps it), or mapped, shaded by how
// many domains map it (the reference count, printed in the cell), with a gold ring for
// promoted frames. A canvas because a 512-frame arena redrawn 4×/s as DOM would churn;
// the same facts are in a text summary for screen readers and in a hover tooltip.
import type { FrameSummary, GroupSummary } from '../dom0/dom0-service';
import { h, setText } from './dom';

const CELL = 14;
const COLS = 32;

interface GroupPanel {
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  summary: HTMLElement;
  frames: FrameSummary[];
}

export class ArenaView {
  readonly root = h('section', { class: 'panel arena', 'aria-labelledby': 'arena-h' }, h('h2', { id: 'arena-h' }, 'Frame arenas (one per trust group)'));
  private readonly legend = h(
    'p',
    { class: 'legend' },
    h('span', { class: 'sw free' }), 'free ',
    h('span', { class: 'sw resident' }), 'resident, unmapped ',
    h('span', { class: 'sw mapped1' }), 'mapped by 1 ',
    h('span', { class: 'sw mapped2' }), 'shared (number = references: page-map entries pointing at it) ',
    h('span', { class: 'sw promoted' }), 'promoted',
  );
  private readonly panels = new Map<string, GroupPanel>();
  private readonly empty = h('p', { class: 'muted' }, 'No arena yet: spawn a guest.');

  constructor() {
    this.root.append(this.legend, this.empty);
  }

  render(groups: GroupSummary[], frames: Map<string, FrameSummary[]>): void {
    this.empty.hidden = groups.length > 0;
    for (const g of groups) {
      const list = frames.get(g.id);
      if (!list) continue;
      const panel = this.panels.get(g.id) ?? this.addPanel(g.id);
      panel.frames = list;
      setText(
        panel.summary,
        `group ${g.id}: ${g.resident} of ${g.frames} frames resident, ${g.mapped} mapped, ${g.promoted} promoted; ${g.fills} fills, ${g.evictions} evictions${g.incidents ? `; ${g.incidents} corrupt frames replaced` : ''}`,
      );
      this.draw(panel);
    }
    for (const [id, p] of this.panels) {
      if (!groups.some((g) => g.id === id)) {
        p.root.remove();
        this.panels.delete(id);
      }
    }
  }

  private addPanel(id: string): GroupPanel {
    const canvas = h('canvas', { role: 'img', 'aria-label': `frame arena of trust group ${id}` });
    const summary = h('p', { class: 'summary', 'data-group': id });
    const root = h('figure', { class: 'arena-group', 'data-group': id }, canvas, h('figcaption', {}, summary));
    const panel: GroupPanel = { root, canvas, summary, frames: [] };
    canvas.addEventListener('mousemove', (ev) => {
      const r = canvas.getBoundingClientRect();
      const f = Math.floor((ev.clientY - r.top) / CELL) * COLS + Math.floor((ev.clientX - r.left) / CELL);
      const info = panel.frames[f];
      canvas.title = info
        ? `frame ${f}: ${info.state}${info.key ? ` ${info.key}` : ''}, gen ${info.generation}, mapped by ${info.mappedBy.map(([d, n]) => `dom ${d}${n > 1 ? `×${n}` : ''}`).join(', ') || 'nobody'}${info.promoted ? ', promoted' : ''}`
        : '';
    });
    this.panels.set(id, panel);
    this.root.append(root);
    return panel;
  }

  private draw(p: GroupPanel): void {
    const n = p.frames.length;
    const rows = Math.ceil(n / COLS);
    const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
    const w = COLS * CELL;
    const hgt = rows * CELL;
    if (p.canvas.width !== w * dpr) {
      p.canvas.width = w * dpr;
      p.canvas.height = hgt * dpr;
      p.canvas.style.width = `${w}px`;
      p.canvas.style.height = `${hgt}px`;
    }
    const ctx = p.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    ctx.font = '9px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let f = 0; f < n; f++) {
      const info = p.frames[f]!;
      const x = (f % COLS) * CELL;
      const y = Math.floor(f / COLS) * CELL;
      const refs = info.mappedBy.reduce((a, [, c]) => a + c, 0);
      ctx.fillStyle =
        info.state === 'free' ? '#8882' : info.state === 'filling' ? '#eab308' : refs === 0 ? '#94a3b8' : refs === 1 ? '#3b82f6' : '#047857';
      ctx.fillRect(x + 1, y + 1, CELL - 2, CELL - 2);
      if (info.promoted) {
        ctx.strokeStyle = '#f59e0b';
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1.5, y + 1.5, CELL - 3, CELL - 3);
      }
      if (refs > 1) {
        ctx.fillStyle = '#fff';
        ctx.fillText(String(refs), x + CELL / 2, y + CELL / 2 + 0.5);
      }
    }
  }
}
