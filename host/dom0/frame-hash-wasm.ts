// Runs in the dom0 driver worker (and Node tests). frameChecksum (checksum.ts) computed in
// place over a trust group's arena, in WebAssembly SIMD, when the arena is a shared
// WebAssembly.Memory (its buffer is an ordinary SharedArrayBuffer to everyone else).
//
// Why in place: a check runs on the ring's request path (before a resident frame is mapped
// into another domain) and over the whole arena on a scrub. Copying the frame into private
// memory first would cost as much as the hash. The kernel only reads the arena; its one
// result is returned in a register, so nothing it computes can be seen or changed by a guest.
//
// Why a hand-assembled module (shared/wasm-asm.ts): the kernel is forty instructions, no
// package on npm computes a keyed checksum over memory it does not own, and a build step
// for it (wabt, a Rust or C toolchain) would cost more than the module. test/unit/frame-hash-wasm.test.ts checks it
// against the JS reference on random frames and keys.

import { CHECKSUM_STRIPE, finishChecksum, type ChecksumKey } from './checksum';
import { LANE_P1, LANE_P2 } from '../../shared/lane-hash';
import { OP, c32, get, i32x4, kernelModule, laneStep, leb, set, simd, vrotl } from '../../shared/wasm-asm';

export type FrameHasher = (byteOffset: number, byteLength: number, key: ChecksumKey) => number;

// params: 0 p, 1 end, 2..5 key; locals 6..9: the four accumulator vectors
function body(): number[] {
  const a = [6, 7, 8, 9];
  const code: number[] = [
    ...get(2), ...simd(OP.splat), ...get(3), ...simd(OP.replace, 1), ...get(4), ...simd(OP.replace, 2), ...get(5), ...simd(OP.replace, 3), ...set(a[0]!),
    ...get(a[0]!), ...i32x4(LANE_P1), ...simd(OP.vadd), ...set(a[1]!),
    ...get(a[0]!), ...i32x4(LANE_P2), ...simd(OP.vadd), ...set(a[2]!),
    ...get(a[0]!), ...i32x4(LANE_P1), ...simd(OP.vsub), ...set(a[3]!),
    OP.block, OP.void, OP.loop, OP.void,
  ];
  for (let j = 0; j < 4; j++) code.push(...get(0), ...simd(OP.load, 4, ...leb(16 * j)), ...laneStep(a[j]!, LANE_P1, LANE_P2));
  code.push(
    ...get(0), ...c32(CHECKSUM_STRIPE), OP.add, OP.tee, 0, ...get(1), OP.ltU, OP.brIf, 0,
    OP.end, OP.end,
    ...get(a[0]!), ...vrotl(a[1]!, 7), ...simd(OP.xor), ...vrotl(a[2]!, 12), ...simd(OP.xor), ...vrotl(a[3]!, 18), ...simd(OP.xor), ...set(a[0]!),
  );
  const spins = [1, 7, 12, 18];
  for (let l = 0; l < 4; l++) {
    code.push(...get(a[0]!), ...simd(OP.extract, l), ...c32(spins[l]!), OP.rotl);
    if (l > 0) code.push(OP.add);
  }
  code.push(OP.end);
  return code;
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return kernelModule({ params: 6, results: 1, vectors: 4, memory: { kind: 'import-shared' }, code: body() });
}

let compiled: WebAssembly.Module | null | undefined;

function kernel(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(moduleBytes());
    } catch {
      compiled = null; // no WebAssembly SIMD or threads here: the JS reference serves
    }
  }
  return compiled;
}

/** Which implementation frame checks use on this platform. */
export function checksumKernel(): 'wasm-simd' | 'js' {
  return kernel() ? 'wasm-simd' : 'js';
}

/** A shared memory of at least `bytes` for an arena, or null where the platform has none. */
export function sharedArenaMemory(bytes: number): WebAssembly.Memory | null {
  if (!kernel()) return null;
  const pages = Math.ceil(bytes / 65536);
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return null;
  }
}

/** The in-place hasher over `memory`, or null if WebAssembly SIMD is unavailable. */
export function wasmFrameHasher(memory: WebAssembly.Memory): FrameHasher | null {
  const mod = kernel();
  if (!mod) return null;
  const inst = new WebAssembly.Instance(mod, { e: { m: memory } });
  const h = inst.exports.h as (p: number, end: number, k0: number, k1: number, k2: number, k3: number) => number;
  return (byteOffset, byteLength, key) => {
    if (byteLength <= 0 || byteLength % CHECKSUM_STRIPE !== 0 || byteOffset % 16 !== 0) {
      throw new RangeError(`frame checksum needs a 16-byte aligned multiple of ${CHECKSUM_STRIPE} bytes, got ${byteLength} at ${byteOffset}`);
    }
    const k = key.lanes;
    return finishChecksum(h(byteOffset, byteOffset + byteLength, k[0]!, k[1]!, k[2]!, k[3]!));
  };
}
