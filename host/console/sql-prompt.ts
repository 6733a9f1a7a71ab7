// Runs on the console's main thread: a SQL prompt — a labelled statement box, a Run button
// (Ctrl+Enter or ⌘+Enter in the box runs it too), and the answer under it: rows as a table
// (at most MAX_ROWS; the guest counts the rest without sending them), or the error in words.
import type { QueryOptions, QueryResult, SqlParams } from '../../guest/workloads/sql-guest';
import { h } from './dom';

/** Rows a prompt shows; the guest keeps no more than this, so a big answer never crosses. */
export const MAX_ROWS = 50;
export const EXAMPLE_QUERY = 'SELECT country, count(*) AS customers FROM customers GROUP BY country ORDER BY customers DESC LIMIT 5';

export type QueryFn = (sql: string, params?: SqlParams, opts?: QueryOptions) => Promise<QueryResult>;

export type PromptOutcome = { ok: true; result: QueryResult; ms: number } | { ok: false; error: string };

export class SqlPrompt {
  readonly root: HTMLFormElement;
  readonly input: HTMLTextAreaElement;
  readonly out = h('div', { class: 'sql-out', 'aria-live': 'polite' });
  private readonly button: HTMLButtonElement;

  constructor(
    /** Unique in the document: the ids of the box and its label derive from it. */
    id: string,
    /** The box's visible label; the form is named after it too ("Run: <label>"). */
    label: string,
    private readonly query: QueryFn,
    private readonly after: (o: PromptOutcome) => void = () => undefined,
  ) {
    this.input = h('textarea', { id: `${id}-sql`, rows: 3, class: 'sql-prompt', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': `${id}-sql-hint` });
    this.input.value = EXAMPLE_QUERY;
    this.button = h('button', { type: 'submit', class: 'sql-run' }, 'Run');
    this.root = h(
      'form',
      { class: 'sql-form', 'aria-label': `Run: ${label}` },
      h('label', { for: this.input.id }, label),
      this.input,
      h('div', { class: 'sql-bar' }, this.button, h('span', { class: 'meta', id: `${id}-sql-hint` }, 'Ctrl+Enter runs it · example: customers by country')),
      this.out,
    );
    this.root.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.run();
    });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        void this.run();
      }
    });
  }

  set disabled(off: boolean) {
    this.input.disabled = off;
    this.button.disabled = off;
  }

  /** Run what is in the box; the answer (or error) replaces the last one. */
  async run(): Promise<PromptOutcome> {
    const t0 = performance.now();
    this.root.setAttribute('aria-busy', 'true');
    let o: PromptOutcome;
    try {
      const result = await this.query(this.input.value, undefined, { maxRows: MAX_ROWS });
      o = { ok: true, result, ms: performance.now() - t0 };
      this.out.replaceChildren(resultTable(result), h('p', { class: 'meta sql-count' }, `${countText(result)} in ${o.ms.toFixed(1)} ms`));
    } catch (err: unknown) {
      o = { ok: false, error: err instanceof Error ? err.message : String(err) };
      this.out.replaceChildren(h('p', { class: 'sql-error', role: 'alert' }, o.error));
    } finally {
      this.root.removeAttribute('aria-busy');
    }
    this.after(o);
    return o;
  }
}

function countText(r: QueryResult): string {
  if (r.columns.length === 0) return 'done';
  const n = r.total ?? r.rows.length;
  return r.total !== undefined ? `first ${r.rows.length} of ${n} rows` : `${n} row${n === 1 ? '' : 's'}`;
}

/** The rows as a table (a statement with no result columns: a note that it ran). */
export function resultTable(r: QueryResult): HTMLElement {
  if (r.columns.length === 0) return h('p', { class: 'meta' }, 'Statement done (no rows).');
  const head = h('tr', {}, ...r.columns.map((c) => h('th', { scope: 'col' }, c)));
  const rows = r.rows.slice(0, MAX_ROWS).map((row) => h('tr', {}, ...row.map((v) => h('td', {}, v instanceof Uint8Array ? `blob(${v.length})` : v === null ? 'NULL' : String(v)))));
  return h('div', { class: 'sql-table', tabindex: 0, role: 'region', 'aria-label': 'Query result' }, h('table', {}, h('thead', {}, head), h('tbody', {}, ...rows)));
}
