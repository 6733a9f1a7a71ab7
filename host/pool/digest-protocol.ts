// The messages between the pool and its digest worker (offthread-digests.ts, digest-worker.ts).

export interface DigestRequest {
  id: number;
  /** blocks × blockSize bytes: the slice, its last block zero-padded. */
  buf: ArrayBuffer;
  blocks: number;
  blockSize: number;
  /** 1 for a block not to hash (all zero). */
  skip: Uint8Array;
}

export type DigestReply = { id: number; buf: ArrayBuffer; digests: ArrayBuffer } | { id: number; buf: ArrayBuffer; error: string };
