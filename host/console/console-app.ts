// Runs on the console's main thread: the hypervisor console, shared by the full page
// (host/console/main.ts), the embeddable widget (embed/widget.html → host/console/widget-main.ts) and
// the <tabvisor-console> custom element. Starts the hypervisor on a persistent pool,
// imports the built-in image on first start, and wires the views to one poller.
//
// One console per document: its controls have fixed ids (labels and tests use them).
import { Hypervisor, type GuestHandle } from '../page/hypervisor';
import type { TarGuestApi } from '../../guest/workloads/tar-guest';
import { ArenaView } from './arena-view';
import { BLOCK_BYTES, buildBuiltinImage, IMAGE, IMAGE_BASE } from './builtin-image';
import { CountersView } from './counters-view';
import { DatasetsView } from './datasets-view';
import { ArchiveView } from './archive-view';
import { FileServerPanel } from './file-server-panel';
import { h, nodes, setText } from './dom';
import { GuestCard } from './guest-card';
import { ImportView } from './import-view';
import { LatencyView } from './latency-view';
import { PageMapView } from './page-map-view';
import { Poller, type MachineSnapshot } from './poller';
import { claimPool, deletePool, PoolLockedError, temporaryPool } from '../page/pool-lock';

export interface ConsoleOptions {
  /** IndexedDB database of the pool; survives reloads until Reset. */
  poolName: string;
  /** The widget's small layout: fewer panels, no edit form. */
  compact?: boolean;
  /** Where "open full tab" points when the console runs without shared memory. */
  fullTabHref?: string;
  /** Frames per trust-group arena (× 64 KiB of memory each). */
  arenaFrames?: number;
}

const GROUPS = ['', 'tenant-b', 'tenant-c'] as const;

// The guest module's URL. The guest bootstrap import()s it (same origin, CSP 'self') and
// calls its default export, so the module must keep its exports: in dev Vite serves the
// TypeScript transpiled at its source path; a build must emit it as an entry with its
// signature at a fixed path (vite.config.ts change in docs/demo.md). Not `?worker&url`:
// Vite's worker bundles drop the entry's exports, leaving a guest with no main.
const TAR_GUEST_URL = new URL(
  `${import.meta.env.BASE_URL}guest/workloads/tar-guest.${import.meta.env.DEV ? 'ts' : 'js'}`,
  location.href,
);

export class ConsoleApp {
  hv!: Hypervisor;
  readonly cards = new Map<number, GuestCard>();
  private poller!: Poller;
  private readonly announcer = h('p', { id: 'announcer', class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  private readonly transport = h('p', { id: 'transport-status', role: 'status', 'aria-live': 'polite' }, 'Starting the hypervisor…');
  private readonly banner = h('div', { class: 'banner', id: 'copy-banner', hidden: true });
  private readonly guestsGrid = h('div', { class: 'guests', id: 'guests' });
  private readonly baseSelect = h('select', { id: 'spawn-base' });
  private readonly counters = new CountersView();
  private readonly arena = new ArenaView();
  private readonly pageMaps = new PageMapView();
  private readonly latency = new LatencyView();
  private datasets!: DatasetsView;
  private archive!: ArchiveView;
  poolName = '';

  constructor(
    readonly root: HTMLElement,
    private readonly opts: ConsoleOptions,
  ) {}

  static async mount(root: HTMLElement, opts: ConsoleOptions): Promise<ConsoleApp> {
    const app = new ConsoleApp(root, opts);
    await app.start();
    return app;
  }

  announce(text: string): void {
    setText(this.announcer, text);
  }

  private async start(): Promise<void> {
    const claim = await claimPool(this.opts.poolName);
    this.poolName = claim.poolName;
    this.datasets = new DatasetsView({
      snapshot: (ds) => this.act(async () => {
        const name = `${ds}@s${Date.now().toString(36)}`;
        await this.hv.pool.snapshot(ds, name);
        this.announce(`Snapshot ${name} taken.`);
      }),
      clone: (snap) => this.act(async () => {
        const name = `${snap.replace(/@.*/, '')}/c${Date.now().toString(36)}`;
        await this.hv.pool.clone(snap, name, this.group() ? { group: this.group() } : {});
        this.announce(`Clone ${name} made from ${snap}.`);
      }),
      boot: (ds) => this.act(async () => void (await this.spawn({ dataset: ds }))),
      destroy: (ds) => this.act(async () => {
        await this.hv.pool.destroy(ds);
        this.announce(`Destroyed ${ds}.`);
      }),
      inUse: (ds) => [...this.cards.values()].some((c) => c.guest.dataset === ds && c.guest.state === 'running'),
      own: (ds) => this.ownBlocks(ds),
    });
    this.archive = new ArchiveView(() => this.hv.archive, (t) => this.announce(t), () => this.poller.now());
    this.layout(claim.note);

    try {
      const start = (poolName: string) => Hypervisor.start({ poolName, arenaFrames: this.opts.arenaFrames ?? 512, quota: 512 });
      this.hv = await start(this.poolName).catch((err: unknown) => {
        // Another tab took the pool between the check above and the start.
        if (!(err instanceof PoolLockedError)) throw err;
        const temp = temporaryPool(this.opts.poolName);
        this.poolName = temp.poolName;
        this.announce(temp.note ?? '');
        return start(this.poolName);
      });
    } catch (err: unknown) {
      this.showStorageBlocked(err);
      throw err;
    }
    this.showTransport();
    this.hv.onGuestFault = (g, reason) => {
      this.cards.get(g.id)?.setState();
      this.announce(`Guest dom ${g.id} faulted: ${reason}. The others go on.`);
    };
    this.poller = new Poller(
      this.hv,
      () => [...this.cards.values()].map((c) => ({ id: c.guest.id, api: c.guest.api, running: () => c.guest.state === 'running' })),
      (s) => this.render(s),
    );
    await this.ensureImage();
    this.poller.start();
    if (!this.opts.compact) void this.archive.refresh().catch(() => undefined);
    this.root.dataset.ready = 'true';
    this.announce('Hypervisor ready.');
  }

  private layout(note: string | null): void {
    const spawnCount = h('input', { id: 'spawn-count', type: 'number', min: 1, max: 8, value: 4 });
    const group = h('select', { id: 'spawn-group' }, ...GROUPS.map((g) => h('option', { value: g }, g === '' ? 'same as the base (shares frames)' : g)));
    const spawnForm = h(
      'form',
      { class: 'spawn', 'aria-label': 'Spawn guests' },
      h('label', { for: 'spawn-base' }, 'Base snapshot'),
      this.baseSelect,
      h('label', { for: 'spawn-group' }, 'Trust group'),
      group,
      h('label', { for: 'spawn-count' }, 'Guests'),
      spawnCount,
      h('button', { type: 'submit', id: 'spawn' }, 'Spawn on new clones'),
    );
    spawnForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const n = Math.max(1, Math.min(8, Number(spawnCount.value) || 1));
      void this.act(async () => {
        await Promise.all(Array.from({ length: n }, () => this.spawn({ base: this.baseSelect.value })));
      });
    });
    const reset = h('button', { type: 'button', id: 'reset', class: 'danger' }, 'Reset (delete the pool)');
    reset.addEventListener('click', () => {
      if (confirm('Delete the pool, every volume, snapshot and clone in it, and the archive? Running guests are stopped.')) void this.reset();
    });
    const importView = new ImportView((file, onProgress) => this.importFile(file, onProgress));

    const compact = !!this.opts.compact;
    this.root.classList.add('tabvisor-console');
    this.root.classList.toggle('compact', compact);
    this.root.replaceChildren(
      ...nodes(
      h('header', { class: 'topbar' }, h('h1', {}, 'Tabvisor'), this.transport, this.announcer),
      this.banner,
      note ? h('p', { class: 'note' }, note) : null,
      h('div', { class: 'toolbar' }, spawnForm, compact ? null : importView.root, reset),
      h('section', { class: 'panel', 'aria-labelledby': 'guests-h' }, h('h2', { id: 'guests-h' }, 'Guest domains'), this.guestsGrid),
      h(
        'div',
        { class: 'machine' },
        this.counters.root,
        this.arena.root,
        this.pageMaps.root,
        this.latency.root,
        this.datasets.root,
        compact ? null : this.archive.root,
        compact ? null : new FileServerPanel(() => this.hv, () => IMAGE_BASE).root,
      ),
      ),
    );
  }

  private group(): string {
    return (this.root.querySelector('#spawn-group') as HTMLSelectElement | null)?.value ?? '';
  }

  private showTransport(): void {
    const t = this.hv.hostTransport;
    this.transport.dataset.transport = t.kind;
    setText(
      this.transport,
      t.kind === 'zero-copy' ? 'Zero-copy: guests read shared blocks as views onto one SharedArrayBuffer.' : `Copy transport: ${t.reason}.`,
    );
    if (t.kind === 'copy') {
      const href = this.opts.fullTabHref;
      this.banner.hidden = false;
      this.banner.setAttribute('role', 'note');
      this.banner.replaceChildren(
        ...nodes(
        h('strong', {}, 'Running without shared memory. '),
        `${this.opts.fullTabHref ? 'The page embedding this console' : 'This page'} is not cross-origin isolated, so the browser withholds SharedArrayBuffer. ` +
          'Everything still works, but every block a guest reads is copied to it instead of shared. ',
        href ? h('a', { href, target: '_blank', rel: 'noopener', id: 'open-full-tab' }, 'Open it in its own tab to see zero-copy') : null,
        ),
      );
    }
    const storage = this.hv.storage;
    this.root.dataset.storage = storage.kind;
    if (storage.kind === 'memory') {
      const href = this.opts.fullTabHref;
      this.banner.hidden = false;
      this.banner.setAttribute('role', 'note');
      this.banner.append(
        h('p', { id: 'storage-note' },
          h('strong', {}, 'Nothing is saved. '),
          `${storage.reason.charAt(0).toUpperCase()}${storage.reason.slice(1)}. `,
          ...(href ? [h('a', { href, target: '_blank', rel: 'noopener' }, 'Open it in its own tab to keep the pool')] : []),
        ),
      );
    }
  }

  /** The pool could not open: most often a browser that blocks storage in cross-site frames. */
  private showStorageBlocked(err: unknown): void {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.transport.dataset.transport = 'none';
    setText(this.transport, 'The hypervisor could not start.');
    const href = this.opts.fullTabHref;
    this.banner.hidden = false;
    this.banner.replaceChildren(
      ...nodes(
        h('strong', {}, 'No storage for the pool. '),
        `The browser refused this console its IndexedDB database (${detail}). Browsers that block third-party storage do this to consoles embedded from another site. `,
        href ? h('a', { href, target: '_blank', rel: 'noopener', id: 'open-full-tab' }, 'Open it in its own tab') : null,
      ),
    );
  }

  /** First start: build the tar from public/image/ and import it as image@base. */
  private async ensureImage(): Promise<void> {
    let list = await this.hv.pool.list();
    if (!list.some((d) => d.name === IMAGE_BASE)) {
      this.announce('Building the built-in image…');
      if (list.some((d) => d.name === IMAGE)) await this.hv.pool.destroy(IMAGE); // a half-done first start
      const tar = await buildBuiltinImage();
      await this.hv.pool.import(IMAGE, tar.buffer as ArrayBuffer, { blockSize: BLOCK_BYTES });
      await this.hv.pool.snapshot(IMAGE, IMAGE_BASE);
      list = await this.hv.pool.list();
      this.announce('Built-in image imported as image@base.');
    }
    this.refreshBases(list.map((d) => d.name).filter((n) => list.find((d) => d.name === n)?.kind === 'snapshot'));
  }

  private refreshBases(snapshots: string[]): void {
    const current = this.baseSelect.value || IMAGE_BASE;
    const want = snapshots.join('|');
    if (this.baseSelect.dataset.options === want) return;
    this.baseSelect.dataset.options = want;
    this.baseSelect.replaceChildren(...snapshots.map((s) => h('option', { value: s, selected: s === current }, s)));
  }

  async importFile(file: File, onProgress: (done: number, total: number) => void): Promise<string> {
    const existing = new Set((await this.hv.pool.list()).map((d) => d.name));
    const stem = file.name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'volume';
    let name = stem;
    for (let i = 2; existing.has(name) || existing.has(`${name}@base`); i++) name = `${stem}-${i}`;
    await this.hv.pool.import(name, file, { blockSize: BLOCK_BYTES, onProgress: (p) => onProgress(p.bytesDone, p.bytesTotal) });
    await this.hv.pool.snapshot(name, `${name}@base`);
    await this.poller.now();
    this.announce(`Imported ${file.name} as ${name}.`);
    return name;
  }

  async spawn(where: { base: string } | { dataset: string }): Promise<GuestHandle<TarGuestApi>> {
    const group = 'base' in where ? this.group() : '';
    const g = await this.hv.guests.spawn<TarGuestApi>({ ...where, module: TAR_GUEST_URL, ...(group ? { group } : {}) });
    const info = (await this.hv.pool.list()).find((d) => d.name === g.dataset);
    const card = new GuestCard(
      g,
      info?.group ?? group,
      {
        kill: (c) => void this.kill(c),
        announce: (t) => this.announce(t),
      },
      this.opts.compact,
    );
    this.cards.set(g.id, card);
    // In domain order, whatever order concurrent spawns finish in.
    const after = [...this.guestsGrid.children].find((el) => Number((el as HTMLElement).dataset.guest) > g.id);
    this.guestsGrid.insertBefore(card.root, after ?? null);
    this.announce(`Guest dom ${g.id} booted on ${g.dataset} (${g.transport}).`);
    return g;
  }

  private async kill(card: GuestCard): Promise<void> {
    await card.guest.kill();
    card.setState();
    this.announce(`Guest dom ${card.guest.id} killed. The others go on.`);
    await this.poller.now();
  }

  /** Blocks a clone owns (written since it was cloned), as dom0 reads them off the pool. */
  private ownBlocks(dataset: string): Set<number> {
    const own = new Set<number>();
    this.poller?.last?.ownership.get(dataset)?.forEach((kind, lba) => {
      if (kind === 2) own.add(lba);
    });
    return own;
  }

  private async act(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err: unknown) {
      this.announce(`Failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    await this.poller.now().catch(() => null);
  }

  private render(s: MachineSnapshot): void {
    this.counters.render(s.stats);
    this.arena.render(s.stats.groups, s.frames);
    this.pageMaps.render(s.stats.domains, s.pageMaps, (ds) => this.ownBlocks(ds));
    this.latency.render(s.latency);
    this.datasets.render(s.datasets);
    this.archive?.setSnapshots(s.datasets.filter((d) => d.kind === 'snapshot').map((d) => d.name));
    this.refreshBases(s.datasets.filter((d) => d.kind === 'snapshot').map((d) => d.name));
    for (const c of this.cards.values()) if (c.root.dataset.state !== c.guest.state) c.setState();
  }

  /** Delete the archive, close dom0 (which closes the pool's database), delete the database, start over. */
  async reset(): Promise<void> {
    this.announce('Resetting: deleting the pool…');
    this.poller.stop();
    await this.hv.archive.destroy().catch(() => undefined);
    await this.hv.shutdown().catch(() => undefined);
    await deletePool(this.poolName);
    location.reload();
  }
}
