// Runs on the console's main thread. The numbers that tell the story, each with its
// definition written under it (not in a hover title): memory the guests' mappings take
// shared against what the same mappings would take if each guest held its own copy, what
// the arena holds, bytes handed out as views against bytes copied, and the pool's dedup
// ratio computed from content (logical bytes ÷ bytes of distinct content stored).
import type { Dom0Stats, FrameSummary } from '../dom0/dom0-service';
import type { DatasetInfo } from '../pool';
import { formatBytes, h, setText } from './dom';

const FIELDS = [
  ['memShared', 'Memory for what guests map', 'distinct frames mapped by any guest × their size (64 KiB; 4 KiB for SQL pages): one copy, however many read it'],
  ['memCopy', 'If each guest copied', 'frames each guest holds, summed over guests, × their size'],
  ['resident', 'Arena resident', 'frames holding a block (mapped or cached), all trust groups'],
  ['bytesShared', 'Bytes handed out as views', 'zero-copy reads: no byte copied'],
  ['bytesCopied', 'Bytes copied', 'copy-transport reads: every byte copied into the guest'],
  ['poolReads', 'Pool reads', 'blocks dom0 read from IndexedDB into a frame'],
  ['dedup', 'Pool dedup ratio', 'logical bytes ÷ bytes stored; logical = every volume + each clone’s own blocks'],
  ['domains', 'Guests running', 'domains with a live guest worker'],
  ['faults', 'Faults', 'domains stopped for misbehaving'],
  ['incidents', 'Integrity incidents', 'corrupted frames found in an arena and replaced under their readers'],
] as const;

type Key = (typeof FIELDS)[number][0];

/** Logical bytes: every volume's blocks (not snapshots: they freeze blocks a volume has) plus each clone's own blocks. */
export function logicalBytes(datasets: readonly DatasetInfo[], ownBlocks: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const d of datasets) {
    if (d.kind === 'volume') n += Math.min(d.sizeBytes, d.writtenBlocks * d.blockSize);
    else if (d.kind === 'clone') n += (ownBlocks.get(d.name) ?? 0) * d.blockSize;
  }
  return n;
}

export class CountersView {
  readonly root = h('section', { class: 'panel counters', 'aria-labelledby': 'ct-h' }, h('h2', { id: 'ct-h' }, 'Counters'));
  private readonly cells = new Map<Key, HTMLElement>();
  private readonly barUsed = h('span', { class: 'used' });
  private readonly barCopy = h('span', { class: 'copy' });
  private readonly barText = h('p', { class: 'bar-text', id: 'mem-compare' });

  constructor() {
    const dl = h('dl', {});
    for (const [key, label, help] of FIELDS) {
      const dd = h('dd', { 'data-counter': key });
      this.cells.set(key, dd);
      dl.append(h('div', { class: 'counter' }, h('dt', {}, label), dd, h('dd', { class: 'def' }, help)));
    }
    this.root.append(
      h(
        'figure',
        { class: 'mem-compare' },
        h('figcaption', {}, 'Memory: shared vs if each guest copied'),
        h('div', { class: 'mem-row' }, h('span', { class: 'mem-label' }, 'shared'), h('span', { class: 'mem-track' }, this.barUsed)),
        h('div', { class: 'mem-row' }, h('span', { class: 'mem-label' }, 'copied'), h('span', { class: 'mem-track' }, this.barCopy)),
        this.barText,
      ),
      dl,
    );
  }

  render(s: Dom0Stats, datasets: readonly DatasetInfo[], ownBlocks: ReadonlyMap<string, number>, frames: ReadonlyMap<string, FrameSummary[]>): void {
    const resident = s.groups.reduce((a, g) => a + g.resident, 0);
    const frameBytes = new Map(s.groups.map((g) => [g.id, g.frameBytes]));
    let memShared = 0;
    for (const [group, list] of frames) {
      const fb = frameBytes.get(group) ?? 0;
      for (const f of list) if (f.mappedBy.length > 0) memShared += fb;
    }
    const memCopy = s.domains.reduce((a, d) => a + d.mapped * (frameBytes.get(d.group) ?? 0), 0);
    const residentBytes = s.groups.reduce((a, g) => a + g.resident * g.frameBytes, 0);
    const logical = logicalBytes(datasets, ownBlocks);
    const stored = s.pool.storedBytes;
    const values: Record<Key, string> = {
      memShared: formatBytes(memShared),
      memCopy: formatBytes(memCopy),
      resident: `${resident} (${formatBytes(residentBytes)})`,
      bytesShared: formatBytes(s.driver.bytesShared),
      bytesCopied: formatBytes(s.driver.bytesCopied),
      poolReads: String(s.driver.poolReads),
      dedup: stored === 0 ? '—' : `${(logical / stored).toFixed(2)}× (${formatBytes(logical)} ÷ ${formatBytes(stored)})`,
      domains: String(s.domains.length),
      faults: String(s.driver.faults),
      incidents: String(s.groups.reduce((a, g) => a + g.incidents, 0)),
    };
    for (const [k, el] of this.cells) setText(el, values[k]);
    const max = Math.max(memShared, memCopy, 1);
    this.barUsed.style.width = `${((memShared / max) * 100).toFixed(1)}%`;
    this.barCopy.style.width = `${((memCopy / max) * 100).toFixed(1)}%`;
    const saved = memCopy > 0 ? ` — ${(memCopy / Math.max(memShared, 1)).toFixed(1)}× less with sharing` : '';
    setText(this.barText, `${formatBytes(memShared)} shared vs ${formatBytes(memCopy)} if each guest copied${saved}`);
  }
}
