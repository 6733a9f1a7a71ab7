// Dedicated worker for the benchmark's baselines: holds one block and hands out copies of
// it, over comlink (structured clone) and over a raw MessagePort (postMessage).
import { expose } from 'comlink';

export interface CopyServer {
  block(): Uint8Array;
}

let block = new Uint8Array(0);

self.onmessage = (ev: MessageEvent<{ blockBytes: number; comlinkPort: MessagePort; rawPort: MessagePort }>) => {
  const { blockBytes, comlinkPort, rawPort } = ev.data;
  block = new Uint8Array(blockBytes).map((_, i) => (i * 31) & 0xff);
  const server: CopyServer = { block: () => block };
  expose(server, comlinkPort);
  // A raw round trip: any message in, a structured-clone copy of the block out.
  rawPort.onmessage = () => rawPort.postMessage(block);
  postMessage('ready');
};
