// Runs on the console's main thread. Histogram of guest block-read latency, summed over
// running guests (each guest times its own reads: guest/workloads/tar-guest.ts). Plain DOM
// bars: twelve of them, updated in place.
import { bucketLabel, LATENCY_EDGES_US, type LatencySnapshot } from '../../shared/latency-buckets';
import { h, setText } from './dom';

export class LatencyView {
  readonly root = h('section', { class: 'panel latency', 'aria-labelledby': 'lat-h' }, h('h2', { id: 'lat-h' }, 'Guest read latency'));
  private readonly bars: { bar: HTMLElement; count: HTMLElement }[] = [];
  private readonly total = h('p', { class: 'summary' });

  constructor() {
    const list = h('ol', { class: 'histogram' });
    for (let i = 0; i < LATENCY_EDGES_US.length; i++) {
      const bar = h('span', { class: 'bar' });
      const count = h('span', { class: 'count' });
      list.append(h('li', {}, h('span', { class: 'bucket' }, bucketLabel(i)), h('span', { class: 'track' }, bar), count));
      this.bars.push({ bar, count });
    }
    this.root.append(list, this.total, h('p', { class: 'muted' }, 'Times are coarsened to about 5 µs under cross-origin isolation: a mapping-cache hit lands in the first bucket.'));
  }

  render(per: Map<number, LatencySnapshot>): void {
    const sums = new Array<number>(LATENCY_EDGES_US.length).fill(0);
    let total = 0;
    let cached = 0;
    for (const l of per.values()) {
      l.counts.forEach((c, i) => (sums[i]! += c));
      total += l.total;
      cached += l.cached;
    }
    const max = Math.max(1, ...sums);
    sums.forEach((c, i) => {
      const b = this.bars[i]!;
      b.bar.style.width = `${c === 0 ? 0 : Math.max(1, (Math.log1p(c) / Math.log1p(max)) * 100)}%`;
      setText(b.count, String(c));
    });
    setText(this.total, `${total} reads by ${per.size} guest${per.size === 1 ? '' : 's'}; ${cached} answered by the guests' mapping caches (no request). Bars are log-scaled.`);
  }
}
