// Runs on the console's main thread. The first screen's guided story: one obvious first
// action ("Boot 4 guests on one image") and then one step at a time — read the image, see
// the memory, edit a file, a second trust group, the copy transport — each step saying in
// one line what just happened, with numbers read off the machine. Every step is a button,
// so the whole story works from the keyboard: focus moves to the next step's button.
import type { Dom0Stats } from '../dom0/dom0-service';
import { formatBytes, h, setText } from './dom';
import type { GuestCard } from './guest-card';

/** What the story needs from the console. */
export interface StoryHost {
  /** Boot `n` guests on new clones of the built-in image; resolves with their cards. */
  boot(n: number, opts?: { group?: string; transport?: 'copy' }): Promise<GuestCard[]>;
  /** Fresh dom0 counters. */
  stats(): Promise<Dom0Stats>;
  log(kind: 'ok' | 'error', text: string): void;
  /** The built-in image's size in blocks and bytes. */
  image(): Promise<{ blocks: number; bytes: number }>;
  /** Whether the page has shared memory at all (false: the copy step has nothing to compare). */
  zeroCopy(): boolean;
}

interface Step {
  id: string;
  title: string;
  run: () => Promise<string>;
}

export const STORY_EDIT_FILE = 'usr/share/doc/tabvisor/README.md';

export class Story {
  readonly root = h('section', { class: 'panel story', id: 'story', 'aria-labelledby': 'story-h' });
  private readonly list = h('ol', { class: 'story-steps' });
  private readonly steps: Step[];
  private readonly buttons: HTMLButtonElement[] = [];
  private readonly results: HTMLElement[] = [];
  private main: GuestCard[] = [];
  private next = 0;
  private running = false;
  private enabled = false;

  constructor(private readonly host: StoryHost) {
    this.steps = [
      { id: 'boot', title: 'Boot 4 guests on one image', run: () => this.boot() },
      { id: 'scan', title: 'Every guest reads the whole image', run: () => this.scan() },
      { id: 'edit', title: 'One guest edits a file', run: () => this.edit() },
      { id: 'group', title: 'A guest in a second trust group', run: () => this.group() },
      { id: 'copy', title: 'The same guest on the copy transport', run: () => this.copy() },
    ];
    this.root.append(
      h('h2', { id: 'story-h' }, 'See it in 30 seconds'),
      h(
        'p',
        { class: 'story-lede' },
        'Each guest below is a virtual machine (a locked-down worker) on its own copy-on-write clone of one disk image. ' +
          'They read its blocks from one copy in shared memory instead of each holding its own.',
      ),
      this.list,
    );
    this.steps.forEach((s, i) => {
      const b = h('button', { type: 'button', class: i === 0 ? 'primary' : '', 'data-step': s.id, disabled: true }, i === 0 ? s.title : `${i + 1}. ${s.title}`);
      b.addEventListener('click', () => void this.run(i));
      const out = h('p', { class: 'step-result', 'data-step-result': s.id });
      this.buttons.push(b);
      this.results.push(out);
      this.list.append(h('li', { 'data-step': s.id }, b, out));
    });
  }

  /** The hypervisor is up: the first step may run. */
  enable(): void {
    this.enabled = true;
    this.refresh();
  }

  /** The hypervisor went away (handed over): nothing may run. */
  disable(): void {
    this.enabled = false;
    this.refresh();
  }

  private refresh(): void {
    this.buttons.forEach((b, i) => {
      b.disabled = !this.enabled || this.running || i !== this.next;
      b.closest('li')!.dataset.state = i < this.next ? 'done' : i === this.next ? 'next' : 'later';
    });
  }

  private async run(i: number): Promise<void> {
    if (this.running || i !== this.next) return;
    const step = this.steps[i]!;
    this.running = true;
    this.refresh();
    setText(this.results[i]!, 'Running…');
    try {
      const text = await step.run();
      setText(this.results[i]!, text);
      this.host.log('ok', text);
      this.next = i + 1;
    } catch (err: unknown) {
      const text = `${step.title} failed: ${err instanceof Error ? err.message : String(err)}`;
      setText(this.results[i]!, text);
      this.host.log('error', text);
    } finally {
      this.running = false;
      this.refresh();
      this.buttons[this.next]?.focus();
    }
  }

  private alive(): GuestCard[] {
    const live = this.main.filter((c) => c.guest.state === 'running');
    if (live.length === 0) throw new Error('the story’s guests are gone: boot some again with “Spawn”');
    return live;
  }

  private async boot(): Promise<string> {
    const t0 = performance.now();
    this.main = await this.host.boot(4);
    const img = await this.host.image();
    const names = this.main.map((c) => c.name).join(', ');
    return `Booted ${names} in ${((performance.now() - t0) / 1000).toFixed(1)} s, each on its own clone of image@base (${formatBytes(img.bytes)}). A clone costs no space: its blocks still point at the image's.`;
  }

  private async scan(): Promise<string> {
    const guests = this.alive();
    const before = await this.host.stats();
    await Promise.all(guests.map((c) => c.scan()));
    const s = await this.host.stats();
    const img = await this.host.image();
    const g = s.groups.find((x) => x.id === guests[0]!.group) ?? s.groups[0];
    const fills = (g?.fills ?? 0) - (before.groups.find((x) => x.id === g?.id)?.fills ?? 0);
    const evictions = (g?.evictions ?? 0) - (before.groups.find((x) => x.id === g?.id)?.evictions ?? 0);
    const read = guests.length * img.bytes;
    return (
      `${guests.length} guests read ${formatBytes(img.bytes)} each (${formatBytes(read)} in all), but dom0 filled only ${fills} frames ` +
      `(${formatBytes(fills * (g?.frameBytes ?? 65536))}): identical blocks are one frame, read by all. ` +
      (evictions > 0 ? `The ${g?.frames}-frame arena is smaller than the image, so ${evictions} frames were evicted and refilled.` : `${g?.resident} frames are resident.`)
    );
  }

  private async edit(): Promise<string> {
    const [first, ...others] = this.alive();
    const lbas = await first!.editFile(STORY_EDIT_FILE, `EDITED BY ${first!.name} — `);
    return `${first!.name} wrote block ${lbas.join(', ')} of ${STORY_EDIT_FILE}: copy-on-write gave it a private block in its own clone (red mark in its page map). ${others.length} other guest${others.length === 1 ? '' : 's'} still share${others.length === 1 ? 's' : ''} the image's block.`;
  }

  private async group(): Promise<string> {
    const [card] = await this.host.boot(1, { group: 'tenant-b' });
    await card!.scan();
    const s = await this.host.stats();
    const b = s.groups.find((x) => x.id === 'tenant-b');
    return `${card!.name} runs in trust group tenant-b: its own arena now holds ${b?.resident ?? 0} frames of the same image. Frames are shared only inside a group, never across.`;
  }

  private async copy(): Promise<string> {
    if (!this.host.zeroCopy()) return 'This page has no shared memory, so every guest already runs on the copy transport: see “Bytes copied”.';
    const before = await this.host.stats();
    const [card] = await this.host.boot(1, { transport: 'copy' });
    await card!.scan();
    const s = await this.host.stats();
    const copied = s.driver.bytesCopied - before.driver.bytesCopied;
    return `${card!.name} runs on the copy transport: booting and scanning copied ${formatBytes(copied)} into the guest. The zero-copy guests copied 0 B: they read views onto the arena.`;
  }
}
