/** LayerNorm and GroupNorm with PyTorch's parameters, keys and messages. */
import { checkNonNegInt, checkNumber, checkOptionalBool, checkOptions, checkPosInt, checkSize } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { ones, zeros } from '../../tensor/creation.js';
import { Module, type FactoryOptions, type NormLayer } from '../module.js';
import { groupNorm, layerNorm } from './functional.js';
import { pyBool, pyFloat } from '../repr.js';

/** Options of LayerNorm. */
export interface LayerNormOptions extends FactoryOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learnable elementwise weight and bias of `normalizedShape` (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Layer norm over the trailing `normalizedShape` dims.
 * @example const ln = new gg.nn.LayerNorm([3, 4]); ln.call(gg.randn([2, 3, 4]));
 */
export class LayerNorm extends Module implements NormLayer {
  /** A normalisation layer (see `NormLayer`). */
  get isNormLayer(): true {
    return true;
  }
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  readonly normalizedShape: readonly number[];
  eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    checkOptions('LayerNorm', opts, ['dtype', 'device', 'eps', 'elementwiseAffine'] satisfies readonly (keyof LayerNormOptions)[]);
    const shape = typeof normalizedShape === 'number' ? [checkNonNegInt('LayerNorm', 'normalized_shape', normalizedShape)] : checkSize('LayerNorm', 'normalized_shape', normalizedShape);
    this.normalizedShape = Object.freeze(shape);
    this.eps = checkNumber('LayerNorm', 'eps', opts.eps ?? 1e-5);
    this.elementwiseAffine = checkOptionalBool('LayerNorm', 'elementwise_affine', opts.elementwiseAffine, true);
    const f = { dtype: opts.dtype, device: opts.device };
    this.registerParameter('weight', this.elementwiseAffine ? ones(this.normalizedShape, f) : null);
    this.registerParameter('bias', this.elementwiseAffine ? zeros(this.normalizedShape, f) : null);
  }

  /**
   * Normalise over the trailing `normalizedShape` dims, then scale and shift.
   * @example new gg.nn.LayerNorm(4).call(gg.randn([2, 4])).shape // [2, 4]
   */
  forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  /** `(3, 4), eps=1e-05, elementwise_affine=True`. @example new gg.nn.LayerNorm([3, 4]).extraRepr() */
  override extraRepr(): string {
    const shape = this.normalizedShape.length === 1 ? `(${this.normalizedShape[0]},)` : `(${this.normalizedShape.join(', ')})`;
    return `${shape}, eps=${pyFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}

/** Options of GroupNorm. */
export interface GroupNormOptions extends FactoryOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learnable per-channel weight and bias (default true). */
  affine?: boolean;
}

/**
 * Group norm: `numChannels` split into `numGroups` groups.
 * @example const gn = new gg.nn.GroupNorm(2, 4); gn.call(gg.randn([2, 4, 3, 3]));
 */
export class GroupNorm extends Module implements NormLayer {
  /** A normalisation layer (see `NormLayer`). */
  get isNormLayer(): true {
    return true;
  }
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  readonly numGroups: number;
  readonly numChannels: number;
  eps: number;
  readonly affine: boolean;

  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    checkOptions('GroupNorm', opts, ['dtype', 'device', 'eps', 'affine'] satisfies readonly (keyof GroupNormOptions)[]);
    checkPosInt('GroupNorm', 'num_groups', numGroups);
    checkNonNegInt('GroupNorm', 'num_channels', numChannels);
    if (numChannels % numGroups !== 0) throw new Error('num_channels must be divisible by num_groups');
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = opts.eps ?? 1e-5;
    this.eps = checkNumber('GroupNorm', 'eps', this.eps);
    this.affine = checkOptionalBool('GroupNorm', 'affine', opts.affine, true);
    const f = { dtype: opts.dtype, device: opts.device };
    this.registerParameter('weight', this.affine ? ones([numChannels], f) : null);
    this.registerParameter('bias', this.affine ? zeros([numChannels], f) : null);
  }

  /**
   * Normalise each group of channels per sample, then scale and shift per channel.
   * @example new gg.nn.GroupNorm(2, 4).call(gg.randn([2, 4, 3, 3]))
   */
  forward(input: Tensor): Tensor {
    return groupNorm(input, this.numGroups, this.weight, this.bias, this.eps);
  }

  /** `2, 4, eps=1e-05, affine=True`. @example new gg.nn.GroupNorm(2, 4).extraRepr() */
  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${pyFloat(this.eps)}, affine=${pyBool(this.affine)}`;
  }
}
