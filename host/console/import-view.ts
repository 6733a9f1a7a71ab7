// Runs on the console's main thread. Import any file as a volume: drag and drop onto the
// page (or the drop zone), or pick one with the file input. Shows a progress bar fed by
// dom0's import progress (it reports after each commit, about every 16 MiB).
import { h, setText } from './dom';

export type ImportFn = (file: File, onProgress: (done: number, total: number) => void) => Promise<string>;

export class ImportView {
  readonly root: HTMLElement;
  private readonly progress = h('progress', { max: 1, value: 0, 'aria-label': 'Import progress', hidden: true });
  private readonly status = h('span', { class: 'import-status', role: 'status', 'aria-live': 'polite' });
  private readonly input = h('input', { type: 'file', id: 'import-file' });
  private busy = false;

  constructor(private readonly run: ImportFn) {
    const zone = h(
      'div',
      { class: 'drop-zone', 'data-testid': 'drop-zone' },
      h('label', { for: 'import-file' }, 'Import a file as a volume (or drop one anywhere on the page): '),
      this.input,
    );
    this.root = h('div', { class: 'import' }, zone, this.progress, this.status);
    this.input.addEventListener('change', () => {
      const f = this.input.files?.[0];
      if (f) void this.import(f);
      this.input.value = '';
    });
    // Anywhere on the page: a dropped file should not navigate away from the console.
    addEventListener('dragover', (ev) => {
      if (ev.dataTransfer?.types.includes('Files')) {
        ev.preventDefault();
        zone.classList.add('over');
      }
    });
    addEventListener('dragleave', () => zone.classList.remove('over'));
    addEventListener('drop', (ev) => {
      const f = ev.dataTransfer?.files[0];
      zone.classList.remove('over');
      if (!f) return;
      ev.preventDefault();
      void this.import(f);
    });
  }

  async import(file: File): Promise<void> {
    if (this.busy) {
      setText(this.status, 'An import is already running.');
      return;
    }
    this.busy = true;
    this.progress.hidden = false;
    this.progress.removeAttribute('value'); // indeterminate until the first commit
    setText(this.status, `Importing ${file.name}…`);
    try {
      const name = await this.run(file, (done, total) => {
        this.progress.max = total || 1;
        this.progress.value = done;
      });
      this.progress.value = this.progress.max;
      setText(this.status, `Imported ${file.name} as ${name} (snapshot ${name}@base).`);
    } catch (err: unknown) {
      setText(this.status, `Import of ${file.name} failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.busy = false;
    }
  }
}
