// Runs on the console's main thread. The numbers that tell the story: how often dom0 went
// to the pool, how many bytes guests got as views instead of copies, and the memory the
// arena uses against what giving every domain its own copy would use.
import type { Dom0Stats } from '../dom0/dom0-service';
import { formatBytes, h, setText } from './dom';

const FIELDS = [
  ['poolReads', 'Pool reads', 'blocks dom0 read from IndexedDB'],
  ['resident', 'Resident frames', 'blocks in memory, across trust groups'],
  ['bytesShared', 'Bytes not copied', 'handed to guests as views onto shared memory'],
  ['bytesCopied', 'Bytes copied', 'sent to guests as copies (copy transport)'],
  ['memUsed', 'Memory used', 'resident frames × block size'],
  ['memCopy', 'If every domain copied', 'mapped blocks × block size, summed over domains'],
  ['dedup', 'Pool dedup ratio', 'logical bytes / stored bytes'],
  ['domains', 'Domains', 'running guests'],
  ['faults', 'Faults', 'domains stopped for misbehaving'],
] as const;

type Key = (typeof FIELDS)[number][0];

export class CountersView {
  readonly root = h('section', { class: 'panel counters', 'aria-labelledby': 'ct-h' }, h('h2', { id: 'ct-h' }, 'Counters'));
  private readonly cells = new Map<Key, HTMLElement>();
  private readonly bar = h('div', { class: 'mem-bar', role: 'img', 'aria-label': 'memory used against copying' }, h('span', { class: 'used' }));

  constructor() {
    const dl = h('dl', {});
    for (const [key, label, help] of FIELDS) {
      const dd = h('dd', { 'data-counter': key });
      this.cells.set(key, dd);
      dl.append(h('div', { class: 'counter' }, h('dt', { title: help }, label), dd));
    }
    this.root.append(dl, this.bar);
  }

  render(s: Dom0Stats): void {
    const resident = s.groups.reduce((a, g) => a + g.resident, 0);
    const memUsed = s.groups.reduce((a, g) => a + g.resident * g.frameBytes, 0);
    const frameBytes = new Map(s.groups.map((g) => [g.id, g.frameBytes]));
    const memCopy = s.domains.reduce((a, d) => a + d.mapped * (frameBytes.get(d.group) ?? 0), 0);
    const values: Record<Key, string> = {
      poolReads: String(s.driver.poolReads),
      resident: String(resident),
      bytesShared: formatBytes(s.driver.bytesShared),
      bytesCopied: formatBytes(s.driver.bytesCopied),
      memUsed: formatBytes(memUsed),
      memCopy: formatBytes(memCopy),
      dedup: `${s.pool.dedupRatio.toFixed(2)}×`,
      domains: String(s.domains.length),
      faults: String(s.driver.faults),
    };
    for (const [k, el] of this.cells) setText(el, values[k]);
    const used = this.bar.firstElementChild as HTMLElement;
    const pct = memCopy === 0 ? 100 : Math.min(100, (memUsed / Math.max(memCopy, memUsed)) * 100);
    used.style.width = `${pct.toFixed(1)}%`;
    this.bar.setAttribute('aria-label', `memory used ${formatBytes(memUsed)} against ${formatBytes(memCopy)} if every domain copied`);
  }
}
