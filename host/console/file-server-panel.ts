// Runs on the console's main thread. A self-contained panel: one guest serves the files
// of its volume to another over an inter-domain channel (guest/workloads/file-server-guest.ts),
// with messages per second and bytes copied, as the guests count them.
import type { GuestHandle, Hypervisor } from '../page/hypervisor';
import type { FileServerGuestApi, FileServerStats } from '../../guest/workloads/file-server-guest';
import { formatBytes, h, setText } from './dom';

// Loaded by the guest bootstrap with import(), like the tar guest (see console-app.ts).
const FILE_SERVER_URL = new URL(
  `${import.meta.env.BASE_URL}guest/workloads/file-server-guest.${import.meta.env.DEV ? 'ts' : 'js'}`,
  location.href,
);

const FIELDS = [
  ['rate', 'Messages/s', 'requests and reply chunks on the channel, both directions'],
  ['files', 'Files fetched', 'whole files the client received'],
  ['sent', 'Bytes served', 'payload bytes the server sent'],
  ['copiedServer', 'Bytes copied (server)', 'from its block views into channel buffers: one copy per byte served'],
  ['copiedClient', 'Bytes copied (client)', 'the client reads replies in place: 0'],
] as const;
type Key = (typeof FIELDS)[number][0];

export class FileServerPanel {
  readonly root = h('section', { class: 'panel counters file-server', 'aria-labelledby': 'fs-h' }, h('h2', { id: 'fs-h' }, 'File server over a channel'));
  private readonly button = h('button', { type: 'button', id: 'fs-toggle' }, 'Start file server');
  private readonly status = h('p', { id: 'fs-status', role: 'status' }, 'Stopped.');
  private readonly cells = new Map<Key, HTMLElement>();
  private server: GuestHandle<FileServerGuestApi> | null = null;
  private client: GuestHandle<FileServerGuestApi> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private last: { t: number; messages: number } | null = null;

  constructor(
    private readonly hv: () => Hypervisor,
    private readonly base: () => string,
  ) {
    const dl = h('dl', {});
    for (const [key, label, help] of FIELDS) {
      const dd = h('dd', { 'data-fs': key }, '–');
      this.cells.set(key, dd);
      dl.append(h('div', { class: 'counter' }, h('dt', { title: help }, label), dd));
    }
    this.button.addEventListener('click', () => void (this.server ? this.stop() : this.start()).catch((err: unknown) => this.say(`Failed: ${String(err)}`)));
    this.root.append(this.button, this.status, dl);
  }

  private say(text: string): void {
    setText(this.status, text);
  }

  async start(): Promise<void> {
    this.button.disabled = true;
    try {
      const hv = this.hv();
      const spawn = () => hv.guests.spawn<FileServerGuestApi>({ base: this.base(), module: FILE_SERVER_URL });
      this.server = await spawn();
      this.client = await spawn();
      hv.channels.allow(this.server.id, this.client.id);
      const names = (await this.server.api.files()).map((f) => f.name);
      this.server.api.serve(true);
      const channel = await this.client.api.connect(this.server.id);
      await this.client.api.run(names);
      this.say(`dom ${this.server.id} serves ${names.length} files to dom ${this.client.id} on channel ${channel}.`);
      this.button.textContent = 'Stop file server';
      this.last = null;
      this.timer = setInterval(() => void this.refresh(), 1000);
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      this.button.disabled = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const g of [this.client, this.server]) if (g && g.state === 'running') await g.kill().catch(() => undefined);
    this.server = this.client = null;
    this.button.textContent = 'Start file server';
    this.say('Stopped.');
  }

  private async refresh(): Promise<void> {
    if (!this.server || !this.client) return;
    let s: FileServerStats;
    let c: FileServerStats;
    try {
      [s, c] = await Promise.all([this.server.api.stats(), this.client.api.stats()]);
    } catch {
      return this.stop();
    }
    const now = performance.now();
    const messages = c.messages;
    if (this.last) setText(this.cells.get('rate')!, Math.round(((messages - this.last.messages) * 1000) / (now - this.last.t)).toLocaleString('en'));
    this.last = { t: now, messages };
    setText(this.cells.get('files')!, c.files.toLocaleString('en'));
    setText(this.cells.get('sent')!, formatBytes(s.bytesSent));
    setText(this.cells.get('copiedServer')!, formatBytes(s.bytesCopied));
    setText(this.cells.get('copiedClient')!, formatBytes(c.bytesCopied));
    if (s.error || c.error) this.say(`Stopped by an error: ${s.error ?? c.error}`);
  }
}
