/**
 * Kernel builders: every primitive's forward computation, written once in the
 * kernel IR (see kernel.ts) and run unchanged by every device.
 */
import { coalesce, float, int, isContiguous, makeGridKernel, makeKernel, memoKernel, offsetExpr, type Kernel, type Operand, type WindowGeom, type WindowSpec } from './kernel.js';

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Every number a builder does arithmetic on before writing it must be a JS
 * integer: checked up front (typeof first), so no object's valueOf runs in a
 * comparison and nothing but a number reaches the text (docs/notes/validation.md).
 */
function ints(...lists: readonly (readonly number[] | number)[]): void {
  for (const l of lists) for (const v of typeof l === 'number' ? [l] : l) int(v);
}

/**
 * Elementwise map over broadcast, strided operands: `expr` receives the
 * names of the input values (`v0`, `v1`, ...) and returns the output expression.
 * Dims that every operand walks together are merged first, so a broadcast
 * over (N, C, H, W) costs index math over (N, C, H·W) at most.
 * @example map('add', [a, b], [2, 3], ([x, y]) => `${x} + ${y}`)
 */
export function map(name: string, operands: readonly Operand[], shape: readonly number[], expr: (v: string[]) => string): Kernel {
  // the formula function fixes the text: remembered per formula (kernel.ts `memoKernel`)
  return memoKernel(expr, name, [shape, ...operands], () => buildMap(name, operands, shape, expr));
}

function buildMap(name: string, operands: readonly Operand[], shape: readonly number[], expr: (v: string[]) => string): Kernel {
  ints(shape, ...operands.flatMap((o) => [o.offset, o.strides]));
  const names = operands.map((_, k) => `v${k}`);
  const n = size(shape);
  if (operands.every((o) => isContiguous(o, shape))) {
    return makeKernel(name, operands.length, n, operands.map((_, k) => `const v${k} = in${k}[gid];`), expr(names));
  }
  const c = coalesce(shape, operands);
  const body = c.operands.map((o, k) => `const v${k} = in${k}[${isContiguous(o, c.shape) ? 'gid' : offsetExpr(o, 'i')}];`);
  return makeGridKernel(name, operands.length, c.shape, 'i', body, expr(names));
}

/**
 * Nested loops with literal bounds over `shape`, index variables `${prefix}d`.
 * NOTE: loops step with `i += c`: WebGL 1 (GLSL ES 1.0, Appendix A) accepts only
 * `i++`, `i--`, `i += c` and `i -= c` as a loop's step, and browsers' ANGLE
 * rejects `i = i + c` ("'=' : Invalid operator"); headless-gl lets it through.
 */
function loops(shape: readonly number[], prefix: string, inner: string): string {
  let code = inner;
  for (let d = shape.length - 1; d >= 0; d--) {
    code = `for (let ${prefix}${d} = 0.0; ${prefix}${d} < ${int(shape[d] ?? 1)}; ${prefix}${d} += 1.0) { ${code} }`;
  }
  return code;
}

/** The elementwise formulas, shared by the forward kernels and documented once. */
export const formulas = {
  neg: ([a]: string[]) => `-${a}`,
  exp: ([a]: string[]) => `Math.exp(${a})`,
  log: ([a]: string[]) => `Math.log(${a})`,
  sqrt: ([a]: string[]) => `Math.sqrt(${a})`,
  abs: ([a]: string[]) => `Math.abs(${a})`,
  sign: ([a]: string[]) => `(${a} > 0.0 ? 1.0 : (${a} < 0.0 ? -1.0 : 0.0))`,
  // NOTE: split by sign so exp never overflows: σ(x) = 1/(1+e^-x) = e^x/(1+e^x)
  sigmoid: ([a]: string[]) => `(${a} >= 0.0 ? 1.0 / (1.0 + Math.exp(-${a})) : Math.exp(${a}) / (1.0 + Math.exp(${a})))`,
  // NOTE: Math.tanh (the float64 device gets the correctly rounded libm value, as PyTorch) only
  // where gpu.js's exp-based polyfills neither cancel nor overflow: |x| < 1e-8 gives x (tanh(x) = x
  // to the last bit there), |x| >= 20 gives ±1 (tanh(20) rounds to 1 even in float64); NaN stays NaN
  tanh: ([a]: string[]) =>
    `(Math.abs(${a}) < 0.00000001 ? ${a} : (Math.abs(${a}) < 20.0 ? Math.tanh(${a}) : (${a} > 0.0 ? 1.0 : (${a} < 0.0 ? -1.0 : ${a}))))`,
  floor: ([a]: string[]) => `Math.floor(${a})`,
  ceil: ([a]: string[]) => `Math.ceil(${a})`,
  round: ([a]: string[]) => roundHalfEven(a as string),
  copy: ([a]: string[]) => `${a}`,
  // float to integer: toward zero; NaN, ±inf and |a| >= 1e38 give 0 (docs/notes/dtypes.md)
  // NOTE: `a != a` and a comparison, not `a - a == 0.0`: GLSL and WGSL compilers fold a - a to 0
  trunc: ([a]: string[]) => `(${a} != ${a} || Math.abs(${a}) >= 1e38 ? 0.0 : (${a} >= 0.0 ? Math.floor(${a}) : -Math.floor(-${a})))`,
  add: ([a, b]: string[]) => `${a} + ${b}`,
  sub: ([a, b]: string[]) => `${a} - ${b}`,
  mul: ([a, b]: string[]) => `${a} * ${b}`,
  div: ([a, b]: string[]) => `${a} / ${b}`,
  // NOTE: GLSL's and WGSL's pow are undefined for a negative base; an integer exponent takes
  // the sign from its parity, as Math.pow does (a non-integer one gives NaN everywhere)
  // NOTE: 1^b = 1 for every b and (-1)^±inf = 1 (C's pow and PyTorch; Math.pow gives NaN for both in JS)
  // NOTE: 0^b for b < 0 is 1 / 0^-b (inf, -inf for -0 and an odd b, as C's pow): WGSL's pow is undefined there (gave finite values)
  pow: ([a, b]: string[]) =>
    `((${a} == 0.0 && ${b} < 0.0) ? 1.0 / Math.pow(${a}, -(${b})) : (${a} == 1.0 || (Math.abs(${a}) == 1.0 && ${b} == ${b} && ${b} - ${b} != 0.0) ? 1.0 : (${a} < 0.0 && Math.floor(${b}) == ${b} ? (Math.floor(${b} * 0.5) * 2.0 == ${b} ? Math.pow(-${a}, ${b}) : -Math.pow(-${a}, ${b})) : Math.pow(${a}, ${b}))))`,
  // NOTE: a select, not Math.max/Math.min: on a tie of +0 and -0 the first operand is returned, as
  // PyTorch 1.13's scalar CPU kernel (`maximum(-0, +0)` is -0, `maximum(+0, -0)` +0; Math.max gives +0
  // and Math.min -0 whatever the order), so clamp and relu6-like chains keep x; NaN in either operand
  // wins (docs/notes/special-values.md, "The sign of zero")
  maximum: ([a, b]: string[]) => `((${b} > ${a} || ${b} != ${b}) ? ${b} : ${a})`,
  minimum: ([a, b]: string[]) => `((${b} < ${a} || ${b} != ${b}) ? ${b} : ${a})`,
  eq: ([a, b]: string[]) => `(${a} == ${b} ? 1.0 : 0.0)`,
  ne: ([a, b]: string[]) => `(${a} != ${b} ? 1.0 : 0.0)`,
  lt: ([a, b]: string[]) => `(${a} < ${b} ? 1.0 : 0.0)`,
  le: ([a, b]: string[]) => `(${a} <= ${b} ? 1.0 : 0.0)`,
  gt: ([a, b]: string[]) => `(${a} > ${b} ? 1.0 : 0.0)`,
  ge: ([a, b]: string[]) => `(${a} >= ${b} ? 1.0 : 0.0)`,
  where: ([c, a, b]: string[]) => `(${c} != 0.0 ? ${a} : ${b})`,
} as const;

/**
 * Round half to even (PyTorch's `round`, IEEE roundTiesToEven) from floor,
 * comparisons and exact arithmetic only, so it reads the same in JavaScript,
 * GLSL and WGSL (GLSL ES 1.0 has no `roundEven`, and JS's Math.round sends
 * halves up). With f = floor(a), the fraction a - f is exact in binary
 * floating point for |a| >= 1 (and a itself for 0 <= a < 1); below -1 < a < 0
 * it may round, but only towards 1 or 0.5 with the right answer either way.
 * Round up when the fraction is above 0.5, or exactly 0.5 and f is odd.
 * A zero result takes a's sign (a·0), as PyTorch's round(-0.3) is -0.
 * Infinities give f (the fraction inf - inf is NaN, and NaN compares false);
 * NaN gives NaN. Only literal constants enter the text.
 */
function roundHalfEven(a: string): string {
  const f = `Math.floor(${a})`;
  const up = `(${a} - ${f} > 0.5 || (${a} - ${f} == 0.5 && Math.floor(${f} * 0.5) * 2.0 != ${f}))`;
  const r = `(${up} ? ${f} + 1.0 : ${f})`;
  return `(${r} == 0.0 ? ${a} * 0.0 : ${r})`;
}

/**
 * Integer a^b (PyTorch's integral pow): a negative exponent gives 1 for a = 1, ±1 for a = -1
 * (by parity) and 0 otherwise, as C's integer arithmetic does; a whole exponent >= 0 is `pow`'s value.
 * Not in `formulas`: fused kernels are float only.
 */
export const intPow = ([a, b]: string[]): string =>
  `(${b} < 0.0 ? (${a} == 1.0 ? 1.0 : (${a} == -1.0 ? (Math.floor(${b} * 0.5) * 2.0 == ${b} ? 1.0 : -1.0) : 0.0)) : (${a} < 0.0 ? (Math.floor(${b} * 0.5) * 2.0 == ${b} ? Math.pow(-${a}, ${b}) : -Math.pow(-${a}, ${b})) : Math.pow(${a}, ${b})))`;

/** C's int32 product, wrapped (Math.imul): the cpu device's int32 `mul` (plain JS only; not in `formulas`). */
export const int32Mul = ([a, b]: string[]): string => `Math.imul(${a}, ${b})`;

/** Names of the elementwise formulas. */
export type Formula = keyof typeof formulas;

/**
 * Reduction of one operand laid out as (kept dims..., reduced dims...).
 * `kind` sum adds, max keeps the largest (NaN wins, as in PyTorch).
 */
export function reduce(
  name: string,
  op: Operand,
  kept: readonly number[],
  reduced: readonly number[],
  kind: 'sum' | 'max',
): Kernel {
  return memoKernel(reduce, `${name}|${kind}`, [op, kept, reduced], () => buildReduce(name, op, kept, reduced, kind));
}

function buildReduce(name: string, op: Operand, kept: readonly number[], reduced: readonly number[], kind: 'sum' | 'max'): Kernel {
  ints(kept, reduced, op.offset, op.strides);
  const k = kept.length;
  // kept dims and reduced dims are each merged where the layout allows
  const keptC = coalesce(kept, [{ offset: op.offset, strides: op.strides.slice(0, k) }]);
  const redC = coalesce(reduced, [{ offset: 0, strides: op.strides.slice(k) }]);
  const keptOp = keptC.operands[0] as Operand;
  const redOp = redC.operands[0] as Operand;
  const body = [`const base = ${offsetExpr(keptOp, 'i')};`];
  body.push(`let acc = ${kind === 'sum' ? '0.0' : float(-Infinity)};`);
  const read = `const v = in0[base + ${offsetExpr(redOp, 'j')}];`;
  const update = kind === 'sum' ? 'acc = acc + v;' : 'acc = (v > acc || v != v) ? v : acc;';
  // NOTE: nested loops with literal bounds, not one loop with divisions per element
  body.push(loops(redC.shape, 'j', `${read} ${update}`));
  const kernel = makeGridKernel(name, 1, keptC.shape, 'i', body, 'acc');
  // one dense run summed whole: the same sum as data (`Kernel.sumAll`)
  const run = redC.shape.length === 1 && redOp.strides[0] === 1 ? redC.shape[0] : undefined;
  return kind === 'sum' && keptC.shape.length === 0 && run !== undefined ? { ...kernel, sumAll: { offset: keptOp.offset, n: run } } : kernel;
}

/**
 * Batched matrix product: a is (batch..., M, K), b is (batch..., K, N), both
 * already broadcast to the same batch shape (strides 0 where broadcast).
 * With `sum` > 0 the last `sum` batch dims are summed over as well (nested
 * loops around the k loop) and the output is (batch without them..., M, N):
 * the gradient of an operand broadcast over those dims in one kernel.
 * The kernel also carries the product as data (`Kernel.gemm`) for the cpu
 * device's float32 WebAssembly path; every other device compiles the text.
 * With `bias` (an operand over the output's dims) the kernel, named `addmm`,
 * adds its input 2 to each element: `acc + bias`, the sum rounded once in
 * the device's precision (the `addmm` primitive, tensor/ops.ts).
 */
export function matmul(a: Operand, b: Operand, batch: readonly number[], m: number, kk: number, n: number, sum = 0, bias?: Operand): Kernel {
  return memoKernel(matmul, 'matmul', [a, b, batch, m, kk, n, sum, bias], () => buildMatmul(a, b, batch, m, kk, n, sum, bias));
}

function buildMatmul(a: Operand, b: Operand, batch: readonly number[], m: number, kk: number, n: number, sum: number, bias: Operand | undefined): Kernel {
  ints(batch, m, kk, n, sum, a.offset, a.strides, b.offset, b.strides);
  if (bias) ints(bias.offset, bias.strides);
  const r = batch.length;
  if (sum < 0 || sum > r) throw new Error(`internal: matmul sums ${sum} of ${r} batch dims`);
  const kept = r - sum;
  const shape = [...batch.slice(0, kept), m, n];
  // a's index dims: kept batch..., row, (k); b's: kept batch..., (k), col
  const aOuter: Operand = { offset: a.offset, strides: [...a.strides.slice(0, kept), a.strides[r] ?? 0, 0] };
  const bOuter: Operand = { offset: b.offset, strides: [...b.strides.slice(0, kept), 0, b.strides[r + 1] ?? 0] };
  const aK = a.strides[r + 1] ?? 0;
  const bK = b.strides[r] ?? 0;
  const body = [`const abase = ${offsetExpr(aOuter, 'i')};`, `const bbase = ${offsetExpr(bOuter, 'i')};`];
  // the summed dims' offsets, added inside their loops
  const [as, bs] = sum ? ['sa', 'sb'] : ['abase', 'bbase'];
  // NOTE: the k loop is unrolled by 4 into independent accumulators: JS engines
  // and SIMD backends pipeline them; GPUs don't mind.
  const k4 = kk - (kk % 4);
  const step = (acc: string, d: number) => `${acc} = ${acc} + in0[pa + ${int(d * aK)}] * in1[pb + ${int(d * bK)}];`;
  body.push('let acc0 = 0.0;', 'let acc1 = 0.0;', 'let acc2 = 0.0;', 'let acc3 = 0.0;');
  const kLoops: string[] = [];
  if (k4 > 0) {
    kLoops.push(
      `for (let k = 0.0; k < ${int(k4)}; k += 4.0) { const pa = ${as} + k * ${int(aK)}; const pb = ${bs} + k * ${int(bK)}; ` +
        `${step('acc0', 0)} ${step('acc1', 1)} ${step('acc2', 2)} ${step('acc3', 3)} }`,
    );
  }
  if (k4 < kk) {
    kLoops.push(`for (let k = ${int(k4)}; k < ${int(kk)}; k += 1.0) { const pa = ${as} + k * ${int(aK)}; const pb = ${bs} + k * ${int(bK)}; ${step('acc0', 0)} }`);
  }
  if (sum) {
    const dims = batch.slice(kept).map((_, d) => d);
    const off = (o: Operand) => dims.map((d) => ` + s${d} * ${int(o.strides[kept + d] ?? 0)}`).join('');
    const inner = `const sa = abase${off(a)}; const sb = bbase${off(b)}; ${kLoops.join(' ')}`;
    body.push(loops(batch.slice(kept), 's', inner));
  } else {
    body.push(...kLoops);
  }
  body.push('const acc = (acc0 + acc1) + (acc2 + acc3);');
  const gemm = { a: { offset: a.offset, strides: [...a.strides] }, b: { offset: b.offset, strides: [...b.strides] }, batch: [...batch], m, k: kk, n, ...(sum ? { sum } : {}) };
  if (!bias) return { ...makeGridKernel('matmul', 2, shape, 'i', body, 'acc'), gemm };
  // the bias epilogue (the addmm primitive): in2 read over the output's dims (kept batch..., m, n)
  if (bias.strides.length !== shape.length) throw new Error('internal: a matmul bias is read over the output\'s dims');
  return { ...makeGridKernel('addmm', 3, shape, 'i', body, `acc + in2[${offsetExpr(bias, 'i')}]`), gemm: { ...gemm, bias: { offset: bias.offset, strides: [...bias.strides] } } };
}

/**
 * Constant padding (negative amounts crop): output dim d holds input index
 * `o - before[d]` when that is inside the input, else `value`.
 */
export function pad(op: Operand, inShape: readonly number[], outShape: readonly number[], before: readonly number[], value: number): Kernel {
  ints(op.offset, op.strides, inShape, outShape, before);
  float(value);
  const body: string[] = [];
  const conds: string[] = [];
  inShape.forEach((n, d) => {
    const b = before[d] ?? 0;
    body.push(`const i${d} = o${d} - ${int(b)};`);
    if (b > 0) conds.push(`i${d} >= 0.0`);
    if ((outShape[d] ?? 0) - b > n) conds.push(`i${d} < ${int(n)}`);
  });
  // NOTE: index clamped to 0 when outside, so no device reads out of bounds
  const inside = conds.length ? conds.join(' && ') : 'true';
  body.push(`const at = (${inside}) ? ${offsetExpr(op, 'i')} : 0.0;`);
  body.push('const v = in0[at];');
  return makeGridKernel('pad', 1, outShape, 'o', body, conds.length ? `(${inside}) ? v : ${float(value)}` : 'v');
}

/**
 * An in-place write into part of a buffer: the output is a whole new buffer
 * of `size` elements where the elements that a non-overlapping strided view
 * (`shape`, `strides`, `offset`) covers take the dense value `in1` (row-major
 * over `shape`) and every other element keeps its old value `in0`.
 * Each output position is split by the view's strides, largest first; it is
 * in the view when every index is inside its dim and nothing is left over.
 * @example scatter(6, [2], [3], 1) // writes positions 1 and 4 of a 6-element buffer
 */
export function scatter(size: number, shape: readonly number[], strides: readonly number[], offset: number): Kernel {
  ints(size, shape, strides, offset);
  const dense = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const dims = shape.map((n, d) => ({ n, s: strides[d] ?? 0, c: dense[d] ?? 1 })).filter((x) => x.n !== 1).sort((a, b) => b.s - a.s);
  const body = [`const q0 = gid - ${int(offset)};`];
  const conds = ['q0 >= 0.0'];
  const at: string[] = [];
  dims.forEach(({ n, s, c }, k) => {
    // NOTE: +0.5 keeps the floor exact when a GPU's float division lands a hair below an integer
    body.push(`const j${k} = Math.floor((q${k} + 0.5) / ${int(s)});`);
    body.push(`const q${k + 1} = q${k} - j${k} * ${int(s)};`);
    conds.push(`j${k} < ${int(n)}`);
    at.push(c === 1 ? `j${k}` : `j${k} * ${int(c)}`);
  });
  conds.push(`q${dims.length} == 0.0`);
  const inside = conds.join(' && ');
  // NOTE: the value's index is clamped to 0 outside the view, so no device reads out of bounds
  body.push(`const at = (${inside}) ? ${at.length ? at.join(' + ') : '0.0'} : 0.0;`);
  body.push('const v = in1[at];');
  body.push('const o = in0[gid];');
  return makeKernel('scatter', 2, size, body, `(${inside}) ? v : o`);
}

/** A constant fill (no inputs). */
export function fill(n: number, value: number): Kernel {
  float(value);
  return makeKernel('fill', 0, n, [], float(value));
}

export type { WindowGeom } from './kernel.js';

/** Check every number of a window geometry and an operand (see `ints`). */
function checkGeom(op: Operand, lead: readonly number[], g: WindowGeom): void {
  ints(op.offset, op.strides, lead, g.kernel, g.stride, g.padding, g.dilation, g.inSize, g.outSize);
}

/** Spatial dim d of a window geometry: kernel, stride, padding, dilation, in and out size. */
function geomAt(g: WindowGeom, d: number): { k: number; s: number; p: number; dil: number; n: number; o: number } {
  return { k: g.kernel[d] ?? 1, s: g.stride[d] ?? 1, p: g.padding[d] ?? 0, dil: g.dilation[d] ?? 1, n: g.inSize[d] ?? 1, o: g.outSize[d] ?? 1 };
}

/** `a·x + b` as kernel text, dropping unit factors and zero terms. */
function affine(x: string, a: number, b: number): string {
  const ax = a === 0 ? '' : a === 1 ? x : `${x} * ${int(a)}`;
  if (!ax) return int(b);
  return b === 0 ? ax : b > 0 ? `${ax} + ${int(b)}` : `${ax} - ${int(-b)}`;
}

/** Strided terms of the leading (batch, channel) dims of an operand, from indices `${prefix}0..`. */
function leadTerms(op: Operand, lead: number, prefix: string): string[] {
  const terms: string[] = [];
  if (op.offset !== 0) terms.push(int(op.offset));
  for (let d = 0; d < lead; d++) {
    const s = op.strides[d] ?? 0;
    if (s !== 0) terms.push(s === 1 ? `${prefix}${d}` : `${prefix}${d} * ${int(s)}`);
  }
  return terms;
}

/**
 * im2col: image (lead..., *inSize) → columns (lead..., *kernel, *outSize),
 * `cols[.., k, o] = img[.., o·stride - padding + k·dilation]`, or `value`
 * where that falls in the padding. Bounds checks are emitted only for the
 * sides a window can actually cross.
 */
export function im2col(op: Operand, lead: readonly number[], g: WindowGeom, value: number): Kernel {
  checkGeom(op, lead, g);
  float(value);
  const r = g.kernel.length;
  const l = lead.length;
  const shape = [...lead, ...g.kernel, ...g.outSize];
  const body: string[] = [];
  const terms = leadTerms(op, l, 'i');
  const conds: string[] = [];
  for (let d = 0; d < r; d++) {
    const { k, s, p, dil, n, o } = geomAt(g, d);
    const pos = `${affine(`i${l + r + d}`, s, -p)} + ${affine(`i${l + d}`, dil, 0)}`;
    body.push(`const p${d} = ${pos};`);
    if (p > 0) conds.push(`p${d} >= 0.0`);
    if ((o - 1) * s - p + (k - 1) * dil >= n) conds.push(`p${d} < ${int(n)}`);
    const st = op.strides[l + d] ?? 0;
    if (st !== 0) terms.push(st === 1 ? `p${d}` : `p${d} * ${int(st)}`);
  }
  const at = terms.length ? terms.join(' + ') : '0.0';
  const columns = { ...windowSpec(op, lead, g), value };
  if (!conds.length) return { ...makeGridKernel('im2col', 1, shape, 'i', [...body, `const v = in0[${at}];`], 'v'), columns };
  // NOTE: the index is clamped to 0 outside, so no device reads out of bounds
  const inside = conds.join(' && ');
  // NOTE: the index goes through a variable: gpu.js's GLSL output mistypes a ternary inside `in0[...]`
  body.push(`const at = (${inside}) ? ${at} : 0.0;`, 'const v = in0[at];');
  return { ...makeGridKernel('im2col', 1, shape, 'i', body, `(${inside}) ? v : ${float(value)}`), columns };
}

/** col2im as data (kernel.ts `WindowSpec`), copied so that no caller's array is shared. */
function windowSpec(op: Operand, lead: readonly number[], g: WindowGeom): WindowSpec {
  const geom = { kernel: [...g.kernel], stride: [...g.stride], padding: [...g.padding], dilation: [...g.dilation], inSize: [...g.inSize], outSize: [...g.outSize] };
  return { op: { offset: op.offset, strides: [...op.strides] }, lead: [...lead], geom };
}

/**
 * col2im, the adjoint of im2col: columns (lead..., *kernel, *outSize) →
 * image (lead..., *inSize), each pixel gathering the sum over the taps that
 * read it: tap k reads pixel x from window o = (x + padding - k·dilation) / stride
 * when that is a whole number in [0, outSize). One nested loop per spatial dim
 * (literal bounds), its per-dim tests hoisted to its own level.
 */
export function col2im(op: Operand, lead: readonly number[], g: WindowGeom): Kernel {
  checkGeom(op, lead, g);
  const kernel = g.kernel.every((_, d) => disjointWindows(geomAt(g, d))) ? col2imDisjoint(op, lead, g) : col2imGeneral(op, lead, g);
  return { ...kernel, window: windowSpec(op, lead, g) };
}

/** @internal col2im's loop over taps, for any geometry (`col2im` picks it where windows overlap; tests compare). */
export function col2imGeneral(op: Operand, lead: readonly number[], g: WindowGeom): Kernel {
  checkGeom(op, lead, g);
  const r = g.kernel.length;
  const l = lead.length;
  const shape = [...lead, ...g.inSize];
  const body: string[] = [];
  const base = leadTerms(op, l, 'i');
  body.push(`const base = ${base.length ? base.join(' + ') : '0.0'};`);
  body.push('let acc = 0.0;');
  let open = '';
  let close = '';
  const at: string[] = ['base'];
  const oks: string[] = [];
  for (let d = 0; d < r; d++) {
    const { k, s, p, dil, n, o } = geomAt(g, d);
    const t = `t${d}`;
    const stmts = [`const ${t} = ${affine(`i${l + d}`, 1, p)} - ${affine(`k${d}`, dil, 0)};`];
    const w = `w${d}`;
    const tests: string[] = [];
    if (s === 1) {
      stmts.push(`const ${w} = ${t};`);
    } else {
      // NOTE: +0.5 keeps the floor exact on GPUs whose division lands a hair below an integer
      stmts.push(`const ${w} = Math.floor((${t} + 0.5) / ${int(s)});`);
      tests.push(`${w} * ${int(s)} == ${t}`);
    }
    // the lowest tap reaches window x + p, the highest x + p - (k-1)·dil
    if (p - (k - 1) * dil < 0) tests.push(`${w} >= 0.0`);
    if (Math.floor((n - 1 + p) / s) >= o) tests.push(`${w} < ${int(o)}`);
    if (tests.length) {
      const prev = oks.length ? `${oks[oks.length - 1]} * ` : '';
      stmts.push(`const ok${d} = ${prev}((${tests.join(' && ')}) ? 1.0 : 0.0);`);
      oks.push(`ok${d}`);
    }
    const sk = op.strides[l + d] ?? 0;
    const so = op.strides[l + r + d] ?? 0;
    if (sk !== 0) at.push(sk === 1 ? `k${d}` : `k${d} * ${int(sk)}`);
    if (so !== 0) at.push(so === 1 ? w : `${w} * ${int(so)}`);
    open += `for (let k${d} = 0.0; k${d} < ${int(k)}; k${d} += 1.0) { ${stmts.join(' ')} `;
    close += ' }';
  }
  const ok = oks[oks.length - 1];
  const inner = ok
    ? `const at = ${ok} > 0.5 ? ${at.join(' + ')} : 0.0; const v = in0[at]; acc = acc + (${ok} > 0.5 ? v : 0.0);`
    : `acc = acc + in0[${at.join(' + ')}];`;
  body.push(`${open}${inner}${close}`);
  return makeGridKernel('col2im', 1, shape, 'i', body, 'acc');
}

/** Windows that never overlap along a dim (stride ≥ kernel, no dilation): each pixel has at most one tap. */
function disjointWindows({ k, s, dil }: { k: number; s: number; dil: number }): boolean {
  return dil === 1 && s >= k;
}

/**
 * col2im where no two windows share a pixel (pooling with stride = kernel,
 * W6's MaxPool2d(2)): pixel x has the one tap k = (x + padding) mod stride
 * of window (x + padding) div stride, when k < kernel and the window exists.
 * The general kernel adds that tap's value to 0.0 and the other taps' zeros,
 * which is `0.0 + v` (it turns -0 into 0): so does this one, without the loop
 * over taps and its division per tap.
 */
function col2imDisjoint(op: Operand, lead: readonly number[], g: WindowGeom): Kernel {
  const r = g.kernel.length;
  const l = lead.length;
  const shape = [...lead, ...g.inSize];
  const body: string[] = [];
  const at = leadTerms(op, l, 'i');
  const tests: string[] = [];
  for (let d = 0; d < r; d++) {
    const { k, s, p, n, o } = geomAt(g, d);
    const t = `t${d}`;
    const w = `w${d}`;
    const kk = `k${d}`;
    body.push(`const ${t} = ${affine(`i${l + d}`, 1, p)};`);
    if (s === 1) {
      // the one tap is k = 0
      body.push(`const ${w} = ${t};`);
    } else {
      // NOTE: +0.5 keeps the floor exact on GPUs whose division lands a hair below an integer
      body.push(`const ${w} = Math.floor((${t} + 0.5) / ${int(s)});`, `const ${kk} = ${t} - ${w} * ${int(s)};`);
    }
    // t ≥ 0, so w ≥ 0; a tap past the kernel (stride > kernel) or a window past the end reads nothing
    if (s > k) tests.push(`${kk} < ${int(k)}`);
    if (Math.floor((n - 1 + p) / s) >= o) tests.push(`${w} < ${int(o)}`);
    const sk = op.strides[l + d] ?? 0;
    const so = op.strides[l + r + d] ?? 0;
    if (sk !== 0 && s !== 1) at.push(sk === 1 ? kk : `${kk} * ${int(sk)}`);
    if (so !== 0) at.push(so === 1 ? w : `${w} * ${int(so)}`);
  }
  const index = at.length ? at.join(' + ') : '0.0';
  if (tests.length) {
    // NOTE: index clamped to 0 when outside, so no device reads out of bounds
    const inside = tests.join(' && ');
    body.push(`const ok = (${inside}) ? 1.0 : 0.0;`, `const at = ok > 0.5 ? ${index} : 0.0;`, 'const v = in0[at];');
    return makeGridKernel('col2im', 1, shape, 'i', body, '0.0 + (ok > 0.5 ? v : 0.0)');
  }
  body.push(`const v = in0[${index}];`);
  return makeGridKernel('col2im', 1, shape, 'i', body, '0.0 + v');
}
