// Runs on the console's main thread. One guest domain on the page: what it is (domain,
// clone, trust group, transport, state), buttons that run its workload through its
// comlink API, and its own console — an opaque-origin iframe wired to the guest worker by
// a MessagePort (console-frame.ts). Buttons echo into that console too (api.exec), so
// what you click is what you would have typed.
import { transfer } from 'comlink';
import type { GuestHandle } from '../page/hypervisor';
import type { TarGuestApi } from '../../guest/workloads/tar-guest';
import { createConsoleFrame } from './console-frame';
import { h, setText } from './dom';

export interface GuestCardHooks {
  kill(card: GuestCard): void;
  announce(text: string): void;
}

export class GuestCard {
  readonly root: HTMLElement;
  private readonly state = h('span', { class: 'state' });
  private readonly out = h('output', { class: 'result', 'aria-live': 'polite' });
  private readonly files = h('select', { 'aria-label': 'File to edit' });
  private readonly editText = h('input', { type: 'text', value: 'EDITED BY THIS GUEST — ', 'aria-label': 'Text to write at the start of the file' });
  private readonly streamBtn: HTMLButtonElement;
  private readonly buttons: HTMLButtonElement[] = [];

  constructor(
    readonly guest: GuestHandle<TarGuestApi>,
    readonly group: string,
    private readonly hooks: GuestCardHooks,
    compact = false,
  ) {
    const label = `dom ${guest.id}`;
    const btn = (text: string, run: () => Promise<void>, extra: Record<string, string> = {}): HTMLButtonElement => {
      const b = h('button', { type: 'button', ...extra }, text);
      b.addEventListener('click', () => {
        b.disabled = true;
        run()
          .catch((err: unknown) => setText(this.out, `error: ${err instanceof Error ? err.message : String(err)}`))
          .finally(() => (b.disabled = guest.state !== 'running'));
      });
      this.buttons.push(b);
      return b;
    };
    this.streamBtn = btn('Stream reads', () => this.toggleStream(), { 'aria-pressed': 'false', 'data-action': 'stream' });
    const channel = new MessageChannel();
    const frame = createConsoleFrame(`Console of guest ${label}`, channel.port1);
    void guest.api.attachConsole(transfer(channel.port2, [channel.port2]));

    const editForm = h(
      'form',
      { class: 'edit', 'aria-label': `Edit a file in ${label}'s clone` },
      this.files,
      this.editText,
      h('button', { type: 'submit', 'data-action': 'edit' }, 'Write (copy-on-write)'),
    );
    editForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.edit();
    });

    this.root = h(
      'article',
      { class: 'guest-card', 'data-guest': guest.id, 'aria-labelledby': `guest-${guest.id}-h` },
      h(
        'header',
        {},
        h('h3', { id: `guest-${guest.id}-h` }, label),
        h('span', { class: 'meta' }, `${guest.dataset} · group ${group} · ${guest.transport}`),
        this.state,
      ),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': `Workload of ${label}` },
        btn('List files', async () => this.show(await guest.api.exec('ls')), { 'data-action': 'ls' }),
        btn('Read all files', () => this.readAll(), { 'data-action': 'read-all' }),
        btn('Scan image', async () => this.show(await guest.api.exec('scan')), { 'data-action': 'scan' }),
        btn('Hex of block 0', async () => this.show(await guest.api.exec('hex 0')), { 'data-action': 'hex' }),
        this.streamBtn,
        btn('Kill', async () => this.hooks.kill(this), { class: 'danger', 'data-action': 'kill' }),
      ),
      compact ? null : editForm,
      this.out,
      frame,
    );
    this.setState();
    void this.loadFiles();
  }

  setState(): void {
    const g = this.guest;
    const text = g.state === 'faulted' ? `faulted: ${g.fault}` : g.state === 'destroyed' ? 'killed' : g.state;
    setText(this.state, text);
    this.root.dataset.state = g.state;
    for (const b of this.buttons) b.disabled = g.state !== 'running';
    for (const el of this.root.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>('form *')) el.disabled = g.state !== 'running';
  }

  private show(text: string): void {
    const first = text.split('\n').slice(0, 3).join(' ⏎ ');
    setText(this.out, first.length > 200 ? `${first.slice(0, 200)}…` : first);
  }

  private async loadFiles(): Promise<void> {
    const list = await this.guest.api.list();
    this.files.replaceChildren(...list.map((e) => h('option', { value: e.name }, e.name)));
  }

  private async readAll(): Promise<void> {
    const list = await this.guest.api.list();
    let bytes = 0;
    for (const e of list) bytes += (await this.guest.api.readFile(e.name, e.size)).size;
    this.show(`read ${list.length} files, ${bytes} bytes`);
  }

  private async toggleStream(): Promise<void> {
    const on = this.streamBtn.getAttribute('aria-pressed') !== 'true';
    await this.guest.api.stream(on);
    this.streamBtn.setAttribute('aria-pressed', String(on));
    this.show(on ? 'streaming reads over the whole image' : 'stream stopped');
  }

  private async edit(): Promise<void> {
    const file = this.files.value;
    const text = this.editText.value;
    if (!file || !text) return;
    const out = await this.guest.api.exec(`edit ${file} ${text}`);
    this.show(out);
    this.hooks.announce(`dom ${this.guest.id} wrote ${file}: ${out}`);
  }
}
