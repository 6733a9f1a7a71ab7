// Runs in the benchmark page. A measured alternative the pool does not use: shared/lane-hash.ts
// mixLanes (the four lanes of the pool's read checksum, host/pool/hash.ts chunkChecksum) in
// WebAssembly SIMD, the four lanes one vector, the chunk copied into the kernel's memory
// first (IndexedDB hands the pool ordinary ArrayBuffers, which WebAssembly cannot read in
// place). Twice the JavaScript loop's speed in Node, but in Chromium copy and hash together
// ran at 1.33 GB/s against the loop's 2.42 (quiet run, 2026-11-29): the pool keeps the loop.
// test/unit/lane-hash-wasm.test.ts holds it to mixLanes on random chunks.
import { LANE_P1, LANE_P2 } from '../../shared/lane-hash';
import { OP, c32, get, kernelModule, laneStep, set, simd } from '../../shared/wasm-asm';

/** Where the chunk's words start in the kernel's memory; the lanes live at 0. */
const DATA = 16;
const PAGE = 65536;

// params: 0 p, 1 end; local 2: the lanes. Lanes are read from and written back to address 0.
function body(): number[] {
  return [
    ...c32(0), ...simd(OP.load, 4, 0), ...set(2),
    OP.block, OP.void, OP.loop, OP.void,
    ...get(0), ...simd(OP.load, 4, 0), ...laneStep(2, LANE_P1, LANE_P2),
    ...get(0), ...c32(16), OP.add, OP.tee, 0, ...get(1), OP.ltU, OP.brIf, 0,
    OP.end, OP.end,
    ...c32(0), ...get(2), ...simd(OP.store, 4, 0),
    OP.end,
  ];
}

interface Kernel {
  memory: WebAssembly.Memory;
  run: (p: number, end: number) => void;
  lanes: Int32Array;
  bytes: Uint8Array;
}

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  if (kernel === undefined) {
    try {
      const mod = new WebAssembly.Module(kernelModule({ params: 2, results: 0, vectors: 1, memory: { kind: 'own', pages: 2 }, code: body() }));
      const inst = new WebAssembly.Instance(mod, {});
      const memory = inst.exports.m as WebAssembly.Memory;
      kernel = { memory, run: inst.exports.h as Kernel['run'], lanes: new Int32Array(memory.buffer, 0, 4), bytes: new Uint8Array(memory.buffer) };
    } catch {
      kernel = null; // no WebAssembly SIMD here (or a CSP without 'wasm-unsafe-eval'): JavaScript serves
    }
  }
  return kernel;
}

/** Whether mixLanesWasm can run here. */
export function laneKernelAvailable(): boolean {
  return load() !== null;
}

/**
 * mixLanes(lanes, words of `bytes`, n) for the first `n` 32-bit words of `bytes`, n a
 * positive multiple of 4. Returns false (doing nothing) where the kernel cannot run.
 */
export function mixLanesWasm(lanes: Int32Array, bytes: Uint8Array, n: number): boolean {
  const k = load();
  if (!k || n <= 0 || n % 4 !== 0) return false;
  const need = DATA + n * 4;
  if (k.memory.buffer.byteLength < need) {
    k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / PAGE));
    k.lanes = new Int32Array(k.memory.buffer, 0, 4);
    k.bytes = new Uint8Array(k.memory.buffer);
  }
  k.bytes.set(bytes.subarray(0, n * 4), DATA);
  k.lanes.set(lanes);
  k.run(DATA, DATA + n * 4);
  lanes.set(k.lanes);
  return true;
}
