// Runs on the console's main thread. The archive, in plain words: copy a snapshot out of
// the pool into the archive (only blocks the archive does not have yet are written), bring
// an archived snapshot back as a new volume and boot a guest on it, reclaim the space of
// deleted or replaced data, and move old versions' replaced blocks to compressed storage.
// The engine's words (segments, live bytes, cost-benefit cleaning, cold tier) stay in
// docs/archive.md. Refreshed after each action, not at the 4×/s poll: opening the archive
// touches OPFS and is not free.
import type { ArchiveApi } from '../page/facades';
import type { ArchiveServiceStats } from '../archive/archive-service';
import { formatBytes, h, setText } from './dom';

/** Ages offered for "compress replaced blocks of versions archived …"; the default is the second (short: a demo's versions are minutes old). */
export const TIER_AGES: readonly { label: string; ms: number }[] = [
  { label: 'at any time', ms: 0 },
  { label: 'more than 1 minute ago', ms: 60_000 },
  { label: 'more than 1 hour ago', ms: 3_600_000 },
  { label: 'more than 1 day ago', ms: 86_400_000 },
  { label: 'more than 1 week ago', ms: 7 * 86_400_000 },
];
const DEFAULT_TIER_AGE = 1;

export interface ArchiveViewHost {
  /** The hypervisor's archive; a getter because the view is laid out before the hypervisor starts. */
  archive(): ArchiveApi;
  announce(text: string): void;
  /** The pool changed (a restore): sample it now. */
  changed(): Promise<unknown>;
  /** Snapshot the restored volume, clone the snapshot, boot a guest on the clone; resolves with the guest's name. */
  bootOn(volume: string): Promise<string>;
}

export class ArchiveView {
  readonly root = h('section', { class: 'panel archive', 'aria-labelledby': 'ar-h' }, h('h2', { id: 'ar-h' }, 'Archive: snapshots kept outside the pool'));
  private readonly snapshotSelect = h('select', { id: 'archive-snapshot' });
  private readonly tierAge = h('select', { id: 'tier-age' }, ...TIER_AGES.map((a, i) => h('option', { value: a.ms, selected: i === DEFAULT_TIER_AGE }, a.label)));
  private readonly tiers = h('dl', { class: 'tiers' });
  private readonly list = h('ul', { class: 'archived', role: 'list' });
  private readonly status = h('output', { id: 'archive-status', 'aria-live': 'polite' });
  private readonly next = h('div', { class: 'row next-step', id: 'archive-next', hidden: true });
  private readonly progress = h('progress', { id: 'archive-progress', max: 1, value: 0, hidden: true });
  private busy = false;

  constructor(private readonly host: ArchiveViewHost) {
    const button = (label: string, id: string, run: () => Promise<void>) =>
      h('button', { type: 'button', id, onclick: () => void this.act(run) }, label);
    this.root.append(
      h(
        'p',
        { class: 'muted intro' },
        'Copies of snapshots outside the pool, as a backup would keep them. Archiving a second version of a volume writes only the blocks that changed.',
      ),
      h('div', { class: 'row' },
        h('label', { for: 'archive-snapshot' }, 'Snapshot'),
        this.snapshotSelect,
        button('Archive it', 'archive-btn', () => this.archive()),
      ),
      h('div', { class: 'row' },
        button('Reclaim space', 'clean-cb-btn', () => this.clean('cost-benefit')),
        h('span', { class: 'meta' }, 'rewrites the archive’s files to drop data no archived snapshot uses any more'),
      ),
      h('div', { class: 'row' },
        h('label', { for: 'tier-age' }, 'Compress the blocks newer versions replaced, in versions archived'),
        this.tierAge,
        button('Compress', 'tier-btn', () => this.tier()),
      ),
      h(
        'details',
        { class: 'more' },
        h('summary', {}, 'Compare the two ways of reclaiming space'),
        h(
          'p',
          { class: 'meta' },
          '“Reclaim space” picks the files to rewrite by how much they would free and how long their data has stayed unchanged (data that has stayed is likely to stay). ',
          'The simple way picks the emptiest files first, and usually rewrites more.',
        ),
        button('Reclaim space, emptiest files first', 'clean-greedy-btn', () => this.clean('greedy')),
      ),
      this.progress,
      this.status,
      this.next,
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
    const s = await this.host.archive().stats();
    this.render(s);
  }

  private render(s: ArchiveServiceStats): void {
    const warm = s.tiers.warm;
    const cold = s.tiers.cold;
    const where = s.backend === 'opfs' ? 'the browser’s private file system' : s.backend === 'indexeddb' ? 'IndexedDB' : 'memory';
    this.tiers.replaceChildren(
      h('dt', {}, 'Archive'),
      h('dd', { 'data-tier': 'warm' }, `${formatBytes(warm.bytes)} in ${where}, of which ${formatBytes(warm.liveBytes)} is used by archived snapshots (“Reclaim space” frees the rest)`),
      h('dt', {}, 'Compressed'),
      h('dd', { 'data-tier': 'cold' }, `${formatBytes(cold.bytes)} for ${cold.chunks} replaced block${cold.chunks === 1 ? '' : 's'} of old versions`),
    );
    this.list.replaceChildren(
      ...s.snapshots.map((snap) =>
        h('li', { 'data-archived': snap.name },
          h('strong', {}, snap.name),
          ` ${formatBytes(snap.sizeBytes ?? 0)}, archived ${new Date(snap.archivedAt).toLocaleTimeString()}` +
            (snap.coldChunks > 0 ? `; ${snap.coldChunks} of its ${snap.chunks} blocks compressed ` : ' '),
          h('button', { type: 'button', onclick: () => void this.act(() => this.restore(snap.name)) }, 'Restore as a new volume'),
        ),
      ),
    );
    if (s.snapshots.length === 0) this.list.append(h('li', { class: 'muted' }, 'Nothing archived yet: pick a snapshot above and archive it.'));
  }

  private async archive(): Promise<void> {
    const snap = this.snapshotSelect.value;
    if (!snap) throw new Error('no snapshot to archive: take one first');
    this.progress.hidden = false;
    const r = await this.host.archive().save(snap, {
      onProgress: (p) => {
        this.progress.max = Math.max(1, p.blocksTotal);
        this.progress.value = p.blocksDone;
      },
    });
    this.say(
      r.chunksReused > 0
        ? `Archived ${r.name}: ${r.chunksWritten} new block${r.chunksWritten === 1 ? '' : 's'} written (${formatBytes(r.bytesWritten)}); ${r.chunksReused} the archive already had.`
        : `Archived ${r.name}: ${r.chunksWritten} blocks written (${formatBytes(r.bytesWritten)}).`,
    );
  }

  private async restore(name: string): Promise<void> {
    const volume = `${name.replace(/@.*/, '')}-restored-${Date.now().toString(36)}`;
    this.progress.hidden = false;
    const r = await this.host.archive().restore(name, volume, {
      onProgress: (p) => {
        this.progress.max = Math.max(1, p.blocksTotal);
        this.progress.value = p.blocksDone;
      },
    });
    const v = r.volume.name;
    this.say(
      `Restored ${name} as the new volume ${v}: ${r.blocks} blocks, every one checked against its hash. ` +
        `To run it, a guest needs a clone of a snapshot of it (snapshot → clone → boot): “Boot a guest on ${v}” does all three.`,
    );
    const boot = h('button', { type: 'button', id: 'archive-boot' }, `Boot a guest on ${v}`);
    boot.addEventListener('click', () => {
      boot.disabled = true;
      void this.host
        .bootOn(v)
        .then((guest) => {
          this.say(`${guest} boots on a clone of ${v}@base: the restored data, running.`);
          this.next.hidden = true;
        })
        .catch((err: unknown) => {
          boot.disabled = false;
          this.say(`Could not boot on ${v}: ${err instanceof Error ? err.message : String(err)}`);
        });
    });
    this.next.replaceChildren(boot);
    this.next.hidden = false;
  }

  private async clean(policy: 'cost-benefit' | 'greedy'): Promise<void> {
    const r = await this.host.archive().clean(policy);
    this.say(
      r.victims.length > 0
        ? `Reclaimed ${formatBytes(r.bytesFreed)}: rewrote ${r.victims.length} archive file${r.victims.length === 1 ? '' : 's'}, reading ${formatBytes(r.bytesRead)} and copying the ${formatBytes(r.bytesCopied)} still in use.`
        : 'Nothing to reclaim: every archived block is still used by an archived snapshot.',
    );
  }

  private async tier(): Promise<void> {
    const ageMs = Math.max(0, Number(this.tierAge.value) || 0);
    const age = TIER_AGES.find((a) => a.ms === ageMs)?.label ?? `more than ${ageMs} ms ago`;
    const r = await this.host.archive().tier(ageMs);
    this.say(
      r.chunksMoved > 0
        ? `Compressed ${r.chunksMoved} replaced block${r.chunksMoved === 1 ? '' : 's'} of ${r.snapshots.join(', ')} (${formatBytes(r.bytesIn)} → ${formatBytes(r.bytesOut)}). They restore as before, a little slower.`
        : `Nothing to compress: a version’s replaced blocks move once a newer version of the same volume is archived${ageMs > 0 ? `, and only if the version was archived ${age}` : ''}.`,
    );
  }

  private say(text: string): void {
    setText(this.status, text);
    this.host.announce(text);
  }

  private async act(run: () => Promise<void>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.next.hidden = true;
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
      await this.host.changed().catch(() => undefined);
    }
  }
}
