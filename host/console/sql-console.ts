// Runs on the main thread of sql.html: SQL guests on clones of one sample database. Each
// tenant card has a prompt (SQL in, rows out). The sharing panel shows what the arena
// holds: frames resident in the database's trust group against the pages the tenants map,
// and per tenant the pages that are its own (written since it was cloned).
import { Hypervisor, type GuestHandle } from '../page/hypervisor';
import { importDatabase, spawnSqlGuest } from '../page/sqlite-tenants';
import type { SqlGuestApi, QueryResult } from '../../guest/workloads/sql-guest';
import { claimPool } from '../page/pool-lock';
import { formatBytes, h, hue, setText } from './dom';

export interface SqlConsoleOptions {
  poolName: string;
}

const DB = 'shop';
const BASE = 'shop@base';
const GROUP = 'sql';
const SAMPLE_URL = `${import.meta.env.BASE_URL}sample/shop.db`;
const MAX_ROWS = 50;
const EXAMPLE = "SELECT country, count(*) AS customers FROM customers GROUP BY country ORDER BY customers DESC LIMIT 5";

interface Tenant {
  guest: GuestHandle<SqlGuestApi>;
  card: HTMLElement;
  own: HTMLElement;
}

export class SqlConsole {
  hv!: Hypervisor;
  readonly tenants: Tenant[] = [];
  private readonly status: HTMLElement;
  private readonly grid = h('div', { class: 'guests', id: 'sql-tenants' });
  private readonly sharing = h('p', { id: 'sql-sharing' }, 'No tenants yet.');
  private readonly count = h('input', { type: 'number', id: 'sql-count', min: 1, max: 8, value: 2, 'aria-label': 'tenants to add' });
  private timer: ReturnType<typeof setInterval> | null = null;

  private constructor(readonly root: HTMLElement) {
    this.status = root.querySelector('#sql-status') ?? h('p', { id: 'sql-status' });
  }

  static async mount(root: HTMLElement, opts: SqlConsoleOptions): Promise<SqlConsole> {
    const app = new SqlConsole(root);
    await app.start(opts);
    return app;
  }

  private async start(opts: SqlConsoleOptions): Promise<void> {
    const claim = await claimPool(opts.poolName);
    const file = h('input', { type: 'file', accept: '.db,.sqlite,.sqlite3,application/vnd.sqlite3', id: 'sql-file' });
    file.addEventListener('change', () => void this.importFile(file.files?.[0]));
    this.root.append(
      h('div', { class: 'toolbar' },
        h('div', { class: 'spawn' },
          h('button', { type: 'button', id: 'sql-add', onclick: () => void this.act(async () => void (await this.add(Number(this.count.value) || 1))) }, 'Add tenants'),
          this.count,
          h('span', { class: 'muted' }, 'each an O(1) clone of the base database'),
        ),
        h('label', { class: 'import' }, 'Or use your own database: ', file),
      ),
      h('section', { class: 'panel', 'aria-labelledby': 'sql-sharing-h' }, h('h2', { id: 'sql-sharing-h' }, 'Pages in memory'), this.sharing),
      h('section', { class: 'panel', 'aria-labelledby': 'sql-tenants-h' }, h('h2', { id: 'sql-tenants-h' }, 'Tenants'), this.grid),
    );
    // 4 KiB frames in the database's group: 16,384 frames are 64 MiB of arena.
    this.hv = await Hypervisor.start({ poolName: claim.poolName, arenaFrames: 16384, quota: 8192 });
    if (this.hv.hostTransport.kind !== 'zero-copy') {
      setText(this.status, `SQL guests need shared memory, and this page has none: ${this.hv.hostTransport.reason}`);
      return;
    }
    if (!(await this.hv.pool.list()).some((d) => d.name === BASE)) {
      setText(this.status, 'Fetching the sample database…');
      const res = await fetch(SAMPLE_URL);
      if (!res.ok) {
        setText(this.status, `No sample database (${res.status}: ${(await res.text()).slice(0, 200)}). Import a .db file instead.`);
        return;
      }
      await this.installBase(await res.blob());
    }
    setText(this.status, `Ready: ${BASE} is the base database. ${claim.note ?? ''}`);
    this.timer = setInterval(() => void this.refresh(), 1000);
  }

  private async installBase(db: Blob): Promise<void> {
    setText(this.status, `Importing ${formatBytes(db.size)} as volume ${DB}…`);
    await importDatabase(this.hv, DB, db, { group: GROUP });
    await this.hv.pool.snapshot(DB, BASE);
  }

  private async importFile(f: File | undefined): Promise<void> {
    if (!f) return;
    await this.act(async () => {
      for (const t of this.tenants.splice(0)) {
        await t.guest.kill();
        t.card.remove();
      }
      const names = new Set((await this.hv.pool.list()).map((d) => d.name));
      for (const d of (await this.hv.pool.list()).filter((x) => x.kind === 'clone' && x.origin === BASE)) await this.hv.pool.destroy(d.name);
      if (names.has(BASE)) await this.hv.pool.destroy(BASE);
      if (names.has(DB)) await this.hv.pool.destroy(DB);
      await this.installBase(f);
      setText(this.status, `Ready: ${f.name} is the base database.`);
    });
  }

  private async act(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (err) {
      setText(this.status, `Failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Spawn `n` SQL guests, each on a new clone of the base database. */
  async add(n: number): Promise<GuestHandle<SqlGuestApi>[]> {
    const out: GuestHandle<SqlGuestApi>[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const guest = await spawnSqlGuest(this.hv, { base: BASE });
      out.push(guest);
      this.tenants.push(this.card(guest, performance.now() - t0));
    }
    await this.refresh();
    return out;
  }

  private card(guest: GuestHandle<SqlGuestApi>, ms: number): Tenant {
    const prompt = h('textarea', { rows: 3, class: 'sql-prompt', 'aria-label': `SQL for tenant dom ${guest.id}`, spellcheck: 'false' });
    prompt.value = EXAMPLE;
    const out = h('div', { class: 'sql-out', role: 'log', 'aria-live': 'polite' });
    const own = h('span', { class: 'meta' });
    const run = async (): Promise<void> => {
      const t0 = performance.now();
      try {
        const r = await guest.api.query(prompt.value);
        out.replaceChildren(table(r), h('p', { class: 'meta' }, `${r.rows.length} row(s) in ${(performance.now() - t0).toFixed(1)} ms`));
      } catch (err) {
        out.replaceChildren(h('p', { class: 'note' }, err instanceof Error ? err.message : String(err)));
      }
      await this.refresh();
    };
    prompt.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) void run();
    });
    const card = h('article', { class: 'guest-card sql-tenant', 'data-state': 'running', 'data-guest': guest.id, style: `border-left: 4px solid ${hue(guest.id)}` },
      h('header', {}, h('h3', {}, `tenant dom ${guest.id}`), h('span', { class: 'meta' }, `${guest.dataset} · clone + boot ${ms.toFixed(0)} ms`), own),
      prompt,
      h('div', {}, h('button', { type: 'button', class: 'sql-run', onclick: () => void run() }, 'Run (Ctrl+Enter)'), ' ',
        h('button', { type: 'button', class: 'danger', onclick: () => void this.kill(guest) }, 'Kill')),
      out,
    );
    this.grid.append(card);
    return { guest, card, own };
  }

  private async kill(guest: GuestHandle<SqlGuestApi>): Promise<void> {
    const i = this.tenants.findIndex((t) => t.guest === guest);
    if (i < 0) return;
    const [t] = this.tenants.splice(i, 1);
    await guest.kill();
    t!.card.remove();
    await this.refresh();
  }

  /** The sharing panel and each tenant's own pages, from dom0's counters and block pointers. */
  async refresh(): Promise<void> {
    const s = await this.hv.pool.stats();
    const g = s.groups.find((x) => x.id === GROUP);
    const live = this.tenants.filter((t) => t.guest.state === 'running');
    const mapped = s.domains.filter((d) => live.some((t) => t.guest.id === d.id)).reduce((a, d) => a + d.mapped, 0);
    let own = 0;
    for (const t of live) {
      const blocks = await this.hv.pool.ownership(t.guest.dataset);
      const mine = blocks.filter((b) => b === 2).length;
      own += mine;
      setText(t.own, `${mine} own page${mine === 1 ? '' : 's'}`);
    }
    if (!g || live.length === 0) {
      setText(this.sharing, 'No tenants yet.');
      return;
    }
    setText(
      this.sharing,
      `${live.length} tenant(s) map ${mapped} pages; ${g.resident} frames (${formatBytes(g.resident * g.frameBytes)}) hold them: ` +
        `each page they have in common is resident once. Pages written by tenants, private to each: ${own}. ` +
        `Bytes copied from dom0 to guests: ${s.driver.bytesCopied} (the one copy of a read is into each guest's SQLite heap).`,
    );
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.hv.shutdown();
  }
}

function table(r: QueryResult): HTMLElement {
  if (r.columns.length === 0) return h('p', { class: 'meta' }, 'done');
  const head = h('tr', {}, ...r.columns.map((c) => h('th', { scope: 'col' }, c)));
  const rows = r.rows.slice(0, MAX_ROWS).map((row) => h('tr', {}, ...row.map((v) => h('td', {}, v instanceof Uint8Array ? `blob(${v.length})` : String(v)))));
  return h('div', { class: 'sql-table' }, h('table', {}, h('thead', {}, head), h('tbody', {}, ...rows)), r.rows.length > MAX_ROWS ? h('p', { class: 'meta' }, `first ${MAX_ROWS} of ${r.rows.length}`) : null);
}
