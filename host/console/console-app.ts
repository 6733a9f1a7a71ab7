// Runs on the console's main thread: the hypervisor console, shared by the full page
// (host/console/main.ts), the embeddable widget (embed/widget.html → widget-main.ts) and
// the <tabvisor-console> custom element. Starts the hypervisor on a persistent pool,
// imports the built-in image on first start, and wires the views to one poller.
//
// Layout: the story and the guests on the left, the machine (counters, arena, page maps,
// charts, pool) on the right, so an action and its effect are on one screen. Panels are
// self-contained views (one module each) that get the poller's snapshot in render().
//
// One console per document: its controls have fixed ids (labels and tests use them).
import { Hypervisor, type GuestHandle, type SpawnOptions } from '../page/hypervisor';
import type { TarGuestApi } from '../../guest/workloads/tar-guest';
import type { SqlGuestApi } from '../../guest/workloads/sql-guest';
import type { Dom0Stats } from '../dom0/dom0-service';
import type { CompactReport, DatasetInfo } from '../pool';
import { ArenaView } from './arena-view';
import { BLOCK_BYTES, fetchBuiltinImage, IMAGE, IMAGE_BASE } from './builtin-image';
import { ChartsView } from './charts-view';
import { CountersView } from './counters-view';
import { DatasetsView, compactSummary } from './datasets-view';
import { ArchiveView } from './archive-view';
import { FileServerPanel } from './file-server-panel';
import { h, nodes, setText } from './dom';
import { diagnoseEmbedding } from './embed-diagnosis';
import { errorText, EventLog } from './event-log';
import { GuestCard } from './guest-card';
import { SqlGuestCard, type TenantPages } from './sql-guest-card';
import { ensureSampleDatabase, importSqlDatabase, isSqlGroup, isSqliteFile, SQL_GROUP, SQL_GROUP_FRAMES, SQL_QUOTA, SQL_SAMPLE_BASE } from './sql-sample';
import { spawnSqlGuest } from '../page/sqlite-tenants';
import { ImportView } from './import-view';
import { LatencyView } from './latency-view';
import { PageMapView } from './page-map-view';
import { Poller, type MachineSnapshot } from './poller';
import { Story } from './story';
import { claimPool, deletePool, poolIsOwned, PoolLockedError, temporaryPool, type PoolClaim } from '../page/pool-lock';
import { PoolLostError } from '../../shared/errors/pool-errors';
import { askOwnerToYield, yieldOnRequest } from '../page/pool-handover';
import { within } from '../../shared/within';

/** How long booting on the image waits for the guests' listings (bootOnImage). */
const LISTING_WAIT_MS = 20_000;

export interface ConsoleOptions {
  /** IndexedDB database of the pool; survives reloads until Reset. */
  poolName: string;
  /** The widget's small layout: fewer panels, no edit form. */
  compact?: boolean;
  /** Where "open full tab" points when the console runs without shared memory. */
  fullTabHref?: string;
  /**
   * Opened by a console's "open in its own tab" link: ask the console that has the pool
   * open (the frame) to hand it over, and wait for it, instead of taking a temporary pool.
   */
  handover?: boolean;
  /**
   * Frames per trust-group arena (× 64 KiB of memory each). The default (256, 16 MiB) is
   * smaller than the built-in image's distinct blocks, so a scan shows eviction.
   */
  arenaFrames?: number;
}

export const DEFAULT_ARENA_FRAMES = 256;
/**
 * Most frames one domain may map at once. dom0 caps it further at a fair share of the
 * arena while other domains hold frames, so many guests cannot pin every frame.
 */
export const DEFAULT_QUOTA = 128;
export const MAX_SPAWN = 32;

const GROUPS = ['', 'tenant-b', 'tenant-c'] as const;

// The guest module's URL. The guest bootstrap import()s it (same origin, CSP 'self') and
// calls its default export, so the module must keep its exports: in dev Vite serves the
// TypeScript transpiled at its source path; a build must emit it as an entry with its
// signature at a fixed path (vite.config.ts). Not `?worker&url`: Vite's worker bundles
// drop the entry's exports, leaving a guest with no main.
const TAR_GUEST_URL = new URL(
  `${import.meta.env.BASE_URL}guest/workloads/tar-guest.${import.meta.env.DEV ? 'ts' : 'js'}`,
  location.href,
);

/** `image/vm-3` → `vm-3`: a guest is named after its clone. */
export function guestName(dataset: string): string {
  return dataset.slice(dataset.lastIndexOf('/') + 1);
}

export class ConsoleApp {
  hv!: Hypervisor;
  /** tar guests by domain id. */
  readonly cards = new Map<number, GuestCard>();
  /** SQL guests by domain id. */
  readonly sqlCards = new Map<number, SqlGuestCard>();
  readonly log = new EventLog();
  private poller!: Poller;
  private readonly transport = h('p', { id: 'transport-status' }, 'Starting the hypervisor…');
  private readonly banner = h('div', { class: 'banner', id: 'copy-banner', hidden: true });
  private readonly note = h('p', { class: 'note', id: 'pool-note', hidden: true });
  /** Stops answering hand-over requests (set while this console owns its saved pool). */
  private stopYielding: () => void = () => undefined;
  private startedOk: () => void = () => undefined;
  /** Settles when start() has finished (or failed): a hand-over waits for it. */
  private readonly started = new Promise<void>((resolve) => (this.startedOk = resolve));
  private readonly guestsList = h('div', { class: 'guests', id: 'guests', tabindex: -1 });
  private readonly stoppedList = h('ul', { class: 'stopped', id: 'stopped', 'aria-label': 'Stopped guests (their clones are kept)' });
  private readonly baseSelect = h('select', { id: 'spawn-base' });
  private readonly kindSelect = h(
    'select',
    { id: 'spawn-kind' },
    h('option', { value: 'tar' }, 'tar: lists and reads the image'),
    h('option', { value: 'sql' }, 'SQL: SQLite on a clone of a database'),
  );
  private readonly sqlStatus = h('p', { id: 'sql-status', class: 'meta', role: 'status', 'aria-live': 'polite' });
  private readonly sqlProgress = h('progress', { id: 'sql-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Sample database import' });
  private readonly sqlSharing = h('p', { id: 'sql-sharing', class: 'sql-sharing', hidden: true });
  /** The sample's import, once per console even when spawns overlap. */
  private sampleImport: Promise<string> | null = null;
  private readonly counters = new CountersView();
  private readonly arena = new ArenaView();
  private readonly pageMaps = new PageMapView((group, frame) => this.arena.highlight(group, frame));
  private readonly charts = new ChartsView();
  private readonly latency = new LatencyView();
  private readonly story = new Story({
    boot: (n, o) => this.bootOnImage(n, o),
    stats: () => this.hv.pool.stats(),
    log: (k, t) => this.log.add(k, t),
    image: () => this.imageSize(),
    zeroCopy: () => this.hv.hostTransport.kind === 'zero-copy',
  });
  private datasets!: DatasetsView;
  private archive!: ArchiveView;
  /** Clone numbers handed out but maybe not in the pool yet (concurrent spawns). */
  private readonly reserved = new Set<number>();
  private imageInfo: { blocks: number; bytes: number } | null = null;
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

  /** One line in the event log (kept for callers of the old API). */
  announce(text: string): void {
    this.log.info(text);
  }

  private async start(): Promise<void> {
    try {
      await this.run();
    } finally {
      this.startedOk();
    }
  }

  private async run(): Promise<void> {
    this.datasets = new DatasetsView({
      snapshot: (ds, name) => this.act(async () => {
        await this.hv.pool.snapshot(ds, name);
        this.log.ok(`Snapshot ${name} taken of ${ds}.`);
      }),
      clone: (snap) => this.act(async () => {
        const name = this.nextCloneName(snap);
        await this.hv.pool.clone(snap, name, this.group() ? { group: this.group() } : {});
        this.log.ok(`Clone ${name} made from ${snap}: boot it from the pool or the guest list.`);
      }),
      boot: (ds) => this.act(async () => void (await this.spawn({ dataset: ds }))),
      destroy: (ds) => this.act(async () => {
        await this.hv.pool.destroy(ds);
        this.log.ok(`Destroyed ${ds}.`);
      }),
      inUse: (ds) => this.allCards().some((c) => c.guest.dataset === ds && c.guest.state === 'running'),
      own: (ds) => this.ownBlocks(ds),
      compact: async (onProgress) => {
        let report: CompactReport | null = null;
        await this.act(async () => {
          report = await this.hv.pool.compact({ onProgress });
          this.log.ok(`Compact the pool: ${compactSummary(report)}`);
        });
        return report;
      },
    });
    this.archive = new ArchiveView({
      archive: () => this.hv.archive,
      announce: (t) => this.log.info(t),
      changed: () => this.poller.now(),
      bootOn: (volume) => this.bootOnVolume(volume),
    });
    this.layout();
    this.setReady(false);
    const claim = await this.claim();
    this.poolName = claim.poolName;
    this.showNote(claim.note);

    try {
      const arenaFrames = this.opts.arenaFrames ?? DEFAULT_ARENA_FRAMES;
      // SQL databases (4 KiB pages) get an arena of their own, as many bytes as a 64 KiB-block one.
      const start = (poolName: string) =>
        Hypervisor.start({ poolName, arenaFrames, groupFrames: { [SQL_GROUP]: SQL_GROUP_FRAMES }, quota: Math.min(DEFAULT_QUOTA, arenaFrames) });
      this.hv = await start(this.poolName).catch((err: unknown) => {
        // Another tab took the pool between the check above and the start.
        if (!(err instanceof PoolLockedError)) throw err;
        const temp = temporaryPool(this.opts.poolName);
        this.poolName = temp.poolName;
        this.showNote(temp.note);
        return start(this.poolName);
      });
    } catch (err: unknown) {
      this.showStorageBlocked(err);
      this.log.error(`The hypervisor could not start: ${errorText(err)}`);
      throw err;
    }
    // The saved pool is ours: hand it over when a tab we opened asks for it.
    if (this.hv.storage.kind === 'indexeddb' && this.poolName === this.opts.poolName) {
      this.stopYielding = yieldOnRequest(this.poolName, () => this.handOver());
    }
    this.showTransport();
    this.hv.onGuestFault = (g, reason) => {
      this.card(g.id)?.setState();
      this.log.error(`${guestName(g.dataset)} (dom ${g.id}) faulted: ${reason}. The others go on.`);
    };
    this.hv.onGuestEnded = (g, reason) => {
      this.card(g.id)?.setState();
      this.log.error(`${guestName(g.dataset)} (dom ${g.id}) ended: ${reason}. Its domain was released; the others go on.`);
    };
    this.poller = new Poller(
      this.hv,
      () => [...this.cards.values()].map((c) => ({ id: c.guest.id, api: c.guest.api, running: () => c.guest.state === 'running' })),
      (s) => this.render(s),
    );
    try {
      await this.ensureImage();
    } catch (err: unknown) {
      this.log.error(`The built-in image could not be imported: ${errorText(err)}`);
      throw err;
    }
    this.poller.onPoolClosed = (err) => this.poolClosedUnder(err);
    this.poller.start();
    if (!this.opts.compact) void this.archive.refresh().catch(() => undefined);
    this.setReady(true);
    this.story.enable();
    this.root.dataset.ready = 'true';
    this.log.ok('Hypervisor ready. Start with “Boot 4 guests on one image”.');
  }

  /** Controls that need the hypervisor stay disabled until it runs. */
  private setReady(ready: boolean): void {
    for (const el of this.root.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>('.needs-hv button, .needs-hv input, .needs-hv select')) {
      el.disabled = !ready;
    }
  }

  /**
   * The saved pool if nobody has it open; if a console has it and this tab was opened to
   * take it over, the pool after that console hands it over; else a temporary pool.
   */
  private async claim(): Promise<PoolClaim> {
    const name = this.opts.poolName;
    if (!this.opts.handover || !(await poolIsOwned(name))) return claimPool(name);
    setText(this.transport, 'Asking the console that has this pool open to hand it over…');
    const r = await askOwnerToYield(name);
    if (r.kind === 'released') {
      this.log.ok(`The console that had pool ${name} open handed it over: this tab runs it now.`);
      return { poolName: name, note: null };
    }
    return temporaryPool(name, `The saved pool stayed with the console that has it open (${r.reason}); this tab uses a temporary pool that is deleted when you leave.`);
  }

  private showNote(note: string | null): void {
    this.note.hidden = !note;
    setText(this.note, note ?? '');
    if (note) this.log.info(note);
  }

  private layout(): void {
    const spawnCount = h('input', { id: 'spawn-count', type: 'number', min: 1, max: MAX_SPAWN, value: 4 });
    const group = h('select', { id: 'spawn-group' }, ...GROUPS.map((g) => h('option', { value: g }, g === '' ? 'same as the base (shares frames)' : g)));
    const transport = h(
      'select',
      { id: 'spawn-transport' },
      h('option', { value: 'zero-copy' }, 'zero-copy (views onto shared memory)'),
      h('option', { value: 'copy' }, 'copy (each block copied to the guest)'),
    );
    const spawnForm = h(
      'form',
      { class: 'spawn needs-hv', 'aria-label': 'Spawn guests' },
      h('label', { for: 'spawn-base' }, 'Base snapshot'),
      this.baseSelect,
      h('label', { for: 'spawn-group' }, 'Trust group'),
      group,
      h('label', { for: 'spawn-transport' }, 'Transport'),
      transport,
      h('label', { for: 'spawn-kind' }, 'Guest kind'),
      this.kindSelect,
      h('label', { for: 'spawn-count' }, 'Guests'),
      spawnCount,
      h('button', { type: 'submit', id: 'spawn' }, 'Spawn on new clones'),
    );
    if (location.hash === '#sql') this.kindSelect.value = 'sql';
    spawnForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const n = Math.max(1, Math.min(MAX_SPAWN, Math.floor(Number(spawnCount.value)) || 1));
      const copy = transport.value === 'copy';
      if (this.kindSelect.value === 'sql') {
        void this.act(async () => {
          if (copy) throw new Error('SQL guests read through the zero-copy transport (SQLite reads synchronously); pick zero-copy');
          const cards = await this.spawnSqlMany(n);
          this.log.ok(`Booted SQL guests ${cards.map((c) => c.name).join(', ')} on new clones of ${cards[0]?.guest.dataset.replace(/\/[^/]*$/, '') ?? 'the database'}: each has a SQL prompt.`);
        });
        return;
      }
      void this.act(async () => {
        const base = this.baseSelect.value;
        const cards = await this.spawnMany(n, { base, group: this.group(), ...(copy ? { transport: 'copy' as const } : {}) });
        this.log.ok(`Booted ${cards.map((c) => c.name).join(', ')} on new clones of ${base}.`);
      });
    });
    const reset = h('button', { type: 'button', id: 'reset', class: 'danger' }, 'Reset (delete the pool)');
    reset.addEventListener('click', () => {
      if (confirm('Delete the pool, every volume, snapshot and clone in it, and the archive? Running guests are stopped.')) void this.reset();
    });
    const importView = new ImportView((file, onProgress) => this.importFile(file, onProgress), (k, t) => this.log.add(k, t));

    const compact = !!this.opts.compact;
    this.root.classList.add('tabvisor-console');
    this.root.classList.toggle('compact', compact);
    this.root.replaceChildren(
      ...nodes(
        h(
          'header',
          { class: 'topbar' },
          h('h1', {}, 'Tabvisor'),
          h('p', { class: 'tagline' }, 'A hypervisor’s storage stack in this tab: guests boot on clones of one disk image and share one copy of its blocks in memory.'),
          this.transport,
        ),
        this.banner,
        this.note,
        h(
          'div',
          { class: 'layout' },
          h(
            'div',
            { class: 'col act' },
            this.log.toast,
            compact ? null : h('div', { class: 'needs-hv' }, this.story.root),
            h(
              'section',
              { class: 'panel guests-panel', 'aria-labelledby': 'guests-h' },
              h('h2', { id: 'guests-h' }, 'Guest domains'),
              spawnForm,
              h('div', { class: 'sql-progress' }, this.sqlProgress, this.sqlStatus),
              this.sqlSharing,
              h('div', { class: 'guest-scroll', tabindex: 0, 'aria-label': 'Guest list' }, this.guestsList, this.stoppedList),
            ),
            this.log.root,
            h('div', { class: 'toolbar needs-hv' }, compact ? null : importView.root, reset),
          ),
          h(
            'div',
            { class: 'col machine' },
            this.counters.root,
            this.arena.root,
            this.pageMaps.root,
            this.charts.root,
            this.latency.root,
            this.datasets.root,
            compact ? null : this.archive.root,
            compact ? null : new FileServerPanel(() => this.hv, () => IMAGE_BASE).root,
          ),
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
    this.root.dataset.storage = this.hv.storage.kind;
    const d = diagnoseEmbedding(t.kind, this.hv.storage);
    const href = this.opts.fullTabHref;
    if (d.length === 0) {
      // Nothing to explain, but a framed console still offers its own tab (more room).
      if (href) this.transport.after(this.fullTabLink(href, 'Open in its own tab'));
      return;
    }
    this.banner.hidden = false;
    this.banner.setAttribute('role', 'note');
    this.banner.replaceChildren(
      ...d.map((x) => h('p', { 'data-diagnosis': x.kind, id: x.kind === 'storage-refused' ? 'storage-note' : null }, h('strong', {}, `${x.title} `), x.detail)),
      ...nodes(href ? this.fullTabLink(href, this.ownsSavedPool() ? 'Open it in its own tab to see zero-copy' : 'Open it in its own tab to see zero-copy (with a saved pool)') : null),
    );
  }

  /**
   * The link to the full tab. From a console that owns its saved pool the link asks for a
   * hand-over: the new tab asks this console to let go of the pool (yieldOnRequest above),
   * this console stops, and the tab runs the same pool. From a console on a temporary or
   * in-memory pool there is nothing to hand over: the tab opens the saved pool as usual.
   */
  private fullTabLink(href: string, text: string): HTMLAnchorElement {
    const url = new URL(href);
    if (this.ownsSavedPool()) url.searchParams.set('handover', '1');
    return h('a', { href: url.href, target: '_blank', rel: 'noopener', id: 'open-full-tab' }, text);
  }

  private ownsSavedPool(): boolean {
    return this.hv.storage.kind === 'indexeddb' && this.poolName === this.opts.poolName;
  }

  /**
   * Give the pool to the tab that asked: stop every guest, close dom0 (what was
   * acknowledged is committed; nothing else is kept), release the lock. This console then
   * says where its pool went.
   */
  private async handOver(): Promise<void> {
    await this.started;
    this.stopYielding();
    this.poller?.stop();
    this.setReady(false);
    this.story.disable();
    await this.hv.shutdown().catch(() => undefined);
    for (const c of this.allCards()) c.setState();
    this.showStopped(
      'handedOver',
      'Stopped: the pool moved to its own tab.',
      'note',
      h(
        'p',
        { id: 'handed-over' },
        h('strong', {}, 'The pool moved to the tab you opened. '),
        'This console is stopped and its guests with it; their clones are in the pool, and that tab can boot them again. To run the pool here again, close that tab and reload this page.',
      ),
    );
    this.log.info('Handed the pool over to the tab you opened; this console is stopped.');
  }

  /** The console stops for good: its controls off, the status line and a banner say why; `flag` marks the root for tests and styles. */
  private showStopped(flag: 'handedOver' | 'poolClosed', status: string, role: 'note' | 'alert', why: HTMLElement): void {
    this.setReady(false);
    this.story.disable();
    this.root.dataset[flag] = 'true';
    this.transport.dataset.transport = 'none';
    setText(this.transport, status);
    this.banner.hidden = false;
    this.banner.setAttribute('role', role);
    this.banner.replaceChildren(why);
  }

  /**
   * The pool closed under dom0 (another tab deleted it or opened it with a newer schema, or
   * the browser closed it: the site's data cleared): nothing more can be stored, so the console stops and says so. Its guests keep what
   * they map, and anything that needs the pool fails with `pool-closed`.
   */
  private poolClosedUnder(err: Error): void {
    this.showStopped(
      'poolClosed',
      'Stopped: the pool was closed under it.',
      'alert',
      h(
        'p',
        { id: 'pool-closed' },
        h('strong', {}, 'The pool was closed under this console. '),
        `${err.message}. Nothing more can be stored; the guests keep what they hold. Reload this page to start again (with a new pool if it was deleted).`,
      ),
    );
    this.log.error(`The pool was closed under this console: ${err.message}`);
  }

  /** The pool could not open: most often a browser that blocks storage in cross-site frames. */
  private showStorageBlocked(err: unknown): void {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.transport.dataset.transport = 'none';
    setText(this.transport, 'The hypervisor could not start.');
    if (err instanceof PoolLostError) {
      // The browser deleted the saved pool; starting again empty is the user's call.
      const poolName = this.poolName;
      const again = h('button', { type: 'button', id: 'start-empty' }, 'Start again with an empty pool');
      again.addEventListener('click', () => void deletePool(poolName).then(() => location.reload()));
      this.banner.hidden = false;
      this.banner.replaceChildren(
        ...nodes(h('strong', {}, 'The saved pool is gone. '), `${err.message.replace(/ Open it with acceptLoss.*$/, '')} `, again),
      );
      return;
    }
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

  /** First start: fetch the generated image and import it as image@base. */
  private async ensureImage(): Promise<void> {
    let list = await this.hv.pool.list();
    if (!list.some((d) => d.name === IMAGE_BASE)) {
      this.log.info('Importing the built-in image (first start)…');
      if (list.some((d) => d.name === IMAGE)) await this.hv.pool.destroy(IMAGE); // a half-done first start
      const tar = await fetchBuiltinImage();
      await this.hv.pool.import(IMAGE, tar, { blockSize: BLOCK_BYTES });
      await this.hv.pool.snapshot(IMAGE, IMAGE_BASE);
      list = await this.hv.pool.list();
      const info = list.find((d) => d.name === IMAGE_BASE);
      this.log.ok(`Built-in image imported as image@base: ${info?.blocks ?? '?'} blocks of 64 KiB.`);
    }
    this.refreshBases(list);
  }

  private async imageSize(): Promise<{ blocks: number; bytes: number }> {
    if (!this.imageInfo) {
      const info = (await this.hv.pool.list()).find((d) => d.name === IMAGE_BASE);
      if (!info) throw new Error('the built-in image is missing: reset the pool');
      this.imageInfo = { blocks: info.blocks, bytes: info.sizeBytes };
    }
    return this.imageInfo;
  }

  private refreshBases(list: DatasetInfo[]): void {
    const snapshots = list.filter((d) => d.kind === 'snapshot').map((d) => d.name);
    const current = this.baseSelect.value || IMAGE_BASE;
    const want = snapshots.join('|');
    if (this.baseSelect.dataset.options === want) return;
    this.baseSelect.dataset.options = want;
    this.baseSelect.replaceChildren(...snapshots.map((s) => h('option', { value: s, selected: s === current }, s)));
  }

  async importFile(file: File, onProgress: (done: number, total: number) => void): Promise<{ name: string; info: DatasetInfo | undefined }> {
    const existing = new Set((await this.hv.pool.list()).map((d) => d.name));
    const stem = file.name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'volume';
    let name = stem;
    for (let i = 2; existing.has(name) || existing.has(`${name}@base`); i++) name = `${stem}-${i}`;
    if (await isSqliteFile(file)) {
      // A database: blocks of its page size, in a SQL group, so SQL guests can open it.
      await importSqlDatabase(this.hv, name, file, onProgress);
      this.log.info(`${file.name} is a SQLite database: pick ${name}@base as Base snapshot and spawn SQL guests on it.`);
    } else {
      await this.hv.pool.import(name, file, { blockSize: BLOCK_BYTES, onProgress: (p) => onProgress(p.bytesDone, p.bytesTotal) });
      await this.hv.pool.snapshot(name, `${name}@base`);
    }
    await this.poller.now();
    return { name, info: (await this.hv.pool.list()).find((d) => d.name === `${name}@base`) };
  }

  /** `image@base` → `image/vm-N`, N one more than any guest clone in the pool or being made. */
  private nextCloneName(base: string): string {
    const taken = new Set(this.reserved);
    for (const d of this.poller?.last?.datasets ?? []) {
      const m = /\/vm-(\d+)$/.exec(d.name);
      if (m) taken.add(Number(m[1]));
    }
    for (const c of this.allCards()) {
      const m = /^vm-(\d+)$/.exec(c.name);
      if (m) taken.add(Number(m[1]));
    }
    let n = 1;
    while (taken.has(n)) n++;
    this.reserved.add(n);
    return `${base.replace(/@.*/, '')}/vm-${n}`;
  }

  /** A volume (a restored one): snapshot it as `<volume>@base` if it has none, clone that, boot a guest on the clone. */
  private async bootOnVolume(volume: string): Promise<string> {
    const base = `${volume}@base`;
    if (!(await this.hv.pool.list()).some((d) => d.name === base)) await this.hv.pool.snapshot(volume, base);
    const card = await this.spawn({ base, group: '' });
    this.log.ok(`Took snapshot ${base} of ${volume}, cloned it as ${card.guest.dataset} and booted ${card.name} on it.`);
    return card.name;
  }

  /** Boot `n` guests on clones of the image; done when each has also listed the image, so its boot reads are over. */
  private async bootOnImage(n: number, o: { group?: string; transport?: 'copy' } = {}): Promise<GuestCard[]> {
    const cards = await this.spawnMany(n, { base: IMAGE_BASE, group: o.group ?? '', ...(o.transport ? { transport: o.transport } : {}) });
    // A guest is not trusted to answer at all: one that never lists must not hold the boot
    // forever (a killed guest's listing settles at once, with its error).
    await within(Promise.all(cards.map((c) => c.listed)), LISTING_WAIT_MS);
    return cards;
  }

  private async spawnMany(n: number, o: { base: string; group: string; transport?: 'copy' }): Promise<GuestCard[]> {
    await this.poller.now().catch(() => null); // fresh dataset names for the clone numbers
    const names = Array.from({ length: n }, () => this.nextCloneName(o.base));
    const results = await Promise.allSettled(names.map((name) => this.spawn({ base: o.base, name, group: o.group, ...(o.transport ? { transport: o.transport } : {}) })));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw new Error(`${failed.length} of ${n} guests did not boot: ${errorText(failed[0]!.reason)}`);
    return results.map((r) => (r as PromiseFulfilledResult<GuestCard>).value);
  }

  private allCards(): (GuestCard | SqlGuestCard)[] {
    return [...this.cards.values(), ...this.sqlCards.values()];
  }

  private card(id: number): GuestCard | SqlGuestCard | undefined {
    return this.cards.get(id) ?? this.sqlCards.get(id);
  }

  /** The database SQL guests clone: the selected base if it is a database, else the sample (imported on first use). */
  private async sqlBase(): Promise<string> {
    const chosen = this.baseSelect.value;
    const info = (await this.hv.pool.list()).find((d) => d.name === chosen);
    if (info && isSqlGroup(info.group)) return chosen;
    this.sampleImport ??= this.importSample().finally(() => (this.sampleImport = null));
    return this.sampleImport;
  }

  private async importSample(): Promise<string> {
    const say = (t: string): void => {
      setText(this.sqlStatus, t);
      this.log.info(t);
    };
    const had = (await this.hv.pool.list()).some((d) => d.name === SQL_SAMPLE_BASE);
    try {
      const base = await ensureSampleDatabase(
        this.hv,
        (done, total) => {
          this.sqlProgress.hidden = false;
          this.sqlProgress.max = total || 1;
          this.sqlProgress.value = done;
        },
        say,
      );
      if (!had) say(`Sample database imported as ${base}: every SQL guest runs on an O(1) clone of it.`);
      return base;
    } catch (err: unknown) {
      setText(this.sqlStatus, `No SQL guest: ${errorText(err)}`);
      throw err;
    } finally {
      this.sqlProgress.hidden = true;
    }
  }

  /** `n` SQL guests, each on a new clone of the SQL base. */
  async spawnSqlMany(n: number): Promise<SqlGuestCard[]> {
    if (this.hv.hostTransport.kind !== 'zero-copy') throw new Error(`SQL guests need shared memory, and this page has none: ${this.hv.hostTransport.reason}`);
    const base = await this.sqlBase();
    await this.poller.now().catch(() => null);
    const names = Array.from({ length: n }, () => this.nextCloneName(base));
    const results = await Promise.allSettled(names.map((name) => this.spawnSql(base, name)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw new Error(`${failed.length} of ${n} SQL guests did not boot: ${errorText(failed[0]!.reason)}`);
    return results.map((r) => (r as PromiseFulfilledResult<SqlGuestCard>).value);
  }

  private async spawnSql(base: string, name: string): Promise<SqlGuestCard> {
    let g: GuestHandle<SqlGuestApi>;
    try {
      g = await spawnSqlGuest(this.hv, { base, name, quota: SQL_QUOTA });
    } finally {
      const m = /\/vm-(\d+)$/.exec(name);
      if (m) this.reserved.delete(Number(m[1]));
    }
    const info = (await this.hv.pool.list()).find((d) => d.name === g.dataset);
    const card = new SqlGuestCard(g, guestName(g.dataset), info?.group ?? SQL_GROUP, {
      kill: (c) => this.kill(c),
      dismiss: (c) => this.dismiss(c),
      log: (k, t) => this.log.add(k, t),
      ran: () => void this.poller.now().catch(() => null),
    });
    this.place(card);
    return card;
  }

  /** In domain order, whatever order concurrent spawns finish in. */
  private place(card: GuestCard | SqlGuestCard): void {
    if (card instanceof SqlGuestCard) this.sqlCards.set(card.guest.id, card);
    else this.cards.set(card.guest.id, card);
    const after = [...this.guestsList.children].find((el) => Number((el as HTMLElement).dataset.guest) > card.guest.id);
    this.guestsList.insertBefore(card.root, after ?? null);
    void this.poller.now().catch(() => null);
  }

  async spawn(where: { base: string; name?: string; group?: string; transport?: 'copy' } | { dataset: string }): Promise<GuestCard> {
    let name: string | undefined;
    let group = '';
    let opts: SpawnOptions;
    if ('base' in where) {
      name = where.name ?? this.nextCloneName(where.base);
      group = where.group ?? this.group();
      opts = { base: where.base, name, module: TAR_GUEST_URL, ...(group ? { group } : {}), ...(where.transport ? { transport: where.transport } : {}) };
    } else {
      opts = { dataset: where.dataset, module: TAR_GUEST_URL };
    }
    let g: GuestHandle<TarGuestApi>;
    try {
      g = await this.hv.guests.spawn<TarGuestApi>(opts);
    } finally {
      const m = name ? /\/vm-(\d+)$/.exec(name) : null;
      if (m) this.reserved.delete(Number(m[1]));
    }
    const info = (await this.hv.pool.list()).find((d) => d.name === g.dataset);
    const card = new GuestCard(
      g,
      guestName(g.dataset),
      info?.group ?? group,
      {
        kill: (c) => this.kill(c),
        dismiss: (c) => this.dismiss(c),
        log: (k, t) => this.log.add(k, t),
      },
      this.opts.compact,
    );
    this.place(card);
    if ('dataset' in where) this.log.ok(`${card.name} booted again on its clone ${g.dataset} (${g.transport}).`);
    return card;
  }

  private async kill(card: GuestCard | SqlGuestCard): Promise<void> {
    await card.guest.kill();
    card.setState();
    this.log.ok(`${card.name} killed; its clone ${card.guest.dataset} is kept (boot it again from “Stopped”). The others go on.`);
    await this.poller.now();
  }

  private dismiss(card: GuestCard | SqlGuestCard): void {
    card.root.remove();
    this.cards.delete(card.guest.id);
    this.sqlCards.delete(card.guest.id);
    this.log.info(`${card.name} dismissed.`);
    void this.poller.now().catch(() => null);
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
      this.log.error(errorText(err));
    }
    await this.poller.now().catch(() => null);
  }

  /** Clones with no guest on this page: kept in the pool, bootable again (after a reload, too). */
  private renderStopped(datasets: DatasetInfo[]): void {
    const onPage = new Set(this.allCards().map((c) => c.guest.dataset));
    const stopped = datasets.filter((d) => d.kind === 'clone' && !onPage.has(d.name));
    const sig = stopped.map((d) => d.name).join('|');
    if (this.stoppedList.dataset.sig === sig) return;
    this.stoppedList.dataset.sig = sig;
    this.stoppedList.replaceChildren(
      ...stopped.map((d) => {
        const boot = h('button', { type: 'button', 'data-action': 'boot', 'aria-label': `Boot ${guestName(d.name)}` }, 'Boot');
        boot.addEventListener('click', () => {
          boot.disabled = true;
          void this.act(async () => void (await this.spawn({ dataset: d.name })));
        });
        const destroy = h('button', { type: 'button', class: 'danger', 'data-action': 'destroy', 'aria-label': `Destroy the clone ${d.name}` }, 'Destroy clone');
        destroy.addEventListener('click', () => {
          destroy.disabled = true;
          void this.act(async () => {
            await this.hv.pool.destroy(d.name);
            this.log.ok(`Destroyed ${d.name}.`);
          });
        });
        return h(
          'li',
          { class: 'stopped-row', 'data-dataset': d.name },
          h('strong', {}, guestName(d.name)),
          h('span', { class: 'meta' }, `${d.name} · ${d.group || 'default'} group`),
          h('span', { class: 'state' }, 'stopped'),
          boot,
          destroy,
        );
      }),
    );
  }

  private render(s: MachineSnapshot): void {
    const own = this.ownCounts(s);
    this.counters.render(s.stats, s.datasets, own, s.frames);
    this.arena.render(s.stats.groups, s.frames);
    this.pageMaps.render(s.stats.domains, s.pageMaps, (ds) => this.ownBlocks(ds), s.frames, (id) => {
      const c = this.card(id);
      return c ? c.name : null;
    });
    this.charts.render(s.stats);
    this.latency.render(s.latency);
    this.datasets.render(s.datasets);
    this.archive?.setSnapshots(s.datasets.filter((d) => d.kind === 'snapshot').map((d) => d.name));
    this.refreshBases(s.datasets);
    this.renderStopped(s.datasets);
    for (const c of this.allCards()) if (c.root.dataset.state !== c.guest.state) c.setState();
    this.renderSql(s);
  }

  /**
   * Each SQL guest's pages, from its page map: mapped, in frames another domain maps too
   * (the database's pages, resident once), in its private frames (blocks only it may read,
   * its writes); and the blocks its clone owns (written since the clone).
   */
  private renderSql(s: MachineSnapshot): void {
    const sql = [...this.sqlCards.values()].filter((c) => c.guest.state === 'running');
    this.sqlSharing.hidden = sql.length === 0;
    if (sql.length === 0) return;
    const shared = new Set<number>();
    const groups = new Set<string>();
    for (const c of sql) {
      const pm = s.pageMaps.get(c.guest.id);
      const frames = s.frames.get(c.group) ?? [];
      const p: TenantPages = { mapped: 0, shared: 0, private: 0, own: 0 };
      for (const k of s.ownership.get(c.guest.dataset) ?? []) if (k === 2) p.own++;
      if (pm) {
        for (const ref of pm) {
          if (ref < 0) continue;
          p.mapped++;
          if (ref >= frames.length) p.private++;
          else if (frames[ref]!.mappedBy.some(([d]) => d !== c.guest.id)) {
            p.shared++;
            shared.add(ref);
          }
        }
      }
      groups.add(c.group);
      c.showPages(p);
    }
    const resident = s.stats.groups.filter((g) => groups.has(g.id)).reduce((a, g) => a + g.resident, 0);
    const mapped = sql.reduce((a, c) => a + c.pages.mapped, 0);
    const priv = sql.reduce((a, c) => a + c.pages.private, 0);
    this.sqlSharing.dataset.sharedFrames = String(shared.size);
    setText(
      this.sqlSharing,
      `${sql.length} SQL guest${sql.length === 1 ? '' : 's'} map ${mapped} pages; ${shared.size} frames are mapped by more than one of them (one resident copy each; ${resident} frames resident in group ${[...groups].join(', ')}). ` +
        `Pages a guest wrote live in its own private frames: ${priv} mapped now.`,
    );
  }

  private ownCounts(s: MachineSnapshot): Map<string, number> {
    const out = new Map<string, number>();
    for (const [ds, kinds] of s.ownership) {
      let n = 0;
      for (const k of kinds) if (k === 2) n++;
      out.set(ds, n);
    }
    return out;
  }

  /** Fresh counters (the story and tests). */
  stats(): Promise<Dom0Stats> {
    return this.hv.pool.stats();
  }

  /** Delete the archive, close dom0 (which closes the pool's database), delete the database, start over. */
  async reset(): Promise<void> {
    this.log.info('Resetting: deleting the pool…');
    this.poller.stop();
    this.stopYielding();
    await this.hv.archive.destroy().catch(() => undefined);
    await this.hv.shutdown().catch(() => undefined);
    await deletePool(this.poolName);
    location.reload();
  }
}
