/**
 * Composites: ops written with other ops, so they need no gradient code of
 * their own (autograd differentiates the primitives they are made of). Every
 * composite lives here once (vector norms included); Tensor's methods,
 * `gg.cat`/`gg.stack`/`gg.where`, nn's functional forms and clipGradNorm_
 * call these.
 *
 * This file knows Tensor only as a type: it calls tensor methods, never
 * constructs tensors itself, so tensor.ts can import it.
 */
import type { Tensor } from './tensor.js';
import { normDim, normDims, type Dims } from './shape.js';
import { withGradMode } from '../autograd/grad-mode.js';
import { OpNode, relabel, type BackwardShortcut, type Node } from '../autograd/graph.js';
import { argError, checkBool, checkInt, checkNumber, checkOptions, checkTensor, checkTensorList, isTensor } from './check.js';
import { tidy } from './storage.js';
import { isFloatingDtype, isIntegralDtype, promoteTypes, type DType } from '../backend/types.js';
import { fx } from './fuse.js';
import { suspendForward } from './dual.js';
import { getDevice } from '../backend/registry.js';

/**
 * relu's value as a fused expression: where(x < 0, 0, x), which keeps -0 and NaN as PyTorch
 * (relu(-0) is -0: docs/notes/special-values.md).
 */
const RELU = fx.where(fx.f('lt', fx.in(0), fx.c(0)), fx.c(0), fx.in(0));
/**
 * relu's derivatives (the fused op's `diffExpr`): where(x <= 0 is false, x, 0) has RELU's values
 * but for the sign of zero, and where's rule gives PyTorch's threshold_backward: g where x > 0
 * or x is NaN, 0 at ±0 and below (RELU's own where would pass g at ±0).
 */
const RELU_DIFF = fx.where(fx.f('eq', fx.f('le', fx.in(0), fx.c(0)), fx.c(0)), fx.in(0), fx.c(0));

/** max(x, 0), keeping -0 and NaN; the gradient at ±0 is 0, as in PyTorch. */
export function relu(x: Tensor): Tensor {
  // float tensors: one fused kernel (docs/notes/architecture.md, "Fused kernels"): one pass and
  // no scalar uploads instead of three of each; the composed form's values and gradient
  // (where the device keeps NaN through a fused chain: Device.fusesNanExactly)
  // (its node is ReluBackward0, PyTorch's name; the composed form is relabelled to match)
  if (isFloatingDtype(x.dtype) && getDevice(x.device).fusesNanExactly) return x.fused([], { expr: RELU, diffExpr: RELU_DIFF, dims: [], kind: 'sum', name: 'Relu' });
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    // NOTE: where, not x·(x>0): that gives -0 for negative x where PyTorch gives +0;
    // the value where(x < 0, 0, x) keeps -0 and NaN (PyTorch's relu(-0) is -0), computed without
    // recording (no gradient, no tangent); the recorded where passes g (and the tangent) only where
    // x <= 0 is false (x > 0 or NaN), as PyTorch's threshold_backward (0 at ±0), which
    // where(x < 0, 0, x) itself would not
    const fill = withGradMode(false, () => suspendForward(() => x.where(x.lt(0).eq(0), 0)));
    const out = x.where(x.le(0).eq(0), fill);
    if (out.gradFn) relabel(out.gradFn, 'ReluBackward0');
    return out;
  });
}

/** Limit to [min, max] (either may be omitted); the gradient passes where min <= x <= max. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    if (min !== undefined && min !== null) checkNumber('clamp', 'min', min);
    if (max !== undefined && max !== null) checkNumber('clamp', 'max', max);
    if ((min === undefined || min === null) && (max === undefined || max === null)) {
      throw new Error("torch.clamp: At least one of 'min' or 'max' must not be None");
    }
    const lo = min !== undefined && min !== null;
    const hi = max !== undefined && max !== null;
    // values: NaN stays NaN (maximum/minimum propagate it); gradient: passes where
    // min <= x <= max (false for NaN), as PyTorch's clamp_backward
    const fill = withGradMode(false, () => {
      let f: Tensor = x;
      if (lo) f = f.maximum(min as number);
      if (hi) f = f.minimum(max as number);
      return f;
    });
    let inRange: Tensor | null = lo ? x.ge(min as number) : null;
    if (hi) inRange = inRange ? inRange.mul(x.le(max as number)) : x.le(max as number);
    const out = x.where(inRange as Tensor, fill);
    // PyTorch's node for clamp with number bounds (any of min, max or both): ClampBackward1
    if (out.gradFn) relabel(out.gradFn, 'ClampBackward1');
    return out;
  });
}

/** 1/x. */
export function reciprocal(x: Tensor): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    return x.scalar(1).div(x);
  });
}

/** 1/sqrt(x). */
export function rsqrt(x: Tensor): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    return x.sqrt().reciprocal();
  });
}

/** x². */
export function square(x: Tensor): Tensor {
  return x.mul(x);
}

/** Mean over `dim` (all dims by default). */
export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  requireFloat(x, `mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: ${typeLabel(x)}`);
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const dims = normDims(dim, x.ndim);
    return x.sum(dims, keepdim).div(count(x, dims));
  });
}

/** Options of `var` and `std` (PyTorch's keywords). */
export interface VarOptions {
  /** Divide by n - 1 (true, the default) or n; give this or `correction`. */
  unbiased?: boolean;
  /** Divide by max(n - correction, 0) (PyTorch's `correction`, an int; default 1). */
  correction?: number;
  keepdim?: boolean;
}
const VAR_KEYS: readonly (keyof VarOptions)[] = ['unbiased', 'correction', 'keepdim'];

/** The divisor's correction of var/std from checked options. */
function varCorrection(fn: string, opts: VarOptions): number {
  const o = checkOptions(fn, opts, VAR_KEYS) as VarOptions;
  if (o.keepdim !== undefined) checkBool(fn, 'keepdim', o.keepdim);
  if (o.unbiased !== undefined) checkBool(fn, 'unbiased', o.unbiased);
  if (o.correction === undefined) return (o.unbiased ?? true) ? 1 : 0;
  // PyTorch has no overload taking both
  if (o.unbiased !== undefined) throw new TypeError(`${fn}(): give only one of 'unbiased' and 'correction'`);
  return checkInt(fn, 'correction', o.correction);
}

/**
 * Variance over `dim`, divided by max(n - correction, 0): `unbiased` (the
 * default) divides by n - 1, `correction: 0` by n (PyTorch's torch.var).
 * @throws TypeError for an unknown option, a non-bool `unbiased`/`keepdim`,
 *   a non-int `correction`, or both `unbiased` and `correction`
 * @example gg.tensor([1, 2, 3]).var(0, { correction: 0 }) // 0.6667
 */
export function variance(x: Tensor, dim?: Dims, opts: VarOptions = {}, fn = 'var'): Tensor {
  const correction = varCorrection(fn, opts);
  requireFloat(x, 'std and var only support floating point and complex dtypes');
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const dims = normDims(dim, x.ndim);
    const n = count(x, dims);
    // x + (-mean), the same values as x - mean (IEEE defines a - b as a + (-b)), so that the mean's
    // path sends back -(Σ g_c)/n. The hook makes that sum +0 where it is zero (a tie of zeros), so the
    // path adds -0, the identity of addition: x's gradient is then 2(x - mean)·g/(n - correction) with
    // PyTorch's var_backward sign at a zero deviation (-0 at x = -0, at a negative g, ...; its nonzero
    // values are unchanged). `g.add(0)` is recorded, so double backward is unchanged too.
    // (docs/notes/special-values.md, "The sign of zero")
    const negMean = x.mean(dims, true).neg();
    if (negMean.requiresGrad) negMean.registerHook((g) => g.add(0));
    const centred = x.add(negMean);
    return centred.mul(centred).sum(dims, opts.keepdim ?? false).div(Math.max(n - correction, 0));
  });
}

/**
 * Standard deviation over `dim`: the square root of `variance` (same options).
 * @throws TypeError for an unknown option (as `variance`)
 * @example gg.tensor([1, 2, 3]).std(0, { correction: 0 }) // 0.8165
 */
export function std(x: Tensor, dim?: Dims, opts: VarOptions = {}): Tensor {
  varCorrection('std', opts);
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const v = variance(x, dim, opts, 'std');
    // PyTorch's std_backward masks the gradient to 0 where std is 0 (a constant slice),
    // where sqrt's own rule gives g/0 = inf and then inf·0 = NaN; NaN stays NaN
    const nz = v.ne(0);
    return v.where(nz, 1).sqrt().where(nz, 0);
  });
}

/** PyTorch's ScalarType name of an integer dtype, for its messages (Long, Int). */
function typeLabel(x: Tensor): string {
  return x.dtype === 'int64' ? 'Long' : x.dtype === 'int32' ? 'Int' : x.dtype;
}

/** Refuse an integer tensor where PyTorch does (mean, var, std): `.float()` first. */
function requireFloat(x: Tensor, message: string): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new Error(message);
}

/** Number of elements a reduction over `dims` combines. */
function count(x: Tensor, dims: readonly number[]): number {
  return dims.reduce((a, d) => a * (x.shape[d] ?? 1), 1);
}

/** Smallest value over `dim`: -max(-x). */
export function min(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    return x.neg().max(dim, keepdim).neg();
  });
}

/**
 * Index of the first largest value along `dim` (no gradient), as an int64
 * tensor; `dim` null: of the flattened tensor (PyTorch's argmax).
 */
export function argmax(x: Tensor, dim: number | null, keepdim = false): Tensor {
  if (dim === null) {
    return tidy(() => {
      const i = argmax(x.reshape(-1), 0);
      return keepdim ? i.reshape(x.shape.map(() => 1)) : i;
    });
  }
  checkInt('argmax', 'dim', dim);
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const d = normDim(dim, x.ndim);
    const n = x.shape[d] ?? 1;
    const v = x.detach();
    const idx = v.newTensor(Array.from({ length: n }, (_, i) => i)).reshape(...x.shape.map((_, i) => (i === d ? n : 1)));
    const m = v.max(d, true);
    // a NaN maximum: the NaNs are the maxima (PyTorch returns the first NaN's index)
    const isMax = v.eq(m).add(v.ne(v).mul(m.ne(m)));
    // the smallest index among the maxima: max of (n - index) where maximal
    return idx.neg().add(n).mul(isMax).max(d, keepdim).neg().add(n).to('int64');
  });
}

/** Index of the first smallest value: argmax of -x (a NaN still counts, as in PyTorch's argmin). */
export function argmin(x: Tensor, dim: number | null, keepdim = false): Tensor {
  return tidy(() => argmax(x.neg(), dim, keepdim));
}

/**
 * Run `fn` with the max of `x` along `d` (keepdim) taken outside the graph:
 * a shift that cancels in the result. Recording it would leave a node that
 * backward never reaches (and so never frees); the shift is disposed after
 * `fn`, which uses it only in ops that save no inputs (sub, add).
 */
function withDetachedMax(x: Tensor, d: number, fn: (m: Tensor) => Tensor): Tensor {
  // an empty dim has no max (and nothing to shift): 0, so softmax of an empty tensor is empty
  const m = withGradMode(false, () => ((x.shape[d] ?? 1) === 0 ? x.sum(d, true) : x.max(d, true)));
  try {
    return fn(m);
  } finally {
    m.dispose();
  }
}

/** Softmax along `dim`, computed stably (the max is subtracted first). */
export function softmax(x: Tensor, dim: number): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const d = normDim(dim, x.ndim);
    const e = withDetachedMax(x, d, (m) => x.sub(m)).exp();
    return e.div(e.sum(d, true));
  });
}

/** log(softmax(x)) along `dim`, without overflow. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const d = normDim(dim, x.ndim);
    if (isFloatingDtype(x.dtype) && getDevice(x.device).fusesNanExactly && (x.shape[d] ?? 0) > 0) return fusedLogSoftmax(x, d);
    const shifted = withDetachedMax(x, d, (m) => x.sub(m));
    return shifted.sub(shifted.exp().sum(d, true).log());
  });
}

/**
 * The fused log-softmax's expressions, made once: the same objects every call,
 * so their compacted forms and kernels are remembered (backend/kernel.ts
 * `memoKernel`). sumExp: e^(x - m); out: (x - m) - l; backSum: -g;
 * back: g + (t/s)·e^(x - m) over (g, t, s, x, m).
 */
const LSM = (() => {
  const { in: v, f, add, mul, div, neg, sub } = fx;
  return {
    sumExp: f('exp', sub(v(0), v(1))),
    out: sub(sub(v(0), v(1)), v(2)),
    backSum: neg(v(0)),
    back: add(v(0), mul(div(v(1), v(2)), f('exp', sub(v(3), v(4))))),
  };
})();

/**
 * The composed log-softmax below in fewer kernels (docs/notes/architecture.md,
 * "Fused kernels"): s = Σ e^(x - m) over `d` (one fused reduction, m the
 * detached max), l = log s, then (x - m) - l (one fused pass). The top node
 * is PyTorch's `LogSoftmaxBackward0` over x, m and l (l's node LogBackward0,
 * s's SumExpBackward0). The recorded rules are the composed chain's formulas
 * in its order (Σ(-g) over `d`, divided by s, times e^(x - m), added to g),
 * so float64 gives the same numbers; without createGraph the backward is
 * `LogSoftmaxShortcut`, two kernels.
 */
function fusedLogSoftmax(x: Tensor, d: number): Tensor {
  return withDetachedMax(x, d, (m) => {
    const s = x.fused([m], { expr: LSM.sumExp, dims: [d], kind: 'sum', name: 'SumExp' });
    const l = s.log();
    const out = x.fused([m, l], { expr: LSM.out, dims: [], kind: 'sum', name: 'LogSoftmax' });
    const node = out.gradFn;
    const lNode = l.gradFn;
    const sNode = s.gradFn;
    if (node instanceof OpNode && node.op === 'fused' && lNode && sNode && node.next.length === 3 && node.next[2]?.node === lNode) {
      node.shortcut = new LogSoftmaxShortcut(s.alias(), [lNode, sNode], d);
    }
    return out;
  });
}

/**
 * @internal The terms of the fused log-softmax along `d` (float `x`, a fusing
 * device, `d` not empty), made as `fusedLogSoftmax` makes them: m the detached
 * max (disposed after `fn`), s = Σ e^(x - m) (SumExpBackward0) and l = log s
 * (LogBackward0). nn/loss.ts's fused cross entropy reads the target's
 * log-probability (x - m) - l from them without writing log-softmax's output.
 */
export function logSoftmaxTerms(x: Tensor, d: number, fn: (m: Tensor, s: Tensor, l: Tensor) => Tensor): Tensor {
  return withDetachedMax(x, d, (m) => {
    const s = x.fused([m], { expr: LSM.sumExp, dims: [d], kind: 'sum', name: 'SumExp' });
    return fn(m, s, s.log());
  });
}

/**
 * The backward of `fusedLogSoftmax` without createGraph (a `BackwardShortcut`,
 * docs/notes/architecture.md, "Backward shortcuts"): the recorded rules send g
 * to x through the top node and Σ(-g) to l, whose node divides it by s, and
 * s's node multiplies it by e^(x - m) on its way to x, where the engine adds
 * it to g (four kernels and three nodes). Here: t = Σ(-g) over the dim, then
 * dx = g + (t/s)·e^(x - m): the same formulas in the same order (float64:
 * the same numbers), two kernels; l's chain gets nothing (it leads only to x).
 */
class LogSoftmaxShortcut implements BackwardShortcut {
  constructor(
    private s: Tensor | null,
    private readonly chain: readonly Node[],
    private readonly d: number,
  ) {}

  backward(grad: Tensor, inputs: readonly Tensor[], needs: readonly boolean[]): (Tensor | null)[] | null {
    const [x, m] = inputs as [Tensor, Tensor];
    const s = this.s;
    const observed = this.chain.some((n) => n.preHooks.size || n.postHooks.length || n.retained.size);
    if (!s || !needs[0] || !needs[2] || needs[1] || observed) return null;
    const t = grad.fused([], { expr: LSM.backSum, dims: [this.d], kind: 'sum', name: 'LogSoftmaxBackwardSum' });
    const dx = grad.fused([t, s, x, m], { expr: LSM.back, dims: [], kind: 'sum', name: 'LogSoftmaxBackward' });
    return [dx, null, null];
  }

  release(): void {
    this.s?.dispose();
    this.s = null;
  }
}

/** log(Σ e^x) along `dim`, stably. */
export function logsumexp(x: Tensor, dim: number, keepdim = false): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const d = normDim(dim, x.ndim);
    // as PyTorch: an infinite max shifts by 0, so a row with inf gives inf (not inf - inf = NaN)
    const out = withDetachedMax(x, d, (mx) => {
      const m = withGradMode(false, () => mx.where(mx.abs().lt(Infinity), 0));
      return x.sub(m).exp().sum(d, true).log().add(m);
    });
    return keepdim ? out : out.squeeze(d);
  });
}

/**
 * Concatenate along `dim` (PyTorch's `torch.cat`): each input is padded into
 * place and the pads summed, so the gradient of each input is a slice.
 * @example gg.cat([gg.ones([2]), gg.zeros([3])], 0) // [1, 1, 0, 0, 0]
 */
export function cat(list: readonly Tensor[], dim = 0): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    checkTensorList('cat', list);
    const first = list[0];
    if (!first) throw new Error('torch.cat(): expected a non-empty list of Tensors');
    const d = normDim(checkInt('cat', 'dim', dim), first.ndim);
    // mixed dtypes promote, as PyTorch's type promotion does (docs/spec/dtypes.md#promotion)
    if (list.some((t) => t.dtype !== first.dtype)) {
      const common = list.reduce<DType>((acc, t) => promoteTypes(acc, t.dtype), first.dtype);
      const wide = list.map((t) => t.to(common));
      try {
        return cat(wide, d);
      } finally {
        wide.forEach((w, i) => w !== list[i] && w.dispose());
      }
    }
    list.forEach((t, i) => {
      if (t.ndim !== first.ndim) throw new Error(`Tensors must have same number of dimensions: got ${first.ndim} and ${t.ndim}`);
      t.shape.forEach((s, k) => {
        if (k !== d && s !== first.shape[k]) {
          throw new Error(`Sizes of tensors must match except in dimension ${d}. Expected size ${first.shape[k]} but got size ${s} for tensor number ${i} in the list.`);
        }
      });
    });
    const total = list.reduce((a, t) => a + (t.shape[d] ?? 0), 0);
    // NOTE: float pieces are padded with -0, the identity of addition (x + -0 is x for every x,
    // -0 included), so the sum copies each value exactly: with +0 padding a -0 input came out +0,
    // where PyTorch copies it (docs/notes/special-values.md, "The sign of zero")
    const fill = isFloatingDtype(first.dtype) ? -0 : 0;
    let at = 0;
    let out: Tensor | null = null;
    for (const t of list) {
      const n = t.shape[d] ?? 0;
      const before = t.shape.map((_, k) => (k === d ? at : 0));
      const after = t.shape.map((_, k) => (k === d ? total - at - n : 0));
      const placed = t.pad(before, after, fill);
      out = out ? out.add(placed) : placed;
      at += n;
    }
    return out as Tensor;
  });
}

/**
 * Stack along a new dim (PyTorch's `torch.stack`): `cat` of the inputs unsqueezed at `dim`.
 * @example gg.stack([gg.ones([2]), gg.zeros([2])], 0).shape // [2, 2]
 */
export function stack(list: readonly Tensor[], dim = 0): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    checkTensorList('stack', list);
    checkInt('stack', 'dim', dim);
    const first = list[0];
    if (!first) throw new Error('stack expects a non-empty TensorList');
    list.forEach((t, i) => {
      if (t.shape.join() !== first.shape.join()) {
        throw new Error(`stack expects each tensor to be equal size, but got [${first.shape.join(', ')}] at entry 0 and [${t.shape.join(', ')}] at entry ${i}`);
      }
    });
    const d = normDim(dim, first.ndim + 1);
    return cat(
      list.map((t) => t.unsqueeze(d)),
      d,
    );
  });
}

/**
 * `a` where `condition` is non-zero, else `b` (PyTorch's `torch.where`);
 * numbers become scalars on the tensors' device.
 * @example gg.where(gg.tensor([1, 0]), gg.tensor([1, 2]), 0) // [1, 0]
 */
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    checkTensor('where', 'condition', condition);
    if (typeof a !== 'number' && !isTensor(a)) throw argError('where', 'input', 'Tensor or Number', a);
    if (typeof b !== 'number' && !isTensor(b)) throw argError('where', 'other', 'Tensor or Number', b);
    const base = typeof a === 'number' ? (typeof b === 'number' ? condition.scalar(a) : b.scalar(a)) : a;
    return base.where(condition, b);
  });
}

// ---- vector norms (PyTorch's torch.norm / linalg.vector_norm with a numeric p or 'fro') ----

/** What `norm` accepts as `p`: a number (Infinity and -Infinity included) or `'fro'` (= 2). */
export type NormOrd = number | 'fro';

/** `s ** (1/p)` whose gradient is 0 (not NaN) where `s` is 0, as PyTorch's norm backward masks it. */
function safeRoot(s: Tensor, p: number): Tensor {
  // NOTE: the double `where`: the root only ever sees s != 0, so neither its value
  // nor its gradient is inf/NaN at 0; there the result is 0 with zero gradient
  const nonzero = s.ne(0);
  const safe = s.where(nonzero, 1);
  return (p === 2 ? safe.sqrt() : safe.pow(1 / p)).where(nonzero, 0);
}

/**
 * The p-norm of `x` over `dim` (all elements by default): (Σ|x|^p)^(1/p);
 * `Infinity` is max |x|, `-Infinity` min |x|, 0 counts the non-zeros.
 *
 * Shapes: `dim` removed (kept as size 1 with `keepdim`). Dtype: as `x`.
 * Gradient (PyTorch 1.13's norm_backward): x·|x|^(p-2)/‖x‖^(p-1); 0 where the
 * norm is 0, and for p < 1 also 0 where x is 0; for ±∞ split evenly between
 * tied maxima (minima); zero for p = 0 (recorded, as PyTorch's NormBackward1).
 * Errors: a non-numeric `p` other than 'fro' throws.
 * @example norm(gg.tensor([3, 4])) // 5 (clipGradNorm_ uses it)
 */
export function norm(x: Tensor, p: NormOrd = 2, dim?: Dims, keepdim = false): Tensor {
  checkTensor('norm', 'input', x);
  checkBool('norm', 'keepdim', keepdim);
  const ord = p === 'fro' ? 2 : p;
  if (typeof ord !== 'number' || Number.isNaN(ord)) throw new Error(`norm: p must be a number or 'fro', got ${String(p)}`);
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    if (ord === 0) {
      const count = x.detach().ne(0).sum(dim, keepdim).to(x.dtype);
      // PyTorch records p = 0 (NormBackward1) with a zero gradient: a where that never picks x
      // (a product with 0 would make NaN of an infinite x) connects the count to x
      return x.requiresGrad ? count.add(x.where(x.newFull(x.shape, 0), 0).sum(dim, keepdim)) : count;
    }
    const a = x.abs();
    if (ord === Infinity) return a.max(dim, keepdim);
    if (ord === -Infinity) return a.min(dim, keepdim);
    if (ord === 1) return a.sum(dim, keepdim);
    if (ord === 2) return safeRoot(x.mul(x).sum(dim, keepdim), 2);
    return safeRoot(maskedPow(a, ord).sum(dim, keepdim), ord);
  });
}

/**
 * `a^p` for `a = |x| >= 0`; for p < 1 its gradient is 0 where a is 0 (not
 * p·0^(p-1) = inf, which times sign(0) = 0 is NaN), as PyTorch 1.13's
 * norm_backward masks `|x|^(p-1)` there.
 */
function maskedPow(a: Tensor, p: number): Tensor {
  if (p >= 1) return a.pow(p);
  // NOTE: the double `where`, as in safeRoot: the differentiated power only sees a != 0; the
  // value at 0 (0 for p > 0, inf for p < 0) comes from a detached copy, so no gradient flows there
  const nonzero = a.ne(0);
  return a.where(nonzero, 1).pow(p).where(nonzero, a.detach().pow(p));
}

// ---- rounding to decimal places ----

/**
 * `round(x, decimals=d)` as PyTorch 1.13 computes it (its round_decimals
 * kernel): round(x·10^d) / 10^d for d > 0, round(x / 10^-d)·10^-d for
 * d < 0, each step in x's dtype, halves to even. Zero gradient (round's).
 * @example roundDecimals(gg.tensor([1.2345]), 2) // [1.23]
 */
export function roundDecimals(x: Tensor, decimals: number): Tensor {
  checkInt('round', 'decimals', decimals);
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const ten = 10 ** Math.abs(decimals);
    return decimals > 0 ? x.mul(ten).round().div(ten) : x.div(ten).round().mul(ten);
  });
}

// ---- reversed operators ----

/** Options of `add`, `sub` and their in-place forms: PyTorch's keyword `alpha`. */
export interface AlphaOptions {
  /** The multiplier of `other` (default 1). */
  alpha?: number;
}

/**
 * `alpha` from the options of `fn` (`add`, `sub_`, ...), checked: a number,
 * and a whole one when the result is an integer tensor (PyTorch's rule).
 * @throws TypeError for an unknown option key or a non-number alpha;
 *   Error `For integral input tensors, argument alpha must not be a floating point number.`
 * @example alphaOf('add', x, 2, { alpha: 3 }) // 3
 */
export function alphaOf(fn: string, x: Tensor, other: unknown, opts: AlphaOptions | undefined): number {
  const alpha = checkNumber(fn, 'alpha', checkOptions(fn, opts, ['alpha']).alpha ?? 1);
  const otherIntegral = typeof other === 'number' ? Number.isInteger(other) : isTensor(other) && isIntegralDtype(other.dtype);
  if (isIntegralDtype(x.dtype) && otherIntegral && !Number.isInteger(alpha)) {
    throw new Error('For integral input tensors, argument alpha must not be a floating point number.');
  }
  return alpha;
}

/**
 * `x + alpha·other` or `x - alpha·other` (PyTorch's `add`/`sub` with
 * `alpha`), for alpha ≠ 1: a number `other` is scaled in float64 before it
 * becomes the operand; a tensor one is multiplied first (its gradient is
 * ±alpha·g, as PyTorch's). The node is the op's own (AddBackward0,
 * SubBackward0).
 * @example scaledBinary(x, 'add', y, 2) // x + 2y
 */
export function scaledBinary(x: Tensor, op: 'add' | 'sub', other: Tensor | number, alpha: number): Tensor {
  if (typeof other === 'number') return x[op](other * alpha);
  if (!isTensor(other)) throw argError(op, 'other', 'Tensor or Number', other);
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => x[op](other.mul(alpha)));
}

/**
 * `other - alpha·x` (PyTorch's `torch.rsub(input, other, *, alpha=1)`): the
 * reversed subtraction, e.g. `1 - x` as `gg.rsub(x, 1)` or `x.rsub(1)`.
 *
 * Shapes broadcast as in `sub`; a tensor `other` must share `x`'s dtype and
 * device. Dtype: as `x`. Gradient: -alpha for `x`, 1 for a tensor `other`.
 * @throws TypeError when `x` is not a tensor, `other` neither a tensor nor a
 *   number, or `alpha` not a number; TypeError for an unknown option
 * @example gg.rsub(gg.tensor([0.25, 1]), 1) // [0.75, 0]
 * @example gg.rsub(gg.tensor([1, 2]), 10, { alpha: 2 }) // [8, 6]
 */
export function rsub(x: Tensor, other: Tensor | number, opts: { alpha?: number } = {}): Tensor {
  checkTensor('rsub', 'input', x);
  if (typeof other !== 'number' && !isTensor(other)) throw argError('rsub', 'other', 'Tensor or Number', other);
  const alpha = checkNumber('rsub', 'alpha', checkOptions('rsub', opts, ['alpha']).alpha ?? 1);
  // NOTE: intermediate results are freed when it returns (README "Memory"): only the result survives
  return tidy(() => {
    const scaled = alpha === 1 ? x : x.mul(alpha);
    return (typeof other === 'number' ? x.scalar(other) : other).sub(scaled);
  });
}
