// Guest module (runs in a hardened guest worker, loaded by guest/bootstrap.ts): the demo
// workload. Treats its block device as a tar archive (the built-in image) and offers
// list / read / scan / edit / hex, two ways: as a comlink API on `ctx.init.control` (the
// console page's buttons and the e2e tests call it), and as a line-oriented shell on a
// MessagePort the host hands over with `attachConsole` (the guest's console iframe types
// into it). Every block read is timed for the console's latency histogram.
import { expose } from 'comlink';
import { openBlockDevice, type BlockDevice, type BlockDeviceStats } from '../block-device';
import type { GuestContext } from '../../shared/boot-protocol';
import type { DomainGrant } from '../../shared/grant';
import { bucketOf, LATENCY_EDGES_US, type LatencySnapshot } from '../../shared/latency-buckets';
import { listTar, type TarEntry } from './tar-reader';

export interface FileRead {
  name: string;
  size: number;
  /** UTF-8 text of the first `maxBytes` bytes. */
  text: string;
  truncated: boolean;
  /** Blocks the file spans. */
  lbas: number[];
}

export interface ScanResult {
  blocks: number;
  bytes: number;
  ms: number;
  /** Every read was a view onto shared memory (zero-copy). */
  shared: boolean;
  /** A sum over the bytes (every 64th), so the reads cannot be optimised away. */
  checksum: number;
}

export interface TarGuestStats extends BlockDeviceStats {
  /** LBAs this guest wrote (copy-on-write into its clone) since it booted. */
  ownBlocks: number[];
  streaming: boolean;
  passes: number;
  /** What stopped the last stream by itself (`code: message` of the read that failed), or null. */
  streamStopped: string | null;
}

export interface TarGuestApi {
  transport(): 'zero-copy' | 'copy';
  attachConsole(port: MessagePort): void;
  list(): Promise<TarEntry[]>;
  readFile(name: string, maxBytes?: number): Promise<FileRead>;
  scan(): Promise<ScanResult>;
  edit(name: string, text: string): Promise<number[]>;
  hex(lba: number, offset?: number, length?: number): Promise<string>;
  stream(on: boolean): void;
  latency(): LatencySnapshot;
  stats(): TarGuestStats;
  /** Run one shell command as if typed into the console: echoed there, and returned. */
  exec(line: string): Promise<string>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

class TarGuest implements TarGuestApi {
  private entries: Promise<TarEntry[]> | null = null;
  private readonly counts = new Array<number>(LATENCY_EDGES_US.length).fill(0);
  private readonly own = new Set<number>();
  private streaming = false;
  private passes = 0;
  private streamStopped: string | null = null;

  constructor(private readonly dev: BlockDevice) {}

  transport(): 'zero-copy' | 'copy' {
    return this.dev.transport;
  }

  /** One timed block read; the caller must release the view. */
  private async timedRead(lba: number) {
    const t0 = performance.now();
    const v = await this.dev.read(lba);
    this.counts[bucketOf((performance.now() - t0) * 1000)]!++;
    return v;
  }

  /** Copy bytes [offset, offset+length) of the volume out of the blocks that hold them. */
  private async readAt(offset: number, length: number): Promise<Uint8Array> {
    const bs = this.dev.blockBytes;
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      using v = await this.timedRead(Math.floor(at / bs));
      const start = at % bs;
      const n = Math.min(bs - start, length - done);
      out.set(v.bytes.subarray(start, start + n), done);
      done += n;
    }
    return out;
  }

  async list(): Promise<TarEntry[]> {
    // Headers never change (edits keep sizes), so one walk per boot is enough; callers that
    // come while it runs (the card's file list and a first command) share it. A failed walk
    // is forgotten, so the next call tries again.
    this.entries ??= listTar((o, n) => this.readAt(o, n), this.dev.blocks * this.dev.blockBytes).catch((err: unknown) => {
      this.entries = null;
      throw err;
    });
    return this.entries;
  }

  private async entry(name: string): Promise<TarEntry> {
    const e = (await this.list()).find((x) => x.name === name || x.name === name.replace(/^\/+/, ''));
    if (!e) throw new Error(`no such file in the image: ${name}`);
    return e;
  }

  private lbasOf(e: TarEntry): number[] {
    const bs = this.dev.blockBytes;
    const first = Math.floor(e.dataOffset / bs);
    const last = Math.floor((e.dataOffset + Math.max(e.size, 1) - 1) / bs);
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  }

  async readFile(name: string, maxBytes = 64 * 1024): Promise<FileRead> {
    const e = await this.entry(name);
    const n = Math.min(e.size, maxBytes);
    const bytes = await this.readAt(e.dataOffset, n);
    return { name: e.name, size: e.size, text: decoder.decode(bytes), truncated: n < e.size, lbas: this.lbasOf(e) };
  }

  async scan(): Promise<ScanResult> {
    const t0 = performance.now();
    let checksum = 0;
    let shared = true;
    for (let lba = 0; lba < this.dev.blocks; lba++) {
      using v = await this.timedRead(lba);
      shared &&= v.shared;
      for (let i = 0; i < v.bytes.length; i += 64) checksum = (checksum + v.bytes[i]!) | 0;
    }
    return { blocks: this.dev.blocks, bytes: this.dev.blocks * this.dev.blockBytes, ms: performance.now() - t0, shared, checksum };
  }

  /** Overwrite the start of a file with `text` (the file keeps its size). Returns the LBAs written. */
  async edit(name: string, text: string): Promise<number[]> {
    const e = await this.entry(name);
    const patch = encoder.encode(text).subarray(0, e.size);
    const bs = this.dev.blockBytes;
    const written: number[] = [];
    let done = 0;
    while (done < patch.length) {
      const at = e.dataOffset + done;
      const lba = Math.floor(at / bs);
      const block = new Uint8Array(bs);
      {
        using v = await this.timedRead(lba);
        block.set(v.bytes); // our own copy: a view onto a shared frame is read-only by contract
      }
      const start = at % bs;
      const n = Math.min(bs - start, patch.length - done);
      block.set(patch.subarray(done, done + n), start);
      await this.dev.write(lba, block);
      this.own.add(lba);
      written.push(lba);
      done += n;
    }
    await this.dev.flush();
    return written;
  }

  async hex(lba: number, offset = 0, length = 256): Promise<string> {
    using v = await this.timedRead(lba);
    const lines: string[] = [];
    const end = Math.min(v.bytes.length, offset + length);
    for (let row = offset; row < end; row += 16) {
      const bytes = v.bytes.subarray(row, Math.min(row + 16, end));
      const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      const ascii = [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
      lines.push(`${(lba * v.bytes.length + row).toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
    }
    return lines.join('\n');
  }

  stream(on: boolean): void {
    if (on === this.streaming) return;
    this.streaming = on;
    if (!on) return;
    this.streamStopped = null;
    void this.streamLoop();
  }

  /** Scan the image over and over until told to stop; yields to the event loop between passes. */
  private async streamLoop(): Promise<void> {
    while (this.streaming) {
      try {
        await this.scan();
      } catch (err) {
        // The domain is gone (killed, faulted) or its pool closed: nothing more to stream.
        this.streaming = false;
        const e = err as { code?: unknown; message?: unknown };
        this.streamStopped = `${String(e.code ?? 'error')}: ${String(e.message ?? err)}`;
      }
      this.passes++;
      // A macrotask between passes, so comlink calls (stream(false), stats) get through.
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  latency(): LatencySnapshot {
    const total = this.counts.reduce((a, b) => a + b, 0);
    return { counts: [...this.counts], total, cached: this.dev.stats().cachedReads };
  }

  stats(): TarGuestStats {
    return { ...this.dev.stats(), ownBlocks: [...this.own].sort((a, b) => a - b), streaming: this.streaming, passes: this.passes, streamStopped: this.streamStopped };
  }

  private consolePort: MessagePort | null = null;
  private readonly shell = new Shell(this, (text, kind) => this.consolePort?.postMessage({ tag: 'out', text, kind }));

  exec(line: string): Promise<string> {
    return this.shell.run(line);
  }

  attachConsole(port: MessagePort): void {
    this.consolePort = port;
    const shell = this.shell;
    port.onmessage = (ev: MessageEvent<{ tag?: unknown; line?: unknown }>) => {
      if (ev.data?.tag === 'cmd' && typeof ev.data.line === 'string') void shell.run(ev.data.line);
    };
    shell.banner();
  }
}

/** The console's command language; text in, text out. */
class Shell {
  constructor(
    private readonly g: TarGuest,
    private readonly print: (text: string, kind: 'out' | 'err' | 'echo') => void,
  ) {}

  banner(): void {
    this.print(`guest ready on the ${this.g.transport()} transport. Type "help".`, 'out');
  }

  async run(line: string): Promise<string> {
    const [cmd = '', ...args] = line.trim().split(/\s+/);
    if (!cmd) return '';
    this.print(`$ ${line.trim()}`, 'echo');
    try {
      const out = await this.exec(cmd, args, line);
      this.print(out, 'out');
      return out;
    } catch (err: unknown) {
      const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      this.print(text, 'err');
      return text;
    }
  }

  private async exec(cmd: string, args: string[], line: string): Promise<string> {
    const g = this.g;
    switch (cmd) {
      case 'help':
        return [
          'ls                     list the files of the image',
          'cat FILE [BYTES]       print a file (first 4096 bytes unless BYTES)',
          'scan                   read every block of the volume, timed',
          'edit FILE TEXT…        overwrite the start of FILE with TEXT (copy-on-write)',
          'hex LBA [OFFSET]       hex dump of 256 bytes of a block',
          'stream on|off          scan over and over (load for the latency histogram)',
          'stats                  this guest\'s block-device counters',
        ].join('\n');
      case 'ls': {
        const list = await g.list();
        if (list.length === 0) return '(not a tar image: no files)';
        return list.map((e) => `${String(e.size).padStart(9)}  ${e.name}`).join('\n');
      }
      case 'cat': {
        const r = await g.readFile(need(args[0], 'cat FILE'), Number(args[1] ?? 4096));
        return r.text + (r.truncated ? `\n… (${r.size} bytes in all; blocks ${r.lbas.join(',')})` : '');
      }
      case 'scan': {
        const s = await g.scan();
        return `${s.blocks} blocks, ${(s.bytes / 1024).toFixed(0)} KiB in ${s.ms.toFixed(1)} ms, ${s.shared ? 'zero-copy views' : 'copies'}, checksum ${s.checksum}`;
      }
      case 'edit': {
        const file = need(args[0], 'edit FILE TEXT');
        const text = line.trim().replace(/^edit\s+\S+\s?/, '');
        const lbas = await g.edit(file, text);
        return `wrote block${lbas.length === 1 ? '' : 's'} ${lbas.join(', ')} of this clone (durable); other clones keep theirs`;
      }
      case 'hex':
        return g.hex(Number(need(args[0], 'hex LBA')), Number(args[1] ?? 0));
      case 'stream':
        g.stream(args[0] !== 'off');
        return `streaming ${args[0] !== 'off' ? 'on' : 'off'}`;
      case 'stats':
        return JSON.stringify(g.stats(), null, 1);
      default:
        throw new Error(`unknown command ${cmd}; try "help"`);
    }
  }
}

function need(v: string | undefined, usage: string): string {
  if (!v) throw new Error(`usage: ${usage}`);
  return v;
}

export default function main(ctx: GuestContext): void {
  const init = ctx.init as { grant: DomainGrant; control: MessagePort };
  expose(new TarGuest(openBlockDevice(init.grant)), init.control);
}
