/**
 * The convolution modules Conv1d/2d/3d, ConvTranspose1d/2d/3d and their lazy
 * forms (PyTorch's `_ConvNd` family): options kept as tuples, parameters with
 * PyTorch's initialisation, the printed form; the forward is the functional
 * form of ./functional.ts, which also owns the argument checks.
 */
import { argError, checkInt, checkNonNegInt, checkOptionalBool, checkOptions } from '../../tensor/check.js';
import type { Tensor } from '../../tensor/tensor.js';
import { zeros } from '../../tensor/creation.js';
import { fmt } from '../../tensor/shape.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { Module, parameter, type FactoryOptions } from '../module.js';
import { kaimingUniform_, uniform_ } from '../init.js';
import { factoryAfterTo, inferParameters, isLazyModule, lazyModuleInit, materialized, type LazyModuleMixin, type ModuleClass } from '../lazy.js';
import { convGeometry, convNd, convTransposeNd, prod, tuple, type IntOrList, type Rank } from './functional.js';
import { pyTuple } from '../repr.js';

/** Options of the convolution modules (PyTorch's keyword arguments). */
export interface ConvModuleOptions extends FactoryOptions {
  stride?: IntOrList;
  padding?: IntOrList | 'same' | 'valid';
  dilation?: IntOrList;
  groups?: number;
  bias?: boolean;
  /** Only `'zeros'` is supported. */
  paddingMode?: 'zeros';
}

/** Options of the transposed convolution modules. */
export interface ConvTransposeModuleOptions extends FactoryOptions {
  stride?: IntOrList;
  padding?: IntOrList;
  outputPadding?: IntOrList;
  dilation?: IntOrList;
  groups?: number;
  bias?: boolean;
  /** Only `'zeros'` is supported. */
  paddingMode?: 'zeros';
}

/**
 * What Conv{1,2,3}d and ConvTranspose{1,2,3}d share (PyTorch's `_ConvNd`):
 * options as tuples, parameter shapes, `resetParameters`, `extraRepr`, and
 * what the lazy forms need to create their parameters (the mechanism is
 * lazy.ts's).
 * @example for (const m of model.modules()) if (m instanceof gg.nn.ConvNd) m.resetParameters();
 */
export abstract class ConvNd extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  /** 0 until a lazy module's first forward. */
  inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | 'same' | 'valid';
  readonly dilation: number[];
  readonly outputPadding: number[];
  readonly groups: number;
  readonly paddingMode = 'zeros';
  readonly transposed: boolean;
  private factory: FactoryOptions;
  private readonly hasBias: boolean;

  protected constructor(
    readonly spatialRank: Rank,
    transposed: boolean,
    inChannels: number,
    outChannels: number,
    kernelSize: IntOrList,
    opts: ConvModuleOptions | ConvTransposeModuleOptions,
  ) {
    super();
    const name = new.target.name;
    checkOptions(name, opts, ['dtype', 'device', 'stride', 'padding', 'outputPadding', 'dilation', 'groups', 'bias', 'paddingMode'].filter((k) => transposed || k !== 'outputPadding'));
    const r = spatialRank;
    this.transposed = transposed;
    this.groups = checkInt(name, 'groups', opts.groups ?? 1);
    if (this.groups <= 0) throw new Error('groups must be a positive integer');
    checkNonNegInt(name, 'in_channels', inChannels);
    checkNonNegInt(name, 'out_channels', outChannels);
    if (inChannels % this.groups !== 0) throw new Error('in_channels must be divisible by groups');
    if (outChannels % this.groups !== 0) throw new Error('out_channels must be divisible by groups');
    const mode: unknown = opts.paddingMode ?? 'zeros';
    if (typeof mode !== 'string') throw argError(name, 'padding_mode', 'str', mode);
    if (mode !== 'zeros') {
      throw new Error(transposed ? `Only "zeros" padding mode is supported for ${name}` : `padding_mode '${String(mode)}' is not supported by gpugrad's ${name} (only 'zeros')`);
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = tuple(kernelSize, r, 'kernel_size', name);
    const outputPadding = 'outputPadding' in opts ? opts.outputPadding : undefined;
    const geometry = convGeometry(r, name, transposed, { ...opts, outputPadding }, 'module');
    this.stride = geometry.stride;
    this.dilation = geometry.dilation;
    this.padding = geometry.padding;
    this.outputPadding = geometry.outputPadding;
    this.hasBias = checkOptionalBool(name, 'bias', opts.bias, true);
    this.factory = { dtype: opts.dtype, device: opts.device };
    if (isLazyModule(this)) {
      lazyModuleInit(this, ['weight', 'bias']);
    } else {
      this.registerParameter('weight', null);
      this.registerParameter('bias', null);
      this.createParameters();
    }
  }

  /**
   * Whether a lazy module still waits for its first forward (or a state dict)
   * to create its weight (see `gg.nn.onMaterialize`); false for the eager classes.
   * @example new gg.nn.LazyConv2d(8, 3).hasUninitializedParams() // true
   */
  hasUninitializedParams(): boolean {
    return this._parameters.get('weight') === null;
  }

  /**
   * Lazy forms: create weight and bias for `input`'s channel count (the lazy
   * mechanism calls it on the first forward, without grad); returns the names created.
   * @example new gg.nn.LazyConv2d(8, 3).initializeParameters(gg.zeros([1, 3, 5, 5])) // ['weight', 'bias']
   */
  initializeParameters(input: Tensor): string[] {
    return this.createFor(this.channelsOf(input));
  }

  /** The weight's shape: (out, in/groups, *k), or (in, out/groups, *k) when transposed. */
  private weightShape(): number[] {
    const g = this.groups;
    return this.transposed ? [this.inChannels, this.outChannels / g, ...this.kernelSize] : [this.outChannels, this.inChannels / g, ...this.kernelSize];
  }

  private createParameters(): void {
    const opts = this.factory;
    this._parameters.set('weight', parameter(zeros(this.weightShape(), opts)));
    if (this.hasBias && !this._parameters.get('bias')) this._parameters.set('bias', parameter(zeros([this.outChannels], opts)));
    this.resetParameters();
  }

  /**
   * PyTorch's initialisation: weight kaiming-uniform with a = √5, i.e.
   * U(±1/√fan_in), bias U(±1/√fan_in), fan_in = weight.size(1)·∏kernel
   * (for transposed convolutions that is out/groups·∏kernel, as PyTorch computes it).
   * @example conv.resetParameters();
   */
  resetParameters(): void {
    const w = this._parameters.get('weight');
    if (!w) return;
    kaimingUniform_(w, { a: Math.sqrt(5) });
    const b = this._parameters.get('bias');
    if (b) {
      const fanIn = (w.shape[1] ?? 1) * prod(this.kernelSize);
      if (fanIn !== 0) uniform_(b, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
    }
  }

  private channelsOf(x: Tensor): number {
    const batched = x.ndim === this.spatialRank + 2;
    if (!batched && x.ndim !== this.spatialRank + 1) {
      const op = this.transposed ? `conv_transpose${this.spatialRank}d` : `conv${this.spatialRank}d`;
      throw new Error(`Expected ${this.spatialRank + 1}D (unbatched) or ${this.spatialRank + 2}D (batched) input to ${op}, but got input of size: ${fmt(x.shape)}`);
    }
    return x.shape[batched ? 1 : 0] ?? 0;
  }

  /** Lazy forms: set `inChannels` and create the parameters for it; returns their names. */
  private createFor(inChannels: number): string[] {
    if (inChannels % this.groups !== 0) throw new Error('in_channels must be divisible by groups');
    this.inChannels = inChannels;
    noGrad(() => this.createParameters());
    return this.hasBias ? ['weight', 'bias'] : ['weight'];
  }

  /** @internal a state dict entry for a lazy module's weight materialises it. */
  protected override loadMissing(name: string, kind: 'p' | 'b', src: Tensor): void {
    if (kind === 'p' && isLazyModule(this) && this.hasUninitializedParams() && (name === 'weight' || (name === 'bias' && this.hasBias))) {
      if (name === 'bias') {
        if (src.ndim !== 1 || src.shape[0] !== this.outChannels) {
          throw new Error(`size mismatch for bias: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is [${this.outChannels}].`);
        }
        this._parameters.set('bias', parameter(src.to(this.factory.device ?? src.device).to(this.factory.dtype ?? src.dtype).clone()));
        return;
      }
      const g = this.groups;
      const inCh = this.transposed ? (src.shape[0] ?? 0) : (src.shape[1] ?? 0) * g;
      const saved = this.inChannels;
      this.inChannels = inCh;
      const want = this.weightShape();
      this.inChannels = saved;
      if (fmt(want) !== fmt(src.shape)) {
        const shown = this.transposed ? ['in', this.outChannels / g, ...this.kernelSize] : [this.outChannels, 'in/groups', ...this.kernelSize];
        throw new Error(`size mismatch for weight: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is [${shown.join(', ')}].`);
      }
      const created = this.createFor(inCh);
      const w = this._parameters.get('weight') as Tensor;
      w.assign(src.to(w.device).to(w.dtype));
      materialized(this, created);
      return;
    }
    super.loadMissing(name, kind, src);
  }

  /**
   * Lazy modules remember a move or cast made before they materialise.
   * @example new gg.nn.LazyConv2d(8, 3).to('float64') // weight is created as float64 on the first forward
   */
  override to(target: string): this {
    if (this.hasUninitializedParams()) this.factory = factoryAfterTo(this.factory, target);
    return super.to(target);
  }

  /**
   * Convolve `input` (a lazy module first materialises from its channel count).
   * @example new gg.nn.Conv2d(1, 8, 3).call(gg.randn([2, 1, 28, 28])).shape // [2, 8, 26, 26]
   */
  forward(input: Tensor): Tensor {
    inferParameters(this, [input]);
    const w = this.weight;
    const b = this.bias;
    const r = this.spatialRank;
    if (this.transposed) {
      const opts = { stride: this.stride, padding: this.padding as number[], outputPadding: this.outputPadding, dilation: this.dilation, groups: this.groups };
      return convTransposeNd(r, input, w, b, opts);
    }
    return convNd(r, input, w, b, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  /**
   * The options in PyTorch's printed form (defaults left out).
   * @example new gg.nn.Conv2d(1, 8, 3).extraRepr() // '1, 8, kernel_size=(3, 3), stride=(1, 1)'
   */
  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}`;
    const pad = this.padding;
    if (typeof pad === 'string') s += `, padding=${pad}`;
    else if (pad.some((p) => p !== 0)) s += `, padding=${pyTuple(pad)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${pyTuple(this.dilation)}`;
    if (this.outputPadding.some((p) => p !== 0)) s += `, output_padding=${pyTuple(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.hasBias) s += ', bias=False';
    return s;
  }
}

/**
 * Conv1d/2d/3d's constructor (PyTorch's `_ConvNd` for the forward
 * convolutions): the spatial rank is the concrete class's static `rank`, so
 * one constructor serves the three ranks (and their lazy forms).
 */
abstract class ForwardConvNd extends ConvNd {
  /** @internal the number of spatial dims, set by each concrete class. */
  static readonly rank: Rank;
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvModuleOptions = {}) {
    super((new.target as unknown as typeof ForwardConvNd).rank, false, inChannels, outChannels, kernelSize, opts);
  }
}

/** ConvTranspose1d/2d/3d's constructor (PyTorch's `_ConvTransposeNd`), the rank as for ForwardConvNd. */
abstract class TransposedConvNd extends ConvNd {
  /** @internal the number of spatial dims, set by each concrete class. */
  static readonly rank: Rank;
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrList, opts: ConvTransposeModuleOptions = {}) {
    super((new.target as unknown as typeof TransposedConvNd).rank, true, inChannels, outChannels, kernelSize, opts);
  }
}

/**
 * 1-D convolution layer; weight (out, in/groups, k), bias (out).
 * @example new gg.nn.Conv1d(16, 33, 3, { stride: 2 })
 */
export class Conv1d extends ForwardConvNd {
  static override readonly rank = 1;
}
/**
 * 2-D convolution layer; weight (out, in/groups, kh, kw), bias (out).
 * @example new gg.nn.Conv2d(1, 8, 3, { padding: 1 })
 */
export class Conv2d extends ForwardConvNd {
  static override readonly rank = 2;
}
/** 3-D convolution layer; weight (out, in/groups, kd, kh, kw), bias (out). @example new gg.nn.Conv3d(4, 8, 3, { padding: 1 }) */
export class Conv3d extends ForwardConvNd {
  static override readonly rank = 3;
}
/**
 * 1-D transposed convolution layer; weight (in, out/groups, k), bias (out).
 * @example new gg.nn.ConvTranspose1d(16, 8, 3, { stride: 2, outputPadding: 1 })
 */
export class ConvTranspose1d extends TransposedConvNd {
  static override readonly rank = 1;
}
/**
 * 2-D transposed convolution layer; weight (in, out/groups, kh, kw), bias (out).
 * @example new gg.nn.ConvTranspose2d(8, 1, 4, { stride: 2, padding: 1 }) // doubles H and W
 */
export class ConvTranspose2d extends TransposedConvNd {
  static override readonly rank = 2;
}
/**
 * 3-D transposed convolution layer; weight (in, out/groups, kd, kh, kw), bias (out).
 * @example new gg.nn.ConvTranspose3d(8, 4, 2, { stride: 2 }) // doubles D, H and W
 */
export class ConvTranspose3d extends TransposedConvNd {
  static override readonly rank = 3;
}

/** A lazy convolution class: built by `lazyForm` from the eager class it becomes. */
type LazyConvClass<O> = new (outChannels: number, kernelSize: IntOrList, opts?: O) => ConvNd & LazyModuleMixin;

/**
 * The lazy form of an eager convolution class (PyTorch's `LazyConvNd` with
 * `cls_to_become`): in_channels is 0 until the first input (or a state dict)
 * gives it, then the module becomes `Eager`. One body serves the six lazy classes.
 */
function lazyForm<O>(Eager: new (inChannels: number, outChannels: number, kernelSize: IntOrList, opts?: O) => ConvNd): LazyConvClass<O> {
  return class extends Eager implements LazyModuleMixin {
    get clsToBecome(): ModuleClass {
      return Eager;
    }
    constructor(outChannels: number, kernelSize: IntOrList, opts?: O) {
      super(0, outChannels, kernelSize, opts);
    }
  };
}

/**
 * Conv1d whose in_channels is taken from the first input; it then becomes a Conv1d.
 * @example const c = new gg.nn.LazyConv1d(8, 3); c.call(x); // weight (8, x.shape[1], 3)
 */
export class LazyConv1d extends lazyForm(Conv1d) {}
/**
 * Conv2d whose in_channels is taken from the first input (or a loaded state dict);
 * it then becomes a Conv2d.
 * @example const c = new gg.nn.LazyConv2d(8, 3, { padding: 1 });
 */
export class LazyConv2d extends lazyForm(Conv2d) {}
/** Conv3d whose in_channels is taken from the first input; it then becomes a Conv3d. @example const c = new gg.nn.LazyConv3d(8, 3); */
export class LazyConv3d extends lazyForm(Conv3d) {}
/** ConvTranspose1d whose in_channels is taken from the first input. @example const c = new gg.nn.LazyConvTranspose1d(8, 3, { stride: 2 }); */
export class LazyConvTranspose1d extends lazyForm(ConvTranspose1d) {}
/**
 * ConvTranspose2d whose in_channels is taken from the first input.
 * @example const c = new gg.nn.LazyConvTranspose2d(1, 4, { stride: 2, padding: 1 });
 */
export class LazyConvTranspose2d extends lazyForm(ConvTranspose2d) {}
/** ConvTranspose3d whose in_channels is taken from the first input. @example const c = new gg.nn.LazyConvTranspose3d(4, 2, { stride: 2 }); */
export class LazyConvTranspose3d extends lazyForm(ConvTranspose3d) {}
