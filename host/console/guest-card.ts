// Runs on the console's main thread. One guest domain as a compact row: its name (the
// clone it runs on is named after it), trust group, transport, state, and buttons that
// run its workload through its comlink API. Its own console — an opaque-origin iframe
// wired to the guest worker by a MessagePort (console-frame.ts) — and the edit form open
// under "Console and edit", so 32 guests fit beside the machine panels. Buttons echo into
// that console too (api.exec), so what you click is what you would have typed.
import { transfer } from 'comlink';
import type { GuestHandle } from '../page/hypervisor';
import type { ScanResult, TarGuestApi } from '../../guest/workloads/tar-guest';
import { createConsoleFrame } from './console-frame';
import { formatBytes, h, setText } from './dom';

export interface GuestCardHooks {
  kill(card: GuestCard): Promise<void>;
  dismiss(card: GuestCard): void;
  log(kind: 'ok' | 'error', text: string): void;
}

/** A guest's state on its card (text and data-state); true when it is over (dismissable). */
export function showGuestState(g: GuestHandle<unknown>, card: HTMLElement, state: HTMLElement): boolean {
  setText(state, g.state === 'faulted' ? `faulted: ${g.fault}` : g.state === 'destroyed' ? 'killed' : g.state === 'ended' ? `ended: ${g.endReason}` : g.state);
  card.dataset.state = g.state;
  return g.state === 'faulted' || g.state === 'destroyed' || g.state === 'ended';
}

export class GuestCard {
  /** Settles when the guest has listed its image (the file chooser is filled): its boot reads are over. */
  readonly listed: Promise<void>;
  readonly root: HTMLElement;
  private readonly state = h('span', { class: 'state' });
  private readonly out = h('output', { class: 'result' });
  private readonly files = h('select', { 'aria-label': 'File to edit' });
  private readonly editText = h('input', { type: 'text', value: 'EDITED BY THIS GUEST — ', 'aria-label': 'Text to write at the start of the file' });
  private readonly streamBtn: HTMLButtonElement;
  private readonly dismissBtn: HTMLButtonElement;
  private readonly buttons: HTMLButtonElement[] = [];

  constructor(
    readonly guest: GuestHandle<TarGuestApi>,
    /** The guest's name, as its clone is named (`image/vm-3` → `vm-3`). */
    readonly name: string,
    readonly group: string,
    private readonly hooks: GuestCardHooks,
    compact = false,
  ) {
    const btn = (text: string, action: string, run: () => Promise<void>, extra: Record<string, string> = {}): HTMLButtonElement => {
      const b = h('button', { type: 'button', 'data-action': action, ...extra }, text);
      b.addEventListener('click', () => {
        b.disabled = true;
        run()
          .catch((err: unknown) => this.fail(text, err))
          .finally(() => (b.disabled = guest.state !== 'running'));
      });
      this.buttons.push(b);
      return b;
    };
    this.streamBtn = btn('Stream reads', 'stream', () => this.toggleStream(), { 'aria-pressed': 'false' });
    const channel = new MessageChannel();
    const frame = createConsoleFrame(`Console of guest ${name}`, channel.port1);
    void guest.api.attachConsole(transfer(channel.port2, [channel.port2])).catch(() => undefined);

    const editForm = h(
      'form',
      { class: 'edit', 'aria-label': `Edit a file in ${name}'s clone` },
      this.files,
      this.editText,
      h('button', { type: 'submit', 'data-action': 'edit' }, 'Write (copy-on-write)'),
    );
    editForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.edit().catch((err: unknown) => this.fail('Write', err));
    });
    this.dismissBtn = h('button', { type: 'button', 'data-action': 'dismiss', hidden: true, 'aria-label': `Dismiss ${name}` }, 'Dismiss');
    this.dismissBtn.addEventListener('click', () => this.hooks.dismiss(this));

    const id = `guest-${guest.id}-h`;
    this.root = h(
      'article',
      { class: 'guest-card', 'data-guest': guest.id, 'data-name': name, 'aria-labelledby': id },
      h(
        'header',
        {},
        h('h3', { id }, name),
        h('span', { class: 'meta' }, `dom ${guest.id} · ${guest.dataset} · ${group || 'default'} group · ${guest.transport}`),
        this.state,
      ),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': `Workload of ${name}` },
        btn('List files', 'ls', async () => this.show(await guest.api.exec('ls'))),
        btn('Read all files', 'read-all', () => this.readAll()),
        btn('Scan image', 'scan', async () => void (await this.scan())),
        btn('Hex of block 0', 'hex', async () => this.show(await guest.api.exec('hex 0'))),
        this.streamBtn,
        btn('Kill', 'kill', () => this.hooks.kill(this), { class: 'danger', 'aria-label': `Kill ${name}` }),
        this.dismissBtn,
      ),
      this.out,
      h('details', { class: 'more' }, h('summary', {}, 'Console and edit'), compact ? null : editForm, frame),
    );
    this.setState();
    this.listed = this.loadFiles();
  }

  setState(): void {
    const g = this.guest;
    const dead = showGuestState(g, this.root, this.state);
    for (const b of this.buttons) b.disabled = g.state !== 'running';
    for (const el of this.root.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>('form *')) el.disabled = g.state !== 'running';
    this.dismissBtn.hidden = !dead;
    this.dismissBtn.disabled = !dead;
  }

  /** Read every block of the image once. */
  async scan(): Promise<ScanResult> {
    const r = await this.guest.api.scan();
    const text = `${this.name} scanned ${r.blocks} blocks (${formatBytes(r.bytes)}) in ${r.ms.toFixed(0)} ms, ${r.shared ? 'all as views onto shared memory' : 'copied into the guest'}`;
    this.show(text);
    this.hooks.log('ok', text);
    return r;
  }

  /** Write `text` over the start of `file` (copy-on-write); the LBAs written. */
  async editFile(file: string, text: string): Promise<number[]> {
    const lbas = await this.guest.api.edit(file, text);
    const line = `${this.name} wrote ${file}: block${lbas.length === 1 ? '' : 's'} ${lbas.join(', ')} now private to its clone`;
    this.show(line);
    this.hooks.log('ok', line);
    return lbas;
  }

  private fail(what: string, err: unknown): void {
    const text = `${this.name}: ${what} failed: ${err instanceof Error ? err.message : String(err)}`;
    setText(this.out, text);
    this.hooks.log('error', text);
  }

  private show(text: string): void {
    const first = text.split('\n').slice(0, 3).join(' ⏎ ');
    setText(this.out, first.length > 200 ? `${first.slice(0, 200)}…` : first);
  }

  /** Never rejects: `listed` (which the story's boot awaits) must settle whatever the guest answers. */
  private async loadFiles(): Promise<void> {
    // The guest is not trusted: what comes back may be anything structured clone can carry.
    const got: unknown = await this.guest.api.list().catch(() => []);
    const names = Array.isArray(got) ? got.map((e: unknown) => (e as { name?: unknown } | null)?.name).filter((n): n is string => typeof n === 'string') : [];
    this.files.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    // Says the boot listing is over (its pool reads done), whatever it found.
    this.root.dataset.files = String(names.length);
  }

  private async readAll(): Promise<void> {
    const list = await this.guest.api.list();
    let bytes = 0;
    for (const e of list) bytes += (await this.guest.api.readFile(e.name, e.size)).size;
    const text = `${this.name} read ${list.length} files, ${formatBytes(bytes)}`;
    this.show(text);
    this.hooks.log('ok', text);
  }

  private async toggleStream(): Promise<void> {
    const on = this.streamBtn.getAttribute('aria-pressed') !== 'true';
    await this.guest.api.stream(on);
    this.streamBtn.setAttribute('aria-pressed', String(on));
    const text = on ? `${this.name} streams reads over the whole image` : `${this.name} stopped streaming`;
    this.show(text);
    this.hooks.log('ok', text);
  }

  private async edit(): Promise<void> {
    const file = this.files.value;
    const text = this.editText.value;
    if (!file || !text) throw new Error('pick a file and type some text first');
    await this.editFile(file, text);
  }
}
