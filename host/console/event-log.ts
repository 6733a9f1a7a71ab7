// Runs on the console's main thread. What every action did, where the user can see it: a
// log panel (newest first, kept to the last 200 lines, a live region for screen readers)
// and a toast with the latest line that stays a few seconds (errors until dismissed). The
// toast does not float over the page: it is a line of its own at the top of the actions
// column (sticky while that column scrolls), so it never covers the machine's panels, and
// its space is kept when idle, so nothing jumps under the pointer when a message comes.
import { h, setText } from './dom';

export type EventKind = 'ok' | 'info' | 'error';

export interface LoggedEvent {
  at: number;
  kind: EventKind;
  text: string;
}

const KEEP = 200;
const TOAST_MS = 6000;
const IDLE = 'What each action did shows here, and in the event log.';

export class EventLog {
  readonly root = h('section', { class: 'panel events', 'aria-labelledby': 'ev-h' }, h('h2', { id: 'ev-h' }, 'Event log'));
  /** Every event, oldest first (tests and the story read it). */
  readonly events: LoggedEvent[] = [];
  private readonly list = h('ol', { class: 'event-list' });
  private readonly region = h('div', { class: 'event-scroll', role: 'log', 'aria-live': 'polite', 'aria-label': 'What the console did, newest first', tabindex: 0 }, this.list);
  // Not a live region itself: the log above announces each event once.
  readonly toast = h('div', { class: 'toast', id: 'toast', 'data-kind': 'idle' });
  private readonly toastText = h('span', { class: 'toast-text' }, IDLE);
  private readonly toastClose: HTMLButtonElement;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    // Out of the tab order: the toast sits above the story, and a message arriving must not
    // put a stop before the first action. Escape dismisses it from the keyboard; the log
    // keeps every message.
    const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss this message (Escape)', tabindex: -1, hidden: true }, '×');
    close.addEventListener('click', () => this.hideToast());
    addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.toast.dataset.kind !== 'idle' && this.toast.isConnected) this.hideToast();
    });
    this.toastClose = close;
    this.toast.append(this.toastText, close);
    this.root.append(this.region);
  }

  add(kind: EventKind, text: string): void {
    const e = { at: Date.now(), kind, text };
    this.events.push(e);
    if (this.events.length > KEEP) this.events.shift();
    const time = new Date(e.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    this.list.prepend(h('li', { class: `ev ${kind}`, 'data-kind': kind }, h('time', {}, time), ' ', kind === 'error' ? h('strong', {}, 'Error: ') : null, text));
    while (this.list.childElementCount > KEEP) this.list.lastElementChild?.remove();
    this.showToast(kind, text);
  }

  ok(text: string): void {
    this.add('ok', text);
  }

  info(text: string): void {
    this.add('info', text);
  }

  error(text: string): void {
    this.add('error', text);
  }

  private showToast(kind: EventKind, text: string): void {
    this.toast.dataset.kind = kind;
    this.toastClose.hidden = false;
    setText(this.toastText, kind === 'error' ? `Error: ${text}` : text);
    if (this.timer) clearTimeout(this.timer);
    this.timer = kind === 'error' ? null : setTimeout(() => this.hideToast(), TOAST_MS);
  }

  private hideToast(): void {
    this.toast.dataset.kind = 'idle';
    this.toastClose.hidden = true;
    setText(this.toastText, IDLE);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The message of anything thrown, for one line of the log. */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.message}` : String(err);
}
