/**
 * Functional normalisation: batch, instance, layer and group norm. The
 * statistics are fused reductions (`moments`); the output is the `normalize`
 * primitive, whose backward goes through the statistics as the composed
 * formula's would (tensor/normalize.ts). SwitchableNorm2d composes
 * `moments` and `normalized` instead. See docs/notes/normalization.md.
 *
 * Statistics come from one pass over the data: the sum and the sum of
 * squares of `x - s`, where `s` is one detached sample per group (the
 * "shifted data" method). The shift keeps the one-pass variance accurate
 * when |mean| >> std (float32 devices) and, since the variance does not
 * depend on the shift, the gradients are the exact ones.
 */
import { tidy } from '../../tensor/storage.js';
import { argError, checkBool, checkInt, checkIntList, checkNumber, checkOptionalTensor, checkTensor, isTensor } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { fmt, normDim } from '../../tensor/shape.js';
import { fx } from '../../tensor/fuse.js';
import type { Expr } from '../../backend/fusion.js';
import { fastMoments, type FusedOutputSpec } from '../../tensor/normalize-fast.js';
import { numKey, remember } from '../../tensor/normalize.js';
import { isFloatingDtype, scalarTypeName } from '../../backend/types.js';

/** |x - s|, (x - s)·k⁻¹ and its square over inputs x, s, k⁻¹; centredMean·scale + shift (`remember`: one object per expression). */
const ABS_DIFF = fx.f('abs', fx.sub(fx.in(0), fx.in(1)));
const CENTRED = fx.mul(fx.sub(fx.in(0), fx.in(1)), fx.in(2));
const CENTRED_SQUARED = fx.mul(CENTRED, CENTRED);
const MEAN_OF_INPUT = fx.add(fx.mul(fx.in(0), fx.in(1)), fx.in(2));

/** Biased moments of one reduction, with everything the callers reuse. */
export interface Moments {
  /** The detached shift, keepdim shape. */
  shift: Tensor;
  /**
   * The detached unit of `centred`, `centredMean` and `var` (keepdim shape,
   * or all ones with `commonScale`): max |x - shift| per group, at least
   * sqrt(eps). See docs/notes/normalization.md, "Extreme magnitudes".
   */
  scale: Tensor;
  /** 1 / scale (detached, keepdim shape). */
  inv: Tensor;
  /** (x - shift) / scale (full shape), computed on first read (`normalized` fuses it away). */
  readonly centred: Tensor;
  /** The input the moments are of. */
  x: Tensor;
  /** Σ centred and Σ centred² over the group (keepdim shape): what `centredMean` and `var` are made of. */
  sum1: Tensor;
  sum2: Tensor;
  /** Mean of `centred` (keepdim shape), computed on first read: mean = shift + centredMean·scale. */
  readonly centredMean: Tensor;
  /**
   * Mean in the input's units (keepdim shape), computed on first read.
   * NOTE: read it under noGrad when no gradient is wanted (running statistics):
   * a recorded node that backward never reaches keeps its saved tensors.
   */
  readonly mean: Tensor;
  /** Biased variance of `centred`, clamped at 0 (keepdim shape), computed on first read: the input's variance is var·scale². */
  readonly var: Tensor;
  /** eps / scale², what `eps` becomes in the units of `var` (computed on first read). */
  readonly epsScaled: Tensor;
  /** The eps the moments were taken for. */
  eps: number;
  /** Number of values per statistic. */
  count: number;
  /**
   * @internal The running buffers' next values where the cpu device's fused
   * pass computed them (`MomentsOptions.output` with `running`), for
   * `updateRunningStats` to assign; absent otherwise.
   */
  runningNext?: readonly [Tensor | null, Tensor | null];
}

/** Options of `moments`. */
export interface MomentsOptions {
  /** The eps the caller adds to the variance: the scale stays >= sqrt(eps) so eps/scale² <= 1 (default 0). */
  eps?: number;
  /** One scale for all groups (the max over the whole tensor), for statistics that are pooled across groups. */
  commonScale?: boolean;
  /**
   * The `normalize` primitive's input, weight, bias and `safe` when it will
   * follow with these moments (batch and instance norm): the cpu device's
   * fast path may then compute its output in the same pass
   * (tensor/normalize-fast.ts, `fastMoments`); the values are the same.
   */
  output?: FusedOutputSpec;
}

/**
 * Mean and biased variance of `x` over `dims` (kept as size-1 dims), from
 * one pass: Σ(x - s) and Σ(x - s)² with a detached sample `s` per group.
 * The differences are divided by a detached scale (the group's largest
 * |x - s|) before squaring, so neither the square of a huge value
 * overflows nor that of a tiny one underflows; normalising with
 * `centred`, `var` and `epsScaled` gives the exact result (the value does
 * not depend on the scale, so treating it as a constant gives the exact
 * gradient too).
 * @example const { mean, var: v } = moments(x, [0, 2, 3]); // BatchNorm2d statistics
 */
export function moments(x: Tensor, dims: readonly number[], opts: MomentsOptions = {}): Moments {
  const ds = dims.map((d) => normDim(d, x.ndim));
  const count = ds.reduce((a, d) => a * (x.shape[d] ?? 1), 1);
  const eps = opts.eps ?? 0;
  let shift = x.detach();
  for (const d of ds) shift = shift.narrow(d, 0, 1);
  // NOTE: every pass over x below is one fused kernel (docs/notes/architecture.md, "Fused kernels"):
  // the same formulas as the composed ops (x - s, |.|, ·, Σ), without their full-size intermediates
  const [X, S] = [fx.in(0), fx.in(1)];
  // the cpu device's float32 fast path: scale, 1/scale, Σc and Σc² in one pass (tensor/normalize-fast.ts)
  const fast = opts.commonScale ? null : fastMoments(x, ds, eps, opts.output);
  const scale = fast ? fast.scale : noGrad(() => {
    const all = x.shape.map((_, i) => i);
    // max |x - s| per group (over everything with commonScale): detached, so no gradient flows through it
    const m = x.detach().fused([shift], {
      expr: ABS_DIFF,
      dims: opts.commonScale ? all : ds,
      // Stryker disable next-line StringLiteral: any kind but 'sum' reduces by max (backend/fusion.ts); only an empty group would differ, and moments never runs on one
      kind: 'max',
      name: 'AbsMax',
    });
    // NOTE: at least sqrt(eps) (eps/scale² stays <= 1); where the data is all equal, 1;
    // a NaN or inf max would turn every value of the group into NaN: those groups keep scale 1
    // (a negative eps gives NaN, no floor, as 0 does)
    const expr = remember(`scale|${numKey(eps)}`, () => {
      const floor = Math.sqrt(eps);
      const k = floor > 0 ? fx.f('maximum', X, fx.c(floor)) : fx.where(fx.f('gt', X, fx.c(0)), X, fx.c(1));
      return fx.where(fx.f('eq', fx.sub(k, k), fx.c(0)), k, fx.c(1));
    });
    return mapOf(m, [], expr, 'Scale');
  });
  const inv = fast ? fast.inv : noGrad(() => scale.reciprocal());
  const c = CENTRED;
  // Σ(x - s)/k and Σ((x - s)/k)², each one pass
  const sum1 = fast ? fast.sum1 : x.fused([shift, inv], { expr: c, dims: ds, kind: 'sum', name: 'CentredSum' });
  const sum2 = fast ? fast.sum2 : x.fused([shift, inv], { expr: CENTRED_SQUARED, dims: ds, kind: 'sum', name: 'CentredSquareSum' });
  // the small per-group chains are fused too (one kernel each, constants in the text, no uploads)
  const { cm, variance } = remember(`moments|${numKey(count)}`, () => {
    const cm = fx.div(X, fx.c(count));
    // E[c²] - E[c]², clamped at 0, keeping NaN (a NaN input must give a NaN variance, as in PyTorch)
    const d = fx.sub(fx.div(S, fx.c(count)), fx.mul(cm, cm));
    return { cm, variance: fx.where(fx.f('eq', fx.f('lt', d, fx.c(0)), fx.c(0)), d, fx.c(0)) };
  });

  // NOTE: the mean and variance kernels run on first read: the `normalize` primitive takes the sums
  let mean: Tensor | null = null;
  let centred: Tensor | null = null;
  let centredMean: Tensor | null = null;
  let v: Tensor | null = null;
  let epsScaled: Tensor | null = null;
  return {
    ...(fast?.running ? { runningNext: fast.running } : {}),
    shift,
    scale,
    inv,
    sum1,
    sum2,
    get centred(): Tensor {
      centred ??= mapOf(x, [shift, inv], c, 'Centred');
      return centred;
    },
    get centredMean(): Tensor {
      centredMean ??= mapOf(sum1, [], cm, 'Mean');
      return centredMean;
    },
    get mean(): Tensor {
      mean ??= mapOf(this.centredMean, [scale, shift], MEAN_OF_INPUT, 'MeanOfInput');
      return mean;
    },
    get var(): Tensor {
      v ??= mapOf(sum1, [sum2], variance, 'Variance');
      return v;
    },
    get epsScaled(): Tensor {
      epsScaled ??= noGrad(() => mapOf(inv, [], remember(`epsScaled|${numKey(eps)}`, () => fx.mul(fx.mul(X, X), fx.c(eps))), 'EpsScaled'));
      return epsScaled;
    },
    eps,
    count,
    x,
  };
}

/**
 * ((x - shift)/scale - sub)·f₁·f₂·… + bias as one fused kernel: the
 * normalised output of the norm layers, with the factors multiplied in the
 * order given (the composed formula's order) and `bias` added last. `sub`,
 * the factors and `bias` broadcast against x (per-group or per-channel
 * tensors); the gradient is the composed chain's (tensor/fuse.ts).
 * @example normalized(m, m.centredMean, [invStd(m.var, m.epsScaled, false)], null)
 */
export function normalized(m: Moments, sub: Tensor, factors: readonly Tensor[], bias: Tensor | null): Tensor {
  let e = fx.sub(fx.mul(fx.sub(fx.in(0), fx.in(1)), fx.in(2)), fx.in(3));
  factors.forEach((_, i) => (e = fx.mul(e, fx.in(4 + i))));
  if (bias) e = fx.add(e, fx.in(4 + factors.length));
  return mapOf(m.x, [m.shift, m.inv, sub, ...factors, ...(bias ? [bias] : [])], e, 'Normalize');
}

/**
 * The normalised output of batch, instance, layer and group norm,
 * ((x - mean)/sqrt(var + eps))·weight + bias over the groups of `dims`, as
 * the `normalize` primitive: one pass over x after the moments' passes, and
 * a backward of three passes (tensor/normalize.ts; the gradients are the
 * composed chain's, up to rounding). The moments are taken of a detached x
 * (the primitive differentiates through them itself); `weight` and `bias`
 * broadcast against x. `safe`: a zero denominator gives 0 (batch and
 * instance norm) instead of inf (layer and group norm, as PyTorch).
 * @example const y = normalizeOver(x, [0, 2, 3], 1e-5, w.reshape(1, -1, 1, 1), null, true, 'NativeBatchNorm');
 */
export function normalizeOver(x: Tensor, m: Moments, weight: Tensor | null, bias: Tensor | null, safe: boolean, name: string, dims: readonly number[]): Tensor {
  const ins = [m.shift, m.inv, m.sum1, m.sum2, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return x.normalizeGroups(ins, { dims: dims.map((d) => normDim(d, x.ndim)), safe, eps: m.eps, weight: !!weight, bias: !!bias, name });
}

/** The variance in the input's units (var·scale²; overflows to inf where it is not representable). */
export function realVar(m: Moments, factor = 1): Tensor {
  const [V, K] = [fx.in(0), fx.in(1)];
  const e = fx.mul(V, fx.mul(K, K));
  // ×1 is exact: one formula for every factor
  return mapOf(m.var, [m.scale], fx.mul(e, fx.c(factor)), 'RealVar');
}

/**
 * @internal
 * 1/sqrt(v + eps). With eps <= 0, a zero denominator gives 0 instead of
 * inf (PyTorch's batch norm training kernels do the same), so a constant
 * channel normalises to 0 and the output is β, with finite gradients.
 * `safe` false is the plain formula (layer and group norm, evaluation).
 * `eps` may be a tensor (eps in the units of scaled moments). With eps > 0
 * the guard never applies (v + eps > 0), so it changes no value.
 */
export function invStd(v: Tensor, eps: number | Tensor, safe: boolean): Tensor {
  // one fused kernel: rsqrt(v + eps) = 1/sqrt(v + eps), the composites' formulas
  const ve = fx.add(fx.in(0), typeof eps === 'number' ? fx.c(eps) : fx.in(1));
  const rsqrt = (t: Expr): Expr => fx.div(fx.c(1), fx.f('sqrt', t));
  const nz = fx.f('ne', ve, fx.c(0));
  const expr = safe ? fx.mul(rsqrt(fx.where(nz, ve, fx.c(1))), nz) : rsqrt(ve);
  return mapOf(v, typeof eps === 'number' ? [] : [eps], expr, 'InvStd');
}

/**
 * (x - mean)·α + bias, α = invStd·weight, with given statistics (evaluation mode) as one fused kernel,
 * the composed order. Where α is not finite (running_var + eps = 0) it is PyTorch's eval kernel's
 * x·α + (bias - mean·α) instead, so the infs and NaNs are PyTorch's (docs/notes/normalization.md).
 */
function affineNormalized(x: Tensor, mean: Tensor, is: Tensor, weight: Tensor | null, bias: Tensor | null): Tensor {
  const scale = weight ? is.mul(weight) : is;
  const [X, M, A] = [fx.in(0), fx.in(1), fx.in(2)];
  const normal = bias ? fx.add(fx.mul(fx.sub(X, M), A), fx.in(3)) : fx.mul(fx.sub(X, M), A);
  const pytorch = fx.add(fx.mul(X, A), fx.sub(bias ? fx.in(3) : fx.c(0), fx.mul(M, A)));
  const e = fx.where(fx.f('eq', fx.sub(A, A), fx.c(0)), normal, pytorch);
  return mapOf(x, [mean, scale, ...(bias ? [bias] : [])], e, 'Normalize');
}

/** A fused map (no reduced dim) over `t` and `rest`; its kind is what its backward reads when it is recorded. */
function mapOf(t: Tensor, rest: readonly Tensor[], expr: Expr, name: string): Tensor {
  // Stryker disable next-line ArrayDeclaration: a dim that is no index reduces nothing (docs/notes/mutation-testing.md)
  return t.fused(rest, { expr, dims: [], kind: 'sum', name });
}

/** [1, C, 1, ...] for a per-channel vector against an input of `rank` dims. */
function channelShape(c: number, rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => (i === 1 ? c : 1));
}

/** @internal PyTorch's `_verify_batch_size`. */
export function verifyBatchSize(shape: readonly number[]): void {
  // one value per channel: every dim but the channels' (dim 1) of size 1
  if (shape.every((n, i) => i === 1 || n === 1)) throw new Error(`Expected more than 1 value per channel when training, got input size ${fmt(shape)}`);
}

/** PyTorch's `_verify_spatial_size`. */
function verifySpatialSize(shape: readonly number[]): void {
  // one spatial element: every dim after the channels' of size 1
  if (shape.every((n, i) => i < 2 || n === 1)) throw new Error(`Expected more than 1 spatial element when training, got input size ${fmt(shape)}`);
}

/** @internal The per-channel element checks of `torch.batch_norm`, in its order. */
export function checkFeatures(c: number, named: [string, Tensor | null | undefined][], scale = 1): void {
  for (const [name, t] of named) {
    if (t && t.numel() * scale !== c * scale) throw new Error(`${name} should contain ${c * scale} elements not ${t.numel() * scale}`);
  }
}

/** @internal What the empty-batch path returns: a copy tied to weight[0] and bias[0] (PyTorch keeps the chain). */
export function emptyOutput(input: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined): Tensor {
  let out = input.clone();
  if (weight && weight.numel() > 0) out = out.mul(weight.reshape(-1).narrow(0, 0, 1));
  if (bias && bias.numel() > 0) out = out.add(bias.reshape(-1).narrow(0, 0, 1));
  return out;
}

/** @internal running = (1 - f)·running + f·stat, in place and unrecorded. */
export function updateRunning(running: Tensor, stat: Tensor, factor: number | Tensor): void {
  noGrad(() => {
    const s = stat.detach().reshape(running.shape);
    const [R, S, F] = [fx.in(0), fx.in(1), fx.in(2)];
    // one fused kernel: running·(1 - f) + stat·f
    const next =
      typeof factor === 'number'
        ? mapOf(running, [s], fx.add(fx.mul(R, fx.c(1 - factor)), fx.mul(S, fx.c(factor))), 'RunningUpdate')
        : mapOf(running, [s, factor.reshape([])], fx.add(fx.mul(R, fx.add(fx.neg(F), fx.c(1))), fx.mul(S, F)), 'RunningUpdate');
    running.assign(next);
  });
}

/**
 * @internal running = (1 - f)·running + f·stat as ONE fused kernel, `stat` an
 * expression over `inputs` (read as in(1), in(2), ...; all of one shape with
 * running's elements), in place and unrecorded.
 */
function updateRunningWith(running: Tensor, key: string, stat: () => Expr, inputs: readonly Tensor[], factor: number | Tensor): void {
  noGrad(() => {
    // computed in the inputs' shape (a view of running), so strided inputs such as the shift need no copy
    const r = running.reshape((inputs[0] as Tensor).shape);
    const R = fx.in(0);
    const F = fx.in(inputs.length + 1);
    const expr = remember(`running|${key}|${typeof factor === 'number' ? numKey(factor) : 'tensor'}`, () =>
      typeof factor === 'number' ? fx.add(fx.mul(R, fx.c(1 - factor)), fx.mul(stat(), fx.c(factor))) : fx.add(fx.mul(R, fx.add(fx.neg(F), fx.c(1))), fx.mul(stat(), F)));
    const next = mapOf(r, [...inputs.map((t) => t.detach()), ...(typeof factor === 'number' ? [] : [factor.reshape([])])], expr, 'RunningUpdate');
    running.assign(next.reshape(running.shape));
  });
}

/**
 * The running statistics of batch norm from the moments' sums, one kernel each:
 * mean = (Σc/n)·k + s and the unbiased variance var·k²·n/(n - 1) (the formulas of
 * `mean` and `realVar`, without their intermediate tensors).
 */
function updateRunningStats(m: Moments, runningMean: Tensor | null, runningVar: Tensor | null, momentum: number | Tensor): void {
  // computed by the fused moments pass with the same formulas (tensor/normalize-fast.ts `runningNext`)
  const done = m.runningNext;
  if (done) {
    noGrad(() => {
      if (runningMean && done[0]) runningMean.assign(done[0]);
      if (runningVar && done[1]) runningVar.assign(done[1]);
    });
    return;
  }
  const n = m.count;
  const [S1, S2, K] = [fx.in(1), fx.in(2), fx.in(3)];
  const cm = (): Expr => fx.div(S1, fx.c(n));
  if (runningMean) updateRunningWith(runningMean, `mean|${numKey(n)}`, () => fx.add(fx.mul(cm(), fx.in(2)), fx.in(3)), [m.sum1, m.scale, m.shift], momentum);
  if (!runningVar) return;
  // n > 1: training refuses one value per channel before (verifyBatchSize)
  updateRunningWith(runningVar, `var|${numKey(n)}`, () => {
    const c = cm();
    const d = fx.sub(fx.div(S2, fx.c(n)), fx.mul(c, c));
    const v = fx.where(fx.f('eq', fx.f('lt', d, fx.c(0)), fx.c(0)), d, fx.c(0));
    return fx.mul(fx.mul(v, fx.mul(K, K)), fx.c(n / (n - 1)));
  }, [m.sum1, m.sum2, m.scale], momentum);
}

/** PyTorch 1.13's kernel names in its "not implemented for" message, by functional name. */
const NORM_KERNELS: Record<string, string> = { batch_norm: 'batch_norm', instance_norm: 'batch_norm', layer_norm: 'LayerNormKernelImpl', group_norm: 'GroupNormKernelImpl' };

/** The argument types of a functional normalisation, checked before anything runs (docs/notes/validation.md). */
function checkNormArgs(fn: string, input: unknown, tensors: [string, unknown][], eps: unknown, flags: [string, unknown][] = [], momentum?: unknown): void {
  checkTensor(fn, 'input', input);
  for (const [name, t] of tensors) checkOptionalTensor(fn, name, t);
  for (const [name, b] of flags) checkBool(fn, name, b);
  if (momentum !== undefined && typeof momentum !== 'number' && !isTensor(momentum)) throw argError(fn, 'momentum', 'float', momentum);
  checkNumber(fn, 'eps', eps);
  // an integer input has no kernel in PyTorch: its message names the kernel (instance_norm runs
  // batch_norm's) and comes before the parameters' dtype checks (docs/spec/normalization.md)
  const x = input as Tensor;
  if (!isFloatingDtype(x.dtype)) throw new Error(`"${NORM_KERNELS[fn] ?? fn}" not implemented for '${scalarTypeName(x.dtype)}'`);
  const order = ['weight', 'bias', 'running_mean', 'running_var'];
  const params = [...tensors].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([, t]) => t as Tensor | null | undefined);
  checkParamDtypes(input as Tensor, params, fn === 'batch_norm' || fn === 'instance_norm');
}

/**
 * A parameter or running statistic that is not a float tensor is refused
 * before anything runs, with PyTorch 1.13's CPU messages: batch_norm (and
 * instance_norm, which runs it) checks the parameters in the order weight,
 * bias, running_mean, running_var and says `mixed dtype (CPU): expect
 * parameter to have scalar type of Float` when the first one given differs
 * from the input's dtype, `expected scalar type Float but found Long` (the
 * input's and the parameter's names) otherwise; layer_norm and group_norm
 * always say the latter (docs/spec/normalization.md, "Parameter dtypes"). Float parameters of
 * another float dtype are left to the ops' own rules.
 */
function checkParamDtypes(input: Tensor, params: (Tensor | null | undefined)[], batch: boolean): void {
  if (params.every((p) => !p || isFloatingDtype(p.dtype))) return;
  const given = params.filter((p): p is Tensor => !!p);
  if (batch && given[0]?.dtype !== input.dtype) throw new Error('mixed dtype (CPU): expect parameter to have scalar type of Float');
  const odd = given.find((p) => p.dtype !== input.dtype) as Tensor;
  throw new Error(`expected scalar type ${scalarTypeName(input.dtype)} but found ${scalarTypeName(odd.dtype)}`);
}

/**
 * Batch normalisation (PyTorch's `F.batch_norm`). In training the batch
 * statistics (per channel, dim 1) normalise the input with the biased
 * variance and, when given, the running buffers are updated in place with
 * `momentum` and the unbiased variance. `momentum` may be a 0-d tensor
 * (modules pass 1/num_batches_tracked for the cumulative average).
 * @throws Error for a weight, bias or running statistic that is not a float
 *   tensor, before anything runs: PyTorch's `mixed dtype (CPU): expect
 *   parameter to have scalar type of Float` or `expected scalar type Float but
 *   found Long` (docs/spec/normalization.md, "Parameter dtypes")
 * @example const y = gg.nn.functional.batchNorm(x, rm, rv, w, b, true, 0.1, 1e-5);
 */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  training = false,
  momentum: number | Tensor = 0.1,
  eps = 1e-5,
): Tensor {
  checkNormArgs('batch_norm', input, [['running_mean', runningMean], ['running_var', runningVar], ['weight', weight], ['bias', bias]], eps, [['training', training]], momentum);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    if (input.ndim < 2) throw new Error(`batch_norm: expected an input with at least 2 dims (got ${input.ndim}D input)`);
    if (training) verifyBatchSize(input.shape);
    if (input.numel() === 0) return emptyOutput(input, weight, bias);
    const c = input.shape[1] ?? 1;
    checkFeatures(c, [['running_mean', runningMean], ['running_var', runningVar], ['weight', weight], ['bias', bias]]);
    // PyTorch names the first missing buffer
    if (!training && !runningMean) throw new Error('running_mean must be defined in evaluation mode');
    if (!training && !runningVar) throw new Error('running_var must be defined in evaluation mode');
    const cs = channelShape(c, input.ndim);
    if (training) {
      const dims = input.shape.map((_, i) => i).filter((i) => i !== 1);
      // the moments of a detached x: the `normalize` primitive differentiates through them
      const cw = weight ? weight.reshape(cs) : null;
      const cb = bias ? bias.reshape(cs) : null;
      const running = typeof momentum === 'number' && (runningMean || runningVar) ? { mean: runningMean, var: runningVar, momentum } : undefined;
      const m = noGrad(() => moments(input.detach(), dims, { eps, output: { input, weight: cw, bias: cb, safe: true, ...(running ? { running } : {}) } }));
      // each buffer given is updated, as PyTorch (one may be missing)
      // NOTE: statistics for the buffers are computed unrecorded (nothing would free their nodes)
      updateRunningStats(m, runningMean, runningVar, momentum);
      return normalizeOver(input, m, cw, cb, true, 'NativeBatchNorm', dims);
    }
    // no zero guard in eval: PyTorch's eval kernels divide by sqrt(running_var + eps) as it is (docs/notes/normalization.md)
    return affineNormalized(input, (runningMean as Tensor).reshape(cs), invStd((runningVar as Tensor).reshape(cs), eps, false), weight ? weight.reshape(cs) : null, bias ? bias.reshape(cs) : null);
  });
}

/**
 * Instance normalisation (PyTorch's `F.instance_norm`): statistics per
 * (sample, channel) over the spatial dims. With `useInputStats` false the
 * running buffers normalise; with them given in training they are updated
 * with the batch means of the instance statistics (unbiased variance).
 * @throws Error for a weight, bias or running statistic that is not a float
 *   tensor, before anything runs: PyTorch's `mixed dtype (CPU): expect
 *   parameter to have scalar type of Float` or `expected scalar type Float but
 *   found Long` (docs/spec/normalization.md, "Parameter dtypes")
 * @example const y = gg.nn.functional.instanceNorm(x);
 */
export function instanceNorm(
  input: Tensor,
  runningMean: Tensor | null = null,
  runningVar: Tensor | null = null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  useInputStats = true,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  checkNormArgs('instance_norm', input, [['running_mean', runningMean], ['running_var', runningVar], ['weight', weight], ['bias', bias]], eps, [['use_input_stats', useInputStats]], momentum);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    if (input.ndim < 3) throw new Error(`instance_norm: expected an input with at least 3 dims (got ${input.ndim}D input)`);
    if (useInputStats) verifySpatialSize(input.shape);
    const n = input.shape[0] ?? 1;
    const c = input.shape[1] ?? 1;
    if (input.numel() === 0) return emptyOutput(input, weight, bias);
    // PyTorch runs batch_norm on a (1, N·C, ...) view, so its messages count N·C elements
    checkFeatures(c, [['running_mean', runningMean], ['running_var', runningVar], ['weight', weight], ['bias', bias]], n);
    const cs = channelShape(c, input.ndim);
    if (useInputStats) {
      const dims = input.shape.map((_, i) => i).filter((i) => i >= 2);
      const cw = weight ? weight.reshape(cs) : null;
      const cb = bias ? bias.reshape(cs) : null;
      const m = noGrad(() => moments(input.detach(), dims, { eps, output: { input, weight: cw, bias: cb, safe: true } }));
      if (runningMean) updateRunning(runningMean, noGrad(() => m.mean.mean(0)), momentum);
      // count > 1: training refuses one spatial element before (verifySpatialSize)
      if (runningVar) updateRunning(runningVar, noGrad(() => realVar(m, m.count / (m.count - 1)).mean(0)), momentum);
      return normalizeOver(input, m, cw, cb, true, 'NativeBatchNorm', dims);
    }
    if (!runningMean || !runningVar) throw new Error('Expected running_mean and running_var to be defined when use_input_stats is false');
    return affineNormalized(input, runningMean.reshape(cs), invStd(runningVar.reshape(cs), eps, false), weight ? weight.reshape(cs) : null, bias ? bias.reshape(cs) : null);
  });
}

/**
 * Layer normalisation (PyTorch's `F.layer_norm`) over the trailing
 * `normalizedShape` dims, with elementwise `weight` and `bias` of that shape.
 * As in PyTorch, eps = 0 on a constant slice gives NaN.
 * @throws Error for a weight or bias that is not a float tensor, before
 *   anything runs: PyTorch's `expected scalar type Float but found Long`
 *   (docs/spec/normalization.md, "Parameter dtypes")
 * @example const y = gg.nn.functional.layerNorm(x, [5], w, b);
 */
export function layerNorm(
  input: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  checkNormArgs('layer_norm', input, [['weight', weight], ['bias', bias]], eps);
  const ns = typeof normalizedShape === 'number' ? [checkInt('layer_norm', 'normalized_shape', normalizedShape)] : checkIntList('layer_norm', 'normalized_shape', normalizedShape);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    const k = ns.length;
    const tail = input.shape.slice(input.ndim - k);
    if (k === 0) throw new Error('Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but got normalized_shape = []');
    if (input.ndim < k || tail.some((s, i) => s !== ns[i])) {
      throw new Error(`Given normalized_shape=${fmt(ns)}, expected input with shape [*, ${ns.join(', ')}], but got input of size${fmt(input.shape)}`);
    }
    for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
      if (t && fmt(t.shape) !== fmt(ns)) throw new Error(`Expected ${name} to be of same shape as normalized_shape, but got ${name} of shape ${fmt(t.shape)} and normalized_shape = ${fmt(ns)}`);
    }
    if (input.numel() === 0) return emptyOutput(input, weight, bias);
    const dims = ns.map((_, i) => input.ndim - k + i);
    const m = noGrad(() => moments(input.detach(), dims, { eps }));
    return normalizeOver(input, m, weight, bias, false, 'NativeLayerNorm', dims);
  });
}

/**
 * Group normalisation (PyTorch's `F.group_norm`): channels split into
 * `numGroups` groups, statistics per (sample, group) over the group's
 * channels and every spatial position; per-channel `weight` and `bias`.
 * @throws Error for a weight or bias that is not a float tensor, before
 *   anything runs: PyTorch's `expected scalar type Float but found Long`
 *   (docs/spec/normalization.md, "Parameter dtypes")
 * @example const y = gg.nn.functional.groupNorm(x, 2, w, b);
 */
export function groupNorm(input: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  checkNormArgs('group_norm', input, [['weight', weight], ['bias', bias]], eps);
  checkInt('group_norm', 'num_groups', numGroups);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    if (input.ndim < 2) throw new Error(`Dimension out of range (expected to be in range of [-1, 0], but got 1)`);
    const n = input.shape[0] ?? 1;
    const c = input.shape[1] ?? 1;
    if (c % numGroups !== 0) {
      throw new Error(`Expected number of channels in input to be divisible by num_groups, but got input of shape ${fmt(input.shape)} and num_groups=${numGroups}`);
    }
    for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
      if (t && (t.ndim !== 1 || t.numel() !== c)) {
        throw new Error(`Expected ${name} to be a vector of size equal to the number of channels in input, but got ${name} of shape ${fmt(t.shape)} and input of shape ${fmt(input.shape)}`);
      }
    }
    if (input.numel() === 0) return emptyOutput(input, weight, bias);
    // (N, G, C/G, rest): a group's statistics over dims 2 and 3, its channels' weight and bias over dim 2
    const grouped = input.reshape(n, numGroups, c / numGroups, -1);
    const m = noGrad(() => moments(grouped.detach(), [2, 3], { eps }));
    const gs = [1, numGroups, c / numGroups, 1];
    return normalizeOver(grouped, m, weight ? weight.reshape(gs) : null, bias ? bias.reshape(gs) : null, false, 'NativeGroupNorm', [2, 3]).reshape(input.shape);
  });
}
