// Runs on the console's main thread. Draws each trust group's frame arena on a canvas:
// one cell per frame — free, filling, resident (nobody maps it), or mapped, shaded by how
// many page-map entries point at it (the reference count, printed in the cell), with a
// gold ring for promoted frames (a gold top line in cells too small for a ring). Cells
// fit the panel's width (down to 5 px, then the panel scrolls), so 2,048 frames stay
// readable. A frame can be highlighted from the page
// maps (hover or focus a block there). A canvas because a big arena redrawn 4×/s as DOM
// would churn; the same facts are in a text summary and in a readout under the pointer.
import type { FrameSummary, GroupSummary } from '../dom0/dom0-service';
import { h, legend, legendKey, setText } from './dom';

const MAX_CELL = 16;
const MIN_CELL = 5;

interface GroupPanel {
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  summary: HTMLElement;
  readout: HTMLElement;
  frames: FrameSummary[];
  cell: number;
  cols: number;
  /** What the canvas shows now (per frame: state, references, promoted; then cell, columns, highlight): redrawn only when it changes. */
  drawn: Int32Array | null;
}

const STATE_CODE: Record<FrameSummary['state'], number> = { free: 0, filling: 1, resident: 2, retired: 3 };

export function describeFrame(info: FrameSummary): string {
  const refs = info.mappedBy.reduce((a, [, c]) => a + c, 0);
  const who = info.mappedBy.map(([d, n]) => `dom ${d}${n > 1 ? ` ×${n}` : ''}`).join(', ');
  return `frame ${info.frame}: ${info.state}${refs ? `, ${refs} reference${refs === 1 ? '' : 's'} (${who})` : info.state === 'resident' ? ', cached, nobody maps it' : ''}${info.promoted ? ', promoted' : ''}`;
}

export class ArenaView {
  readonly root = h('section', { class: 'panel arena', 'aria-labelledby': 'arena-h' }, h('h2', { id: 'arena-h' }, 'Frame arenas: memory, one per trust group'));
  private readonly legend = legend(
    legendKey('free', 'free'),
    legendKey('filling', 'filling'),
    legendKey('resident', 'cached (nobody maps it)'),
    legendKey('mapped1', 'mapped by 1'),
    legendKey('mapped2', 'shared: the number is its references (page-map entries pointing at it)'),
    legendKey('promoted', 'promoted (kept longer)'),
    legendKey('hl', 'the frame of the page-map block under the pointer'),
  );
  private readonly panels = new Map<string, GroupPanel>();
  private readonly empty = h('p', { class: 'muted' }, 'No arena yet: boot a guest.');
  private highlighted: { group: string; frame: number } | null = null;
  private width = 0;

  constructor() {
    this.root.append(this.legend, this.empty);
    // Cached from the observer: reading clientWidth in every poll would force a layout.
    new ResizeObserver((entries) => {
      this.width = entries[0]?.contentRect.width ?? this.width;
      for (const p of this.panels.values()) this.draw(p);
    }).observe(this.root);
  }

  /** Outline one frame (or none), e.g. the one a page-map cell under the pointer maps. */
  highlight(group: string | null, frame: number | null): void {
    const before = this.highlighted;
    this.highlighted = group !== null && frame !== null ? { group, frame } : null;
    for (const p of this.panels.values()) {
      const id = p.root.dataset.group!;
      if (before?.group === id || this.highlighted?.group === id) this.draw(p);
    }
    const p = this.highlighted ? this.panels.get(this.highlighted.group) : undefined;
    const info = p && this.highlighted ? p.frames[this.highlighted.frame] : undefined;
    if (p && info) setText(p.readout, describeFrame(info));
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
        `group ${g.id || 'default'}: ${g.resident} of ${g.frames} frames resident, ${g.mapped} mapped, ${g.promoted} promoted; ${g.fills} fills, ${g.evictions} evictions` +
          (g.incidents > 0 ? `; ${g.incidents} integrity incident${g.incidents === 1 ? '' : 's'} (a corrupted frame found and replaced under its readers)` : ''),
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
    const canvas = h('canvas', { role: 'img', 'aria-label': `frame arena of trust group ${id || 'default'}` });
    const summary = h('p', { class: 'summary', 'data-group': id });
    const readout = h('p', { class: 'readout', 'aria-live': 'off' }, 'Point at a frame (or at a block in a page map) to see who maps it.');
    const scroller = h('div', { class: 'arena-scroll', tabindex: 0, 'aria-label': `Frames of trust group ${id || 'default'}` }, canvas);
    const root = h('figure', { class: 'arena-group', 'data-group': id }, scroller, h('figcaption', {}, summary, readout));
    const panel: GroupPanel = { root, canvas, summary, readout, frames: [], cell: MAX_CELL, cols: 32, drawn: null };
    canvas.addEventListener('mousemove', (ev) => {
      const r = canvas.getBoundingClientRect();
      const f = Math.floor((ev.clientY - r.top) / panel.cell) * panel.cols + Math.floor((ev.clientX - r.left) / panel.cell);
      const info = panel.frames[f];
      if (info) setText(readout, describeFrame(info));
    });
    this.panels.set(id, panel);
    this.root.append(root);
    return panel;
  }

  private draw(p: GroupPanel): void {
    const n = p.frames.length;
    if (n === 0) return;
    const avail = Math.max(120, (this.width || 400) - 30);
    // The largest cell that fits every frame in about 12 rows, within [MIN_CELL, MAX_CELL].
    let cell = MAX_CELL;
    while (cell > MIN_CELL && Math.ceil(n / Math.floor(avail / cell)) * cell > 12 * MAX_CELL) cell--;
    const cols = Math.max(1, Math.floor(avail / cell));
    p.cell = cell;
    p.cols = cols;
    const hl = this.highlighted && this.highlighted.group === p.root.dataset.group ? this.highlighted.frame : -1;
    // A poll comes 4×/s; with idle guests the arena mostly stays as it was.
    const pic = new Int32Array(n + 3);
    for (let f = 0; f < n; f++) {
      const info = p.frames[f]!;
      let refs = 0;
      for (const [, c] of info.mappedBy) refs += c;
      pic[f] = (refs << 3) | ((info.promoted ? 1 : 0) << 2) | STATE_CODE[info.state];
    }
    pic[n] = cell;
    pic[n + 1] = cols;
    pic[n + 2] = hl;
    if (p.drawn && p.drawn.length === pic.length && p.drawn.every((v, i) => v === pic[i])) return;
    p.drawn = pic;
    const rows = Math.ceil(n / cols);
    const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
    const w = cols * cell;
    const hgt = rows * cell;
    if (p.canvas.width !== w * dpr || p.canvas.height !== hgt * dpr) {
      p.canvas.width = w * dpr;
      p.canvas.height = hgt * dpr;
      p.canvas.style.width = `${w}px`;
      p.canvas.style.height = `${hgt}px`;
    }
    const ctx = p.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    ctx.font = `${Math.max(7, cell - 6)}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let f = 0; f < n; f++) {
      const info = p.frames[f]!;
      const x = (f % cols) * cell;
      const y = Math.floor(f / cols) * cell;
      const refs = info.mappedBy.reduce((a, [, c]) => a + c, 0);
      ctx.fillStyle =
        info.state === 'free' ? '#8882' : info.state === 'filling' ? '#eab308' : refs === 0 ? '#94a3b8' : refs === 1 ? '#3b82f6' : '#047857';
      ctx.fillRect(x + 1, y + 1, cell - 2, cell - 2);
      if (info.promoted && cell >= 9) {
        ctx.strokeStyle = '#f59e0b';
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1.5, y + 1.5, cell - 3, cell - 3);
      } else if (info.promoted) {
        // A small cell (a big arena of 4 KiB frames) has room for the ring or the colour,
        // not both: the colour (shared or private) is the story, so promotion gets one line.
        ctx.fillStyle = '#f59e0b';
        ctx.fillRect(x + 1, y + 1, cell - 2, 1);
      }
      if (refs > 1 && cell >= 12) {
        ctx.fillStyle = '#fff';
        ctx.fillText(String(refs), x + cell / 2, y + cell / 2 + 0.5);
      }
    }
    if (hl >= 0 && hl < n) {
      const x = (hl % cols) * cell;
      const y = Math.floor(hl / cols) * cell;
      ctx.strokeStyle = '#e11d48';
      ctx.lineWidth = 3;
      ctx.strokeRect(x - 1, y - 1, cell + 2, cell + 2);
    }
  }
}
