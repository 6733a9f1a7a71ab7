// Runs on any thread. Just enough of a WebAssembly assembler for the project's two hash
// kernels (host/dom0/frame-hash-wasm.ts, host/pool/lane-hash-wasm.ts): LEB128, the SIMD
// opcodes they use, and a module of one exported function. Why not a toolchain: each
// kernel is a few dozen instructions; wabt or a C/Rust build would outweigh them, and
// every kernel is tested against its JavaScript reference.

export const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};

export const OP = {
  get: 0x20, set: 0x21, tee: 0x22, i32const: 0x41, add: 0x6a, sub: 0x6b, ltU: 0x49, rotl: 0x77,
  block: 0x02, loop: 0x03, brIf: 0x0d, end: 0x0b, void: 0x40,
  // SIMD (prefix 0xfd)
  load: 0x00, store: 0x0b, splat: 0x11, extract: 0x1b, replace: 0x1c, or: 0x50, xor: 0x51,
  shl: 0xab, shrU: 0xad, vadd: 0xae, vsub: 0xb1, vmul: 0xb5,
} as const;

export const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...leb(op), ...imm];
export const get = (i: number): number[] => [OP.get, i];
export const set = (i: number): number[] => [OP.set, i];
export const c32 = (v: number): number[] => [OP.i32const, ...sleb(v)];

/** v128.const of four equal 32-bit lanes. */
export const i32x4 = (v: number): number[] => {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 4; i++) dv.setInt32(i * 4, v, true);
  return simd(0x0c, ...b);
};

/** rotl of the v128 in local `i` by r, left on the stack. */
export const vrotl = (i: number, r: number): number[] => [...get(i), ...c32(r), ...simd(OP.shl), ...get(i), ...c32(32 - r), ...simd(OP.shrU), ...simd(OP.or)];

/** One lane step on the v128 in local `acc`, given the words' v128 on the stack: acc = rotl(acc + w·P2, 13)·P1. */
export const laneStep = (acc: number, p1: number, p2: number): number[] => [
  ...i32x4(p2), ...simd(OP.vmul), ...get(acc), ...simd(OP.vadd), ...set(acc),
  ...vrotl(acc, 13), ...i32x4(p1), ...simd(OP.vmul), ...set(acc),
];

const section = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];
const name = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];

export interface KernelSpec {
  /** Parameter count (all i32). */
  params: number;
  /** Result count (0 or 1, i32). */
  results: 0 | 1;
  /** v128 locals after the parameters. */
  vectors: number;
  /** 'import-shared': memory e.m, shared, 0..65536 pages; 'own': a memory of `pages` pages, exported as m. */
  memory: { kind: 'import-shared' } | { kind: 'own'; pages: number };
  /** The function body's instructions, ending with OP.end. */
  code: number[];
}

/** A module exporting function h (and memory m when it owns one). */
export function kernelModule(k: KernelSpec): Uint8Array<ArrayBuffer> {
  const fn = [1, k.vectors, 0x7b, ...k.code];
  const type = [1, 0x60, k.params, ...Array<number>(k.params).fill(0x7f), k.results, ...Array<number>(k.results).fill(0x7f)];
  const mem = k.memory;
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, type),
    ...(mem.kind === 'import-shared' ? section(2, [1, ...name('e'), ...name('m'), 0x02, 0x03, 0, ...leb(65536)]) : []),
    ...section(3, [1, 0]),
    ...(mem.kind === 'own' ? section(5, [1, 0x00, ...leb(mem.pages)]) : []),
    ...section(7, mem.kind === 'own' ? [2, ...name('h'), 0x00, 0, ...name('m'), 0x02, 0] : [1, ...name('h'), 0x00, 0]),
    ...section(10, [1, ...leb(fn.length), ...fn]),
  ]);
}
