// Runs on the console's main thread. The archive and cold tier (seed 004: snapshots in a
// log-structured data tier with content-addressed metadata; superseded chunks of old
// snapshots moved to a cheaper cold tier): archive a snapshot, restore an archived one into
// a new volume, clean segments, tier old snapshots, and bytes per tier. Refreshed after each
// action, not at the 4×/s poll: opening the archive touches OPFS and is not free.
import type { ArchiveApi } from '../page/facades';
import type { ArchiveServiceStats } from '../archive/archive-service';
import { formatBytes, h, setText } from './dom';

export class ArchiveView {
  readonly root = h('section', { class: 'panel archive', 'aria-labelledby': 'ar-h' }, h('h2', { id: 'ar-h' }, 'Archive and cold tier'));
  private readonly snapshotSelect = h('select', { id: 'archive-snapshot' });
  private readonly tierAge = h('input', { id: 'tier-age', type: 'number', min: 0, value: 0, style: 'width: 5em' });
  private readonly tiers = h('dl', { class: 'tiers' });
  private readonly list = h('ul', { class: 'archived', role: 'list' });
  private readonly status = h('output', { id: 'archive-status', 'aria-live': 'polite' });
  private readonly progress = h('progress', { id: 'archive-progress', max: 1, value: 0, hidden: true });
  private busy = false;

  constructor(
    /** The hypervisor's archive; a getter because the view is laid out before the hypervisor starts. */
    private readonly archiveOf: () => ArchiveApi,
    private readonly announce: (text: string) => void,
    private readonly changed: () => Promise<unknown>,
  ) {
    const button = (label: string, id: string, run: () => Promise<void>) =>
      h('button', { type: 'button', id, onclick: () => void this.act(run) }, label);
    this.root.append(
      h('div', { class: 'row' },
        h('label', { for: 'archive-snapshot' }, 'Snapshot'),
        this.snapshotSelect,
        button('Archive', 'archive-btn', () => this.archive()),
      ),
      h('div', { class: 'row' },
        button('Clean (cost-benefit)', 'clean-cb-btn', () => this.clean('cost-benefit')),
        button('Clean (greedy)', 'clean-greedy-btn', () => this.clean('greedy')),
        h('label', { for: 'tier-age' }, 'Tier snapshots older than (s)'),
        this.tierAge,
        button('Tier', 'tier-btn', () => this.tier()),
      ),
      this.progress,
      this.status,
      this.tiers,
      h('h3', {}, 'Archived snapshots'),
      this.list,
    );
  }

  /** Offer the pool's snapshots for archiving (called from the console's poll). */
  setSnapshots(names: string[]): void {
    const sig = names.join('|');
    if (this.snapshotSelect.dataset.sig === sig) return;
    const keep = this.snapshotSelect.value;
    this.snapshotSelect.dataset.sig = sig;
    this.snapshotSelect.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    if (names.includes(keep)) this.snapshotSelect.value = keep;
  }

  async refresh(): Promise<void> {
    const s = await this.archiveOf().stats();
    this.render(s);
  }

  private render(s: ArchiveServiceStats): void {
    const warm = s.tiers.warm;
    const cold = s.tiers.cold;
    this.tiers.replaceChildren(
      h('dt', {}, `Warm (${s.backend}, log-structured segments)`),
      h('dd', { 'data-tier': 'warm' }, `${formatBytes(warm.bytes)} in ${warm.segments} segments, ${formatBytes(warm.liveBytes)} live`),
      h('dt', {}, 'Cold (gzip-compressed)'),
      h('dd', { 'data-tier': 'cold' }, `${formatBytes(cold.bytes)} for ${cold.chunks} chunks, ${formatBytes(cold.liveBytes)} live`),
    );
    this.list.replaceChildren(
      ...s.snapshots.map((snap) =>
        h('li', { 'data-archived': snap.name },
          h('strong', {}, snap.name),
          ` ${formatBytes(snap.sizeBytes ?? 0)} · ${snap.chunks} chunks (${snap.coldChunks} cold) · ${new Date(snap.archivedAt).toLocaleTimeString()} `,
          h('button', { type: 'button', onclick: () => void this.act(() => this.restore(snap.name)) }, 'Restore as a new volume'),
        ),
      ),
    );
  }

  private async archive(): Promise<void> {
    const snap = this.snapshotSelect.value;
    if (!snap) throw new Error('no snapshot to archive: take one first');
    this.progress.hidden = false;
    const r = await this.archiveOf().save(snap, {
      onProgress: (p) => {
        this.progress.max = Math.max(1, p.blocksTotal);
        this.progress.value = p.blocksDone;
      },
    });
    this.say(`Archived ${r.name}: ${r.chunksWritten} chunks written (${formatBytes(r.bytesWritten)}), ${r.chunksReused} already in the archive.`);
  }

  private async restore(name: string): Promise<void> {
    const volume = `${name.replace(/@.*/, '')}-restored-${Date.now().toString(36)}`;
    this.progress.hidden = false;
    const r = await this.archiveOf().restore(name, volume, {
      onProgress: (p) => {
        this.progress.max = Math.max(1, p.blocksTotal);
        this.progress.value = p.blocksDone;
      },
    });
    this.say(`Restored ${name} into volume ${r.volume.name}: ${r.blocks} blocks, ${formatBytes(r.bytesWritten)} written, every chunk verified.`);
  }

  private async clean(policy: 'cost-benefit' | 'greedy'): Promise<void> {
    const r = await this.archiveOf().clean(policy);
    this.say(
      r.victims.length > 0
        ? `Cleaned (${policy}): ${r.victims.length} segments, ${formatBytes(r.bytesRead)} read, ${r.recordsCopied} live chunks (${formatBytes(r.bytesCopied)}) copied forward, ${formatBytes(r.bytesFreed)} freed.`
        : `Nothing to clean (${policy}): no sealed segment has dead space yet.`,
    );
  }

  private async tier(): Promise<void> {
    const ageMs = Math.max(0, Number(this.tierAge.value) || 0) * 1000;
    const r = await this.archiveOf().tier(ageMs);
    this.say(
      r.chunksMoved > 0
        ? `Moved ${r.chunksMoved} superseded chunks of ${r.snapshots.join(', ')} to the cold tier (${formatBytes(r.bytesIn)} → ${formatBytes(r.bytesOut)} compressed).`
        : 'Nothing to tier: a snapshot moves only when it is old enough and a newer snapshot of its volume is archived.',
    );
  }

  private say(text: string): void {
    setText(this.status, text);
    this.announce(text);
  }

  private async act(run: () => Promise<void>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.root.setAttribute('aria-busy', 'true');
    try {
      await run();
    } catch (err: unknown) {
      this.say(`Failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.busy = false;
      this.progress.hidden = true;
      this.root.removeAttribute('aria-busy');
      await this.refresh().catch(() => undefined);
      await this.changed().catch(() => undefined);
    }
  }
}
