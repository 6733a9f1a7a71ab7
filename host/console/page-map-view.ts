// Runs on the console's main thread. Each domain's page map as a row of cells, one per
// LBA: empty when unmapped, else coloured by the frame it maps — so domains sharing a
// frame show the same colour in the same column, and a copy-on-write divergence shows
// as one odd cell. Own (written) blocks get a red underline.
import type { DomainSummary } from '../dom0/dom0-service';
import { h, hue, setText } from './dom';

const CELL = 16;
const MAX_COLS = 64;

interface Row {
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  label: HTMLElement;
}

export class PageMapView {
  readonly root = h('section', { class: 'panel page-maps', 'aria-labelledby': 'pm-h' }, h('h2', { id: 'pm-h' }, 'Page maps (LBA → frame)'));
  private readonly rows = new Map<number, Row>();
  private readonly empty = h('p', { class: 'muted' }, 'No domains running.');

  constructor() {
    this.root.append(this.empty);
  }

  render(domains: DomainSummary[], maps: Map<number, Int32Array>, own: (dataset: string) => Set<number>): void {
    this.empty.hidden = domains.length > 0;
    for (const d of domains) {
      const map = maps.get(d.id);
      if (!map) continue;
      const row = this.rows.get(d.id) ?? this.addRow(d);
      let mapped = 0;
      for (const f of map) if (f >= 0) mapped++;
      setText(row.label, `dom ${d.id} · ${d.dataset} · ${d.group} · ${mapped}/${map.length} mapped${d.fault ? ` · FAULT: ${d.fault}` : ''}`);
      this.draw(row.canvas, map, own(d.dataset));
    }
    for (const [id, r] of this.rows) {
      if (!domains.some((d) => d.id === id)) {
        r.root.remove();
        this.rows.delete(id);
      }
    }
  }

  private addRow(d: DomainSummary): Row {
    const label = h('span', { class: 'pm-label' });
    const canvas = h('canvas', { role: 'img', 'aria-label': `page map of domain ${d.id}` });
    const root = h('div', { class: 'pm-row', 'data-domain': d.id }, label, canvas);
    this.root.append(root);
    const row = { root, canvas, label };
    this.rows.set(d.id, row);
    return row;
  }

  private draw(canvas: HTMLCanvasElement, map: Int32Array, own: Set<number>): void {
    const cols = Math.min(MAX_COLS, map.length);
    const rows = Math.ceil(map.length / cols);
    const w = cols * CELL;
    const hgt = rows * CELL;
    if (canvas.width !== w || canvas.height !== hgt) {
      canvas.width = w;
      canvas.height = hgt;
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, w, hgt);
    for (let lba = 0; lba < map.length; lba++) {
      const x = (lba % cols) * CELL;
      const y = Math.floor(lba / cols) * CELL;
      const f = map[lba]!;
      if (f >= 0) {
        ctx.fillStyle = hue(f + 1);
        ctx.fillRect(x + 1, y + 1, CELL - 2, CELL - 2);
      } else {
        ctx.strokeStyle = '#8886';
        ctx.strokeRect(x + 1.5, y + 1.5, CELL - 3, CELL - 3);
      }
      if (own.has(lba)) {
        ctx.fillStyle = '#dc2626';
        ctx.fillRect(x + 1, y + CELL - 3, CELL - 2, 2);
      }
    }
  }
}
