// Runs on the console's main thread. A SQL guest domain as a card in the guest list: a
// SQLite tenant on its own copy-on-write clone of a database. Its name, clone, state, a
// SQL prompt (sql-prompt.ts) and what the arena holds for it: the pages it maps, how many
// of those frames other tenants map too (one resident copy), and the pages it wrote (its
// clone's own blocks), which only it can map (private frames).
import type { GuestHandle } from '../page/hypervisor';
import type { SqlGuestApi } from '../../guest/workloads/sql-guest';
import { h, setText } from './dom';
import { SqlPrompt, type PromptOutcome } from './sql-prompt';
import { showGuestState } from './guest-card';

export interface SqlCardHooks {
  kill(card: SqlGuestCard): Promise<void>;
  dismiss(card: SqlGuestCard): void;
  log(kind: 'ok' | 'error', text: string): void;
  /** After a statement ran: sample the machine again so the arena shows its effect. */
  ran(): void;
}

/** What the arena holds for one tenant (from dom0's page map, frames and block pointers). */
export interface TenantPages {
  /** Blocks it maps now. */
  mapped: number;
  /** Of those, frames another domain maps too. */
  shared: number;
  /** Of those, in its private frames: blocks only it may read (its writes). */
  private: number;
  /** Blocks of its clone it wrote (the pool's pointers): nobody else's. */
  own: number;
}

export class SqlGuestCard {
  readonly kind = 'sql';
  readonly root: HTMLElement;
  readonly prompt: SqlPrompt;
  private readonly state = h('span', { class: 'state' });
  private readonly pagesText = h('p', { class: 'meta sql-pages' }, 'No pages mapped yet: run a query.');
  private readonly killBtn: HTMLButtonElement;
  private readonly dismissBtn: HTMLButtonElement;
  pages: TenantPages = { mapped: 0, shared: 0, private: 0, own: 0 };

  constructor(
    readonly guest: GuestHandle<SqlGuestApi>,
    readonly name: string,
    readonly group: string,
    private readonly hooks: SqlCardHooks,
  ) {
    this.prompt = new SqlPrompt(`guest-${guest.id}`, `SQL for ${name}`, (sql, params, opts) => guest.api.query(sql, params, opts), (o) => this.ran(o));
    this.killBtn = h('button', { type: 'button', class: 'danger', 'data-action': 'kill', 'aria-label': `Kill ${name}` }, 'Kill');
    this.killBtn.addEventListener('click', () => {
      this.killBtn.disabled = true;
      void this.hooks.kill(this).catch((err: unknown) => this.hooks.log('error', `${name}: Kill failed: ${err instanceof Error ? err.message : String(err)}`));
    });
    this.dismissBtn = h('button', { type: 'button', 'data-action': 'dismiss', hidden: true, 'aria-label': `Dismiss ${name}` }, 'Dismiss');
    this.dismissBtn.addEventListener('click', () => this.hooks.dismiss(this));
    const id = `guest-${guest.id}-h`;
    this.root = h(
      'article',
      { class: 'guest-card sql-card', 'data-guest': guest.id, 'data-name': name, 'data-kind': 'sql', 'aria-labelledby': id },
      h(
        'header',
        {},
        h('h3', { id }, name),
        h('span', { class: 'meta' }, `dom ${guest.id} · SQL · ${guest.dataset} · ${group || 'default'} group · ${guest.transport}`),
        this.state,
      ),
      this.prompt.root,
      h('div', { class: 'actions' }, this.pagesText, this.killBtn, this.dismissBtn),
    );
    this.setState();
  }

  setState(): void {
    const g = this.guest;
    const dead = showGuestState(g, this.root, this.state);
    this.prompt.disabled = g.state !== 'running';
    this.killBtn.disabled = g.state !== 'running';
    this.dismissBtn.hidden = !dead;
    this.dismissBtn.disabled = !dead;
  }

  showPages(p: TenantPages): void {
    this.pages = p;
    this.root.dataset.mapped = String(p.mapped);
    this.root.dataset.shared = String(p.shared);
    this.root.dataset.private = String(p.private);
    this.root.dataset.own = String(p.own);
    setText(
      this.pagesText,
      `maps ${p.mapped} page${p.mapped === 1 ? '' : 's'}: ${p.shared} in frames other tenants map too, ${p.private} in private frames · ${p.own} page${p.own === 1 ? '' : 's'} written (its own)`,
    );
  }

  private ran(o: PromptOutcome): void {
    if (!o.ok) this.hooks.log('error', `${this.name}: ${o.error}`);
    this.hooks.ran();
  }
}
