/**
 * BatchNorm1d/2d/3d and InstanceNorm1d/2d/3d with PyTorch's parameters,
 * buffers, state keys, update rules and error messages (docs/spec/normalization.md#batchnorm, #instancenorm).
 */
import { checkNonNegInt, checkNumber, checkOptionalBool, checkOptions } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { full, ones, zeros } from '../../tensor/creation.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { tidy } from '../../tensor/storage.js';
import { Module, integerTensors, type FactoryOptions, type NormLayer, type StateDictModuleMetadata } from '../module.js';
import { batchNorm, instanceNorm } from './functional.js';
import { pyBool, pyFloat } from '../repr.js';

/** Options of the batch and instance norm layers (and SwitchableNorm2d). */
export interface BatchNormOptions extends FactoryOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Running-average factor (default 0.1); null = cumulative average. */
  momentum?: number | null;
  /** Learnable per-channel weight and bias (default true for BatchNorm, false for InstanceNorm). */
  affine?: boolean;
  /** Keep running statistics (default true for BatchNorm, false for InstanceNorm). */
  trackRunningStats?: boolean;
}


/**
 * The parameters and buffers shared by the batch-style norms (PyTorch's
 * `_NormBase`): `weight`, `bias`, `running_mean`, `running_var`,
 * `num_batches_tracked`, registered in that order.
 * @example for (const m of model.modules()) if (m instanceof gg.nn.BatchNorm2d) m.resetRunningStats();
 */
export abstract class NormBase extends Module implements NormLayer {
  /** A normalisation layer (see `NormLayer`). */
  get isNormLayer(): true {
    return true;
  }
  /** Version 2 added `num_batches_tracked` (PyTorch's `_NormBase._version`). */
  static override version = 2;
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;
  readonly numFeatures: number;
  eps: number;
  momentum: number | null;
  readonly affine: boolean;
  trackRunningStats: boolean;

  constructor(numFeatures: number, opts: BatchNormOptions, defaults: { affine: boolean; trackRunningStats: boolean }, extraParams?: (self: Module) => void) {
    super();
    const name = this.constructor.name;
    checkOptions(name, opts, ['dtype', 'device', 'eps', 'momentum', 'affine', 'trackRunningStats'] satisfies readonly (keyof BatchNormOptions)[]);
    this.numFeatures = checkNonNegInt(name, 'num_features', numFeatures);
    this.eps = checkNumber(name, 'eps', opts.eps ?? 1e-5);
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum === null ? null : checkNumber(name, 'momentum', opts.momentum);
    this.affine = checkOptionalBool(name, 'affine', opts.affine, defaults.affine);
    this.trackRunningStats = checkOptionalBool(name, 'track_running_stats', opts.trackRunningStats, defaults.trackRunningStats);
    const f = { dtype: opts.dtype, device: opts.device };
    this.registerParameter('weight', this.affine ? ones([numFeatures], f) : null);
    this.registerParameter('bias', this.affine ? zeros([numFeatures], f) : null);
    extraParams?.(this); // parameters between bias and the buffers (SwitchableNorm2d)
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures], f));
      this.registerBuffer('running_var', ones([numFeatures], f));
      // int64, as PyTorch's (docs/notes/dtypes.md); `module.double()` leaves it so
      const nbt = full([], 0, { dtype: 'int64', device: opts.device });
      integerTensors.add(nbt);
      this.registerBuffer('num_batches_tracked', nbt);
    } else {
      this.registerBuffer('running_mean', null);
      this.registerBuffer('running_var', null);
      this.registerBuffer('num_batches_tracked', null);
    }
  }

  /** The running mean buffer (`running_mean`), or null when not tracking. @example new gg.nn.BatchNorm1d(3).runningMean // zeros([3]) */
  get runningMean(): Tensor | null {
    return this.running_mean;
  }
  set runningMean(v: Tensor | null) {
    this.running_mean = v;
  }
  /** The running variance buffer (`running_var`), or null when not tracking. @example new gg.nn.BatchNorm1d(3).runningVar // ones([3]) */
  get runningVar(): Tensor | null {
    return this.running_var;
  }
  set runningVar(v: Tensor | null) {
    this.running_var = v;
  }
  /**
   * The batch counter (`num_batches_tracked`, a 0-d tensor holding an integer), or null.
   * @example bn.numBatchesTracked?.itemSync() // batches seen in training
   */
  get numBatchesTracked(): Tensor | null {
    return this.num_batches_tracked;
  }
  set numBatchesTracked(v: Tensor | null) {
    this.num_batches_tracked = v;
  }

  /** Reset the running statistics (mean 0, var 1, counter 0). @example bn.resetRunningStats(); // e.g. before re-estimating statistics */
  resetRunningStats(): void {
    noGrad(() => {
      for (const [t, v] of [[this.running_mean, 0], [this.running_var, 1], [this.num_batches_tracked, 0]] as const) {
        if (t) t.assign(full(t.shape, v, { dtype: t.dtype, device: t.device }));
      }
    });
  }
  /** Reset the running statistics and the affine parameters (weight 1, bias 0). @example bn.resetParameters(); */
  resetParameters(): void {
    this.resetRunningStats();
    noGrad(() => {
      if (this.weight) this.weight.assign(full(this.weight.shape, 1, { dtype: this.weight.dtype, device: this.weight.device }));
      if (this.bias) this.bias.assign(full(this.bias.shape, 0, { dtype: this.bias.dtype, device: this.bias.device }));
    });
  }

  /**
   * Count this batch (training with tracked stats) and return the
   * running-average factor: momentum, or 1/num_batches_tracked when
   * momentum is null (a 0-d tensor, so nothing is read back from the device).
   */
  protected countBatch(): number | Tensor {
    let factor: number | Tensor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats && this.num_batches_tracked) {
      const nbt = this.num_batches_tracked;
      noGrad(() => nbt.assign(nbt.add(1)));
      // 1/n in the statistics' dtype (PyTorch divides in Python floats, i.e. float64)
      if (this.momentum === null) factor = noGrad(() => tidy(() => nbt.to(this.running_mean?.dtype ?? 'float32').reciprocal()));
    }
    return factor;
  }

  /**
   * Checkpoints older than version 2 (or without metadata) have no
   * `num_batches_tracked`; it loads as 0, as in PyTorch's `_NormBase`.
   */
  protected override loadFromStateDict(state: Map<string, unknown>, prefix: string, localMetadata: StateDictModuleMetadata): void {
    const key = `${prefix}num_batches_tracked`;
    const nbt = this.num_batches_tracked;
    if ((localMetadata.version === undefined || localMetadata.version < 2) && this.trackRunningStats && nbt && !state.has(key)) {
      const zero = full([], 0, { dtype: 'int64', device: nbt.device });
      integerTensors.add(zero);
      state.set(key, zero);
    }
  }

  /** `4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True`. @example new gg.nn.BatchNorm1d(4).extraRepr() */
  override extraRepr(): string {
    const mom = this.momentum === null ? 'None' : pyFloat(this.momentum);
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${mom}, affine=${pyBool(this.affine)}, track_running_stats=${pyBool(this.trackRunningStats)}`;
  }
}

/**
 * Batch norm over dim 1 (PyTorch's `_BatchNorm`); subclasses check the rank.
 * @example new gg.nn.BatchNorm2d(3).call(gg.randn([2, 3, 4, 4])) // train mode: batch statistics
 */
export abstract class BatchNormBase extends NormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super(numFeatures, opts, { affine: true, trackRunningStats: true });
  }

  protected abstract checkInputDim(input: Tensor): void;

  /**
   * Normalise with batch statistics in training (and when nothing is
   * tracked), with the running buffers otherwise.
   * @example bn.eval(); bn.call(x) // uses running_mean and running_var
   */
  forward(input: Tensor): Tensor {
    this.checkInputDim(input);
    const factor = this.countBatch();
    const bnTraining = this.training || (this.running_mean === null && this.running_var === null);
    const useBuffers = !this.training || this.trackRunningStats;
    return batchNorm(
      input,
      useBuffers ? this.running_mean : null,
      useBuffers ? this.running_var : null,
      this.weight,
      this.bias,
      bnTraining,
      factor,
      this.eps,
    );
  }
}

/**
 * Batch norm of (N, C) or (N, C, L) inputs.
 * @example const bn = new gg.nn.BatchNorm1d(3); bn.call(gg.randn([4, 3]));
 */
export class BatchNorm1d extends BatchNormBase {
  protected checkInputDim(input: Tensor): void {
    if (input.ndim !== 2 && input.ndim !== 3) throw new Error(`expected 2D or 3D input (got ${input.ndim}D input)`);
  }
}

/**
 * Batch norm of (N, C, H, W) inputs.
 * @example const bn = new gg.nn.BatchNorm2d(3, { momentum: null }); bn.call(gg.randn([2, 3, 4, 4]));
 */
export class BatchNorm2d extends BatchNormBase {
  protected checkInputDim(input: Tensor): void {
    if (input.ndim !== 4) throw new Error(`expected 4D input (got ${input.ndim}D input)`);
  }
}

/**
 * Batch norm of (N, C, D, H, W) inputs.
 * @example const bn = new gg.nn.BatchNorm3d(2); bn.call(gg.randn([2, 2, 3, 3, 3]));
 */
export class BatchNorm3d extends BatchNormBase {
  protected checkInputDim(input: Tensor): void {
    if (input.ndim !== 5) throw new Error(`expected 5D input (got ${input.ndim}D input)`);
  }
}

/**
 * Instance norm (PyTorch's `_InstanceNorm`): affine and running statistics
 * are off by default. Accepts unbatched inputs (one dim fewer). With
 * tracked statistics the buffers are updated in training (`num_batches_tracked`
 * is kept but not incremented, as PyTorch). `momentum` must be a number in
 * every mode (PyTorch's `torch.instance_norm` takes a float): null throws a TypeError.
 * @example new gg.nn.InstanceNorm2d(3).call(gg.randn([2, 3, 4, 4]))
 */
export abstract class InstanceNormBase extends NormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super(numFeatures, opts, { affine: false, trackRunningStats: false });
  }

  /** Rank of a batched input (3, 4 or 5). */
  protected abstract readonly batchedRank: number;

  /**
   * Normalise each sample's channels over their spatial dims (an unbatched input gets a batch dim of 1).
   * @example new gg.nn.InstanceNorm1d(3).call(gg.randn([3, 5])).shape // [3, 5]
   */
  forward(input: Tensor): Tensor {
    const r = this.batchedRank;
    if (input.ndim !== r && input.ndim !== r - 1) throw new Error(`expected ${r - 1}D or ${r}D input (got ${input.ndim}D input)`);
    if (input.ndim === r - 1) return this.forward(input.unsqueeze(0)).squeeze(0);
    const useInput = this.training || !this.trackRunningStats;
    // PyTorch 1.13 passes momentum to torch.instance_norm, which takes a float: None is refused in every mode
    if (this.momentum === null) throw new TypeError("instance_norm(): argument 'momentum' (position 7) must be float, not NoneType");
    return instanceNorm(input, this.running_mean, this.running_var, this.weight, this.bias, useInput, this.momentum, this.eps);
  }
}

/** Instance norm of (N, C, L) or (C, L) inputs. @example new gg.nn.InstanceNorm1d(3).call(gg.randn([2, 3, 5])) */
export class InstanceNorm1d extends InstanceNormBase {
  protected readonly batchedRank = 3;
}
/** Instance norm of (N, C, H, W) or (C, H, W) inputs. @example new gg.nn.InstanceNorm2d(3, { affine: true }) */
export class InstanceNorm2d extends InstanceNormBase {
  protected readonly batchedRank = 4;
}
/** Instance norm of (N, C, D, H, W) or (C, D, H, W) inputs. @example new gg.nn.InstanceNorm3d(3) */
export class InstanceNorm3d extends InstanceNormBase {
  protected readonly batchedRank = 5;
}
