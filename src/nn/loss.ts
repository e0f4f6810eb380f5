/**
 * Losses with PyTorch 1.13's formulas and reductions, composed from tensor
 * ops (no kernels of their own): class indices are picked with one-hot masks
 * `target.unsqueeze(1) == arange(C)`, so targets are float tensors holding
 * integers, as everywhere in gpugrad.
 */
import { tidy } from '../tensor/storage.js';
import { checkFloat, checkInt, checkOptionalTensor, checkOptions, checkReduction, checkTensor, warnOnce } from '../tensor/check.js';
import { Tensor } from '../tensor/tensor.js';
import { arange } from '../tensor/creation.js';
import { fmt } from '../tensor/shape.js';
import { isFloatingDtype, scalarTypeName } from '../backend/types.js';
import { getDevice } from '../backend/registry.js';
import { fx } from '../tensor/fuse.js';
import type { Expr } from '../backend/fusion.js';
import { logSoftmaxTerms } from '../tensor/composites.js';
import { collapseInto, OpNode, relabel, type BackwardShortcut, type Node } from '../autograd/graph.js';
import { envSwitches } from '../backend/platform/platform.js';
import { Module } from './module.js';

/**
 * Switches of the losses' fast paths (docs/notes/architecture.md, "Fused
 * kernels"): `fusedCrossEntropy` is crossEntropy's target log-probability
 * read from the logits (`GPUGRAD_FUSED_CE=0` turns it off: the log-softmax
 * and the fused pick run as before). Read at the first use (`envSwitches`).
 */
export const lossSettings = envSwitches({ fusedCrossEntropy: 'GPUGRAD_FUSED_CE' });

/** How per-element losses are combined. */
export type Reduction = 'mean' | 'sum' | 'none';

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? loss.sum() : loss.mean();
}

/** The keys of NllOptions, CrossEntropyOptions and BceWithLogitsOptions (an unknown key is refused). */
const NLL_KEYS: readonly (keyof NllOptions)[] = ['weight', 'ignoreIndex', 'reduction'];
const CE_KEYS: readonly (keyof CrossEntropyOptions)[] = [...NLL_KEYS, 'labelSmoothing'];
const BCE_KEYS: readonly (keyof BceWithLogitsOptions)[] = ['weight', 'posWeight', 'reduction'];

/** The checked options of nllLoss and crossEntropy (PyTorch's messages; docs/notes/validation.md). */
function nllOptions(fn: string, opts: CrossEntropyOptions | undefined, allowed: readonly string[]): { weight: Tensor | null; ignoreIndex: number; reduction: Reduction; labelSmoothing: number } {
  const o = checkOptions(fn, opts, allowed) as CrossEntropyOptions;
  const labelSmoothing = o.labelSmoothing === undefined ? 0 : checkFloat(fn, 'label_smoothing', o.labelSmoothing);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new Error(`label_smoothing must be between 0.0 and 1.0. Got: ${labelSmoothing}`);
  return {
    weight: checkOptionalTensor(fn, 'weight', o.weight),
    ignoreIndex: o.ignoreIndex === undefined ? -100 : checkInt(fn, 'ignore_index', o.ignoreIndex),
    reduction: checkReduction(o.reduction),
    labelSmoothing,
  };
}

/**
 * Mean squared error: (input - target)² reduced.
 * @example gg.nn.functional.mseLoss(pred, y)
 */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = checkReduction(checkOptions('mse_loss', opts, ['reduction']).reduction);
  checkTensor('mse_loss', 'input', input);
  checkTensor('mse_loss', 'target', target);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    if (fmt(input.shape) !== fmt(target.shape)) {
      warnOnce(
        `Using a target size (${fmt(target.shape)}) that is different to the input size (${fmt(input.shape)}). ` +
          'This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.',
      );
    }
    const d = input.sub(target);
    return reduce(d.mul(d), reduction);
  });
}

/** Options of `crossEntropy` and `nllLoss`. */
export interface NllOptions {
  /** A weight per class (C). */
  weight?: Tensor | null;
  /** Targets equal to this contribute nothing (default -100). */
  ignoreIndex?: number;
  reduction?: Reduction;
}
/** Options of `crossEntropy`. */
export interface CrossEntropyOptions extends NllOptions {
  labelSmoothing?: number;
}

/** `w` (C) shaped to broadcast along dim 1 of a rank-`rank` tensor. */
function alongClassDim(w: Tensor, rank: number): Tensor {
  return w.reshape(Array.from({ length: rank }, (_, d) => (d === 1 ? (w.shape[0] ?? 1) : 1)));
}

/** Throw PyTorch's errors for class-index targets that do not fit the input. */
function checkIndexTarget(input: Tensor, target: Tensor, ignoreIndex: number): void {
  // class indices are int64, as in PyTorch (docs/notes/dtypes.md): a float target is a mistake, not rounded
  if (target.dtype !== 'int64') throw new Error(`expected scalar type Long but found ${scalarTypeName(target.dtype)}`);
  const n = input.shape[0] ?? 0;
  if (input.ndim === 2) {
    if (target.ndim !== 1) throw new Error(`1D target tensor expected, multi-target not supported`);
    if (target.shape[0] !== n) throw new Error(`Expected input batch_size (${n}) to match target batch_size (${target.shape[0]}).`);
  } else {
    const want = [n, ...input.shape.slice(2)];
    if (fmt(want) !== fmt(target.shape)) throw new Error(`Expected target size ${fmt(want)}, got ${fmt(target.shape)}`);
  }
  // values: only where they can be read cheaply (the reference device)
  if (target.device === 'cpu') {
    const c = input.shape[1] ?? 0;
    for (const v of target.dataSync()) {
      if (v === ignoreIndex) continue;
      if (!(v >= 0 && v < c) || !Number.isInteger(v)) throw new Error(`Target ${v} is out of bounds.`);
    }
  }
}

/**
 * A class weight holds one value per class, else PyTorch 1.13's message:
 * `weight tensor should be defined either for all C classes or no classes but
 * got weight tensor of shape: [..]` (prefixed `cross_entropy: ` for
 * class-probability targets); for spatial input (N, C, d1, ...) with class
 * indices, nll_loss2d's `weight tensor should be defined either for all or no
 * classes`, which checks only the element count (a (C, 1) weight passes).
 * Why here and not at the product: a wrong length gave a broadcast message.
 */
function checkClassWeight(weight: Tensor | null, c: number, spatial: boolean, prefix = ''): void {
  if (!weight) return;
  if (spatial && prefix === '') {
    if (weight.numel() !== c) throw new Error('weight tensor should be defined either for all or no classes');
    return;
  }
  if (weight.ndim !== 1 || weight.shape[0] !== c) {
    throw new Error(`${prefix}weight tensor should be defined either for all ${c} classes or no classes but got weight tensor of shape: ${fmt(weight.shape)}`);
  }
}

/**
 * The fused NLL's expressions, made once (the same objects every call: their
 * kernels are remembered, backend/kernel.ts `memoKernel`): pick is
 * where(mask, logp, 0), loss is -(pick·w).
 */
const NLL = (() => {
  const { in: v, c: k, mul, neg, where } = fx;
  return { pick: where(v(1), v(0), k(0)), loss: neg(mul(v(0), v(1))) };
})();
/** The target mask (t == class)·(t != ignoreIndex), one expression per ignoreIndex (a few at most). */
const targetMasks = new Map<number, Expr>();
function targetMask(ignoreIndex: number): Expr {
  const { in: v, f, c: k, mul } = fx;
  const make = (): Expr => mul(f('eq', v(0), v(1)), f('ne', v(0), k(ignoreIndex)));
  // -0 would share 0's entry (Map keys compare -0 and 0 equal): made afresh
  if (Object.is(ignoreIndex, -0)) return make();
  let e = targetMasks.get(ignoreIndex);
  if (!e) {
    if (targetMasks.size >= 16) targetMasks.clear();
    targetMasks.set(ignoreIndex, (e = make()));
  }
  return e;
}

/**
 * The negative log likelihood per element and the weight of its target
 * class (0 where ignored), both of shape (N, d1, ...), and a function giving
 * which elements are not ignored (1/0; only label smoothing asks for it).
 *
 * Float tensors on devices that keep NaN through a fused chain take the same
 * formulas in fewer kernels (docs/notes/architecture.md, "Fused kernels"): the
 * target mask (t == class)·(t != ignoreIndex) as one kernel, Σ over classes of
 * where(mask, logp, 0) as one fused reduction, -(that·w) as one fused pass;
 * the values and the recorded gradients are the composed chain's, in its
 * order (float64: the same numbers); the nodes are NllPickBackward0 and
 * NllLossBackward0, which the callers show as PyTorch's single
 * NllLossBackward0 over the log-probabilities (`collapseInto`).
 */
function pickTargets(logp: Tensor, target: Tensor, weight: Tensor | null, ignoreIndex: number): { nll: Tensor; w: Tensor; valid: () => Tensor } {
  const c = logp.shape[1] ?? 0;
  const t = target.detach().to(logp.dtype);
  const classes = alongClassDim(arange(c, { dtype: logp.dtype, device: logp.device }), logp.ndim);
  const valid = (): Tensor => t.ne(ignoreIndex);
  if (isFloatingDtype(logp.dtype) && getDevice(logp.device).fusesNanExactly) {
    const onehot = t.unsqueeze(1).fused([classes], { expr: targetMask(ignoreIndex), dims: [], kind: 'sum', name: 'TargetMask' });
    const w = weight ? onehot.mul(alongClassDim(weight, logp.ndim)).sum(1) : onehot.sum(1);
    // where, not logp·onehot: a -inf log-probability of another class would give -inf·0 = NaN
    const picked = logp.fused([onehot], { expr: NLL.pick, dims: [1], kind: 'sum', name: 'NllPick' }).squeeze(1);
    const nll = picked.fused([w], { expr: NLL.loss, dims: [], kind: 'sum', name: 'NllLoss' });
    return { nll, w, valid };
  }
  const onehot = t.unsqueeze(1).eq(classes).mul(valid().unsqueeze(1));
  const w = weight ? onehot.mul(alongClassDim(weight, logp.ndim)).sum(1) : onehot.sum(1);
  // where, not logp·onehot: a -inf log-probability of another class would give -inf·0 = NaN
  const nll = logp.where(onehot, 0).sum(1).mul(w).neg();
  return { nll, w, valid };
}

/**
 * The fused cross entropy's expressions, made once (their kernels are
 * remembered, backend/kernel.ts `memoKernel`). Inputs of `nll`: x, the target
 * mask, m, l: Σ over classes of -(where(mask, (x - m) - l, 0)). `backSum`
 * over (g, mask): Σ -(where(mask, -g, 0)); `back` over (g, mask, t, s, x, m):
 * where(mask, -g, 0) + (t/s)·e^(x - m).
 */
const CE = (() => {
  const { in: v, c: k, f, add, mul, div, neg, sub, where } = fx;
  const pickGrad = where(v(1), neg(v(0)), k(0));
  return {
    nll: neg(where(v(1), sub(sub(v(0), v(2)), v(3)), k(0))),
    backSum: neg(pickGrad),
    back: add(pickGrad, mul(div(v(2), v(3)), f('exp', sub(v(4), v(5))))),
  };
})();

/**
 * crossEntropy with class indices, no class weight, no label smoothing and
 * reduction 'sum' or 'mean', in fewer kernels (docs/notes/architecture.md,
 * "Fused kernels"): the per-element loss is read from the logits in one
 * fused reduction (over x, the target mask, m and l = log Σ e^(x - m)),
 * so log-softmax's output is never written; 'mean' divides by the mask's
 * sum (the count of targets not ignored). The graph reads as PyTorch's:
 * the sum and the division are one node NllLossBackward0 (autograd/graph.ts
 * `ChainNode`, as PyTorch's nll_loss divides inside its node) over the
 * per-row node, named LogSoftmaxBackward0 because its backward is
 * log-softmax's (a NaN logit is blamed on it in anomaly mode, as PyTorch
 * blames LogSoftmaxBackward0), over x. The values
 * are the composed chain's: the target's (x - m) - l is the one nonzero term
 * of its row (a sum of zeros and one value is that value), negated, and
 * rounded once as the composed log-softmax's store rounds it; the ignored
 * rows' -0 (composed) or +0 (here) vanish in the sum. Without createGraph the
 * backward is `NllShortcut`, two kernels (the recorded chain runs six).
 */
function fusedCrossEntropy(x: Tensor, target: Tensor, ignoreIndex: number, reduction: 'sum' | 'mean'): Tensor {
  const c = x.shape[1] ?? 0;
  const t = target.detach().to(x.dtype);
  const classes = alongClassDim(arange(c, { dtype: x.dtype, device: x.device }), x.ndim);
  const onehot = t.unsqueeze(1).fused([classes], { expr: targetMask(ignoreIndex), dims: [], kind: 'sum', name: 'TargetMask' });
  let rows: Node | null = null;
  const total = logSoftmaxTerms(x, 1, (m, s, l) => {
    const nll = x.fused([onehot, m, l], { expr: CE.nll, dims: [1], kind: 'sum', name: 'NllLoss' });
    const node = nll.gradFn;
    const lNode = l.gradFn;
    const sNode = s.gradFn;
    if (node instanceof OpNode && node.op === 'fused' && lNode && sNode && node.next.length === 4 && node.next[3]?.node === lNode) {
      node.shortcut = new NllShortcut(s.alias(), [lNode, sNode]);
    }
    // its backward is log-softmax's (where(mask, -g, 0) then the softmax terms): named so, a NaN
    // from a NaN logit is blamed on it as PyTorch blames LogSoftmaxBackward0
    if (node) relabel(node, 'LogSoftmaxBackward0');
    rows = node;
    return nll.sum();
  });
  const out = reduction === 'sum' ? total : total.div(onehot.sum());
  collapseInto(out, rows, nllNodeName(x.ndim));
  return out;
}

/**
 * PyTorch 1.13's node of nll_loss: NllLoss2DBackward0 for spatial input
 * (N, C, d1, ...), which it views as (N, C, H, W), NllLossBackward0 for (N, C).
 */
function nllNodeName(ndim: number): string {
  return ndim > 2 ? 'NllLoss2DBackward0' : 'NllLossBackward0';
}

/**
 * The backward of `fusedCrossEntropy`'s per-element loss without createGraph
 * (a `BackwardShortcut`, docs/notes/architecture.md, "Backward shortcuts").
 * The recorded rules send where(mask, -g, 0) to x and its negated row sum to
 * l, whose node divides by s and whose s multiplies by e^(x - m) on the way
 * to x. Here t = Σ -(where(mask, -g, 0)) over the classes, then
 * dx = where(mask, -g, 0) + (t/s)·e^(x - m): the composed chain's formulas in
 * its order (its NllLossBackward sends -g·w with w = 1 where the mask is set,
 * its pick's where(mask, ·, 0), then log-softmax's shortcut), two kernels;
 * l's chain gets nothing (it leads only to x).
 */
class NllShortcut implements BackwardShortcut {
  constructor(
    private s: Tensor | null,
    private readonly chain: readonly Node[],
  ) {}

  backward(grad: Tensor, inputs: readonly Tensor[], needs: readonly boolean[]): (Tensor | null)[] | null {
    const [x, mask, m] = inputs as [Tensor, Tensor, Tensor];
    const s = this.s;
    const observed = this.chain.some((n) => n.preHooks.size || n.postHooks.length || n.retained.size);
    if (!s || !needs[0] || !needs[3] || needs[1] || needs[2] || observed) return null;
    const t = grad.fused([mask], { expr: CE.backSum, dims: [1], kind: 'sum', name: 'CrossEntropyBackwardSum' });
    const dx = grad.fused([mask, t, s, x, m], { expr: CE.back, dims: [], kind: 'sum', name: 'CrossEntropyBackward' });
    return [dx, null, null, null];
  }

  release(): void {
    this.s?.dispose();
    this.s = null;
  }
}

/**
 * Negative log likelihood of log-probabilities `input` (N, C, d1...) at class
 * indices `target` (N, d1...); 'mean' divides by the summed target weights
 * (PyTorch's `F.nll_loss`).
 * @throws TypeError `nll_loss() got an unexpected keyword argument 'k'` for an
 *   unknown option key; Error with PyTorch's messages for a target that does
 *   not fit (dtype, shape, out-of-bounds class) and for a weight that is not
 *   one value per class (`weight tensor should be defined either for all 3
 *   classes or no classes but got weight tensor of shape: [2]`)
 * @example gg.nn.functional.nllLoss(x.logSoftmax(1), y)
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllOptions = {}): Tensor {
  const { weight, ignoreIndex, reduction } = nllOptions('nll_loss', opts, NLL_KEYS);
  checkTensor('nll_loss', 'input', input);
  checkTensor('nll_loss', 'target', target);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    if (input.ndim === 1) {
      const out = nllLoss(input.unsqueeze(0), target.reshape(1), opts);
      return reduction === 'none' ? out.squeeze(0) : out;
    }
    checkIndexTarget(input, target, ignoreIndex);
    checkClassWeight(weight, input.shape[1] ?? 0, input.ndim > 2);
    const { nll, w } = pickTargets(input, target, weight, ignoreIndex);
    const out = reduction === 'none' ? nll : reduction === 'sum' ? nll.sum() : nll.sum().div(w.sum());
    // the pick, weighting, sum and division read as PyTorch's one node over the input
    collapseInto(out, input.edge()?.node, nllNodeName(input.ndim));
    return out;
  });
}

/**
 * Cross entropy of logits `input` (N, C) or (N, C, d1, ...) (or (C)) with
 * class indices (N, d1, ...) or class probabilities (same shape as input),
 * with PyTorch 1.13's weighting, `ignoreIndex` and label smoothing
 * (PyTorch's `F.cross_entropy`).
 * @throws TypeError `cross_entropy() got an unexpected keyword argument 'k'`
 *   for an unknown option key; Error with PyTorch's messages for a target
 *   that does not fit and for a weight that is not one value per class
 *   (`cross_entropy: weight tensor should be defined ...` with probabilities)
 * @example gg.nn.functional.crossEntropy(logits, gg.tensor([0, 2, 1]), { labelSmoothing: 0.1 })
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const { weight, ignoreIndex, reduction, labelSmoothing: ls } = nllOptions('cross_entropy', opts, CE_KEYS);
  checkTensor('cross_entropy', 'input', input);
  checkTensor('cross_entropy', 'target', target);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    if (input.ndim === 1) {
      const t = fmt(target.shape) === fmt(input.shape) ? target.unsqueeze(0) : target.reshape(1);
      const out = crossEntropy(input.unsqueeze(0), t, opts);
      return reduction === 'none' ? out.squeeze(0) : out;
    }
    const c = input.shape[1] ?? 0;
    if (fmt(target.shape) === fmt(input.shape)) checkClassWeight(weight, c, false, 'cross_entropy: ');
    else checkIndexTarget(input, target, ignoreIndex);
    checkClassWeight(weight, c, input.ndim > 2);
    const indices = fmt(target.shape) !== fmt(input.shape);
    if (indices && !weight && ls === 0 && reduction !== 'none' && c > 0 && lossSettings.fusedCrossEntropy && isFloatingDtype(input.dtype) && getDevice(input.device).fusesNanExactly) {
      return fusedCrossEntropy(input, target, ignoreIndex, reduction);
    }
    const logp = input.logSoftmax(1);

    if (fmt(target.shape) === fmt(input.shape)) {
      // class probabilities
      if (!isFloatingDtype(target.dtype)) throw new Error(`Expected floating point type for target with class probabilities, got ${scalarTypeName(target.dtype)}`);
      const t = ls > 0 ? target.mul(1 - ls).add(ls / c) : target;
      let prod = logp.mul(t);
      if (weight) prod = prod.mul(alongClassDim(weight, input.ndim));
      if (reduction === 'none') return prod.sum(1).neg();
      if (reduction === 'sum') return prod.sum().neg();
      return prod.sum().neg().div(input.numel() / c);
    }

    const { nll, w, valid } = pickTargets(logp, target, weight, ignoreIndex);
    let main: Tensor;
    if (reduction === 'none') main = nll;
    else if (reduction === 'sum') main = nll.sum();
    else main = nll.sum().div(w.sum());
    // the pick, weighting, sum and division read as PyTorch's one node over the log-softmax
    collapseInto(main, logp.edge()?.node, nllNodeName(input.ndim));
    if (ls === 0) return main;

    // where, not mul(valid): with every target ignored, 'mean' divides by 0 and its infinite
    // gradient would make inf·0 = NaN; where gives the ignored rows 0, as pickTargets' where does
    // for the main term (PyTorch: loss NaN, gradient 0)
    const smooth = (weight ? logp.mul(alongClassDim(weight, input.ndim)) : logp).sum(1).neg().where(valid(), 0);
    let ret: Tensor;
    if (reduction === 'none') ret = smooth;
    else if (reduction === 'sum') ret = smooth.sum();
    else ret = smooth.sum().div(weight ? w.sum() : valid().sum());
    return main.mul(1 - ls).add(ret.mul(ls / c));
  });
}

/** Options of `binaryCrossEntropyWithLogits`. */
export interface BceWithLogitsOptions {
  /** Rescales each element's loss (broadcast to the input). */
  weight?: Tensor | null;
  /** Weight of positive examples, per class (broadcast along the last dim). */
  posWeight?: Tensor | null;
  reduction?: Reduction;
}

/**
 * Binary cross entropy of logits, in PyTorch's stable form
 * `(1 - t)·x + lw·(log(e^-m + e^(-x-m)) + m)`, m = max(-x, 0),
 * lw = 1 + (posWeight - 1)·t.
 * @example gg.nn.functional.binaryCrossEntropyWithLogits(logits, targets)
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts: BceWithLogitsOptions = {}): Tensor {
  const fn = 'binary_cross_entropy_with_logits';
  const o = checkOptions(fn, opts, BCE_KEYS) as BceWithLogitsOptions;
  const weight = checkOptionalTensor(fn, 'weight', o.weight);
  const posWeight = checkOptionalTensor(fn, 'pos_weight', o.posWeight);
  const reduction = checkReduction(o.reduction);
  checkTensor(fn, 'input', input);
  checkTensor(fn, 'target', target);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    if (fmt(target.shape) !== fmt(input.shape)) {
      throw new Error(`Target size (${fmt(target.shape)}) must be the same as input size (${fmt(input.shape)})`);
    }
    const maxVal = input.neg().clamp(0);
    const logTerm = maxVal.neg().exp().add(input.neg().sub(maxVal).exp()).log();
    const oneMinusT = target.neg().add(1);
    let loss: Tensor;
    if (posWeight) {
      const logWeight = posWeight.sub(1).mul(target).add(1);
      loss = oneMinusT.mul(input).add(logWeight.mul(logTerm.add(maxVal)));
    } else {
      loss = oneMinusT.mul(input).add(maxVal).add(logTerm);
    }
    if (weight) loss = loss.mul(weight);
    return reduce(loss, reduction);
  });
}

// ---- modules ----------------------------------------------------------------------------------------

/** Base of the loss modules: a `reduction` and forward(input, target). @example new gg.nn.MSELoss({ reduction: 'sum' }).reduction // 'sum' */
export abstract class Loss extends Module {
  reduction: Reduction;
  constructor(reduction: Reduction = 'mean') {
    super();
    // NOTE: PyTorch checks these when the loss runs; checked here too, so a bad option fails at its source
    this.reduction = checkReduction(reduction);
  }
  /**
   * The loss of `input` against `target`, reduced by `reduction`; run it through `call`.
   * @example const loss = new gg.nn.MSELoss().call(pred, y);
   */
  abstract override forward(input: Tensor, target: Tensor): Tensor;
}

/** Mean squared error. @example new gg.nn.MSELoss().call(pred, y) */
export class MSELoss extends Loss {
  constructor(opts: { reduction?: Reduction } = {}) {
    super(checkOptions('MSELoss', opts, ['reduction']).reduction);
  }
  /** mean((input - target)²) (or the sum, or per element). @example new gg.nn.MSELoss().call(gg.tensor([1, 3]), gg.tensor([1, 1])) // 2 */
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/**
 * Cross entropy of logits with class indices or probabilities; `weight` is a
 * buffer (state key `weight`).
 * @example new gg.nn.CrossEntropyLoss({ labelSmoothing: 0.1 }).call(logits, labels)
 */
export class CrossEntropyLoss extends Loss {
  declare weight: Tensor | null;
  ignoreIndex: number;
  labelSmoothing: number;
  constructor(opts: CrossEntropyOptions = {}) {
    const o = nllOptions('CrossEntropyLoss', opts, CE_KEYS);
    super(o.reduction);
    this.registerBuffer('weight', o.weight);
    this.ignoreIndex = o.ignoreIndex;
    this.labelSmoothing = o.labelSmoothing;
  }
  /** Cross entropy of logits (N, C) with class indices (N) or probabilities (N, C). @example new gg.nn.CrossEntropyLoss().call(logits, labels) */
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction, labelSmoothing: this.labelSmoothing });
  }
}

/** Negative log likelihood of log-probabilities. @example new gg.nn.NLLLoss().call(logits.logSoftmax(1), labels) */
export class NLLLoss extends Loss {
  declare weight: Tensor | null;
  ignoreIndex: number;
  constructor(opts: NllOptions = {}) {
    const o = nllOptions('NLLLoss', opts, NLL_KEYS);
    super(o.reduction);
    this.registerBuffer('weight', o.weight);
    this.ignoreIndex = o.ignoreIndex;
  }
  /** -input[i, target[i]], reduced; `input` holds log-probabilities (N, C). @example new gg.nn.NLLLoss().call(logProbs, labels) */
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}

/**
 * Binary cross entropy of logits; `weight` and `pos_weight` are buffers.
 * @example new gg.nn.BCEWithLogitsLoss({ posWeight: gg.tensor([3]) })
 */
export class BCEWithLogitsLoss extends Loss {
  declare weight: Tensor | null;
  declare posWeight: Tensor | null;
  constructor(opts: BceWithLogitsOptions = {}) {
    const o = checkOptions('BCEWithLogitsLoss', opts, BCE_KEYS) as BceWithLogitsOptions;
    super(o.reduction);
    this.registerBuffer('weight', checkOptionalTensor('BCEWithLogitsLoss', 'weight', o.weight));
    this.registerBuffer('pos_weight', checkOptionalTensor('BCEWithLogitsLoss', 'pos_weight', o.posWeight));
    Object.defineProperty(this, 'posWeight', { get: () => this._buffers.get('pos_weight') ?? null, enumerable: false, configurable: true });
  }
  /**
   * Binary cross entropy of `sigmoid(input)` against `target` in [0, 1], computed stably from the logits.
   * @example new gg.nn.BCEWithLogitsLoss().call(logits, targets)
   */
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction });
  }
}
