/**
 * Float32 passes of the training-step workloads in WebAssembly SIMD
 * (elementwise.wat), for the `cpu` device (docs/notes/architecture.md, "The
 * elementwise fast path"): ReLU, ReLU's backward, SGD's update, the bias add
 * and the bias gradient's column sums (W2), and
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
import { platform } from '../platform/platform.js';
import { growTo, wasmApi, type WasmMemory } from './memory.js';

/** The passes elementwise.wat has. */
export type ElementwiseKind = 'relu' | 'reluBackward' | 'axpy' | 'divScalar' | 'dot' | 'spectralBackward' | 'addRows' | 'colSum' | 'planeSum';

interface ElementwiseExports {
  relu(x: number, out: number, n: number): void;
  reluBackward(x: number, g: number, out: number, n: number): void;
  axpy(p: number, g: number, s: number, out: number, n: number): void;
  divScalar(x: number, s: number, out: number, n: number): void;
  dot(a: number, b: number, n: number): number;
  gemvRows(a: number, lda: number, x: number, out: number, m: number, k: number): void;
  gemvCols(a: number, lda: number, x: number, acc: number, out: number, m: number, n: number): void;
  spectralBackward(g: number, u: number, v: number, out: number, rows: number, cols: number, f0: number, f3: number): void;
  addRows(x: number, b: number, out: number, rows: number, cols: number): void;
  planeSum(x: number, acc: number, out: number, outer: number, groups: number, inner: number): void;
}

/** The most memory the engine takes: 256 MiB (three arrays of up to ~22M floats); larger ones run the loop. */
const MAX_BYTES = 2 ** 28;
/** Inputs of at least this many floats are kept in a slot between passes (`place`); smaller ones are copied each time. */
const KEEP_MIN = 2 ** 14;
/** Slots of kept copies: two, so that a pass over two large inputs (Σ g·W) keeps both. */
const SLOTS = 2;

/** Who an input array belongs to: a device buffer (never written once made; `freed` once its array may be reused). */
export interface CopyKey {
  readonly freed: boolean;
}

/** A slot of the memory and the array range it holds a copy of (key null: none). */
interface Slot {
  key: CopyKey | null;
  start: number;
  length: number;
  used: number;
}

// The statements fusion.ts generates for each pass, in order (`Kernel.body` of a flat
// kernel; `Kernel.grid.body` of a one-dimensional grid kernel).
/** composites.ts's RELU: where(x < 0, 0, x) (keeps -0 and NaN). */
const RELU = ['const v0 = in0[gid];', 'const f0 = (v0 < 0.0 ? 1.0 : 0.0);', 'const f1 = (f0 != 0.0 ? 0.0 : v0);'];
/** Its gradient (RELU_DIFF's adjoint): where(x <= 0 is false, g, 0) (x in0, g in1). */
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

/** `n` rounded up to a multiple of 4 floats (16 bytes: v128 and float64 alignment). */
const align = (n: number): number => Math.ceil(n / 4) * 4;

/** x[i, j] + b[j] over a 2-D grid (Linear's bias; x in0, b in1). */
const ADD_ROWS = ['const v0 = in0[gid];', 'const v1 = in1[i1];'];
/** Σ over the rows of x[rows, n] per column (the bias's gradient): the sum's statements after `const base = i0;`. */
const COL_SUM = /^for \(let j0 = 0\.0; j0 < (\d+)\.0; j0 \+= 1\.0\) \{ const v = in0\[base \+ j0 \* (\d+)\.0\]; acc = acc \+ v; \}$/;

/**
 * Σ over the first and last dims of x[outer, groups, inner] per group (a
 * convolution bias's gradient, the engine's sum over the batch and the
 * positions): the sum's statements after `let acc = 0.0;`, with
 * `const base = i0 * inner;` before; outer, inner, groups·inner.
 */
const PLANE_SUM = /^for \(let j0 = 0\.0; j0 < (\d+)\.0; j0 \+= 1\.0\) \{ for \(let j1 = 0\.0; j1 < (\d+)\.0; j1 \+= 1\.0\) \{ const v = in0\[base \+ j0 \* (\d+)\.0 \+ j1\]; acc = acc \+ v; \} \}$/;

/** [outer, groups, inner] of a plane sum `kernel` (whose kind is 'planeSum'), from its loop's text. */
const planeSumShape = (kernel: Kernel): number[] => {
  const m = PLANE_SUM.exec(kernel.grid?.body[2] ?? '');
  return m ? [Number(m[1]), kernel.grid?.shape[0] ?? NaN, Number(m[2])] : [NaN, NaN, NaN];
};

/** The rows of a column sum `kernel` (whose kind is 'colSum'), from its loop's text. */
const colSumRows = (kernel: Kernel): number => Number(COL_SUM.exec(kernel.grid?.body[2] ?? '')?.[1] ?? NaN);

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
  if (grid?.shape.length === 2) {
    if (kernel.inputs === 5 && kernel.result === 'f6' && same(grid.body, SPECTRAL_BACKWARD)) return 'spectralBackward';
    return kernel.inputs === 2 && kernel.result === 'v0 + v1' && same(grid.body, ADD_ROWS) ? 'addRows' : null;
  }
  if (grid?.shape.length === 1 && kernel.inputs === 1 && kernel.result === 'acc' && grid.body.length === 3 && grid.body[0] === 'const base = i0;' && grid.body[1] === 'let acc = 0.0;') {
    // a column sum: rows of n = shape[0] floats, summed down each column (the stride is the row length)
    const m = COL_SUM.exec(grid.body[2] as string);
    return m && Number(m[2]) === grid.shape[0] ? 'colSum' : null;
  }
  if (grid?.shape.length === 1 && kernel.inputs === 1 && kernel.result === 'acc' && grid.body.length === 3 && grid.body[1] === 'let acc = 0.0;') {
    // a plane sum: groups = shape[0] rows of `inner` floats in each of `outer` blocks of groups·inner
    const m = PLANE_SUM.exec(grid.body[2] as string);
    const groups = grid.shape[0] as number;
    return m && grid.body[0] === `const base = i0 * ${m[2]}.0;` && Number(m[3]) === groups * Number(m[2]) ? 'planeSum' : null;
  }
  // a one-dimensional grid kernel's statements are its grid body (the flat body adds `const i0 = gid;`)
  if (grid && grid.shape.length !== 1) return null;
  const body = grid ? grid.body : kernel.body;
  if (kernel.inputs === 1 && kernel.result === 'f1' && same(body, RELU)) return 'relu';
  if (kernel.inputs === 2 && kernel.result === 'f2' && same(body, RELU_BACKWARD)) return 'reluBackward';
  if (kernel.inputs === 3 && kernel.result === 'f1' && same(body, AXPY)) return 'axpy';
  if (kernel.inputs === 2 && kernel.result === 'f0' && same(body, DIV_SCALAR)) return 'divScalar';
  return null;
}

/**
 * The passes over one WebAssembly instance and memory (one thread). The
 * memory holds `SLOTS` slots of kept copies, then scratch space for the
 * rest of a pass (outputs, small vectors, inputs without a key).
 *
 * A large input with a key (its device buffer) is copied into a slot and the
 * copy kept while the buffer lives: a cpu buffer is never written once a
 * kernel made it (tensor/storage.ts) and its array is reused only after it
 * is freed, so a live key means the copy is current (norm.ts does the same
 * for x). W5 reads its weight in five passes a step and the same gradient
 * every step: kept, neither is copied again.
 */
export class WasmElementwise {
  private f32: Float32Array;
  /** Passes run so far (for tests and profiles). */
  runs = 0;
  /** Whether a convolution bias's gradient (`planeSum`) runs here; `GPUGRAD_PLANE_SUM=0` leaves it to the loop. */
  planeSums = platform().env('GPUGRAD_PLANE_SUM') !== '0';
  /** Copies of inputs into slots so far (for tests: a kept copy is not made again). */
  copies = 0;
  /** Floats per slot; scratch space starts after the slots. */
  private cap = 0;
  private readonly slots: Slot[] = Array.from({ length: SLOTS }, () => ({ key: null, start: 0, length: 0, used: 0 }));
  private clock = 0;
  /** The next free float of the scratch space while a pass lays out its arrays (`scratch`). */
  private top = 0;

  constructor(
    private readonly exp: ElementwiseExports,
    private readonly memory: WasmMemory,
    /** The most bytes of memory to take (tests set a small one). */
    private readonly maxBytes = MAX_BYTES,
  ) {
    this.f32 = new Float32Array(memory.buffer);
  }

  /**
   * Room for slots of `keep` floats (the largest input to keep; slots never
   * shrink, a larger size drops the kept copies) and `scratch` floats after
   * them; false past `maxBytes` (the caller runs its loop). Resets the
   * scratch space.
   */
  private reserve(keep: number, scratch: number): boolean {
    const cap = keep > this.cap ? align(keep) : this.cap;
    const bytes = (SLOTS * cap + scratch) * 4;
    if (bytes > this.maxBytes || !growTo(this.memory, bytes)) return false;
    if (cap !== this.cap) {
      this.cap = cap;
      for (const s of this.slots) s.key = null;
    }
    // NOTE: growing detaches the old ArrayBuffer; the view is made again
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
    this.top = SLOTS * cap;
    return true;
  }

  /** `length` floats of scratch space (16-byte aligned), after `reserve`. */
  private scratch(length: number): number {
    const at = this.top;
    this.top += align(length);
    return at;
  }

  /**
   * Float address of a copy of x[start, start + length): a kept copy in a
   * slot when `key` is given and the range is large (copied unless a live
   * copy of the same range is there; slots in `busy` are not taken), else a
   * fresh copy in scratch space. Call after `reserve` (whose `keep` covers
   * `length` when kept, whose `scratch` covers it when not).
   */
  private place(x: Float32Array, start: number, length: number, key: CopyKey | null | undefined, busy: number[]): number {
    if (!key || length < KEEP_MIN) {
      const at = this.scratch(length);
      this.f32.set(x.subarray(start, start + length), at);
      return at;
    }
    const tick = ++this.clock;
    let i = this.slots.findIndex((s) => s.key === key && !key.freed && s.start === start && s.length === length);
    if (i < 0) {
      // the least recently used slot not in busy
      i = this.slots.reduce((best, s, j) => (busy.includes(j) || (best >= 0 && (this.slots[best] as Slot).used <= s.used) ? best : j), -1);
      this.f32.set(x.subarray(start, start + length), i * this.cap);
      this.copies++;
      this.slots[i] = { key, start, length, used: tick };
    } else (this.slots[i] as Slot).used = tick;
    busy.push(i);
    return i * this.cap;
  }

  /** Floats of slot space and of scratch space that `place` needs for an input of `length` floats. */
  private static room(length: number, key: CopyKey | null | undefined): [number, number] {
    return key && length >= KEEP_MIN ? [length, 0] : [0, align(length)];
  }

  /**
   * Run pass `kind` for a kernel of `out.length` elements: `inputs` as the
   * kernel takes them (full-size arrays, 0-d tensors as one-element arrays),
   * `shape` the kernel's grid (spectralBackward's and addRows' rows × cols),
   * `count` the dot product's number of terms or the column sum's rows (its
   * arrays hold at least that many),
   * `keys` the inputs' device buffers (their copies are kept: `place`).
   * Writes every element of `out` and returns true, or false (writing
   * nothing) when the arrays do not fit in `maxBytes`; the caller then runs
   * its loop.
   */
  run(kind: ElementwiseKind, out: Float32Array, inputs: readonly Float32Array[], shape: readonly number[] = [out.length], count = 0, keys: readonly (CopyKey | null)[] = []): boolean {
    const n = out.length;
    // the large inputs (kept when keyed), then scratch: the output and spectralBackward's u and v
    const len = kind === 'dot' ? count : kind === 'colSum' ? count * n : kind === 'planeSum' ? count * n * (shape[2] as number) : n;
    const arrays = kind === 'relu' || kind === 'divScalar' || kind === 'spectralBackward' || kind === 'addRows' || kind === 'colSum' || kind === 'planeSum' ? 1 : 2;
    const rooms = Array.from({ length: arrays }, (_, i) => WasmElementwise.room(len, keys[i]));
    const small = kind === 'spectralBackward' ? align(shape[0] as number) + align(shape[1] as number) : kind === 'addRows' ? align(shape[1] as number) : kind === 'colSum' ? align(count) + 2 * align(n) : kind === 'planeSum' ? 2 * align(n) : 0;
    const keep = Math.max(0, ...rooms.map((r) => r[0]));
    if (!this.reserve(keep, rooms.reduce((t, r) => t + r[1], 0) + align(n) + small)) return false;
    const busy: number[] = [];
    const at = Array.from({ length: arrays }, (_, i) => 4 * this.place(inputs[i] as Float32Array, 0, len, keys[i], busy));
    const [x0 = 0, x1 = 0] = at;
    if (kind === 'dot') {
      out[0] = this.exp.dot(x0, x1, count);
      this.runs++;
      return true;
    }
    const o = this.scratch(n);
    if (kind === 'relu') this.exp.relu(x0, o * 4, n);
    else if (kind === 'reluBackward') this.exp.reluBackward(x0, x1, o * 4, n);
    else if (kind === 'axpy') this.exp.axpy(x0, x1, (inputs[2] as Float32Array)[0] as number, o * 4, n);
    else if (kind === 'divScalar') this.exp.divScalar(x0, (inputs[1] as Float32Array)[0] as number, o * 4, n);
    else if (kind === 'addRows') {
      const [rows, cols] = [shape[0] as number, shape[1] as number];
      this.exp.addRows(x0, this.place(inputs[1] as Float32Array, 0, cols, null, busy) * 4, o * 4, rows, cols);
    } else if (kind === 'colSum') {
      // Σ_i 1·x[i, j] row after row in float64: the loop's sums in its order (gemvCols with ones)
      const ones = this.scratch(count);
      this.f32.fill(1, ones, ones + count);
      this.exp.gemvCols(x0, n * 4, ones * 4, this.scratch(2 * n) * 4, o * 4, count, n);
    } else if (kind === 'planeSum') {
      // each group's float64 sum in the loop's order (count = outer blocks, shape[2] = inner)
      this.exp.planeSum(x0, this.scratch(2 * n) * 4, o * 4, count, n, shape[2] as number);
    }
    else {
      // spectralBackward: g (in0) placed; u (in3, per row) and v (in4, per column) in scratch
      const [rows, cols] = [shape[0] as number, shape[1] as number];
      const uAt = this.place(inputs[3] as Float32Array, 0, rows, null, busy);
      const vAt = this.place(inputs[4] as Float32Array, 0, cols, null, busy);
      const c = (inputs[1] as Float32Array)[0] as number;
      const sigma = (inputs[2] as Float32Array)[0] as number;
      // the loop's scalars, in its order: f0 = 1/σ, f3 = (c/σ)/σ
      this.exp.spectralBackward(x0, uAt * 4, vAt * 4, o * 4, rows, cols, 1 / sigma, c / sigma / sigma);
    }
    out.set(this.f32.subarray(o, o + n));
    this.runs++;
    return true;
  }

  /**
   * Run `kernel` (whose `elementwiseKind` is `kind`) on these arrays: `run`
   * with the shape and count its text gives (`keys`: the inputs' device
   * buffers). False: the loop runs.
   */
  runKernel(kind: ElementwiseKind, kernel: Kernel, out: Float32Array, inputs: readonly Float32Array[], keys: readonly (CopyKey | null)[] = []): boolean {
    // the dot product's count and the column sum's rows are in their loops' text (the inputs hold that many)
    const count = kind === 'dot' ? Number(DOT.exec(kernel.grid?.body[3] ?? '')?.[1] ?? NaN) : kind === 'colSum' ? colSumRows(kernel) : 0;
    if (kind === 'planeSum') {
      if (!this.planeSums) return false;
      const [outer, groups, inner] = planeSumShape(kernel) as [number, number, number];
      if (!(outer >= 1 && inner >= 1 && groups === out.length) || (inputs[0] as Float32Array).length < outer * groups * inner) return false;
      return this.run(kind, out, inputs, [groups, groups, inner], outer, keys);
    }
    if (kind === 'dot' && (!(count >= 0) || inputs.some((x) => x.length < count))) return false;
    if (kind === 'colSum' && (!(count >= 1) || (inputs[0] as Float32Array).length < count * out.length)) return false;
    return this.run(kind, out, inputs, kernel.grid?.shape ?? [out.length], count, keys);
  }

  /**
   * A float32 matrix-vector product (`spec` with one of m, n equal to 1 and
   * no batch) whose matrix is dense along k (rows: a dot product per output)
   * or along the outputs (columns: the vector's entries times the matrix's
   * rows, summed in float64): out = a·b, every element written, true; false
   * (nothing written) for any other product or past `maxBytes`.
   */
  gemv(out: Float32Array, a: Float32Array, b: Float32Array, spec: GemmSpec, keys: readonly (CopyKey | null)[] = []): boolean {
    const { m, k, n } = spec;
    if (spec.batch.length !== 0 || (spec.sum ?? 0) !== 0 || k === 0) return false;
    // the matrix and the vector: M (outputs × k) at strides (so, sk), x at stride sx
    let mat: Float32Array, vec: Float32Array, mo: number, so: number, sk: number, xo: number, sx: number, outs: number;
    let key: CopyKey | null | undefined;
    const [sam, sak] = [spec.a.strides[0] ?? 0, spec.a.strides[1] ?? 0];
    const [sbk, sbn] = [spec.b.strides[0] ?? 0, spec.b.strides[1] ?? 0];
    if (n === 1) [mat, vec, mo, so, sk, xo, sx, outs, key] = [a, b, spec.a.offset, sam, sak, spec.b.offset, sbk, m, keys[0]];
    else if (m === 1) [mat, vec, mo, so, sk, xo, sx, outs, key] = [b, a, spec.b.offset, sbn, sbk, spec.a.offset, sak, n, keys[1]];
    else return false;
    // rows: each output's k values contiguous (so = row length); columns: each step's outputs contiguous
    const rows = sk === 1 && so >= k;
    const cols = so === 1 && sk >= outs;
    if (!rows && !cols) return false;
    const span = rows ? (outs - 1) * so + k : (k - 1) * sk + outs;
    // dense enough to copy as it is (a sliced view of a much larger matrix runs the loop)
    if (span > 2 * outs * k + 64) return false;
    // the matrix (kept when keyed), then scratch: the vector, the output, (columns) float64 sums of 2 floats each
    const [keep, rest] = WasmElementwise.room(span, key);
    if (!this.reserve(keep, rest + align(k) + align(outs) + (cols ? 2 * align(outs) : 0))) return false;
    const at = this.place(mat, mo, span, key, []);
    const x = this.scratch(k);
    const f = this.f32;
    if (sx === 1) f.set(vec.subarray(xo, xo + k), x);
    else for (let i = 0; i < k; i++) f[x + i] = vec[xo + i * sx] as number;
    const o = this.scratch(outs);
    if (rows) this.exp.gemvRows(at * 4, so * 4, x * 4, o * 4, outs, k);
    else this.exp.gemvCols(at * 4, sk * 4, x * 4, this.scratch(2 * outs) * 4, o * 4, k, outs);
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
  const api = wasmApi();
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
