/**
 * The kernel IR: one source for every device.
 *
 * A kernel computes one output element per thread. Its body is a list of
 * statements in the subset of JavaScript that gpu.js compiles (numbers,
 * `Math.*`, `let`/`const`, `for` loops with literal bounds, `? :`), reading its
 * array inputs as `in0[...]`, `in1[...]`, ... and the flat output index as
 * `gid`; `result` is the expression stored at `gid`.
 *
 * Shapes, strides and offsets are baked into the source as literals, so the
 * source text is also the cache key (docs/notes/architecture.md: kernels are compiled once per
 * kernel, device, output size and constants; here all of those are the text).
 *
 * Devices render the same text two ways:
 * - gpu.js: `function (in0, in1) { const gid = this.thread.x; BODY; return RESULT; }`
 * - the cpu reference: `for (let gid = 0; gid < n; gid++) { BODY; out[gid] = RESULT; }`
 */
export interface Kernel {
  /** Human-readable name, for error messages and profiles. */
  readonly name: string;
  /** Number of array inputs (`in0` ... `in{n-1}`). */
  readonly inputs: number;
  /** Number of output elements. */
  readonly size: number;
  /** Statements run per output element. */
  readonly body: readonly string[];
  /** Expression for the output element. */
  readonly result: string;
  /** Unique text of the kernel (name, size, body, result). */
  readonly key: string;
  /**
   * When set, `body` starts by unravelling `gid` over `grid.shape` into
   * `${grid.prefix}0..`; `grid.body` is the rest. Loop-based devices render
   * nested loops over the grid instead, with no division per element.
   */
  readonly grid?: { readonly shape: readonly number[]; readonly prefix: string; readonly body: readonly string[] };
  /**
   * Set on matmul kernels: the same product as data, for a device with a
   * faster path than the text (the cpu device's float32 WebAssembly gemm,
   * docs/notes/architecture.md). The text stays the definition; devices
   * without such a path ignore this.
   */
  readonly gemm?: GemmSpec;
  /**
   * Set on col2im kernels: the same sum as data, for a device with a faster
   * path than the text (the cpu device's float32 window pass,
   * backend/window-passes.ts). The text stays the definition.
   */
  readonly window?: WindowSpec;
  /**
   * Set on a sum of every element of one dense run (`reduce` keeping no
   * dim): where the run starts and its length, for a device with a faster
   * path than the text (the cpu device sums a float32 array that already
   * lives in WebAssembly memory there, wasm/norm.ts `sum`). The text stays the definition.
   */
  readonly sumAll?: { readonly offset: number; readonly n: number };
  /**
   * Set on im2col kernels: the columns as data (`op` is the layout of the
   * image), for a device that need not write them (the cpu device's implicit
   * columns, docs/notes/architecture.md "Implicit im2col"). The text stays the
   * definition.
   */
  readonly columns?: WindowSpec & { readonly value: number };
}

/**
 * A sliding window over the trailing `kernel.length` (spatial) dims, shared by
 * `im2col` and its adjoint `col2im`. Window position o, tap k of spatial dim d
 * reads image index `o·stride - padding + k·dilation` (outside = padding).
 */
export interface WindowGeom {
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  /** Padding before each spatial dim; the far side follows from inSize and outSize. */
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  /** Spatial size of the image (im2col's input, col2im's output). */
  readonly inSize: readonly number[];
  /** Window positions per spatial dim (im2col's output, col2im's input). */
  readonly outSize: readonly number[];
}

/**
 * A col2im kernel as data: `op` is the layout of its input, the columns
 * (lead..., *kernel, *outSize); the output, the image (lead..., *inSize), is dense.
 */
export interface WindowSpec {
  readonly op: Operand;
  readonly lead: readonly number[];
  readonly geom: WindowGeom;
}

/**
 * A batched matrix product as data: out[batch..., m, n] = Σ_k a[batch..., m, k]·b[batch..., k, n],
 * with `a` strided over (batch..., m, k) and `b` over (batch..., k, n). With
 * `sum` (default 0) the last `sum` batch dims are summed over too and are not
 * in `out` (a broadcast operand's gradient, `matmul`'s `sum` attribute).
 */
export interface GemmSpec {
  readonly a: Operand;
  readonly b: Operand;
  readonly batch: readonly number[];
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly sum?: number;
  /**
   * The output epilogue: a third input added to every element, read over
   * the output's dims (kept batch..., m, n) through these strides (a bias: Linear's, stride 0 over
   * the rows; a convolution's, stride 0 over the columns). `out = a·b + bias`
   * (`kernels.matmul`'s `bias`, the `addmm` primitive).
   */
  readonly bias?: Operand;
}

/** A number, a list of numbers or an operand: the arguments a builder's kernel depends on (`memoKernel`). */
export type KernelArg = number | readonly number[] | Operand | undefined;

/** Kernels made before, per builder (or per formula / expression object) and arguments. */
const memo = new WeakMap<object, Map<string, Kernel>>();
/** Per owner, at most this many kernels are remembered (then its map starts afresh): each holds its text, and a training step uses a few per formula. */
const MEMO_PER_OWNER = 256;

/** The arguments as text, or null when one is not a number (then nothing is remembered: the builder checks and throws). */
function argsKey(name: string, args: readonly KernelArg[]): string | null {
  let key = name;
  for (const a of args) {
    if (a === undefined) key += '|u';
    else if (typeof a === 'number') key += `|${a}`;
    else if (Array.isArray(a)) {
      key += '|[';
      for (const v of a as readonly unknown[]) {
        if (typeof v !== 'number') return null;
        key += `${v},`;
      }
    } else {
      const o = a as Operand;
      if (typeof o.offset !== 'number' || !Array.isArray(o.strides)) return null;
      key += `|${o.offset}:`;
      for (const v of o.strides as readonly unknown[]) {
        if (typeof v !== 'number') return null;
        key += `${v},`;
      }
    }
  }
  return key;
}

/**
 * The kernel `build()` makes, remembered by `owner` (the builder, a formula
 * function or a fused expression: objects whose identity fixes the text
 * `build` writes from the arguments) and the arguments: a training step asks
 * for the same kernels every iteration, and writing their text again (index
 * arithmetic, coalescing, string joins) was a good part of a small op's cost
 * (docs/notes/bench.md, "W2: per-op overhead"). The kernel is the same object
 * each time, so devices find their compiled form by a key whose hash V8 has
 * kept. Only numbers make a key (`typeof` checked first, as `int()` does);
 * anything else builds afresh, where the builder's own checks refuse it.
 */
export function memoKernel(owner: object, name: string, args: readonly KernelArg[], build: () => Kernel): Kernel {
  const key = argsKey(name, args);
  if (key === null) return build();
  let byArgs = memo.get(owner);
  if (!byArgs) memo.set(owner, (byArgs = new Map()));
  const hit = byArgs.get(key);
  if (hit) return hit;
  const k = build();
  if (byArgs.size >= MEMO_PER_OWNER) byArgs.clear();
  byArgs.set(key, k);
  return k;
}

/** Build a kernel; the key is derived from everything that defines it. */
export function makeKernel(name: string, inputs: number, size: number, body: readonly string[], result: string): Kernel {
  int(size);
  int(inputs);
  const key = `${name}|${inputs}|${size}|${body.join(';')}|${result}`;
  return { name, inputs, size, body, result, key };
}

/**
 * A kernel over an index grid: `body` may use `${prefix}0..${prefix}{k-1}`,
 * the output element's index in each dim of `shape` (row-major), and `gid`.
 */
export function makeGridKernel(name: string, inputs: number, shape: readonly number[], prefix: string, body: readonly string[], result: string): Kernel {
  const k = makeKernel(name, inputs, shape.reduce((a, b) => a * b, 1), [...unravel('gid', shape, prefix), ...body], result);
  return { ...k, grid: { shape: [...shape], prefix, body: [...body] } };
}

/**
 * The same kernel storing whole numbers: `+ 0.0` turns a -0 (the negation of
 * 0, a truncated -0.5) into 0, since an integer has no negative zero
 * (a Float64Array-backed int64 on the cpu would otherwise keep it; docs/notes/dtypes.md).
 */
export function integerResult(k: Kernel): Kernel {
  const result = `(${k.result}) + 0.0`;
  return { ...k, result, key: `${k.name}|${k.inputs}|${k.size}|${k.body.join(';')}|${result}` };
}

/**
 * Merge adjacent dims that every operand walks as one (stride[d] =
 * stride[d+1]·shape[d+1]) and drop size-1 dims, so index math has as few
 * dims as the layout allows. Returns the merged shape and operands.
 */
export function coalesce(shape: readonly number[], operands: readonly Operand[]): { shape: number[]; operands: Operand[] } {
  const dims = shape.map((_, d) => d).filter((d) => (shape[d] ?? 1) !== 1);
  const outShape: number[] = [];
  const outStrides: number[][] = operands.map(() => []);
  for (const d of dims) {
    const n = shape[d] ?? 1;
    const last = outShape.length - 1;
    const mergeable =
      last >= 0 &&
      operands.every((o, k) => {
        const prev = outStrides[k]?.[last] ?? 0;
        return prev === (o.strides[d] ?? 0) * n;
      });
    if (mergeable) {
      outShape[last] = (outShape[last] ?? 1) * n;
      operands.forEach((o, k) => ((outStrides[k] as number[])[last] = o.strides[d] ?? 0));
    } else {
      outShape.push(n);
      operands.forEach((o, k) => (outStrides[k] as number[]).push(o.strides[d] ?? 0));
    }
  }
  return { shape: outShape, operands: operands.map((o, k) => ({ offset: o.offset, strides: outStrides[k] as number[] })) };
}

/**
 * Integer literal as kernel text.
 * NOTE: gpu.js types a literal without a decimal point as an integer and one
 * with a point as a float; every index computation here is done in floats
 * (exact below 2^24), so integers are written as floats.
 */
export function int(n: number): string {
  // NOTE: the last line of defence against code injection (docs/notes/validation.md): only a JS
  // number that is a whole number is ever written into kernel text; the check looks at
  // `typeof` first, so a user object's valueOf/toString is never called
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new Error(`internal: kernel literal ${describeLiteral(n)} is not an integer`);
  return `${n}.0`;
}

/** What a rejected literal was, without running any of its code (no valueOf/toString). */
function describeLiteral(v: unknown): string {
  return typeof v === 'number' ? String(v) : `of type ${typeof v}`;
}

/**
 * A float as kernel text.
 * NOTE: infinities and NaN divide by the runtime zero `(gid - gid)`: WGSL
 * constant-folds `1.0 / 0.0` and rejects the shader ("cannot be represented
 * as abstract-float"), while a division by a runtime value gives IEEE results
 * on every device (plain JS, wasm, GLSL and WGSL alike; see docs/notes/devices.md).
 * A negative zero keeps its sign (`-1.0 / inf`, computed at run time): `1 / x`
 * of a `fill_(-0)` is -inf.
 */
export function float(n: number): string {
  // NOTE: only a JS number becomes a literal; String() of a number is always a valid one
  if (typeof n !== 'number') throw new Error(`internal: kernel literal ${describeLiteral(n)} is not a number`);
  if (n === Infinity) return '(1.0 / (gid - gid))';
  if (n === -Infinity) return '(-1.0 / (gid - gid))';
  if (Number.isNaN(n)) return '(0.0 / (gid - gid))';
  // String(-0) is '0', and WGSL folds a literal `-0.0` to +0: a negative zero is -1 / inf at run
  // time, like the infinities above, so 1 / x of it is -inf on every device, as in PyTorch
  if (Object.is(n, -0)) return '(-1.0 / (1.0 / (gid - gid)))';
  const s = String(n);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * A strided operand: where a logical index of the iteration space lives in
 * an input buffer. `strides` has one entry per iteration dim (0 = broadcast).
 */
export interface Operand {
  readonly offset: number;
  readonly strides: readonly number[];
}

/**
 * Statements that split the flat index `from` into per-dim indices
 * `${prefix}0..${prefix}{k-1}` over `shape` (row-major).
 * Dims of size 1 get the constant 0 and cost nothing.
 */
export function unravel(from: string, shape: readonly number[], prefix: string): string[] {
  const out: string[] = [];
  // the outermost non-singleton dim takes what is left, without a division
  const first = shape.findIndex((n) => n !== 1);
  let rest = from;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] ?? 1;
    if (n === 1) {
      out.push(`const ${prefix}${d} = 0.0;`);
    } else if (d === first) {
      out.push(`const ${prefix}${d} = ${rest};`);
    } else {
      // NOTE: +0.5 keeps the floor exact when a GPU's float division lands a hair below an integer
      const q = `${prefix}q${d}`;
      out.push(`const ${q} = Math.floor((${rest} + 0.5) / ${int(n)});`);
      out.push(`const ${prefix}${d} = ${rest} - ${q} * ${int(n)};`);
      rest = q;
    }
  }
  return out;
}

/** The expression for an operand's buffer position from per-dim indices. */
export function offsetExpr(op: Operand, prefix: string): string {
  const terms: string[] = [];
  if (op.offset !== 0) terms.push(int(op.offset));
  op.strides.forEach((s, d) => {
    if (s === 0) return;
    terms.push(s === 1 ? `${prefix}${d}` : `${prefix}${d} * ${int(s)}`);
  });
  return terms.length === 0 ? '0.0' : terms.join(' + ');
}

/** True when the operand reads its buffer in the iteration order, from 0. */
export function isContiguous(op: Operand, shape: readonly number[]): boolean {
  if (op.offset !== 0) return false;
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] ?? 1;
    if (n !== 1 && op.strides[d] !== expect) return false;
    expect *= n;
  }
  return true;
}
