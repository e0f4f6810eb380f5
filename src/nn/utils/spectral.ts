/**
 * Spectral normalisation as a parametrization (docs/spec/parametrize.md#spectral-norm), after
 * PyTorch 1.13's `torch.nn.utils.parametrizations.spectral_norm`, plus the
 * seed's `removeSpectralNorm` and `applySpectralNorm` for whole models.
 *
 * The weight, seen as a matrix W (h, w) with `dim` first and the rest
 * flattened, is divided by σ = uᵀ W v, an estimate of its largest singular
 * value kept up to date by power iteration on the buffers `_u` (h) and `_v`
 * (w): one step per access in training mode (`nPowerIterations` of them),
 * none in eval.
 *
 * ```ts
 * const conv = gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Conv2d(3, 8, 3));
 * Object.keys(conv.stateDict());
 * // ['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v']
 * ```
 */
import { tidy } from '../../tensor/storage.js';
import { argError, checkInt, checkNumber, checkOptions } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { fx } from '../../tensor/fuse.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { OpNode, type BackwardShortcut, type Node } from '../../autograd/graph.js';
import { randn } from '../../tensor/creation.js';
import { Module, isNormLayer } from '../module.js';
import { isLazyModule, onMaterialize, type ModuleClass } from '../lazy.js';
import { ConvNd } from '../conv/conv.js';
import { isParametrized, parametrizationList, registerParametrization, removeParametrizations } from './parametrize.js';

/** Options of `spectralNorm`. */
export interface SpectralNormOptions {
  /** The tensor to normalise (default `'weight'`). */
  name?: string;
  /** Power iterations per access in training mode (default 1). */
  nPowerIterations?: number;
  /** Guards the normalisations (default 1e-12). */
  eps?: number;
  /** The output dim (default 1 for ConvTranspose1d/2d/3d, else 0). */
  dim?: number;
  /** gpugrad extra: also run the power iteration in eval mode (default false, as PyTorch). */
  powerIterOnEval?: boolean;
}

/**
 * `weight / sigma` as one fused kernel (docs/notes/architecture.md, "Fused
 * kernels"): the same division, whose backward is then two passes over the
 * weight (g/σ, and the sum of -g·(W/σ)/σ for σ) instead of the composed
 * rule's five (three divisions, a product, a negation, then the sum). The
 * per-element formulas are the op table's, so float64 gradients are the
 * composed ones bit for bit; float32 differs in rounding only (the
 * intermediates are not rounded to float32). Integer weights keep `div`.
 */
function divideBySigma(weight: Tensor, sigma: Tensor): Tensor {
  if (weight.dtype !== 'float32' && weight.dtype !== 'float64') return weight.div(sigma);
  return weight.fused([sigma], { expr: fx.div(fx.in(0), fx.in(1)), dims: [], kind: 'sum', name: 'SpectralDivide' });
}

/**
 * The backward of `W / σ` with σ = uᵀ W v folded in (a `BackwardShortcut`,
 * docs/notes/architecture.md, "Backward shortcuts"): the recorded graph
 * sends g/σ to W through the division and dσ·u vᵀ through σ's chain (sum, mul,
 * matmul), with dσ = -Σ g·W/σ²; that is a division pass, a reduction, an
 * outer product and the engine's addition over every weight. Here the same
 * gradient is one reduction c = Σ g·W and one pass dW = (g - (c/σ)·u vᵀ)/σ,
 * and σ's chain receives nothing (the whole gradient of W arrives through the
 * division's edge; the sum at W is the same). Used only when no graph is
 * created, σ's chain is the one `sigmaOf` recorded for this division, and
 * nothing observes σ's gradient (no hook, no retained grad on its node).
 * `u` and `v` are the copies σ was computed with (never written).
 */
class SpectralShortcut implements BackwardShortcut {
  constructor(
    private u: Tensor | null,
    private v: Tensor | null,
    private readonly sigmaNode: Node,
  ) {}

  backward(grad: Tensor, inputs: readonly Tensor[]): (Tensor | null)[] | null {
    const [w, sigma] = inputs as [Tensor, Tensor];
    const { u, v, sigmaNode: node } = this;
    // (W and sigma always need their gradient here: sigma = uᵀWv requires grad exactly when W does)
    if (!u || !v || node.preHooks.size || node.postHooks.length || node.retained.size) return null;
    const h = u.numel();
    const cols = v.numel();
    const g = grad.reshape(h, cols);
    const c = w.reshape(h, cols).fused([g], { expr: fx.mul(fx.in(0), fx.in(1)), dims: [0, 1], kind: 'sum', name: 'SpectralNormDot' });
    const { in: x, c: k, sub, mul, div } = fx;
    // (g - (c/σ)·u_i·v_j)/σ = g·(1/σ) - ((c/σ²)·u_i)·v_j, the weight as its (h, cols) matrix: the
    // scalars are computed once and (c/σ²)·u_i once per row (the cpu loop hoists them), leaving
    // two products and a difference per weight (a division per weight costs as much as the pass)
    const dw = g.fused([c, sigma, u.reshape(h, 1), v.reshape(1, cols)], {
      expr: sub(mul(x(0), div(k(1), x(2))), mul(mul(div(div(x(1), x(2)), x(2)), x(3)), x(4))),
      dims: [],
      kind: 'sum',
      name: 'SpectralNormBackward',
    });
    return [dw.reshape(...w.shape), null];
  }

  release(): void {
    this.u?.dispose();
    this.v?.dispose();
    this.u = null;
    this.v = null;
  }
}

/** `t / max(‖t‖₂, eps)` over all of `t` (a vector). */
function normalize(t: Tensor, eps: number): Tensor {
  return t.div(t.mul(t).sum().sqrt().clamp(eps));
}

/**
 * `normalize` without a graph, as two fused kernels (Σt², then the division)
 * instead of seven (mul, sum, sqrt, clamp's three, div): the power iteration's
 * normalisations. The formulas are `normalize`'s (clamp's values: x where
 * x ≥ eps, else max(x, eps), which keeps a NaN), so float64 values are the
 * same bit for bit (the sum runs in the same order); float32 differs in
 * rounding only (t² is not rounded to float32 before the sum).
 */
function normalizeNoGrad(t: Tensor, eps: number): Tensor {
  // (t is u or v, float: randn refuses integer dtypes, so the constructor refuses an integer weight)
  const { in: x, c: k, f, div, mul, where } = fx;
  const ss = t.fused([], { expr: mul(x(0), x(0)), dims: t.shape.map((_, d) => d), kind: 'sum', name: 'SquaredNorm' });
  const norm = f('sqrt', x(1));
  const clamped = where(f('ge', norm, k(eps)), norm, f('maximum', norm, k(eps)));
  return t.fused([ss], { expr: div(x(0), clamped), dims: [], kind: 'sum', name: 'Normalize' });
}

/** A copy of u or v to compute σ with: without a copy (a new storage over the same never-written buffer) unless it records a graph. */
function snapshot(t: Tensor): Tensor {
  return t.requiresGrad ? t.clone() : t.fork(false);
}

/**
 * The parametrization `W ↦ W / σ(W)` (PyTorch's `_SpectralNorm`), registered
 * as `parametrizations.<name>.0` with buffers `_u` and `_v`.
 * @example gg.nn.utils.parametrize.registerParametrization(lin, 'weight', new gg.nn.utils.SpectralNorm(lin.weight));
 */
export class SpectralNorm extends Module {
  /** Left singular vector estimate (h), for weights of 2 or more dims. */
  declare _u: Tensor;
  /** Right singular vector estimate (w). */
  declare _v: Tensor;
  readonly dim: number;
  readonly eps: number;
  readonly nPowerIterations: number;
  /** Run the power iteration in eval mode too. */
  powerIterOnEval: boolean;

  constructor(weight: Tensor, nPowerIterations = 1, dim = 0, eps = 1e-12, powerIterOnEval = false) {
    super();
    checkInt('spectral_norm', 'n_power_iterations', nPowerIterations);
    checkInt('spectral_norm', 'dim', dim);
    checkNumber('spectral_norm', 'eps', eps);
    const ndim = weight.ndim;
    if (dim >= ndim || dim < -ndim) {
      throw new Error(`Dimension out of range (expected to be in range of [-${ndim}, ${ndim - 1}], but got ${dim})`);
    }
    if (!(nPowerIterations > 0)) {
      throw new Error(`Expected n_power_iterations to be positive, but got n_power_iterations=${nPowerIterations}`);
    }
    this.dim = dim >= 0 ? dim : dim + ndim;
    this.eps = eps;
    this.nPowerIterations = nPowerIterations;
    this.powerIterOnEval = powerIterOnEval;
    if (ndim > 1) {
      // NOTE: under tidy, so the construction's temporaries are freed now (the buffers are kept)
      tidy(() => noGrad(() => {
        const wm = this.toMatrix(weight.detach());
        const [h = 1, w = 1] = wm.shape;
        const opts = { dtype: weight.dtype, device: weight.device };
        this.registerBuffer('_u', normalize(randn([h], opts), eps));
        this.registerBuffer('_v', normalize(randn([w], opts), eps));
        this.powerMethod(wm, 15);
      }));
    }
  }

  /**
   * The weight as a matrix: `dim` moved to the front, the other dims flattened.
   * @example new gg.nn.utils.SpectralNorm(w).toMatrix(w).shape // [out, in·kh·kw] for a conv weight
   */
  toMatrix(weight: Tensor): Tensor {
    let w = weight;
    // Stryker disable next-line ConditionalExpression: permuting dim 0 to the front is the identity (saves a view only)
    if (this.dim !== 0) w = w.permute(this.dim, ...w.shape.map((_, i) => i).filter((i) => i !== this.dim));
    return w.flatten(1);
  }

  /**
   * `n` power iterations, in place and without grad: u = normalize(W v), then v = normalize(Wᵀ u).
   * @example sn.powerMethod(sn.toMatrix(lin.weight), 10); // sharpen σ before reading it
   */
  powerMethod(weightMat: Tensor, n: number): void {
    tidy(() => noGrad(() => {
      const wm = weightMat.detach();
      for (let i = 0; i < n; i++) {
        const u = normalizeNoGrad(wm.matmul(this._v), this.eps);
        this._u.assign(u);
        u.dispose();
        const v = normalizeNoGrad(wm.t().matmul(this._u), this.eps);
        this._v.assign(v);
        v.dispose();
      }
    }));
  }

  /**
   * The current estimate of the largest singular value, σ = uᵀ W v (gradient flows through W only).
   * @example sn.sigma(w).itemSync() // ≈ the largest singular value of w
   */
  sigma(weight: Tensor): Tensor {
    return this.sigmaOf(weight).sigma;
  }

  /** σ with the copies of u and v it was computed from. */
  private sigmaOf(weight: Tensor): { sigma: Tensor; u: Tensor; v: Tensor } {
    const wm = this.toMatrix(weight);
    const u = snapshot(this._u);
    const v = snapshot(this._v);
    return { sigma: u.mul(wm.matmul(v)).sum(), u, v };
  }

  /**
   * W / σ(W), running `nPowerIterations` power iterations first in training.
   * @example new gg.nn.utils.SpectralNorm(w).call(w) // spectral norm ≈ 1
   */
  forward(weight: Tensor): Tensor {
    if (weight.ndim === 1) return normalize(weight, this.eps);
    if (this.training || this.powerIterOnEval) this.powerMethod(this.toMatrix(weight), this.nPowerIterations);
    const { sigma, u, v } = this.sigmaOf(weight);
    const out = divideBySigma(weight, sigma);
    // the one-pass backward (SpectralShortcut), for dim 0 (the weight's own layout is the matrix's)
    const node = out.gradFn;
    const sigmaNode = sigma.gradFn;
    if (this.dim === 0 && node instanceof OpNode && node.op === 'fused' && sigmaNode && !u.requiresGrad && !v.requiresGrad && node.next[1]?.node === sigmaNode) {
      node.shortcut = new SpectralShortcut(u.alias(), v.alias(), sigmaNode);
    }
    return out;
  }

  /** The identity: assigning a weight stores it unnormalised, as PyTorch. @example lin.weight = w0; // stored as given, via rightInverse */
  rightInverse(value: Tensor): Tensor {
    return value;
  }

  /** Empty: PyTorch prints `_SpectralNorm()`. @example new gg.nn.utils.SpectralNorm(w).extraRepr() // '' */
  override extraRepr(): string {
    return '';
  }
}

/** Spectral norms waiting for a lazy module's weight to materialise, per module and name. */
const pending = new WeakMap<Module, Map<string, { remove(): void }[]>>();

/** PyTorch's default: the output dim, which is 1 in a transposed convolution's weight (in, out/groups, *k). */
function defaultDim(module: Module): number {
  return module instanceof ConvNd && module.transposed ? 1 : 0;
}

function attach(module: Module, name: string, weight: Tensor, opts: SpectralNormOptions): void {
  const dim = opts.dim ?? defaultDim(module);
  const sn = new SpectralNorm(weight, opts.nPowerIterations ?? 1, dim, opts.eps ?? 1e-12, opts.powerIterOnEval ?? false);
  registerParametrization(module, name, sn);
}

function currentTensor(module: Module, name: string): Tensor | null {
  if (isParametrized(module, name) || module._parameters.has(name) || module._buffers.has(name)) {
    const t = (module as unknown as Record<string, unknown>)[name];
    return t instanceof Tensor ? t : null;
  }
  return null;
}

/**
 * Spectral normalisation of `module[name]` (PyTorch's
 * `torch.nn.utils.parametrizations.spectral_norm`); returns the module.
 * On a lazy module whose weight is not materialised yet, the normalisation
 * attaches when the first forward materialises it.
 * @example const lin = gg.nn.utils.parametrizations.spectralNorm(new gg.nn.Linear(20, 40));
 */
export function spectralNorm<M extends Module>(module: M, opts: SpectralNormOptions = {}): M {
  checkOptions('spectral_norm', opts, ['name', 'nPowerIterations', 'eps', 'dim', 'powerIterOnEval'] satisfies readonly (keyof SpectralNormOptions)[]);
  const name: unknown = opts.name ?? 'weight';
  if (typeof name !== 'string') throw argError('spectral_norm', 'name', 'str', name);
  const weight = currentTensor(module, name);
  if (weight) {
    // NOTE: under tidy: what construction computes is freed now; what the module keeps is kept (keep)
    tidy(() => attach(module, name, weight, opts));
    return module;
  }
  if (module._parameters.has(name) && isLazyModule(module) && module.hasUninitializedParams()) {
    // check the options now, not at the first forward
    const n = checkInt('spectral_norm', 'n_power_iterations', opts.nPowerIterations ?? 1);
    if (!(n > 0)) throw new Error(`Expected n_power_iterations to be positive, but got n_power_iterations=${n}`);
    const handles: { remove(): void }[] = [];
    let perModule = pending.get(module);
    if (!perModule) pending.set(module, (perModule = new Map()));
    const waiting = perModule;
    waiting.set(name, handles);
    // the lazy mechanism's callback: runs right after the weight is created, before it is used
    handles.push(
      onMaterialize(module, () => {
        const w = currentTensor(module, name);
        if (!w) return;
        for (const h of handles) h.remove();
        waiting.delete(name);
        attach(module, name, w, opts);
      }),
    );
    return module;
  }
  throw new Error(`Module '${String(module)}' has no parameter or buffer with name '${name}'`);
}

/**
 * Remove the spectral norm of `module[name]`: the original Parameter object
 * comes back under `name` holding W/σ with the current u and v (no further
 * power iteration, as PyTorch's `remove_spectral_norm`).
 * @example gg.nn.utils.removeSpectralNorm(lin);
 */
export function removeSpectralNorm<M extends Module>(module: M, name = 'weight'): M {
  const perModule = pending.get(module);
  const waiting = perModule?.get(name);
  if (perModule && waiting) {
    for (const h of waiting) h.remove();
    perModule.delete(name);
    return module;
  }
  const list = parametrizationList(module, name);
  const sn = list?.chain.find((p): p is SpectralNorm => p instanceof SpectralNorm);
  if (!list || !sn) throw new Error(`spectral_norm of '${name}' not found in ${String(module)}`);
  if (list.chain.length > 1) {
    throw new Error(`removeSpectralNorm: '${name}' of ${String(module)} has other parametrizations besides the spectral norm; use parametrize.removeParametrizations`);
  }
  const training = sn.training;
  const onEval = sn.powerIterOnEval;
  sn.training = false;
  sn.powerIterOnEval = false;
  try {
    // leaveParametrized: the default, as PyTorch's remove_parametrizations
    removeParametrizations(module, name);
  } finally {
    sn.training = training;
    sn.powerIterOnEval = onEval;
  }
  return module;
}

/** A module class, for `includeTypes` / `excludeTypes`. */
export type { ModuleClass };

/** Options of `applySpectralNorm`. */
export interface ApplySpectralNormOptions extends SpectralNormOptions {
  /** Only modules that are instances of these classes (default: every module with the tensor). */
  includeTypes?: ModuleClass[];
  /** Skip instances of these classes (normalisation layers, `gg.nn.isNormLayer`, are skipped unless included). */
  excludeTypes?: ModuleClass[];
  /** Skip these dotted module names and everything under them. */
  excludeNames?: string[];
  /** Final say: normalise `module` (named `name`) only when this returns true. */
  predicate?: (module: Module, name: string) => boolean;
}

/**
 * Spectral-normalise every suitable layer of `model` (walking
 * `namedModules`): each module that owns a parameter `opts.name` (default
 * `'weight'`), or is a lazy module that will, skipping normalisation layers
 * (BatchNorm, LayerNorm, GroupNorm, SwitchableNorm, ...) and modules already
 * spectral-normalised. Returns the dotted names it normalised.
 * @example gg.nn.utils.applySpectralNorm(discriminator, { excludeNames: ['head'] }) // ['0', '2', ...]
 */
export function applySpectralNorm(model: Module, opts: ApplySpectralNormOptions = {}): string[] {
  const { includeTypes, excludeTypes = [], predicate, ...rest } = opts;
  // Stryker disable next-line ArrayDeclaration: a default holding one name differs only for a module of that name
  const { excludeNames = [], ...snOpts } = rest;
  const name = snOpts.name ?? 'weight';
  const done: string[] = [];
  const skipped = (n: string): boolean => excludeNames.some((e) => n === e || n.startsWith(`${e}.`));
  for (const [n, m] of [...model.namedModules()]) {
    if (m instanceof SpectralNorm || n.split('.').includes('parametrizations')) continue;
    if (skipped(n)) continue;
    const included = includeTypes?.some((c) => m instanceof c) ?? false;
    if (includeTypes && !included) continue;
    if (!included && isNormLayer(m)) continue;
    if (excludeTypes.some((c) => m instanceof c)) continue;
    const list = parametrizationList(m, name);
    if (list?.chain.some((p) => p instanceof SpectralNorm) || pending.get(m)?.has(name)) continue;
    const owns = list?.original ? true : m._parameters.get(name) instanceof Tensor;
    const lazy = m._parameters.get(name) === null && isLazyModule(m);
    if (!owns && !lazy) continue;
    if (predicate && !predicate(m, n)) continue;
    spectralNorm(m, snOpts);
    done.push(n);
  }
  return done;
}
