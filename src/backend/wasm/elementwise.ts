/**
 * The float32 elementwise passes of a training step in WebAssembly SIMD
 * (elementwise.wat), for the `cpu` device (docs/notes/architecture.md, "The
 * elementwise fast path"): ReLU, ReLU's backward and SGD's update, which the
 * JavaScript loop runs at 3–9 ns per element (a data-dependent branch per
 * element for ReLU; float32 loads and stores converted through float64 for
 * SGD) where SIMD runs at memory speed.
 *
 * A kernel is recognised by its generated text (`elementwiseKind`): the
 * exact statements that fusion.ts emits for relu's, its gradient's and
 * SGD's fused expressions, so any other kernel, or these after a change of
 * the code generator, runs the IR loop as before. The inputs are copied into
 * the module's memory and the result copied out (copies run at memory
 * speed). Each pass gives the loop's values bit for bit (NaN payloads
 * aside); float64 never comes here.
 */
import type { Kernel } from '../kernel.js';
import { elementwiseWasm } from './elementwise-wasm.js';
import { growTo } from './memory.js';

/** The passes elementwise.wat has. */
export type ElementwiseKind = 'relu' | 'reluBackward' | 'axpy';

interface ElementwiseExports {
  relu(x: number, out: number, n: number): void;
  reluBackward(x: number, g: number, out: number, n: number): void;
  axpy(p: number, g: number, s: number, out: number, n: number): void;
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

/** The most memory the engine takes: 256 MiB (three arrays of up to ~22M floats); larger ones run the loop. */
const MAX_BYTES = 2 ** 28;

// The statements fusion.ts generates for each pass, in order (`Kernel.body` of a flat
// kernel; `Kernel.grid.body` of a one-dimensional grid kernel).
/** composites.ts's RELU: where(x <= 0 is false, x, 0). */
const RELU = ['const v0 = in0[gid];', 'const f0 = (v0 <= 0.0 ? 1.0 : 0.0);', 'const f1 = (f0 == 0.0 ? 1.0 : 0.0);', 'const f2 = (f1 != 0.0 ? v0 : 0.0);'];
/** Its gradient: where(x <= 0 is false, g, 0) (x in0, g in1). */
const RELU_BACKWARD = ['const v0 = in0[gid];', 'const v1 = in1[gid];', 'const f0 = (v0 <= 0.0 ? 1.0 : 0.0);', 'const f1 = (f0 == 0.0 ? 1.0 : 0.0);', 'const f2 = (f1 != 0.0 ? v1 : 0.0);'];
/** optim.ts's SGD_UPDATE: p + g·s with s a 0-d tensor (p in0, g in1, s in2). */
const AXPY = ['const v0 = in0[gid];', 'const v1 = in1[gid];', 'const v2 = in2[0.0];', 'const f0 = v1 * v2;', 'const f1 = v0 + f0;'];

const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((s, i) => s === b[i]);

/**
 * Which pass of elementwise.wat computes `kernel` (null: none, the IR loop
 * runs it). Only the exact generated statements match; every input but
 * SGD's scalar is read at the output's index (no broadcast), so the pass
 * sees flat arrays of the kernel's size.
 */
export function elementwiseKind(kernel: Kernel): ElementwiseKind | null {
  if (kernel.gemm) return null;
  // a one-dimensional grid kernel's statements are its grid body (the flat body adds `const i0 = gid;`)
  const grid = kernel.grid;
  if (grid && grid.shape.length !== 1) return null;
  const body = grid ? grid.body : kernel.body;
  if (kernel.inputs === 1 && kernel.result === 'f2' && same(body, RELU)) return 'relu';
  if (kernel.inputs === 2 && kernel.result === 'f2' && same(body, RELU_BACKWARD)) return 'reluBackward';
  if (kernel.inputs === 3 && kernel.result === 'f1' && same(body, AXPY)) return 'axpy';
  return null;
}

/** The passes over one WebAssembly instance and memory (one thread). */
export class WasmElementwise {
  private f32: Float32Array;
  /** Passes run so far (for tests and profiles). */
  runs = 0;

  constructor(
    private readonly exp: ElementwiseExports,
    private readonly memory: WasmMemory,
    /** The most bytes of memory to take (tests set a small one). */
    private readonly maxBytes = MAX_BYTES,
  ) {
    this.f32 = new Float32Array(memory.buffer);
  }

  /**
   * Run pass `kind` of `out.length` elements: `inputs` as the kernel takes
   * them (full-size arrays; SGD's scalar as a one-element array). Writes every
   * element of `out` and returns true, or false (writing nothing) when the
   * arrays do not fit in `maxBytes`; the caller then runs its loop.
   */
  run(kind: ElementwiseKind, out: Float32Array, inputs: readonly Float32Array[]): boolean {
    const n = out.length;
    // regions of n floats, 16-byte aligned: the inputs, then the output
    const cap = Math.ceil(n / 4) * 4;
    const arrays = kind === 'relu' ? 1 : 2;
    const bytes = (arrays + 1) * cap * 4;
    if (bytes > this.maxBytes || !growTo(this.memory, bytes)) return false;
    // NOTE: growing detaches the old ArrayBuffer; the view is made again
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
    for (let i = 0; i < arrays; i++) this.f32.set((inputs[i] as Float32Array).subarray(0, n), i * cap);
    const o = arrays * cap;
    if (kind === 'relu') this.exp.relu(0, o * 4, n);
    else if (kind === 'reluBackward') this.exp.reluBackward(0, cap * 4, o * 4, n);
    else this.exp.axpy(0, cap * 4, (inputs[2] as Float32Array)[0] as number, o * 4, n);
    out.set(this.f32.subarray(o, o + n));
    this.runs++;
    return true;
  }
}

let reason = '';

/**
 * A new engine over its own memory (at most `maxBytes` of it), or null (with
 * `wasmElementwiseUnavailable()` saying why) where this runtime lacks
 * WebAssembly or its 128-bit SIMD.
 */
export function openWasmElementwise(maxBytes = MAX_BYTES): WasmElementwise | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    if (!api) throw new Error('no WebAssembly in this runtime');
    const bin = atob(elementwiseWasm);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    // NOTE: validate first: an engine without 128-bit SIMD rejects the module here, not mid-run
    if (!api.validate(bytes)) throw new Error('this WebAssembly engine lacks 128-bit SIMD');
    const memory = new api.Memory({ initial: 1, maximum: 32768 });
    const inst = new api.Instance(new api.Module(bytes), { env: { memory } });
    return new WasmElementwise(inst.exports as ElementwiseExports, memory, maxBytes);
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
    return null;
  }
}

/** Why `openWasmElementwise()` gave null ('' when it did not, or was not called). */
export function wasmElementwiseUnavailable(): string {
  return reason;
}
