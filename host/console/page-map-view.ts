// Runs on the console's main thread. Each domain's page map as a strip of cells, one per
// LBA: empty when unmapped, else coloured by the frame it maps — so domains sharing a
// frame show the same colour in the same column, and a copy-on-write divergence shows as
// one odd cell. Own (written) blocks get a red underline. The strips zoom (cell width)
// and scroll inside the panel, so 1,000+ blocks × 32 guests fit; hovering or focusing a
// cell (arrow keys move along and between strips) names the frame and outlines it in the
// arena view.
import type { DomainSummary, FrameSummary } from '../dom0/dom0-service';
import { describeFrame } from './arena-view';
import { h, legend, legendKey, setText } from './dom';

const ROW = 12;

interface Row {
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  label: HTMLElement;
  map: Int32Array;
  group: string;
  own: Set<number>;
  name: string;
  /** What the canvas shows now: redrawn only when this changes. */
  drawn: { map: Int32Array; own: string; cw: number; cursor: number } | null;
}

export class PageMapView {
  readonly root = h('section', { class: 'panel page-maps', 'aria-labelledby': 'pm-h' }, h('h2', { id: 'pm-h' }, 'Page maps: each guest’s blocks → frames'));
  private readonly rows = new Map<number, Row>();
  private readonly list = h('div', { class: 'pm-list' });
  private readonly scroller = h('div', { class: 'pm-scroll' }, this.list);
  private readonly empty = h('p', { class: 'muted' }, 'No guests running.');
  private readonly readout = h('p', { class: 'readout', id: 'pm-readout' }, 'Point at a block (or focus a strip and use the arrow keys) to see its frame.');
  private readonly zoomText = h('span', { class: 'zoom-text' });
  private zoom = 0; // px per block; 0 = fit the panel
  private width = 0;
  private cursor: { id: number; lba: number } | null = null;
  private frames = new Map<string, FrameSummary[]>();

  constructor(private readonly onFrame: (group: string | null, frame: number | null) => void) {
    const zoomBtn = (label: string, text: string, f: (z: number) => number) => {
      const b = h('button', { type: 'button', 'aria-label': label, class: 'zoom' }, text);
      b.addEventListener('click', () => {
        this.zoom = Math.max(1, Math.min(16, f(this.cellWidth(this.maxBlocks()))));
        this.redraw();
      });
      return b;
    };
    const fit = h('button', { type: 'button', class: 'zoom' }, 'Fit');
    fit.addEventListener('click', () => {
      this.zoom = 0;
      this.redraw();
    });
    this.root.append(
      legend(
        'Colour = which frame a block maps: the same colour in the same column is one shared frame.',
        legendKey('hole', 'not read yet'),
        legendKey('own', 'underlined: written by this guest (its private block)'),
      ),
      h('div', { class: 'zoom-bar', role: 'group', 'aria-label': 'Zoom the page maps' }, zoomBtn('Zoom out', '−', (z) => z / 2), zoomBtn('Zoom in', '+', (z) => z * 2), fit, this.zoomText),
      this.empty,
      this.scroller,
      this.readout,
    );
    // The width is cached from the observer: reading clientWidth in every poll's render
    // would force a layout of the whole page.
    new ResizeObserver((entries) => {
      this.width = entries[0]?.contentRect.width ?? this.width;
      this.redraw();
    }).observe(this.scroller);
  }

  render(
    domains: DomainSummary[],
    maps: Map<number, Int32Array>,
    own: (dataset: string) => Set<number>,
    frames: Map<string, FrameSummary[]>,
    nameOf: (id: number) => string | null,
  ): void {
    this.frames = frames;
    this.empty.hidden = domains.length > 0;
    for (const d of domains) {
      const map = maps.get(d.id);
      if (!map) continue;
      const row = this.rows.get(d.id) ?? this.addRow(d);
      row.map = map;
      row.group = d.group;
      row.own = own(d.dataset);
      row.name = nameOf(d.id) ?? `dom ${d.id}`;
      let mapped = 0;
      for (const f of map) if (f >= 0) mapped++;
      setText(row.label, `${row.name} · ${mapped}/${map.length}${d.fault ? ' · FAULT' : ''}`);
      const title = `dom ${d.id} · ${d.dataset} · group ${d.group || 'default'}${d.fault ? ` · ${d.fault}` : ''}`;
      if (row.label.title !== title) row.label.title = title;
    }
    for (const [id, r] of this.rows) {
      if (!domains.some((d) => d.id === id)) {
        r.root.remove();
        this.rows.delete(id);
      }
    }
    this.redraw();
  }

  private maxBlocks(): number {
    let n = 1;
    for (const r of this.rows.values()) n = Math.max(n, r.map.length);
    return n;
  }

  private cellWidth(blocks: number): number {
    if (this.zoom > 0) return this.zoom;
    const avail = Math.max(100, this.width - 110);
    return Math.max(1, Math.min(16, Math.floor(avail / blocks)));
  }

  private redraw(): void {
    const cw = this.cellWidth(this.maxBlocks());
    setText(this.zoomText, `${cw} px per block${this.zoom === 0 ? ' (fit)' : ''}`);
    for (const [id, r] of this.rows) this.draw(id, r, cw);
  }

  private addRow(d: DomainSummary): Row {
    const label = h('span', { class: 'pm-label' });
    const canvas = h('canvas', { tabindex: 0, 'aria-label': `page map of domain ${d.id}; arrow keys move between blocks`, 'aria-describedby': 'pm-readout' });
    const root = h('div', { class: 'pm-row', 'data-domain': d.id }, label, canvas);
    const row: Row = { root, canvas, label, map: new Int32Array(0), group: d.group, own: new Set(), name: `dom ${d.id}`, drawn: null };
    const at = (ev: MouseEvent) => Math.floor((ev.clientX - canvas.getBoundingClientRect().left) / this.cellWidth(this.maxBlocks()));
    canvas.addEventListener('mousemove', (ev) => this.point(d.id, at(ev)));
    canvas.addEventListener('mouseleave', () => this.point(null, 0));
    canvas.addEventListener('focus', () => this.point(d.id, this.cursor?.id === d.id ? this.cursor.lba : 0));
    canvas.addEventListener('blur', () => this.point(null, 0));
    canvas.addEventListener('keydown', (ev) => {
      const lba = this.cursor?.lba ?? 0;
      const ids = [...this.rows.keys()].sort((a, b) => a - b);
      const i = ids.indexOf(d.id);
      const step: Record<string, () => void> = {
        ArrowRight: () => this.point(d.id, lba + 1),
        ArrowLeft: () => this.point(d.id, lba - 1),
        Home: () => this.point(d.id, 0),
        End: () => this.point(d.id, row.map.length - 1),
        ArrowDown: () => this.moveTo(ids[i + 1], lba),
        ArrowUp: () => this.moveTo(ids[i - 1], lba),
      };
      const f = step[ev.key];
      if (f) {
        ev.preventDefault();
        f();
      }
    });
    const after = [...this.list.children].find((el) => Number((el as HTMLElement).dataset.domain) > d.id);
    this.list.insertBefore(root, after ?? null);
    this.rows.set(d.id, row);
    return row;
  }

  private moveTo(id: number | undefined, lba: number): void {
    if (id === undefined) return;
    const r = this.rows.get(id);
    if (!r) return;
    this.cursor = { id, lba };
    r.canvas.focus();
  }

  /** Show block `lba` of domain `id` (null: nothing) in the readout and the arena. */
  private point(id: number | null, lba: number): void {
    const r = id === null ? undefined : this.rows.get(id);
    if (!r || id === null) {
      this.cursor = null;
      this.onFrame(null, null);
      this.redraw();
      return;
    }
    const at = Math.max(0, Math.min(r.map.length - 1, lba));
    this.cursor = { id, lba: at };
    const f = r.map[at] ?? -1;
    const own = r.own.has(at) ? ' — written by this guest, private to its clone' : '';
    const info = f >= 0 ? this.frames.get(r.group)?.[f] : undefined;
    setText(this.readout, f < 0 ? `${r.name}, block ${at}: not mapped (not read yet, or dropped)${own}` : `${r.name}, block ${at} → ${info ? describeFrame(info) : `frame ${f}`}${own}`);
    this.onFrame(f >= 0 ? r.group : null, f >= 0 ? f : null);
    this.redraw();
    const cw = this.cellWidth(this.maxBlocks());
    const x = at * cw;
    const sc = this.scroller;
    const left = r.canvas.offsetLeft + x;
    if (left < sc.scrollLeft || left > sc.scrollLeft + sc.clientWidth - 20) sc.scrollLeft = Math.max(0, left - sc.clientWidth / 2);
  }

  /**
   * Paint one strip as pixels (ImageData): thousands of fillRect calls with distinct
   * colour strings cost far more than one buffer. Only a strip whose picture changed is
   * painted (a poll comes 4×/s, and most strips of idle guests stay the same), onto a
   * canvas kept in memory (`willReadFrequently`), where putImageData is a copy rather than
   * an upload to the GPU.
   */
  private draw(id: number, r: Row, cw: number): void {
    const map = r.map;
    const cursor = this.cursor?.id === id ? this.cursor.lba : -1;
    const own = r.own.size === 0 ? '' : [...r.own].join(',');
    const d = r.drawn;
    if (d && d.cw === cw && d.cursor === cursor && d.own === own && sameMap(d.map, map)) return;
    r.drawn = { map, own, cw, cursor };
    const w = Math.max(1, map.length * cw);
    if (r.canvas.width !== w || r.canvas.height !== ROW) {
      r.canvas.width = w;
      r.canvas.height = ROW;
    }
    const ctx = r.canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    const img = ctx.createImageData(w, ROW);
    const px = new Uint32Array(img.data.buffer);
    const gap = cw >= 4 ? 1 : 0;
    const fill = (x0: number, x1: number, y0: number, y1: number, c: number): void => {
      for (let y = y0; y < y1; y++) px.fill(c, y * w + x0, y * w + x1);
    };
    for (let lba = 0; lba < map.length; lba++) {
      const x = lba * cw;
      const f = map[lba]!;
      if (f >= 0) fill(x, x + cw - gap, 0, ROW - 3, frameColour(f));
      else fill(x, x + cw - gap, 3, ROW - 3, HOLE);
      if (r.own.has(lba)) fill(x, Math.min(w, x + Math.max(cw - gap, 2)), ROW - 3, ROW, OWN);
    }
    if (this.cursor?.id === id) {
      const x0 = Math.max(0, this.cursor.lba * cw - 1);
      const x1 = Math.min(w, this.cursor.lba * cw + cw + 1);
      fill(x0, x1, 0, 2, CURSOR);
      fill(x0, x1, ROW - 2, ROW, CURSOR);
    }
    ctx.putImageData(img, 0, 0);
  }
}

function sameMap(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An RGBA pixel (little-endian: 0xAABBGGRR). */
function rgba(r: number, g: number, b: number, a = 255): number {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

const HOLE = rgba(136, 136, 136, 80);
const OWN = rgba(220, 38, 38);
const CURSOR = rgba(225, 29, 72);
const colours = new Map<number, number>();

/** The frame's colour: the same hue as dom.ts's hue(frame + 1), as a pixel. */
function frameColour(frame: number): number {
  let c = colours.get(frame);
  if (c === undefined) {
    const hDeg = ((frame + 1) * 137.508) % 360;
    const [s, l] = [0.65, 0.5];
    const k = (n: number) => (n + hDeg / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    const ch = (n: number) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1))));
    c = rgba(ch(0), ch(8), ch(4));
    colours.set(frame, c);
  }
  return c;
}
