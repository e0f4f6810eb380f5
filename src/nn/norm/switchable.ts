/**
 * Switchable normalisation (Luo et al., arXiv:1806.10779): a learned
 * softmax mix of instance, layer and batch statistics.
 *
 * - `SwitchableNorm2d`: the drop-in for BatchNorm2d (docs/spec/normalization.md#switchablenorm2d),
 *   biased statistics throughout, BatchNorm2d's buffers and conventions.
 * - `SwitchNorm2d`: the paper authors' reference layer (docs/spec/normalization.md#switchnorm2d),
 *   for their checkpoints and numbers.
 *
 * Both are vectorised: one pass over the input gives the instance moments
 * per (n, c); the layer and batch moments are derived from those (N·C
 * values) by the law of total variance, never by another pass over x.
 */
import { Tensor } from '../../tensor/tensor.js';
import { ones, zeros } from '../../tensor/creation.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { Module, type FactoryOptions, type NormLayer } from '../module.js';
import { NormBase, type BatchNormOptions } from './batchnorm.js';
import { pyBool, pyFloat } from '../repr.js';
import { checkNonNegInt, checkNumber, checkOptionalBool, checkOptions } from '../../tensor/check.js';
import { checkFeatures, emptyOutput, invStd, moments, normalized, updateRunning, verifyBatchSize, type Moments } from './functional.js';

/**
 * Mean and variance of groups merged along `dim`, from per-group means and
 * variances of equal-sized groups: μ = mean(μ_k), σ² = mean(σ²_k) + mean((μ_k - μ)²)
 * (equal to mean(σ²_k + μ_k²) - μ², without its cancellation).
 */
function pooled(mu: Tensor, v: Tensor, dim: number): { mean: Tensor; var: Tensor } {
  const mean = mu.mean(dim, true);
  const dev = mu.sub(mean);
  return { mean, var: v.mean(dim, true).add(dev.mul(dev).mean(dim, true)) };
}

/**
 * Instance moments with one scale for the whole input (so the layer and
 * batch moments pooled from them share its units), with the means in those
 * units too: `meanK` = mean / scale, `shiftK` = shift / scale (detached).
 */
function scaledInstance(x: Tensor, dims: number[], eps: number): { m: Moments; meanK: Tensor; shiftK: Tensor; k: Tensor; k2: Tensor } {
  const m = moments(x, dims, { eps, commonScale: true });
  const shiftK = noGrad(() => m.shift.div(m.scale));
  const k2 = noGrad(() => m.scale.mul(m.scale));
  return { m, meanK: m.centredMean.add(shiftK), shiftK, k: m.scale, k2 };
}

/** Σ_k w_k · stats_k with w = softmax(logits), order [IN, LN, BN]. */
function mix(logits: Tensor, stats: Tensor[]): Tensor {
  const w = logits.softmax(0);
  let out: Tensor | null = null;
  stats.forEach((s, k) => {
    const term = s.mul(w.narrow(0, k, 1));
    out = out ? out.add(term) : term;
  });
  return out as unknown as Tensor;
}

/**
 * Drop-in replacement for BatchNorm2d that mixes IN, LN and BN statistics
 * with learned softmax weights (`mean_weight`, `var_weight`, both ones).
 * State keys: `weight bias mean_weight var_weight running_mean running_var num_batches_tracked`.
 * @example
 * const sn = new gg.nn.SwitchableNorm2d(16, { momentum: null });
 * const y = sn.call(gg.randn([8, 16, 32, 32]));
 */
export class SwitchableNorm2d extends NormBase {
  declare mean_weight: Tensor;
  declare var_weight: Tensor;

  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super(numFeatures, opts, { affine: true, trackRunningStats: true }, (self) => {
      const f = { dtype: opts.dtype, device: opts.device };
      self.registerParameter('mean_weight', ones([3], f));
      self.registerParameter('var_weight', ones([3], f));
    });
  }

  /**
   * Mixing logits of the means (`mean_weight`, order IN, LN, BN).
   * @example new gg.nn.SwitchableNorm2d(8).meanWeight.softmax(0) // [1/3, 1/3, 1/3] at init
   */
  get meanWeight(): Tensor {
    return this.mean_weight;
  }
  set meanWeight(v: Tensor) {
    this.mean_weight = v;
  }
  /**
   * Mixing logits of the variances (`var_weight`, order IN, LN, BN).
   * @example new gg.nn.SwitchableNorm2d(8).varWeight.softmax(0) // [1/3, 1/3, 1/3] at init
   */
  get varWeight(): Tensor {
    return this.var_weight;
  }
  set varWeight(v: Tensor) {
    this.var_weight = v;
  }

  /**
   * Mix the IN, LN and BN statistics of an (N, C, H, W) input by the softmax of the weights, then scale and shift.
   * @example new gg.nn.SwitchableNorm2d(8).call(gg.randn([2, 8, 4, 4]))
   */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new Error(`expected 4D input (got ${x.ndim}D input)`);
    const factor = this.countBatch();
    const useBatch = this.training || (this.running_mean === null && this.running_var === null);
    const useBuffers = !this.training || this.trackRunningStats;
    const rm = useBuffers ? this.running_mean : null;
    const rv = useBuffers ? this.running_var : null;
    if (useBatch) verifyBatchSize(x.shape);
    if (x.numel() === 0) return emptyOutput(x, this.weight, this.bias);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    checkFeatures(c, [['running_mean', rm], ['running_var', rv], ['weight', this.weight], ['bias', this.bias]]);
    if (!useBatch && !rm) throw new Error('running_mean must be defined in evaluation mode');
    if (!useBatch && !rv) throw new Error('running_var must be defined in evaluation mode');
    // one pass over x: biased instance moments per (n, c), in units of one detached scale
    // (functional.ts, moments), so huge and tiny inputs neither overflow nor underflow
    const { m: inst, meanK, shiftK, k, k2 } = scaledInstance(x, [2, 3], this.eps);
    const layer = pooled(meanK, inst.var, 1);
    let bnMean: Tensor;
    let bnVar: Tensor;
    if (useBatch) {
      const batch = pooled(meanK, inst.var, 0);
      bnMean = batch.mean;
      bnVar = batch.var;
      const m = n * h * w;
      // each buffer given is updated, as BatchNorm2d's; unrecorded: nothing would free the nodes of statistics that only feed the buffers
      if (rm) updateRunning(rm, noGrad(() => bnMean.mul(k)), factor);
      if (rv) updateRunning(rv, noGrad(() => bnVar.mul(k2).mul(m / (m - 1))), factor);
    } else {
      bnMean = (rm as Tensor).reshape(1, c, 1, 1).div(k);
      bnVar = (rv as Tensor).reshape(1, c, 1, 1).div(k2);
    }
    const mean = mix(this.mean_weight, [meanK, layer.mean, bnMean]);
    const variance = mix(this.var_weight, [inst.var, layer.var, bnVar]);
    let scale = invStd(variance, inst.epsScaled, true);
    if (this.weight) scale = scale.mul(this.weight.reshape(1, c, 1, 1));
    // (x - mean)/k = centred - (mean/k - shift/k), one fused pass with the affine part
    return normalized(inst, mean.sub(shiftK), [scale], this.bias ? this.bias.reshape(1, c, 1, 1) : null);
  }
}

/** Options of SwitchNorm2d (the authors' keyword arguments, camelCased). */
export interface SwitchNorm2dOptions extends FactoryOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the old running value: running = m·running + (1 - m)·batch (default 0.9). */
  momentum?: number;
  /** Exponential moving average (default true); false accumulates sums. */
  usingMovingAverage?: boolean;
  /** Include batch statistics (default true); false mixes IN and LN only. */
  usingBn?: boolean;
  /** Start γ at 0 (for the last norm of a residual block; default false). */
  lastGamma?: boolean;
}

/**
 * The Switchable Normalization authors' `SwitchNorm2d`, parameter shapes,
 * keys and arithmetic included (unbiased IN variance, LN/BN variances
 * through the second moment, reversed momentum, buffers starting at 0).
 * Keys: `weight, bias, mean_weight, var_weight, running_mean, running_var`.
 * @example const sn = new gg.nn.SwitchNorm2d(64); sn.loadStateDict(authorsCheckpoint);
 */
export class SwitchNorm2d extends Module implements NormLayer {
  /** A normalisation layer (see `NormLayer`). */
  get isNormLayer(): true {
    return true;
  }
  declare weight: Tensor;
  declare bias: Tensor;
  declare mean_weight: Tensor;
  declare var_weight: Tensor;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  readonly numFeatures: number;
  eps: number;
  momentum: number;
  usingMovingAverage: boolean;
  readonly usingBn: boolean;
  readonly lastGamma: boolean;

  constructor(numFeatures: number, opts: SwitchNorm2dOptions = {}) {
    super();
    const name = 'SwitchNorm2d';
    checkOptions(name, opts, ['dtype', 'device', 'eps', 'momentum', 'usingMovingAverage', 'usingBn', 'lastGamma'] satisfies readonly (keyof SwitchNorm2dOptions)[]);
    this.numFeatures = checkNonNegInt(name, 'num_features', numFeatures);
    this.eps = checkNumber(name, 'eps', opts.eps ?? 1e-5);
    this.momentum = checkNumber(name, 'momentum', opts.momentum ?? 0.9);
    this.usingMovingAverage = checkOptionalBool(name, 'using_moving_average', opts.usingMovingAverage, true);
    this.usingBn = checkOptionalBool(name, 'using_bn', opts.usingBn, true);
    this.lastGamma = checkOptionalBool(name, 'last_gamma', opts.lastGamma, false);
    const f = { dtype: opts.dtype, device: opts.device };
    this.registerParameter('weight', (this.lastGamma ? zeros : ones)([1, numFeatures, 1, 1], f));
    this.registerParameter('bias', zeros([1, numFeatures, 1, 1], f));
    const k = this.usingBn ? 3 : 2;
    this.registerParameter('mean_weight', ones([k], f));
    this.registerParameter('var_weight', ones([k], f));
    this.registerBuffer('running_mean', this.usingBn ? zeros([1, numFeatures, 1], f) : null);
    this.registerBuffer('running_var', this.usingBn ? zeros([1, numFeatures, 1], f) : null);
  }

  /** `mean_weight`. @example sn.meanWeight.softmax(0) // the learned IN/LN/BN mix */
  get meanWeight(): Tensor {
    return this.mean_weight;
  }
  /** `var_weight`. @example sn.varWeight.softmax(0) */
  get varWeight(): Tensor {
    return this.var_weight;
  }
  /** `running_mean` (1, C, 1), or null without BN. @example new gg.nn.SwitchNorm2d(64).runningMean?.shape // [1, 64, 1] */
  get runningMean(): Tensor | null {
    return this.running_mean;
  }
  /** `running_var` (1, C, 1), or null without BN. @example new gg.nn.SwitchNorm2d(64).runningVar?.shape // [1, 64, 1] */
  get runningVar(): Tensor | null {
    return this.running_var;
  }

  /**
   * Normalise an (N, C, H, W) input with the mixed IN/LN/BN statistics, as the authors' code.
   * @example new gg.nn.SwitchNorm2d(64).call(gg.randn([2, 64, 8, 8]))
   */
  forward(input: Tensor): Tensor {
    if (input.ndim !== 4) throw new Error(`expected 4D input (got ${input.ndim}D input)`);
    const [n, c, h, w] = input.shape as [number, number, number, number];
    const x = input.reshape(n, c, h * w);
    // moments in units of one detached scale (functional.ts, moments)
    const { m: inst, meanK, shiftK, k, k2 } = scaledInstance(x, [2], this.eps);
    const hw = h * w;
    const instVar = inst.var.mul(hw / (hw - 1)); // unbiased, as torch.var (H·W = 1 gives NaN)
    const layer = pooled(meanK, instVar, 1);
    const means = [meanK, layer.mean];
    const vars = [instVar, layer.var];
    if (this.usingBn) {
      const rm = this.running_mean as Tensor;
      const rv = this.running_var as Tensor;
      if (this.training) {
        const batch = pooled(meanK, instVar, 0);
        means.push(batch.mean);
        vars.push(batch.var);
        noGrad(() => {
          const bm = batch.mean.detach().mul(k.reshape(1, 1, 1));
          const bv = batch.var.detach().mul(k2.reshape(1, 1, 1));
          if (this.usingMovingAverage) {
            rm.assign(rm.mul(this.momentum).add(bm.mul(1 - this.momentum)));
            rv.assign(rv.mul(this.momentum).add(bv.mul(1 - this.momentum)));
          } else {
            rm.assign(rm.add(bm));
            rv.assign(rv.add(bm.mul(bm).add(bv)));
          }
        });
      } else {
        means.push(rm.div(k.reshape(1, 1, 1)));
        vars.push(rv.div(k2.reshape(1, 1, 1)));
      }
    }
    const mean = mix(this.mean_weight, means);
    const variance = mix(this.var_weight, vars);
    // one fused pass: ((x - shift)/k - (mean - shift/k))·invStd·weight + bias, in the composed order
    const y = normalized(inst, mean.sub(shiftK), [invStd(variance, inst.epsScaled, false), this.weight.reshape(1, c, 1)], this.bias.reshape(1, c, 1));
    return y.reshape(n, c, h, w);
  }

  /** `64, eps=1e-05, momentum=0.9, using_moving_average=True, using_bn=True, last_gamma=False`. @example new gg.nn.SwitchNorm2d(64).extraRepr() */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${pyFloat(this.momentum)}, using_moving_average=${pyBool(this.usingMovingAverage)}, using_bn=${pyBool(this.usingBn)}, last_gamma=${pyBool(this.lastGamma)}`;
  }
}
