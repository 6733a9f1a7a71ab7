// Runs on the console's main thread. Import any file as a volume: drag and drop onto the
// page (or the drop zone), or pick one with the file input. Shows a progress bar fed by
// dom0's import progress (it reports after each commit, about every 16 MiB). A tar is
// first re-packed with its files on 64 KiB block boundaries (tar-align.ts) so identical
// files dedup; when it cannot be, the event log says why and what would.
import type { DatasetInfo } from '../pool';
import { h, setText } from './dom';
import { realignTar } from './tar-align';
import { BLOCK_BYTES } from './builtin-image';
import { formatBytes } from './dom';

export type ImportFn = (file: File, onProgress: (done: number, total: number) => void) => Promise<{ name: string; info: DatasetInfo | undefined }>;

/** Tars larger than this are imported as they are: re-packing holds two copies in memory. */
const REALIGN_MAX_BYTES = 512 * 1024 * 1024;

export class ImportView {
  readonly root: HTMLElement;
  private readonly progress = h('progress', { max: 1, value: 0, 'aria-label': 'Import progress', hidden: true });
  private readonly status = h('span', { class: 'import-status', role: 'status', 'aria-live': 'polite' });
  private readonly input = h('input', { type: 'file', id: 'import-file' });
  private busy = false;

  constructor(
    private readonly run: ImportFn,
    private readonly log: (kind: 'ok' | 'info' | 'error', text: string) => void,
  ) {
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

  /** A tar with its files moved onto block boundaries, or the file as it is (and why). */
  private async prepare(file: File): Promise<File> {
    if (!/\.tar$/i.test(file.name)) return file;
    if (file.size > REALIGN_MAX_BYTES) {
      this.log('info', `${file.name} is imported as it is (over ${formatBytes(REALIGN_MAX_BYTES)} to re-pack here): identical files in it dedup only if they start on 64 KiB boundaries.`);
      return file;
    }
    const r = realignTar(new Uint8Array(await file.arrayBuffer()), BLOCK_BYTES);
    switch (r.kind) {
      case 'realigned':
        this.log('info', `${file.name}: re-packed ${r.moved} of ${r.files} files onto 64 KiB block boundaries, so identical files share blocks (in a plain tar each file starts 512 bytes after its header, at an offset unrelated to the blocks).`);
        return new File([r.bytes as Uint8Array<ArrayBuffer>], file.name, { type: 'application/x-tar' });
      case 'aligned':
        return file;
      case 'not-tar':
        return file;
      case 'unsupported':
        this.log('info', `${file.name} is imported as it is: ${r.reason}. Its identical files dedup only if they start on 64 KiB boundaries; re-pack it with regular files only to let the console align them.`);
        return file;
    }
  }

  async import(file: File): Promise<void> {
    if (this.busy) {
      setText(this.status, 'An import is already running.');
      this.log('error', `An import is already running; ${file.name} was not imported.`);
      return;
    }
    this.busy = true;
    this.progress.hidden = false;
    this.progress.removeAttribute('value'); // indeterminate until the first commit
    setText(this.status, `Importing ${file.name}…`);
    try {
      const prepared = await this.prepare(file);
      const { name, info } = await this.run(prepared, (done, total) => {
        this.progress.max = total || 1;
        this.progress.value = done;
      });
      this.progress.value = this.progress.max;
      const text = `Imported ${file.name} as ${name} (snapshot ${name}@base${info ? `, ${info.blocks} blocks` : ''}). Boot guests on it with “Base snapshot”.`;
      setText(this.status, text);
      this.log('ok', text);
    } catch (err: unknown) {
      const text = `Import of ${file.name} failed: ${err instanceof Error ? err.message : String(err)}`;
      setText(this.status, text);
      this.log('error', text);
    } finally {
      this.busy = false;
    }
  }
}
