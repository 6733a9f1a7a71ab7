// Runs in a dedicated worker that the pool starts (offthread-digests.ts). Chromium computes
// crypto.subtle.digest on the calling thread before the promise is even returned (64 MiB:
// 43–48 ms to issue 1,024 digests, 0.3 ms more until all resolved), so an import hashing
// on the pool's thread spent that time between its commits; here it is spent beside them.
// Each message is one slice: SHA-256 of each block not marked skip (an all-zero block),
// answered with the digests (32 bytes a block) and the slice buffer, both transferred back.
import type { DigestReply, DigestRequest } from './digest-protocol';

const scope = globalThis as unknown as {
  onmessage: ((ev: MessageEvent<DigestRequest>) => void) | null;
  postMessage(m: DigestReply, transfer: Transferable[]): void;
};

scope.onmessage = async (ev) => {
  const { id, buf, blocks, blockSize, skip } = ev.data;
  const digests = new Uint8Array(blocks * 32);
  try {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < blocks; i++) {
      if (skip[i]) continue;
      const block = new Uint8Array(buf, i * blockSize, blockSize);
      pending.push(crypto.subtle.digest('SHA-256', block).then((d) => digests.set(new Uint8Array(d), i * 32)));
    }
    await Promise.all(pending);
    scope.postMessage({ id, buf, digests: digests.buffer }, [buf, digests.buffer]);
  } catch (err) {
    scope.postMessage({ id, buf, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, [buf]);
  }
};
