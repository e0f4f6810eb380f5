/**
 * The normalize primitive's float32 passes in WebAssembly SIMD (norm.wat),
 * for the `cpu` device (docs/notes/architecture.md, "The normalization fast
 * path"); group-passes.ts has the same passes as JavaScript loops, used
 * where this engine is unavailable.
 *
 * The inputs are copied into the module's memory (a copy runs at memory
 * speed, several times faster than a JavaScript pass). A copy is kept, keyed
 * by the device buffer it came from: a cpu buffer is never written once a
 * kernel made it (tensor/storage.ts) and its array is reused only after it
 * is freed, so a live key means the copy is current. A training step thus
 * copies x once for the moments, the output, and the backward's two passes.
 * One thread: the passes are short, and a hand-off would need the shared memory
 * and workers of the gemm (gemm.ts).
 */
import type { GroupInput, GroupLayout, GroupPasses } from '../group-passes.js';
import { normWasm } from './norm-wasm.js';
import { growTo } from './memory.js';

interface NormExports {
  moments(x: number, outer: number, groups: number, inner: number, out: number): void;
  gradSums(x: number, g: number, outer: number, groups: number, inner: number, par: number, out: number): void;
  output(x: number, y: number, outer: number, groups: number, inner: number, par: number): void;
  gradInput(x: number, g: number, dx: number, outer: number, groups: number, inner: number, par: number): void;
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The parts of the WebAssembly namespace used here (lib ES2022 does not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
}

/**
 * The most memory the engine takes: 512 MiB (three slots of up to ~44M
 * floats). The memory never shrinks while the device lives, so larger
 * tensors run the IR kernels instead of keeping gigabytes; wasm32 itself
 * would allow 2 GiB.
 */
const MAX_BYTES = 2 ** 29;
/** Regions of the memory that hold float32 arrays: two inputs kept by key, one output. */
const SLOTS = 3;

/** A region of the memory and the buffer whose array it holds a copy of (null: none). */
interface Slot {
  key: { readonly freed: boolean } | null;
  length: number;
  used: number;
}

/** The passes over one WebAssembly instance and memory (see the module comment). */
export class WasmNorm implements GroupPasses {
  private f32: Float32Array;
  private f64: Float64Array;
  /** Floats per slot; slots start at 0, the per-group doubles after them. */
  private cap = 0;
  private readonly slots: Slot[] = Array.from({ length: SLOTS }, () => ({ key: null, length: 0, used: 0 }));
  private clock = 0;
  /** Copies made into the memory so far (for tests: a kept copy is not made again). */
  copies = 0;

  constructor(
    private readonly exp: NormExports,
    private readonly memory: WasmMemory,
    /** The most bytes of memory to take (tests set a small one). */
    private readonly maxBytes = MAX_BYTES,
  ) {
    this.f32 = new Float32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
  }

  /**
   * Room for arrays of `floats` and `doubles` per-group values; false past
   * `MAX_BYTES` (the caller runs the IR). A larger array size drops the kept copies.
   */
  private reserve(floats: number, doubles: number): boolean {
    // NOTE: rounded up so that the doubles after the slots stay 8-byte aligned
    const cap = floats > this.cap ? Math.ceil(floats / 16) * 16 : this.cap;
    const bytes = SLOTS * cap * 4 + doubles * 8;
    if (bytes > this.maxBytes) return false;
    if (!growTo(this.memory, bytes)) return false;
    if (cap !== this.cap) {
      this.cap = cap;
      for (const s of this.slots) s.key = null;
    }
    // NOTE: growing detaches the old ArrayBuffer; views are made again
    if (this.f32.buffer !== this.memory.buffer) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.f64 = new Float64Array(this.memory.buffer);
    }
    return true;
  }

  /** Index of the slot holding `t`'s array, copying it into a free slot (not in `busy`) when none does. */
  private place(t: GroupInput, busy: readonly number[]): number {
    const tick = ++this.clock;
    const hit = this.slots.findIndex((s) => s.key === t.key && !t.key.freed && s.length === t.data.length);
    if (hit >= 0) {
      (this.slots[hit] as Slot).used = tick;
      return hit;
    }
    const i = this.victim(busy);
    this.f32.set(t.data, i * this.cap);
    this.copies++;
    this.slots[i] = { key: t.key, length: t.data.length, used: tick };
    return i;
  }

  /** The least recently used slot not in `busy`; its copy is dropped. */
  private victim(busy: readonly number[]): number {
    let best = -1;
    this.slots.forEach((s, i) => {
      if (!busy.includes(i) && (best < 0 || s.used < (this.slots[best] as Slot).used)) best = i;
    });
    (this.slots[best] as Slot).key = null;
    return best;
  }

  /** Byte address of element `offset` of slot `i`. */
  private at(i: number, offset: number): number {
    return (i * this.cap + offset) * 4;
  }

  private get par(): number {
    return SLOTS * this.cap * 4;
  }

  moments(x: GroupInput, L: GroupLayout): Float64Array | null {
    if (!this.reserve(x.data.length, 3 * L.groups)) return null;
    const a = this.place(x, []);
    this.exp.moments(this.at(a, L.offset), L.outer, L.groups, L.inner, this.par);
    return this.f64.slice(this.par / 8, this.par / 8 + 3 * L.groups);
  }

  gradSums(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array): Float64Array | null {
    if (!this.reserve(Math.max(x.data.length, g.data.length), 5 * L.groups)) return null;
    const a = this.place(x, []);
    const b = this.place(g, [a]);
    const p = this.par;
    this.f64.set(par, p / 8);
    this.exp.gradSums(this.at(a, x.offset), this.at(b, g.offset), L.outer, L.groups, L.inner, p, p + 24 * L.groups);
    return this.f64.slice(p / 8 + 3 * L.groups, p / 8 + 5 * L.groups);
  }

  output(x: GroupInput, L: GroupLayout, par: Float64Array, out: Float32Array): boolean {
    const n = L.outer * L.groups * L.inner;
    if (!this.reserve(Math.max(x.data.length, n), 5 * L.groups)) return false;
    const a = this.place(x, []);
    const c = this.victim([a]);
    this.f64.set(par, this.par / 8);
    this.exp.output(this.at(a, x.offset), this.at(c, 0), L.outer, L.groups, L.inner, this.par);
    out.set(this.f32.subarray(c * this.cap, c * this.cap + n));
    return true;
  }

  gradInput(x: GroupInput, g: GroupInput, L: GroupLayout, par: Float64Array, out: Float32Array): boolean {
    const n = L.outer * L.groups * L.inner;
    if (!this.reserve(Math.max(x.data.length, g.data.length, n), 5 * L.groups)) return false;
    const a = this.place(x, []);
    const b = this.place(g, [a]);
    const c = this.victim([a, b]);
    this.f64.set(par, this.par / 8);
    this.exp.gradInput(this.at(a, x.offset), this.at(b, g.offset), this.at(c, 0), L.outer, L.groups, L.inner, this.par);
    out.set(this.f32.subarray(c * this.cap, c * this.cap + n));
    return true;
  }
}

let reason = '';

/**
 * A new engine over its own memory (at most `maxBytes` of it), or null (with
 * `wasmNormUnavailable()` saying why) where this runtime lacks WebAssembly
 * or its 128-bit SIMD.
 */
export function openWasmNorm(maxBytes = MAX_BYTES): WasmNorm | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    if (!api) throw new Error('no WebAssembly in this runtime');
    const bin = atob(normWasm);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    // NOTE: validate first: an engine without 128-bit SIMD rejects the module here, not mid-run
    if (!api.validate(bytes)) throw new Error('this WebAssembly engine lacks 128-bit SIMD');
    const memory = new api.Memory({ initial: 1, maximum: 32768 });
    const inst = new api.Instance(new api.Module(bytes), { env: { memory } });
    return new WasmNorm(inst.exports as NormExports, memory, maxBytes);
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
    return null;
  }
}

/** Why `openWasmNorm()` gave null ('' when it did not, or was not called). */
export function wasmNormUnavailable(): string {
  return reason;
}
