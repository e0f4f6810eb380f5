/**
 * The op table: one entry per primitive, in one place.
 *
 * Each entry gives the forward (a kernel from backend/kernels.ts, or a view
 * that shares storage) and the backward written with Tensor methods, with the
 * math in a comment. Backward rules are themselves recorded when `createGraph`
 * is on, which is all double backward needs. Gradients of broadcast inputs are
 * reduced to the input's shape by the engine, not here.
 *
 * `apply` (tensor.ts) runs an entry and records an OpNode (autograd/graph.ts).
 * Each entry also gives its forward-mode (JVP) rule, `jvp`: the tangent of
 * the output from the inputs' tangents, linear in them, written as tensor ops
 * (docs/notes/forward-mode.md). A missing tangent is a zero one.
 *
 * Everything else (relu, softmax, var, cat, the nn layers) is composed from
 * these primitives (tensor/composites.ts, nn/) and needs no gradient code.
 * This file knows Tensor only as a type: rules call its methods.
 */
import * as K from '../backend/kernels.js';
import { integerResult, type GemmSpec, type Kernel, type Operand } from '../backend/kernel.js';
import { isFloatingDtype, isIntegralDtype, type DType } from '../backend/types.js';
import { fusedMap, fusedReduce, type Expr } from '../backend/fusion.js';
import { adjointsFor, fx, tangentOf } from './fuse.js';
import { normalizeBackward, normalizeForward, normalizeJvp, type NormalizeAttrs } from './normalize.js';
import { fastMax, fastMaxBackward } from './window-fast.js';
import { getDevice } from '../backend/registry.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, fmt, isContiguousLayout, numel, type Shape } from './shape.js';
import { Storage } from './storage.js';
import { checkIntFits } from './check.js';
import type { Tensor } from './tensor.js';

type None = Record<string, never>;

/** Attributes of each primitive; the union of names is derived from it. */
export interface OpAttrs {
  neg: None; exp: None; log: None; sqrt: None; abs: None; sign: None; sigmoid: None; tanh: None; contiguous: None;
  floor: None; ceil: None; round: None;
  add: None; sub: None; mul: None; div: None; pow: None; maximum: None; minimum: None;
  eq: None; ne: None; lt: None; le: None; gt: None; ge: None;
  where: None;
  sum: { dims: number[]; keepdim: boolean };
  /**
   * A NaN result's gradient goes to the NaNs of its row (torch.max(x) and torch.max(x, dim)).
   * An optional input 1, `valid` (a's dtype, broadcast to a's shape, no gradient), marks the
   * elements that may take a share of the gradient (1) and those that never do (0): max pooling's
   * padding (nn/conv/functional.ts `maxPoolNd`), which would otherwise tie with a window of -∞
   * (docs/notes/special-values.md, "Max pooling with padding over a window of -inf"). The values
   * do not read it: a padded -∞ never changes a maximum.
   */
  amax: { dims: number[]; keepdim: boolean };
  /**
   * `sum` (default 0): the last `sum` dims of the broadcast batch are summed over too (not in
   * the output): a broadcast operand's gradient in one product (see `productTo`).
   */
  matmul: { sum?: number };
  /**
   * PyTorch's addmm with beta = alpha = 1: inputs (bias, a, b), a 2-D (m, k),
   * b 2-D (k, n), bias broadcastable to (m, n); out = a·b + bias. Linear's
   * x·Wᵀ + b on 2-D input (nn/layers.ts), node AddmmBackward0. Also batched
   * as matmul (a (batch..., m, k), b (batch..., k, n) broadcast, bias
   * broadcastable to the output): a convolution's product and bias
   * (nn/conv/functional.ts), the same node.
   */
  addmm: None;
  reshape: { shape: number[] };
  permute: { dims: number[] };
  expand: { shape: number[] };
  narrow: { dim: number; start: number; length: number };
  pad: { before: number[]; after: number[]; value: number };
  cast: { dtype: DType };
  toDevice: { device: string };
  /** Sliding windows: (lead..., *inSize) → (lead..., *kernel, *outSize); `value` fills the padding. */
  im2col: K.WindowGeom & { value: number };
  /** The adjoint of im2col: (lead..., *kernel, *outSize) → (lead..., *inSize), summing overlapping taps. */
  col2im: K.WindowGeom;
  /** A strided view of a dense tensor (row-major from offset 0): `shape`, `strides`, `offset` in its elements. */
  asStrided: Region;
  /** A copy of input 0 (dense) whose `region` holds input 1: PyTorch's CopySlices (an in-place write through a view, recorded). */
  scatter: Region;
  /**
   * A fused chain (tensor/fuse.ts): `expr` over the inputs broadcast together, summed (or, with
   * kind 'max', maximised: no gradient) over `dims` of that shape, which are kept as size 1.
   * `name` names its kernel and node (`${name}Backward0`). The primitive always carries its
   * iteration `shape` (Tensor.fused computes it from the inputs).
   */
  fused: FusedAttrs & { readonly shape: readonly number[] };
  /** Batch, instance, layer and group norm's output from the moments' sums, with its own backward (tensor/normalize.ts). */
  normalize: NormalizeAttrs;
}

/** A non-overlapping strided region of a dense tensor, as its own flat indices. */
export interface Region {
  shape: number[];
  strides: number[];
  offset: number;
}

/** Attributes of the `fused` primitive. */
export interface FusedAttrs {
  readonly expr: Expr;
  readonly dims: readonly number[];
  readonly kind: 'sum' | 'max';
  readonly name: string;
  /**
   * The expression whose derivatives the backward and forward mode take (default: `expr`): one
   * with `expr`'s values except at points where the reference's derivative is not the op table's
   * derivative of `expr` (relu: `expr` is where(x < 0, 0, x), keeping -0; this one is
   * where(x <= 0 is false, x, 0), whose where passes no gradient at ±0, as PyTorch's
   * threshold_backward). It reads only inputs `expr` reads.
   */
  readonly diffExpr?: Expr;
  /** The shape the inputs broadcast to (default: their broadcast shape alone). */
  readonly shape?: readonly number[];
}
export type OpName = keyof OpAttrs;

/** What a forward produces: a layout over a storage (new, or the input's for views). */
export interface Produced {
  storage: Storage;
  shape: number[];
  strides: number[];
  offset: number;
  dtype: DType;
}

/** What a backward rule sees. */
export interface BackwardCtx<A> {
  /** Gradient of the output. */
  grad: Tensor;
  /** The output (saved only by entries with `saveResult`). */
  result: Tensor;
  /** The inputs (saved only by entries with `saveInputs`). */
  inputs: readonly Tensor[];
  attrs: A;
  /** Shapes of the inputs (always available). */
  shapes: readonly Shape[];
  /** Which inputs need a gradient; rules may skip the others. */
  needs: readonly boolean[];
}

/** What a forward-mode (JVP) rule sees. */
export interface JvpCtx<A> {
  /** Tangent of each input (null: zero). At least one is non-null. */
  tangents: readonly (Tensor | null)[];
  /** The inputs (primals; their own tangents are not seen inside the rule). */
  inputs: readonly Tensor[];
  /** The output. */
  result: Tensor;
  attrs: A;
}

export interface OpSpec<A> {
  forward(inputs: readonly Tensor[], attrs: A): Produced;
  backward(c: BackwardCtx<A>): (Tensor | null)[];
  /** The output's tangent (null: none, as for comparisons); broadcast to the output's shape by `apply`. */
  jvp(c: JvpCtx<A>): Tensor | null;
  /** Outputs carry no gradient (comparisons). */
  nondifferentiable?: true;
  saveInputs?: true;
  saveResult?: true;
  /**
   * Which saved inputs the backward reads, given which inputs need a
   * gradient (default: all). Only those are checked by the version counter,
   * as PyTorch saves only those: `w.mul(x)` with only `w` requiring grad
   * reads `x`, so writing `w` in place before backward is fine.
   */
  saves?(needs: readonly boolean[]): boolean[];
}

// ---- forward helpers ---------------------------------------------------------

/** Read `t` as an operand of an iteration space of shape `target`. */
export function operand(t: Tensor, target: Shape): Operand {
  return { offset: t.offset, strides: broadcastStrides(t.shape, t.strides, target) };
}

// every caller passes at least one input, or the device (pad of an empty tensor)
function runKernel(kernel: Kernel, inputs: readonly Tensor[], shape: number[], dtype: DType, device = (inputs[0] as Tensor).device): Produced {
  const dev = getDevice(device);
  const buffer = dev.run(isIntegralDtype(dtype) ? integerResult(kernel) : kernel, inputs.map((t) => t.storage.buffer), dtype);
  return { storage: new Storage(buffer), shape, strides: contiguousStrides(shape), offset: 0, dtype };
}

/**
 * matmul's forward (a·b, batched and broadcast, summed over the last `sum`
 * batch dims), plus `bias` (read over the output's dims) in the same kernel
 * when given: the `addmm` primitive where the device fuses it.
 */
function product(a: Tensor, b: Tensor, sum: number, bias: Tensor | null): Produced {
  const m = a.shape[a.ndim - 2] ?? 1;
  const k = a.shape[a.ndim - 1] ?? 1;
  const n = b.shape[b.ndim - 1] ?? 1;
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!(Number.isInteger(sum) && sum >= 0 && sum <= batch.length)) throw new Error(`internal: matmul cannot sum ${sum} of ${batch.length} batch dims`);
  // NOTE: both operands are read along k with stride 1 (B through a copy of Bᵀ when
  // needed): the copy costs K·N, the contiguous inner loop saves far more on every device
  // but one that packs the operands itself (the cpu device's float32 gemm)
  const packs = getDevice(a.device).readsStridedMatmul(a.dtype);
  const aa = packs || a.strides[a.ndim - 1] === 1 || k === 1 ? a : a.contiguous();
  // b is read as it is unless a copy of Bᵀ is made (Bᵀ's last stride is b's stride along k); the
  // views are made only then (a view is an op: none on the packing device's path)
  const bv = packs || b.strides[b.ndim - 2] === 1 || k === 1 ? b : denseAlongK(b);
  const shape = [...batch.slice(0, batch.length - sum), m, n];
  const kernel = K.matmul(operand(aa, [...batch, m, k]), operand(bv, [...batch, k, n]), batch, m, k, n, sum, bias ? operand(bias, shape) : undefined);
  const out = runKernel(kernel, bias ? [aa, bv, bias] : [aa, bv], shape, a.dtype);
  if (aa !== a) aa.dispose();
  if (bv !== b) bv.dispose();
  return out;
}

/** b with the same values, read with stride 1 along k: (a contiguous copy of Bᵀ)ᵀ. */
function denseAlongK(b: Tensor): Tensor {
  const bt = b.transpose(-1, -2);
  const bb = bt.contiguous();
  const bv = bb.transpose(-1, -2);
  bt.dispose();
  bb.dispose();
  return bv;
}

function view(t: Tensor, shape: number[], strides: number[], offset: number): Produced {
  return { storage: t.storage, shape, strides, offset, dtype: t.dtype };
}

function elementwise(formula: K.Formula, expr: (v: string[]) => string = K.formulas[formula]): (inputs: readonly Tensor[]) => Produced {
  return (inputs) => {
    const shape = broadcastAll(inputs.map((t) => t.shape));
    const kernel = K.map(expr === K.formulas[formula] ? formula : `i${formula}`, inputs.map((t) => operand(t, shape)), shape, expr);
    return runKernel(kernel, inputs, shape, (inputs[0] as Tensor).dtype);
  };
}

function reduction(kind: 'sum' | 'max') {
  return (inputs: readonly Tensor[], { dims, keepdim }: { dims: number[]; keepdim: boolean }): Produced => {
    const x = inputs[0] as Tensor;
    const keptDims = x.shape.map((_, d) => d).filter((d) => !dims.includes(d));
    const order = [...keptDims, ...dims];
    const op: Operand = { offset: x.offset, strides: order.map((d) => x.strides[d] ?? 0) };
    const kept = keptDims.map((d) => x.shape[d] ?? 1);
    const reduced = dims.map((d) => x.shape[d] ?? 1);
    if (kind === 'max' && numel(reduced) === 0) {
      throw new Error('max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the \'dim\' argument.');
    }
    const out = keepdim ? x.shape.map((s, d) => (dims.includes(d) ? 1 : s)) : kept;
    // PyTorch sums integers as int64
    const dtype = kind === 'sum' && isIntegralDtype(x.dtype) ? 'int64' : x.dtype;
    return runKernel(K.reduce(kind, op, kept, reduced, kind), [x], out, dtype);
  };
}

const unary = (formula: K.Formula) => elementwise(formula);

// ---- the table ---------------------------------------------------------------------

/**
 * One entry per primitive. The mapped type makes a missing entry a compile error.
 * NOTE: comparisons, sign and where's condition pass no gradient, as in PyTorch.
 */
export const ops: { [N in OpName]: OpSpec<OpAttrs[N]> } = {
  neg: { forward: unary('neg'), backward: ({ grad }) => [grad.neg()], jvp: ({ tangents: [ta] }) => ta!.neg() }, // d(-a) = -da
  exp: { forward: unary('exp'), saveResult: true, backward: ({ grad, result }) => [grad.mul(result)], jvp: ({ tangents: [ta], result }) => ta!.mul(result) }, // d e^a = e^a da
  log: { forward: unary('log'), saveInputs: true, backward: ({ grad, inputs: [a] }) => [grad.div(a!)], jvp: ({ tangents: [ta], inputs: [a] }) => ta!.div(a!) }, // d ln a = da / a
  sqrt: { forward: unary('sqrt'), saveResult: true, backward: ({ grad, result }) => [grad.div(result.mul(2))], jvp: ({ tangents: [ta], result }) => ta!.div(result.mul(2)) }, // d √a = da / 2√a
  abs: { forward: unary('abs'), saveInputs: true, backward: ({ grad, inputs: [a] }) => [grad.mul(a!.sign())], jvp: ({ tangents: [ta], inputs: [a] }) => ta!.mul(a!.sign()) }, // d|a| = sign(a) da
  // forward mode: a zero tangent, as PyTorch's (the output is piecewise constant)
  // Stryker disable next-line ArrayDeclaration: never called, a nondifferentiable op records no node
  sign: { forward: unary('sign'), nondifferentiable: true, backward: () => [null], jvp: ({ result }) => result.eq(result).mul(0) }, // +0 everywhere, NaN included
  sigmoid: { forward: unary('sigmoid'), saveResult: true, backward: ({ grad, result: s }) => [grad.mul(s.mul(s.neg().add(1)))], jvp: ({ tangents: [ta], result: s }) => ta!.mul(s.mul(s.neg().add(1))) }, // dσ = σ(1-σ) da
  tanh: { forward: unary('tanh'), saveResult: true, backward: ({ grad, result: t }) => [grad.mul(t.mul(t).neg().add(1))], jvp: ({ tangents: [ta], result: t }) => ta!.mul(t.mul(t).neg().add(1)) }, // d tanh = (1-tanh²) da
  // piecewise constant: PyTorch's zero gradient (the output still records a node, FloorBackward0,
  // so backward reaches the input and gives it zeros) and zero tangent
  floor: { forward: unary('floor'), backward: ({ grad }) => [zeroGrad(grad)], jvp: ({ result }) => zeroGrad(result) },
  ceil: { forward: unary('ceil'), backward: ({ grad }) => [zeroGrad(grad)], jvp: ({ result }) => zeroGrad(result) },
  round: { forward: unary('round'), backward: ({ grad }) => [zeroGrad(grad)], jvp: ({ result }) => zeroGrad(result) }, // half to even
  contiguous: { forward: unary('copy'), backward: ({ grad }) => [grad], jvp: ({ tangents: [ta] }) => ta! }, // a copy: identity
  add: { forward: elementwise('add'), backward: ({ grad }) => [grad, grad], jvp: ({ tangents: [ta, tb] }) => plus(ta, tb) }, // d(a+b) = da + db
  sub: { forward: elementwise('sub'), backward: ({ grad, needs }) => [grad, needs[1] ? grad.neg() : null], jvp: ({ tangents: [ta, tb] }) => plus(ta, tb?.neg()) }, // d(a-b) = da - db
  mul: {
    // int32 on the cpu wraps as C's int32 product (Math.imul): the float64 product is not exact beyond 2^53,
    // so its wrap would be wrong (2147483647² must give 1); the gpu.js devices hold int32 exactly only to 2^24
    forward: (inputs) => ((inputs[0] as Tensor).dtype === 'int32' && (inputs[0] as Tensor).device === 'cpu' ? elementwise('mul', K.int32Mul)(inputs) : elementwise('mul')(inputs)),
    saveInputs: true,
    saves: ([na, nb]) => [!!nb, !!na],
    backward: ({ grad, inputs: [a, b], needs }) => [needs[0] ? grad.mul(b!) : null, needs[1] ? grad.mul(a!) : null], // d(ab) = b da + a db
    jvp: ({ tangents: [ta, tb], inputs: [a, b] }) => plus(ta?.mul(b!), tb?.mul(a!)),
  },
  div: {
    forward: elementwise('div'),
    saveInputs: true,
    saves: ([, nb]) => [!!nb, true], // b is read by both gradients
    // d(a/b) = da/b - a/b² db, as PyTorch: -g·(a/b)/b (not a/(b·b), which is 0/0 for a tiny b)
    backward: ({ grad, inputs: [a, b], needs }) => [needs[0] ? grad.div(b!) : null, needs[1] ? grad.mul(a!.div(b!).div(b!)).neg() : null],
    jvp: ({ tangents: [ta, tb], inputs: [, b], result }) => plus(ta?.div(b!), tb?.mul(result).div(b!).neg()), // (da - (a/b) db) / b
  },
  pow: {
    // integers: PyTorch's integral pow (a whole result; Tensor.pow refuses a negative number exponent first)
    forward: (inputs) => (isIntegralDtype((inputs[0] as Tensor).dtype) ? elementwise('pow', K.intPow)(inputs) : elementwise('pow')(inputs)),
    saveInputs: true,
    saveResult: true,
    // d a^b = b a^(b-1) da + a^b ln(a) db; PyTorch's conventions: the da term is 0 where b = 0
    // (not 0·0^-1 = NaN at a = 0), the db term is 0 where a = 0 and b >= 0
    backward: ({ grad, inputs: [a, b], result, needs }) => [
      needs[0] ? grad.mul(b!.mul(a!.pow(b!.sub(1))).where(b!.ne(0), 0)) : null,
      needs[1] ? grad.mul(result.mul(a!.log()).where(a!.eq(0).mul(b!.ge(0)).eq(0), 0)) : null,
    ],
    // the same two terms, with the same conventions
    jvp: ({ tangents: [ta, tb], inputs: [a, b], result }) =>
      plus(ta?.mul(b!.mul(a!.pow(b!.sub(1))).where(b!.ne(0), 0)), tb?.mul(result.mul(a!.log()).where(a!.eq(0).mul(b!.ge(0)).eq(0), 0))),
  },
  maximum: {
    forward: elementwise('maximum'),
    saveInputs: true,
    // the larger input gets the gradient; ties split it in half (PyTorch)
    backward: ({ grad, inputs: [a, b], needs }) => toWinner(grad, a!, b!, a!.lt(b!), a!.gt(b!), needs),
    jvp: ({ tangents: [ta, tb], inputs: [a, b] }) => fromWinner(ta, tb, a!.gt(b!), a!, b!), // the winner's tangent; the mean on a tie
  },
  minimum: {
    forward: elementwise('minimum'),
    saveInputs: true,
    backward: ({ grad, inputs: [a, b], needs }) => toWinner(grad, a!, b!, a!.gt(b!), a!.lt(b!), needs), // the smaller input, likewise
    jvp: ({ tangents: [ta, tb], inputs: [a, b] }) => fromWinner(ta, tb, a!.lt(b!), a!, b!),
  },
  // Stryker disable ArrayDeclaration: never called, a nondifferentiable op records no node
  eq: { forward: elementwise('eq'), nondifferentiable: true, backward: () => [null, null], jvp: () => null },
  ne: { forward: elementwise('ne'), nondifferentiable: true, backward: () => [null, null], jvp: () => null },
  lt: { forward: elementwise('lt'), nondifferentiable: true, backward: () => [null, null], jvp: () => null },
  le: { forward: elementwise('le'), nondifferentiable: true, backward: () => [null, null], jvp: () => null },
  gt: { forward: elementwise('gt'), nondifferentiable: true, backward: () => [null, null], jvp: () => null },
  ge: { forward: elementwise('ge'), nondifferentiable: true, backward: () => [null, null], jvp: () => null },
  // Stryker restore ArrayDeclaration
  where: {
    forward: elementwise('where'),
    saveInputs: true,
    saves: () => [true, false, false], // the condition only
    // the chosen branch gets the gradient
    backward: ({ grad, inputs: [c], needs }) => [null, needs[1] ? grad.where(c!, 0) : null, needs[2] ? grad.where(c!.eq(0), 0) : null],
    jvp: ({ tangents: [, ta, tb], inputs: [c] }) => plus(ta?.where(c!, 0), tb?.where(c!.eq(0), 0)), // the chosen branch's tangent
  },
  sum: {
    forward: reduction('sum'),
    // d Σa = broadcast of the gradient over the summed dims
    backward: ({ grad, attrs, shapes: [shape] }) => [grad.reshape(...keepShape(shape!, attrs.dims)).expand(...shape!)],
    jvp: ({ tangents: [ta], attrs: { dims, keepdim } }) => ta!.sum(dims, keepdim), // linear: d Σa = Σ da
  },
  amax: {
    forward: (inputs, attrs) => {
      // the cpu device's float32 pass (tensor/window-fast.ts): the same values in one loop per window
      const x = inputs[0] as Tensor;
      const fast = fastMax(x, attrs.dims);
      if (!fast) return reduction('max')(inputs, attrs);
      const shape = attrs.keepdim ? x.shape.map((s, d) => (attrs.dims.includes(d) ? 1 : s)) : x.shape.filter((_, d) => !attrs.dims.includes(d));
      return { storage: new Storage(fast), shape, strides: contiguousStrides(shape), offset: 0, dtype: x.dtype };
    },
    saveInputs: true,
    saveResult: true,
    // the gradient goes to the maxima, split evenly between ties; with a `valid` input, only between
    // the valid ones (max pooling's padding never takes a share: it is dropped by col2im)
    backward: ({ grad, inputs: [a, v], result, attrs, shapes: [shape], needs }) => {
      const ks = keepShape(shape!, attrs.dims);
      const r = result.reshape(...ks);
      const rest = needs.length > 1 ? [null] : [];
      // the mask of the maxima: a == r, or both NaN. PyTorch 1.13: torch.max(x) and torch.max(x, dim)
      // (so max pooling too) send the gradient of a NaN maximum to the NaN (torch.max(x): evenly
      // between NaNs, gpugrad's tie rule); torch.amax(x, dim)'s 0/0 NaN row is not followed
      // (a == r alone holds nowhere in a NaN row: docs/notes/special-values.md)
      // composed where a fused chain may lose NaN (Device.fusesNanExactly): NaN decides this mask
      if (!getDevice(a!.device).fusesNanExactly) {
        const m = v ? maxMask(a!, r).mul(v) : maxMask(a!, r);
        return [m.div(m.sum(attrs.dims, true)).mul(grad.reshape(...ks)), ...rest];
      }
      // the cpu device's float32 pass: the same formula in one pass per window (tensor/window-fast.ts)
      const fast = fastMaxBackward(a!, r, grad.reshape(...ks), attrs.dims, v ?? null);
      if (fast) return [fast, ...rest];
      const [A, R] = [fx.in(0), fx.in(1)];
      const isMax = fx.add(fx.f('eq', A, R), fx.mul(fx.f('ne', A, A), fx.f('ne', R, R)));
      // mask.div(mask.sum(dims, keepdim)).mul(grad) as two fused passes (one count, one map)
      // instead of four to five: the same formulas, so float64 is bit for bit the composed rule
      // (times valid, 1 or 0: exact, so a window without padding is unchanged)
      if (v) {
        const mask = fx.mul(isMax, fx.in(2));
        const count = a!.fused([r, v], { expr: mask, dims: attrs.dims, kind: 'sum', name: 'MaxCount' });
        const back = fx.mul(fx.div(mask, fx.in(3)), fx.in(4));
        return [a!.fused([r, v, count, grad.reshape(...ks)], { expr: back, dims: [], kind: 'sum', name: 'MaxBackward' }), ...rest];
      }
      const count = a!.fused([r], { expr: isMax, dims: attrs.dims, kind: 'sum', name: 'MaxCount' });
      return [a!.fused([r, count, grad.reshape(...ks)], { expr: fx.mul(fx.div(isMax, fx.in(2)), fx.in(3)), dims: [], kind: 'sum', name: 'MaxBackward' })];
    },
    // the mean of the tangents at the maxima (the valid ones, as backward)
    jvp: ({ tangents: [ta], inputs: [a, v], result, attrs: { dims, keepdim } }) => {
      // a == r only: PyTorch 1.13's jvp of torch.max(x) (evenly_read_jvp) is NaN at a NaN maximum
      const eq = a!.eq(result.reshape(...keepShape(a!.shape, dims)));
      const mask = v ? eq.mul(v) : eq;
      return ta!.mul(mask).sum(dims, keepdim).div(mask.sum(dims, keepdim));
    },
  },
  matmul: {
    forward: (inputs, { sum = 0 }) => product(inputs[0] as Tensor, inputs[1] as Tensor, sum, null),
    saveInputs: true,
    saves: ([na, nb]) => [!!nb, !!na],
    // d(AB) = dA B + A dB  ⇒  ∂A = G Bᵀ, ∂B = Aᵀ G (G with the summed dims back as size 1)
    // NOTE: for a 2-D operand that is a transposed view (Linear's Wᵀ), its gradient is computed
    // transposed, (Bᵀ... )ᵀ, so it arrives in the operand's layout and W's gradient is dense
    // (no contiguous copy when it becomes W.grad); the same sums over k in the same order
    backward: ({ grad, inputs: [a, b], needs, attrs: { sum = 0 } }) => {
      const g = sum ? grad.reshape(...grad.shape.slice(0, -2), ...new Array<number>(sum).fill(1), ...grad.shape.slice(-2)) : grad;
      return [
        needs[0] ? (a!.ndim === 2 && b!.ndim === 2 && isTransposed(a!) ? b!.matmul(g.transpose(0, 1)).transpose(0, 1) : productTo(g, b!.transpose(-1, -2), a!.shape)) : null,
        needs[1] ? (a!.ndim === 2 && b!.ndim === 2 && isTransposed(b!) ? g.transpose(0, 1).matmul(a!).transpose(0, 1) : productTo(a!.transpose(-1, -2), g, b!.shape)) : null,
      ];
    },
    jvp: ({ tangents: [ta, tb], inputs: [a, b], attrs: { sum = 0 } }) =>
      plus(ta && (sum ? ta.matmulSum(b!, sum) : ta.matmul(b!)), tb && (sum ? a!.matmulSum(tb, sum) : a!.matmul(tb))),
  },
  addmm: {
    forward: (inputs) => {
      const [c, a, b] = inputs as [Tensor, Tensor, Tensor];
      const [m, k, n] = [a.shape[a.ndim - 2] ?? 1, a.shape[a.ndim - 1] ?? 1, b.shape[b.ndim - 1] ?? 1];
      // batched (a convolution's product, nn/conv/functional.ts): the batch dims broadcast as matmul's
      const batch = a.ndim === 2 && b.ndim === 2 ? [] : broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      const dev = getDevice(a.device);
      const spec: GemmSpec = { a: operand(a, [...batch, m, k]), b: operand(b, [...batch, k, n]), batch, m, k, n, bias: operand(c, [...batch, m, n]) };
      // one kernel where the device gives it the two kernels' values (Device.fusesBias)
      if (dev.fusesBias(a.dtype, spec)) return product(a, b, 0, c);
      // the product's kernel, then the add's: the same kernels as a.matmul(b).add(c)
      const p = product(a, b, 0, null);
      const add = K.map('add', [{ offset: 0, strides: p.strides }, operand(c, p.shape)], p.shape, K.formulas.add);
      const buffer = dev.run(add, [p.storage.buffer, c.storage.buffer], a.dtype);
      // the product's buffer is freed (a storage frees at its last reference)
      p.storage.retain();
      p.storage.release();
      return { storage: new Storage(buffer), shape: p.shape, strides: p.strides, offset: 0, dtype: a.dtype };
    },
    saveInputs: true,
    saves: ([, na, nb]) => [false, !!nb, !!na],
    // d(c + AB) = dc + dA B + A dB: the gradient to c (the engine sums it to c's shape), matmul's to A and B
    backward: ({ grad, inputs: [, a, b], needs, shapes }) => {
      const [ga, gb] = ops.matmul.backward({
        grad,
        inputs: [a!, b!],
        needs: [!!needs[1], !!needs[2]],
        attrs: {},
        shapes: shapes.slice(1),
        get result(): Tensor {
          throw new Error('internal: matmul\'s backward reads no result');
        },
      });
      return [needs[0] ? grad : null, ga ?? null, gb ?? null];
    },
    // the tangents in the composed order: (dA·B + A·dB) + dc
    jvp: ({ tangents: [tc, ta, tb], inputs: [, a, b] }) => plus(plus(ta && ta.matmul(b!), tb && a!.matmul(tb)), tc),
  },
  reshape: {
    forward: ([a], { shape }) => {
      const x = a as Tensor;
      if (!isContiguousLayout(x.shape, x.strides, 0)) throw new Error('internal: reshape of a non-contiguous view');
      return view(x, shape, contiguousStrides(shape), x.offset);
    },
    backward: ({ grad, shapes: [shape] }) => [grad.reshape(...shape!)], // a view: reshape back
    jvp: ({ tangents: [ta], attrs: { shape } }) => ta!.reshape(...shape), // linear: the same view of the tangent
  },
  permute: {
    forward: ([a], { dims }) => {
      const x = a as Tensor;
      return view(x, dims.map((d) => x.shape[d] ?? 1), dims.map((d) => x.strides[d] ?? 0), x.offset);
    },
    backward: ({ grad, attrs }) => [grad.permute(...inversePermutation(attrs.dims))], // permute back
    jvp: ({ tangents: [ta], attrs: { dims } }) => ta!.permute(...dims),
  },
  expand: {
    forward: ([a], { shape }) => {
      const x = a as Tensor;
      return view(x, shape, broadcastStrides(x.shape, x.strides, shape), x.offset);
    },
    backward: ({ grad }) => [grad], // the engine sums the gradient back to the input's shape
    jvp: ({ tangents: [ta], attrs: { shape } }) => ta!.expand(...shape),
  },
  narrow: {
    forward: ([a], { dim, start, length }) => {
      const x = a as Tensor;
      const shape = x.shape.map((s, d) => (d === dim ? length : s));
      return view(x, shape, [...x.strides], x.offset + start * (x.strides[dim] ?? 0));
    },
    // zeros outside the slice
    backward: ({ grad, attrs: { dim, start, length }, shapes: [shape] }) => {
      const before = shape!.map((_, d) => (d === dim ? start : 0));
      const after = shape!.map((s, d) => (d === dim ? s - start - length : 0));
      return [grad.pad(before, after)];
    },
    jvp: ({ tangents: [ta], attrs: { dim, start, length } }) => ta!.narrow(dim, start, length),
  },
  pad: {
    forward: ([a], { before, after, value }) => {
      const x = a as Tensor;
      const shape = x.shape.map((s, d) => s + (before[d] ?? 0) + (after[d] ?? 0));
      // an empty input reads nothing (its buffer is a placeholder): all of the output is padding
      // (cat with an empty piece, narrow's backward at length 0; docs/notes/special-values.md)
      // an integer tensor is padded with the value as its dtype holds it (truncated, as PyTorch converts it)
      const fill = isIntegralDtype(x.dtype) ? checkIntFits(x.dtype as 'int32' | 'int64', value) : value;
      if (numel(x.shape) === 0) return runKernel(K.fill(numel(shape), fill), [], shape, x.dtype, x.device);
      const kernel = K.pad(operand(x, x.shape), x.shape, shape, before, fill);
      return runKernel(kernel, [x], shape, x.dtype);
    },
    // the gradient of the kept region, PyTorch's constant_pad_nd with the pads negated: what
    // padding added is cut off (a narrowed view), what a negative pad cut off gets zeros
    backward: ({ grad, attrs: { before, after } }) => {
      let g = grad;
      before.forEach((b, d) => {
        const [lo, hi] = [Math.max(b, 0), Math.max(after[d] as number, 0)];
        g = g.narrow(d, lo, (g.shape[d] as number) - lo - hi);
      });
      return [g.pad(before.map((b) => Math.max(-b, 0)), after.map((a) => Math.max(-a, 0)))];
    },
    jvp: ({ tangents: [ta], attrs: { before, after } }) => ta!.pad(before, after, 0), // the padding is constant: zero tangent
  },
  cast: {
    forward: ([a], { dtype }) => {
      const x = a as Tensor;
      // float to integer truncates toward zero (PyTorch); NaN and ±inf become 0 on every device
      const formula = isIntegralDtype(dtype) && isFloatingDtype(x.dtype) ? K.formulas.trunc : K.formulas.copy;
      return runKernel(K.map(isIntegralDtype(dtype) ? 'castInt' : 'cast', [operand(x, x.shape)], x.shape, formula), [x], [...x.shape], dtype);
    },
    backward: ({ grad }) => [grad], // the engine casts back (see engine: gradients follow input dtype)
    jvp: ({ tangents: [ta], attrs: { dtype } }) => ta!.to(dtype),
  },
  toDevice: {
    forward: ([a], { device }) => {
      const x = a as Tensor;
      const dev = getDevice(device);
      const host = x.contiguous().dataSyncForTransfer();
      return { storage: new Storage(dev.upload(host, x.dtype)), shape: [...x.shape], strides: contiguousStrides(x.shape), offset: 0, dtype: x.dtype };
    },
    backward: ({ grad }) => [grad], // the engine moves it back (gradients follow the input's device)
    jvp: ({ tangents: [ta], attrs: { device } }) => ta!.to(device),
  },
  im2col: {
    forward: ([a], attrs) => {
      const x = a as Tensor;
      const lead = checkWindow('im2col', x.shape, attrs.inSize, attrs);
      const kernel = K.im2col(operand(x, x.shape), lead, attrs, attrs.value);
      return runKernel(kernel, [x], [...lead, ...attrs.kernel, ...attrs.outSize], x.dtype);
    },
    // linear, so its gradient is its adjoint: each tap's gradient goes back to the pixel it read
    // (taps that read padding carry none)
    backward: ({ grad, attrs: { value: _, ...geom } }) => [grad.col2im(geom)],
    jvp: ({ tangents: [ta], attrs }) => ta!.im2col({ ...attrs, value: 0 }), // linear; padding taps are constant
  },
  asStrided: {
    forward: ([a], { shape, strides, offset }) => {
      const x = a as Tensor;
      if (!isContiguousLayout(x.shape, x.strides, x.offset)) throw new Error('internal: asStrided of a non-dense tensor');
      return view(x, [...shape], [...strides], offset);
    },
    // the gradient of the region goes back into place; the rest of the input gets none
    backward: ({ grad, attrs, shapes: [shape] }) => [grad.newFull(shape!, 0).scatterRegion(grad, attrs)],
    jvp: ({ tangents: [ta], attrs }) => denseFrom0(ta!).asStrided(attrs),
  },
  scatter: {
    forward: ([a, b], { shape, strides, offset }) => {
      const base = denseFrom0(a as Tensor);
      const value = denseFrom0(b as Tensor);
      const out = runKernel(K.scatter(numel(base.shape), shape, strides, offset), [base, value], [...base.shape], base.dtype);
      if (base !== a) base.dispose();
      if (value !== b) value.dispose();
      return out;
    },
    // the base keeps the gradient outside the region, the value gets the region's
    backward: ({ grad, attrs, needs }) => [
      needs[0] ? grad.scatterRegion(grad.newFull(attrs.shape, 0), attrs) : null,
      needs[1] ? denseFrom0(grad).asStrided(attrs) : null,
    ],
    jvp: ({ tangents: [ta, tb], inputs: [a, b], attrs }) => (ta ?? a!.newFull(a!.shape, 0)).scatterRegion(tb ?? b!.newFull(b!.shape, 0), attrs),
  },
  col2im: {
    forward: ([a], attrs) => {
      const x = a as Tensor;
      const lead = checkWindow('col2im', x.shape, [...attrs.kernel, ...attrs.outSize], attrs);
      const kernel = K.col2im(operand(x, x.shape), lead, attrs);
      return runKernel(kernel, [x], [...lead, ...attrs.inSize], x.dtype);
    },
    // the adjoint of im2col, whose adjoint is im2col again (zero padding)
    backward: ({ grad, attrs }) => [grad.im2col({ ...attrs, value: 0 })],
    jvp: ({ tangents: [ta], attrs }) => ta!.col2im(attrs), // linear
  },
  // a chain of the formulas above as one kernel; its rules are theirs, composed (tensor/fuse.ts)
  fused: { forward: fusedForward, saveInputs: true, backward: fusedBackward, jvp: fusedJvp },
  // the normalised output of the norm layers: one pass forward, three backward (the formulas in tensor/normalize.ts)
  normalize: { forward: normalizeForward, saveInputs: true, backward: normalizeBackward, jvp: normalizeJvp },
};

/** A 2-D view with column-major strides (the transpose of a dense matrix), of more than one column. */
/**
 * x·y (batched, broadcast) as the gradient of an operand of shape `shape`:
 * where that operand was broadcast over batch dims (a convolution's weight over
 * the batch) and the device packs its matmul operands (the cpu device's float32
 * gemm), the product also sums over those dims, one `matmul` with `sum`
 * instead of one product per batch entry and a sum; elsewhere (float64, every
 * gpu.js mode) the plain product, which the engine sums down to `shape`, so
 * float64 results are unchanged. Either way the same sums of the same products.
 */
function productTo(x: Tensor, y: Tensor, shape: Shape): Tensor {
  const r = Math.max(x.ndim, y.ndim) - 2;
  if (r <= 0 || !getDevice(x.device).readsStridedMatmul(x.dtype)) return x.matmul(y);
  const batch = broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2));
  const lead = batch.length - (shape.length - 2);
  const summed = batch.flatMap((s, d) => (s !== 1 && (d < lead || shape[d - lead] === 1) ? [d] : []));
  // NOTE: the summed product holds both operands whole in the gemm's 32-bit memory (per-entry
  // products hold one entry at a time): past 2^27 floats (512 MiB) keep those
  const whole = numel([...batch, ...x.shape.slice(-2)]) + numel([...batch, ...y.shape.slice(-2)]);
  if (!summed.length || whole > 2 ** 27) return x.matmul(y);
  const kept = batch.flatMap((_, d) => (summed.includes(d) ? [] : [d]));
  const order = [...kept, ...summed, batch.length, batch.length + 1];
  const xe = x.expand(...batch, ...x.shape.slice(-2)).permute(...order);
  const ye = y.expand(...batch, ...y.shape.slice(-2)).permute(...order);
  return xe.matmulSum(ye, summed.length).reshape(...shape);
}

function isTransposed(t: Tensor): boolean {
  const [r = 1, c = 1] = t.shape;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: a vector (r or c = 1) is the same memory in either layout, and both rules run the same kernels for one
  const matrix = r > 1 && c > 1;
  // Stryker disable next-line ConditionalExpression,LogicalOperator: strides[1] = r > 1 with strides[0] ≠ 1 is an overlapping or expanded view, for which both rules run the same kernels, as for a narrowed transpose (strides[1] ≠ r)
  return matrix && t.strides[0] === 1 && t.strides[1] === r;
}

/**
 * The dense form of `t` that a region's flat indices address (row-major from offset 0). A copy
 * (recorded, as clone) also for a contiguous view at an offset, which `contiguous()` keeps as it is
 * (the gradient pad's backward narrows, written back through a view, reached this).
 */
function denseFrom0(t: Tensor): Tensor {
  return isContiguousLayout(t.shape, t.strides, t.offset) ? t : t.clone();
}

/** The shape all `shapes` broadcast to (the inputs of an elementwise op). */
function broadcastAll(shapes: readonly Shape[]): number[] {
  return shapes.reduce<number[]>((out, s) => broadcastShapes(out, s), []);
}

/** Forward of a fused op: one fusedMap or fusedReduce kernel. */
function fusedForward(inputs: readonly Tensor[], { expr, dims, kind, name, shape: at }: OpAttrs['fused']): Produced {
  const shape = [...at];
  const dtype = (inputs[0] as Tensor).dtype;
  if (dims.length === 0) return runKernel(fusedMap(name, expr, inputs.map((t) => operand(t, shape)), shape), inputs, shape, dtype);
  const keptDims = shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const order = [...keptDims, ...dims];
  const operands = inputs.map((t) => {
    const o = operand(t, shape);
    return { offset: o.offset, strides: order.map((d) => o.strides[d] ?? 0) };
  });
  const kernel = fusedReduce(name, expr, operands, keptDims.map((d) => shape[d] ?? 1), dims.map((d) => shape[d] ?? 1), kind);
  return runKernel(kernel, inputs, keepShape(shape, dims), dtype);
}

/**
 * Backward of a fused op: input k's gradient is the fused expression of its
 * adjoint (tensor/fuse.ts), summed over the dims where k was broadcast, so it
 * arrives in k's shape (the engine has nothing left to reduce).
 */
function fusedBackward({ grad, inputs, attrs, shapes, needs }: BackwardCtx<OpAttrs['fused']>): (Tensor | null)[] {
  if (attrs.kind !== 'sum') throw new Error(`internal: the fused max ${attrs.name} has no gradient (use it on detached values)`);
  const n = inputs.length;
  const shape = [...attrs.shape];
  // the adjoints of the inputs not needed are symbolic work only (no kernel), dropped below
  // Stryker disable next-line ConditionalExpression: the predicate prunes expressions that are never run
  const adj = adjointsFor(attrs.diffExpr ?? attrs.expr, needs, n);
  return shapes.map((s, k) => {
    const e = adj.get(k);
    if (!needs[k] || !e) return null;
    const padded = [...Array<number>(shape.length - s.length).fill(1), ...s];
    // a dim where both are 1 sums one term: leaving it out keeps the kernel a map
    // Stryker disable next-line ConditionalExpression: summing a size-1 dim is the identity (same values, same kernel count)
    const dims = shape.map((_, d) => d).filter((d) => padded[d] === 1 && shape[d] !== 1);
    const g = (inputs[0] as Tensor).fused([...inputs.slice(1), grad], { expr: e, dims, kind: 'sum', name: `${attrs.name}Backward`, shape });
    return g.reshape(...s); // the tensor itself when the sum kept k's shape
  });
}

/** Forward mode of a fused op: the tangent expression (tensor/fuse.ts), fused again; a max has none (it is used detached). */
function fusedJvp({ tangents, inputs, attrs }: JvpCtx<OpAttrs['fused']>): Tensor | null {
  if (attrs.kind !== 'sum') return null;
  const extra: Tensor[] = [];
  const slot = new Map<number, number>();
  tangents.forEach((t, k) => {
    if (!t) return;
    slot.set(k, inputs.length + extra.length);
    extra.push(t);
  });
  const e = tangentOf(attrs.diffExpr ?? attrs.expr, (k) => (slot.has(k) ? fx.in(slot.get(k) as number) : null));
  if (!e) return null;
  return (inputs[0] as Tensor).fused([...inputs.slice(1), ...extra], { expr: e, dims: attrs.dims, kind: 'sum', name: `${attrs.name}Jvp`, shape: attrs.shape });
}

/** Check the trailing dims of an im2col/col2im input; returns the leading dims. */
function checkWindow(op: string, shape: Shape, trailing: readonly number[], g: K.WindowGeom): number[] {
  const r = g.kernel.length;
  const ok = [g.stride, g.padding, g.dilation, g.inSize, g.outSize].every((v) => v.length === r);
  // a shape shorter than `trailing` leaves a tail that cannot match it
  const lead = shape.slice(0, shape.length - trailing.length);
  if (!ok || fmt(shape.slice(lead.length)) !== fmt(trailing)) {
    throw new Error(`internal: ${op} of a ${fmt(shape)} tensor with kernel ${fmt(g.kernel)}, inSize ${fmt(g.inSize)}, outSize ${fmt(g.outSize)}`);
  }
  return lead;
}

/** Where `a` is its row's maximum `r` (broadcast): a == r, or both NaN (a NaN maximum is the NaN's). */
function maxMask(a: Tensor, r: Tensor): Tensor {
  return a.eq(r).add(a.ne(a).mul(r.ne(r)));
}

/**
 * Gradient of maximum/minimum, PyTorch's rule: `where(a == b, g/2, g)`, set
 * to 0 where the input loses. A NaN never loses (every comparison is false),
 * so with a NaN on either side both inputs get the whole gradient, as in PyTorch.
 */
function toWinner(grad: Tensor, a: Tensor, b: Tensor, aLoses: Tensor, bLoses: Tensor, needs: readonly boolean[]): (Tensor | null)[] {
  // where, not a product: a loser gets exactly 0 even where the gradient is infinite
  const half = a.eq(b).mul(-0.5).add(1);
  return [needs[0] ? grad.where(aLoses.eq(0), 0).mul(half) : null, needs[1] ? grad.where(bLoses.eq(0), 0).mul(half) : null];
}

/** Tangent of maximum/minimum: the winner's tangent, the mean of both on a tie. */
function fromWinner(ta: Tensor | null | undefined, tb: Tensor | null | undefined, wins: Tensor, a: Tensor, b: Tensor): Tensor | null {
  const share = wins.add(a.eq(b).mul(0.5));
  return plus(ta?.mul(share), tb?.mul(share.neg().add(1)));
}

/** Zeros shaped like `t`, on its device and dtype: PyTorch's `zeros_like(grad)` of a piecewise-constant op. */
function zeroGrad(t: Tensor): Tensor {
  return t.newFull(t.shape, 0);
}

/** The sum of the terms present (a missing tangent is zero); null when none is. */
function plus(...terms: (Tensor | null | undefined)[]): Tensor | null {
  let out: Tensor | null = null;
  for (const t of terms) if (t) out = out ? out.add(t) : t;
  return out;
}

/** The shape of a reduction's output with keepdim. */
export function keepShape(shape: Shape, dims: readonly number[]): number[] {
  return shape.map((s, d) => (dims.includes(d) ? 1 : s));
}

/** The permutation that undoes `dims`: dim j of the result is where dims sent j. */
function inversePermutation(dims: readonly number[]): number[] {
  return dims.map((_, j) => dims.indexOf(j));
}
