// Runs on both sides of the boundary. A domain's control buffer is allocated as a growable
// SharedArrayBuffer: the rings and the page map up front, the staging slots and private
// frames (1.3 MiB of the 1.33 MiB at the default geometry) only when the domain first
// writes or first reads a block of its own. Most guests of a shared image never write, so
// they never pay for them (bench: scale_guests_32_per_added_bytes).
//
// Growing is safe to race: either side may grow (the guest for its staging slots, dom0
// for private frames), a SharedArrayBuffer only grows, and its length is read with
// sequentially consistent semantics, so a guest that has seen a completion naming a
// private frame also sees the buffer grown to hold it. A guest can grow its own buffer up
// to the maximum dom0 chose and no further: what the layout would have cost it anyway.
// Where the platform has no growable SharedArrayBuffer (before Chromium 111, Firefox
// 128), the whole layout is allocated at once, as before.

interface GrowableSab extends SharedArrayBuffer {
  readonly growable: boolean;
  readonly maxByteLength: number;
  grow(newByteLength: number): void;
}

/** A resizable ArrayBuffer (ES2024): dom0's private frames of a copy-transport domain. */
interface ResizableAb extends ArrayBuffer {
  readonly resizable: boolean;
  readonly maxByteLength: number;
  resize(newByteLength: number): void;
}

type AbConstructor = new (length: number, options?: { maxByteLength: number }) => ArrayBuffer;

/**
 * A plain ArrayBuffer of 0 bytes that can grow to `max` (all `max` at once where it cannot
 * grow): memory that only dom0 holds, paid for as it is used, like a growable control buffer.
 */
export function growablePlain(max: number): ArrayBuffer {
  try {
    const b = new (ArrayBuffer as AbConstructor)(0, { maxByteLength: max }) as ResizableAb;
    if (b.resizable === true && typeof b.resize === 'function') return b;
  } catch {
    // No resizable ArrayBuffer here.
  }
  return new ArrayBuffer(max);
}

type SabConstructor = new (length: number, options?: { maxByteLength: number }) => SharedArrayBuffer;

/** Whether this realm can make a growable SharedArrayBuffer. */
export const canGrowShared = ((): boolean => {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    const b = new (SharedArrayBuffer as SabConstructor)(0, { maxByteLength: 8 }) as GrowableSab;
    return b.growable === true && typeof b.grow === 'function';
  } catch {
    return false;
  }
})();

/** A SharedArrayBuffer of `now` bytes that can grow to `max` (all `max` at once where it cannot grow). */
export function growableShared(now: number, max: number): SharedArrayBuffer {
  if (!canGrowShared) return new SharedArrayBuffer(max);
  return new (SharedArrayBuffer as SabConstructor)(Math.min(now, max), { maxByteLength: max });
}

/** The most bytes `buffer` can ever hold. */
export function maxBytes(buffer: ArrayBufferLike): number {
  const g = buffer as Partial<GrowableSab>;
  const r = buffer as Partial<ResizableAb>;
  return g.growable || r.resizable ? (g.maxByteLength ?? r.maxByteLength)! : buffer.byteLength;
}

/**
 * Make `buffer` hold at least `bytes`; false if it cannot (not growable, or `bytes` over
 * its maximum). Never shrinks, and a concurrent grow by the other side is not an error.
 */
export function ensureBytes(buffer: ArrayBufferLike, bytes: number): boolean {
  if (buffer.byteLength >= bytes) return true;
  const r = buffer as Partial<ResizableAb>;
  if (r.resizable) {
    // Only dom0 holds it: no race, and it never shrinks because nothing asks it to.
    if (bytes > r.maxByteLength!) return false;
    try {
      r.resize!(bytes);
    } catch {
      return false; // out of memory: the caller refuses, as for a buffer at its maximum
    }
    return true;
  }
  const g = buffer as Partial<GrowableSab>;
  if (!g.growable || bytes > g.maxByteLength!) return false;
  try {
    g.grow!(bytes);
  } catch {
    // The other side grew it past `bytes` between our check and our grow.
  }
  return buffer.byteLength >= bytes;
}
