/**
 * Float32 passes of the training-step workloads in WebAssembly SIMD
 * (elementwise.wat), for the `cpu` device (docs/notes/architecture.md, "The
 * elementwise fast path"): ReLU, ReLU's backward and SGD's update (W2), and
 * spectral norm's passes over its weight (W5): matrix-vector products, the
 * division by σ, Σ g·W and the backward. The JavaScript loops run these at
 * 1–9 ns per element (a data-dependent branch per element for ReLU; float32
 * loads and stores converted through float64 in scalar code) where SIMD runs
 * near memory speed.
 *
 * A kernel is recognised by its generated text (`elementwiseKind`): the
 * exact statements that fusion.ts emits for those fused expressions, so any
 * other kernel, or these after a change of the code generator, runs the IR
 * loop as before; a matrix-vector product by its `GemmSpec` (`gemv`). The
 * inputs are copied into the module's memory and the result copied out
 * (copies run at memory speed). The maps give the loop's values bit for bit
 * (NaN payloads aside); the sums (matrix-vector products, Σ g·W) accumulate
 * in float64 as the loop does, in another order. float64 never comes here.
 */
import type { GemmSpec, Kernel } from '../kernel.js';
import { elementwiseWasm } from './elementwise-wasm.js';
import { growTo } from './memory.js';

/** The passes elementwise.wat has. */
export type ElementwiseKind = 'relu' | 'reluBackward' | 'axpy' | 'divScalar' | 'dot' | 'spectralBackward';

interface ElementwiseExports {
  relu(x: number, out: number, n: number): void;
  reluBackward(x: number, g: number, out: number, n: number): void;
  axpy(p: number, g: number, s: number, out: number, n: number): void;
  divScalar(x: number, s: number, out: number, n: number): void;
  dot(a: number, b: number, n: number): number;
  gemvRows(a: number, lda: number, x: number, out: number, m: number, k: number): void;
  gemvCols(a: number, lda: number, x: number, acc: number, out: number, m: number, n: number): void;
  spectralBackward(g: number, u: number, v: number, out: number, rows: number, cols: number, f0: number, f3: number): void;
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

/** x / s with s a 0-d tensor (spectral norm's W/σ, nn/utils/spectral.ts, and any such fused division). */
const DIV_SCALAR = ['const v0 = in0[gid];', 'const v1 = in1[0.0];', 'const f0 = v0 / v1;'];
/** Σ a·b over two whole contiguous arrays (spectral norm's Σ g·W); the count is in the loop's text. */
const DOT = /^for \(let j0 = 0\.0; j0 < (\d+)\.0; j0 \+= 1\.0\) \{ const v0 = in0\[b0 \+ j0\]; const v1 = in1\[b1 \+ j0\]; const f0 = v0 \* v1; acc = acc \+ f0; \}$/;
/** Spectral norm's backward: g·(1/σ) - ((c/σ)/σ·u[i])·v[j] (g in0, c in1, σ in2, u in3, v in4). */
const SPECTRAL_BACKWARD = [
  'const v0 = in0[gid];', 'const v1 = in1[0.0];', 'const v2 = in2[0.0];', 'const v3 = in3[i0];', 'const v4 = in4[i1];',
  'const f0 = 1.0 / v2;', 'const f1 = v0 * f0;', 'const f2 = v1 / v2;', 'const f3 = f2 / v2;', 'const f4 = f3 * v3;', 'const f5 = f4 * v4;', 'const f6 = f1 - f5;',
];

const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((s, i) => s === b[i]);

/**
 * Which pass of elementwise.wat computes `kernel` (null: none, the IR loop
 * runs it). Only the exact generated statements match; every input but
 * SGD's scalar is read at the output's index (no broadcast), so the pass
 * sees flat arrays of the kernel's size.
 */
export function elementwiseKind(kernel: Kernel): ElementwiseKind | null {
  if (kernel.gemm) return null;
  const grid = kernel.grid;
  if (grid?.shape.length === 0) {
    // a whole-array reduction: the dot product's statements, over as many elements as the kernel's inputs
    const b = grid.body;
    const n = b.length === 4 && b[0] === 'const b0 = 0.0;' && b[1] === 'const b1 = 0.0;' && b[2] === 'let acc = 0.0;' ? DOT.exec(b[3] as string) : null;
    return kernel.inputs === 2 && kernel.result === 'acc' && n ? 'dot' : null;
  }
  if (grid?.shape.length === 2) return kernel.inputs === 5 && kernel.result === 'f6' && same(grid.body, SPECTRAL_BACKWARD) ? 'spectralBackward' : null;
  // a one-dimensional grid kernel's statements are its grid body (the flat body adds `const i0 = gid;`)
  if (grid && grid.shape.length !== 1) return null;
  const body = grid ? grid.body : kernel.body;
  if (kernel.inputs === 1 && kernel.result === 'f2' && same(body, RELU)) return 'relu';
  if (kernel.inputs === 2 && kernel.result === 'f2' && same(body, RELU_BACKWARD)) return 'reluBackward';
  if (kernel.inputs === 3 && kernel.result === 'f1' && same(body, AXPY)) return 'axpy';
  if (kernel.inputs === 2 && kernel.result === 'f0' && same(body, DIV_SCALAR)) return 'divScalar';
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
   * Room for `floats` floats from address 0; false past `maxBytes` (the
   * caller runs its loop).
   */
  private reserve(floats: number): boolean {
    const bytes = floats * 4;
    if (bytes > this.maxBytes || !growTo(this.memory, bytes)) return false;
    // NOTE: growing detaches the old ArrayBuffer; the view is made again
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
    return true;
  }

  /**
   * Run pass `kind` for a kernel of `out.length` elements: `inputs` as the
   * kernel takes them (full-size arrays, 0-d tensors as one-element arrays),
   * `shape` the kernel's grid (spectralBackward's rows × cols), `count` the
   * dot product's number of terms (its arrays hold at least that many).
   * Writes every element of `out` and returns true, or false (writing
   * nothing) when the arrays do not fit in `maxBytes`; the caller then runs
   * its loop.
   */
  run(kind: ElementwiseKind, out: Float32Array, inputs: readonly Float32Array[], shape: readonly number[] = [out.length], count = 0): boolean {
    const n = out.length;
    // regions 16-byte aligned: the copied inputs, then the output
    const cap = Math.ceil((kind === 'dot' ? count : n) / 4) * 4;
    const arrays = kind === 'relu' || kind === 'divScalar' ? 1 : 2;
    const small = kind === 'spectralBackward' ? Math.ceil((shape[0] as number) / 4) * 4 + Math.ceil((shape[1] as number) / 4) * 4 : 0;
    if (!this.reserve((arrays + 1) * cap + small)) return false;
    const f = this.f32;
    const o = arrays * cap;
    if (kind === 'dot') {
      f.set((inputs[0] as Float32Array).subarray(0, count), 0);
      f.set((inputs[1] as Float32Array).subarray(0, count), cap);
      out[0] = this.exp.dot(0, cap * 4, count);
      this.runs++;
      return true;
    }
    for (let i = 0; i < arrays; i++) f.set((inputs[i] as Float32Array).subarray(0, n), i * cap);
    if (kind === 'relu') this.exp.relu(0, o * 4, n);
    else if (kind === 'reluBackward') this.exp.reluBackward(0, cap * 4, o * 4, n);
    else if (kind === 'axpy') this.exp.axpy(0, cap * 4, (inputs[2] as Float32Array)[0] as number, o * 4, n);
    else if (kind === 'divScalar') this.exp.divScalar(0, (inputs[1] as Float32Array)[0] as number, o * 4, n);
    else {
      // spectralBackward: g (in0) copied; u (in3, per row) and v (in4, per column) after the output
      const [rows, cols] = [shape[0] as number, shape[1] as number];
      const uAt = o + cap;
      const vAt = uAt + Math.ceil(rows / 4) * 4;
      f.set((inputs[3] as Float32Array).subarray(0, rows), uAt);
      f.set((inputs[4] as Float32Array).subarray(0, cols), vAt);
      const c = (inputs[1] as Float32Array)[0] as number;
      const sigma = (inputs[2] as Float32Array)[0] as number;
      // the loop's scalars, in its order: f0 = 1/σ, f3 = (c/σ)/σ
      this.exp.spectralBackward(0, uAt * 4, vAt * 4, o * 4, rows, cols, 1 / sigma, c / sigma / sigma);
    }
    out.set(f.subarray(o, o + n));
    this.runs++;
    return true;
  }

  /**
   * Run `kernel` (whose `elementwiseKind` is `kind`) on these arrays: `run`
   * with the shape and count its text gives. False: the loop runs.
   */
  runKernel(kind: ElementwiseKind, kernel: Kernel, out: Float32Array, inputs: readonly Float32Array[]): boolean {
    // the dot product's count is in its loop's text (both inputs hold at least that many)
    const count = kind === 'dot' ? Number(DOT.exec(kernel.grid?.body[3] ?? '')?.[1] ?? NaN) : 0;
    if (kind === 'dot' && (!(count >= 0) || inputs.some((x) => x.length < count))) return false;
    return this.run(kind, out, inputs, kernel.grid?.shape ?? [out.length], count);
  }

  /**
   * A float32 matrix-vector product (`spec` with one of m, n equal to 1 and
   * no batch) whose matrix is dense along k (rows: a dot product per output)
   * or along the outputs (columns: the vector's entries times the matrix's
   * rows, summed in float64): out = a·b, every element written, true; false
   * (nothing written) for any other product or past `maxBytes`.
   */
  gemv(out: Float32Array, a: Float32Array, b: Float32Array, spec: GemmSpec): boolean {
    const { m, k, n } = spec;
    if (spec.batch.length !== 0 || (spec.sum ?? 0) !== 0 || k === 0) return false;
    // the matrix and the vector: M (outputs × k) at strides (so, sk), x at stride sx
    let mat: Float32Array, vec: Float32Array, mo: number, so: number, sk: number, xo: number, sx: number, outs: number;
    const [sam, sak] = [spec.a.strides[0] ?? 0, spec.a.strides[1] ?? 0];
    const [sbk, sbn] = [spec.b.strides[0] ?? 0, spec.b.strides[1] ?? 0];
    if (n === 1) [mat, vec, mo, so, sk, xo, sx, outs] = [a, b, spec.a.offset, sam, sak, spec.b.offset, sbk, m];
    else if (m === 1) [mat, vec, mo, so, sk, xo, sx, outs] = [b, a, spec.b.offset, sbn, sbk, spec.a.offset, sak, n];
    else return false;
    // rows: each output's k values contiguous (so = row length); columns: each step's outputs contiguous
    const rows = sk === 1 && so >= k;
    const cols = so === 1 && sk >= outs;
    if (!rows && !cols) return false;
    const span = rows ? (outs - 1) * so + k : (k - 1) * sk + outs;
    // dense enough to copy as it is (a sliced view of a much larger matrix runs the loop)
    if (span > 2 * outs * k + 64) return false;
    const capM = Math.ceil(span / 4) * 4;
    const capX = Math.ceil(k / 4) * 4;
    const capO = Math.ceil(outs / 4) * 4;
    // matrix, vector, output, then (columns) float64 sums: 2 floats each
    if (!this.reserve(capM + capX + capO + (cols ? 2 * capO : 0))) return false;
    const f = this.f32;
    f.set(mat.subarray(mo, mo + span), 0);
    if (sx === 1) f.set(vec.subarray(xo, xo + k), capM);
    else for (let i = 0; i < k; i++) f[capM + i] = vec[xo + i * sx] as number;
    const o = capM + capX;
    if (rows) this.exp.gemvRows(0, so * 4, capM * 4, o * 4, outs, k);
    else this.exp.gemvCols(0, sk * 4, capM * 4, (o + capO) * 4, o * 4, k, outs);
    out.set(f.subarray(o, o + outs));
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
