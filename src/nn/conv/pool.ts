/**
 * The pooling modules MaxPool1d/2d/3d and AvgPool1d/2d/3d: each keeps its
 * options as given and runs the functional form of ./functional.ts (which
 * checks them) in its forward.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { Module } from '../module.js';
import { avgPoolNd, checkPoolArgs, maxPoolNd, type AvgPoolOptions, type IntOrList, type MaxPoolOptions, type Rank } from './functional.js';
import { pyBool, pyTuple } from '../repr.js';

/** Python's repr of an int-or-tuple argument. */
const pyArg = (v: IntOrList): string => (typeof v === 'number' ? String(v) : pyTuple(v));

/** Options of MaxPool1d/2d/3d. */
export type MaxPoolModuleOptions = MaxPoolOptions;

/**
 * What MaxPoolNd and AvgPoolNd share: the window's options as given. The
 * rank is the concrete class's static `rank`, so one constructor serves
 * MaxPool1d … AvgPool3d.
 */
abstract class PoolNd extends Module {
  /** @internal the number of spatial dims, set by each concrete class. */
  static readonly rank: Rank;
  /** @internal */
  protected readonly r: Rank;
  readonly kernelSize: IntOrList;
  readonly stride: IntOrList;
  readonly padding: IntOrList;
  readonly ceilMode: boolean;
  protected constructor(kernelSize: IntOrList, opts: { stride?: IntOrList | null; padding?: IntOrList; ceilMode?: boolean }) {
    super();
    const r = (new.target as unknown as typeof PoolNd).rank;
    this.r = r;
    // NOTE: PyTorch checks these when the layer runs; checked here too, so a bad option fails at its source
    checkPoolArgs(r, this.constructor.name, kernelSize, opts, this instanceof AvgPoolNd);
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.ceilMode = opts.ceilMode ?? false;
  }
}

abstract class MaxPoolNd extends PoolNd {
  readonly dilation: IntOrList;
  constructor(kernelSize: IntOrList, opts: MaxPoolModuleOptions = {}) {
    super(kernelSize, opts);
    this.dilation = opts.dilation ?? 1;
  }
  forward(input: Tensor): Tensor {
    return maxPoolNd(this.r, input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }
  override extraRepr(): string {
    return `kernel_size=${pyArg(this.kernelSize)}, stride=${pyArg(this.stride)}, padding=${pyArg(this.padding)}, dilation=${pyArg(this.dilation)}, ceil_mode=${pyBool(this.ceilMode)}`;
  }
}

/** Max pooling layer over (N, C, L). @example new gg.nn.MaxPool1d(2) */
export class MaxPool1d extends MaxPoolNd {
  static override readonly rank = 1;
}
/**
 * Max pooling layer over (N, C, H, W); ties share the gradient evenly.
 * @example new gg.nn.MaxPool2d(2) // kernel 2, stride 2
 */
export class MaxPool2d extends MaxPoolNd {
  static override readonly rank = 2;
}
/** Max pooling layer over (N, C, D, H, W). @example new gg.nn.MaxPool3d(2) */
export class MaxPool3d extends MaxPoolNd {
  static override readonly rank = 3;
}

/** Options of AvgPool1d/2d/3d. */
export type AvgPoolModuleOptions = AvgPoolOptions;

abstract class AvgPoolNd extends PoolNd {
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
  constructor(kernelSize: IntOrList, opts: AvgPoolModuleOptions = {}) {
    super(kernelSize, opts);
    this.countIncludePad = opts.countIncludePad ?? true;
    this.divisorOverride = opts.divisorOverride ?? null;
  }
  forward(input: Tensor): Tensor {
    return avgPoolNd(this.r, input, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }
  override extraRepr(): string {
    return `kernel_size=${pyArg(this.kernelSize)}, stride=${pyArg(this.stride)}, padding=${pyArg(this.padding)}`;
  }
}

/** Average pooling layer over (N, C, L). @example new gg.nn.AvgPool1d(2) */
export class AvgPool1d extends AvgPoolNd {
  static override readonly rank = 1;
}
/**
 * Average pooling layer over (N, C, H, W).
 * @example new gg.nn.AvgPool2d(2)
 */
export class AvgPool2d extends AvgPoolNd {
  static override readonly rank = 2;
}
/** Average pooling layer over (N, C, D, H, W). @example new gg.nn.AvgPool3d(2) */
export class AvgPool3d extends AvgPoolNd {
  static override readonly rank = 3;
}
