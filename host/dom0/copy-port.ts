// Runs in the dom0 driver worker. Serves one domain on the copy transport (no
// SharedArrayBuffer: WebKit, or an embedding page that is not cross-origin isolated).
// Same requests, same validation (request-dispatch.ts), same driver; block data travels
// as copies in messages. A READ still fills a frame in dom0's memory (the group's arena, or
// the domain's private frames), so the block is read from the pool once per trust group;
// the driver copies the bytes out while the frame is pinned and keeps no mapping, since
// nothing of dom0's memory is visible to the guest.
import { CPL_FRAME, CPL_GEN, CPL_OP, CPL_STATUS, CPL_TAG, ENTRY_WORDS, Op, REQ_OP, REQ_TAG, Status } from '../../shared/protocol';
import type { CopyMessage } from '../../shared/grant';
import type { Completion, Dom0Driver, Domain } from './driver';
import { serve } from './request-dispatch';
import { encodeFrame } from '../../shared/ids';

export class CopyPort {
  private inflight = 0;
  private static readonly MAX_INFLIGHT = 256;

  constructor(
    private readonly driver: Dom0Driver,
    private readonly d: Domain,
    private readonly port: MessagePort,
  ) {
    port.onmessage = (ev: MessageEvent<unknown>) => this.onMessage(ev.data);
    port.onmessageerror = () => driver.fault(d, 'message that could not be deserialized');
    port.start();
  }

  /** A copy port shares no memory with its guest. */
  readonly controlBytes = 0;

  close(): void {
    this.port.onmessage = null;
    this.port.close();
  }

  private onMessage(data: unknown): void {
    if (!this.d.alive) return;
    const msg = data as Partial<CopyMessage> | null;
    if (!(msg?.words instanceof Int32Array) || msg.words.length !== ENTRY_WORDS) {
      this.driver.fault(this.d, 'malformed request message (expected 8 words)');
      return;
    }
    if (++this.inflight > CopyPort.MAX_INFLIGHT) {
      this.driver.fault(this.d, `more than ${CopyPort.MAX_INFLIGHT} requests in flight (flooding)`);
      return;
    }
    const entry = msg.words.slice();
    const bytes = msg.bytes instanceof Uint8Array ? msg.bytes : null;
    const r = serve(this.driver, this.d, entry, (slot, length) => (slot === 0 && bytes?.byteLength === length ? bytes : null));
    if (r === null) return;
    void Promise.resolve(r).then((c) => {
      this.inflight--;
      if (c) this.reply(entry, c);
    });
  }

  private reply(entry: Int32Array, c: Completion): void {
    if (!this.d.alive) return;
    const words = new Int32Array(ENTRY_WORDS);
    words[CPL_TAG] = entry[REQ_TAG]!;
    words[CPL_STATUS] = c.status;
    words[CPL_OP] = entry[REQ_OP]!;
    let bytes: Uint8Array | undefined;
    if (entry[REQ_OP] === Op.READ && c.status === Status.OK && c.bytes) {
      bytes = c.bytes;
      this.driver.counters.bytesCopied += bytes.byteLength;
      words[CPL_FRAME] = encodeFrame(c.frame);
      words[CPL_GEN] = c.generation;
    }
    const reply: CopyMessage = bytes ? { words, bytes } : { words };
    this.port.postMessage(reply, bytes ? [bytes.buffer] : []);
  }
}
