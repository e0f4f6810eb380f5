/**
 * Basic layers: Linear, LazyLinear, activations, Dropout, Flatten and the
 * containers Sequential and ModuleList, with their functional forms
 * (re-exported by `gg.nn.functional`).
 * LazyLinear uses the lazy-module mechanism of lazy.ts, as LazyConv* do.
 */
import { tidy } from '../tensor/storage.js';
import { checkBool, checkInt, checkNonNegInt, checkNumber, checkOptionalBool, checkOptionalTensor, checkOptions, checkTensor } from '../tensor/check.js';
import type { Tensor } from '../tensor/tensor.js';
import { fmt } from '../tensor/shape.js';
import { isFloatingDtype } from '../backend/types.js';
import { rand, zeros } from '../tensor/creation.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Module, keepsNothing, parameter, type FactoryOptions } from './module.js';
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from './init.js';
import { factoryAfterTo, inferParameters, isLazyModule, lazyModuleInit, materialized, type LazyModuleMixin, type ModuleClass } from './lazy.js';
import { pyBool, pyFloat } from './repr.js';

// ---- functional forms ----------------------------------------------------------------------

/**
 * y = x Wᵀ + b.
 * @example gg.nn.functional.linear(x, w, b)
 */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor('linear', 'input', input);
  checkTensor('linear', 'weight', weight);
  checkOptionalTensor('linear', 'bias', bias);
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    const wt = weight.t();
    // 2-D input with a bias: one op, PyTorch's addmm (AddmmBackward0), whose product and bias add
    // may run as one kernel (docs/notes/architecture.md, "The gemm's bias epilogue"); anything
    // else (other ranks, mismatched shapes or dtypes: their errors) composes matmul and add
    if (bias && fitsAddmm(input, weight, bias)) return bias.addmm(input, wt);
    const y = input.matmul(wt);
    return bias ? y.add(bias) : y;
  });
}

/** x (m, k), W (n, k), b (n), one floating dtype and one device: Linear as addmm. */
function fitsAddmm(x: Tensor, w: Tensor, b: Tensor): boolean {
  return (
    x.ndim === 2 && w.ndim === 2 && b.ndim === 1 && x.shape[1] === w.shape[1] && b.shape[0] === w.shape[0] &&
    isFloatingDtype(x.dtype) && w.dtype === x.dtype && b.dtype === x.dtype && w.device === x.device && b.device === x.device
  );
}
/** max(x, 0) (+0 for negative inputs, -0 and NaN kept, as PyTorch; the gradient at ±0 is 0). @example gg.nn.functional.relu(gg.tensor([-1, 2])) // [0, 2] */
export function relu(input: Tensor): Tensor {
  return input.relu();
}
/**
 * x for x > 0, else negativeSlope·x (the gradient at 0 is negativeSlope, as PyTorch).
 * @example gg.nn.functional.leakyRelu(gg.tensor([-1, 2]), 0.1) // [-0.1, 2]
 */
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  // NOTE: intermediate results are freed when it returns (README "Memory")
  return tidy(() => {
    checkNumber('leaky_relu', 'negative_slope', negativeSlope);
    return input.where(input.gt(0), input.mul(negativeSlope));
  });
}
/** 1 / (1 + e^-x). @example gg.nn.functional.sigmoid(gg.tensor([0])) // [0.5] */
export function sigmoid(input: Tensor): Tensor {
  return input.sigmoid();
}
/** tanh(x). @example gg.nn.functional.tanh(gg.tensor([0])) // [0] */
export function tanh(input: Tensor): Tensor {
  return input.tanh();
}
/** Softmax along `dim`. @example gg.nn.functional.softmax(gg.tensor([[1, 1]]), 1) // [[0.5, 0.5]] */
export function softmax(input: Tensor, dim: number): Tensor {
  return input.softmax(dim);
}
/** log softmax along `dim`. @example gg.nn.functional.logSoftmax(logits, 1) // log-probabilities per row */
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return input.logSoftmax(dim);
}

/**
 * Whether `v` is an options object: a plain object, whose every key must be
 * one of `keys`, else `fn() got an unexpected keyword argument 'k'`
 * (checkOptions). A class instance, or an object with its own `valueOf`,
 * `toString` or a symbol key (`Symbol.toPrimitive`), is not one: it stands
 * in a number's place, and the number check names the argument.
 */
function isOptions<T extends object>(fn: string, v: T | number, keys: readonly string[]): v is T {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return false;
  if (Reflect.ownKeys(v).some((k) => typeof k === 'symbol' || k === 'valueOf' || k === 'toString')) return false;
  checkOptions(fn, v, keys);
  return true;
}

function checkDropoutP(p: number): void {
  checkNumber('dropout', 'p', p);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout probability has to be between 0 and 1, but got ${p}`);
}

/**
 * In training, zero each element with probability p (mask drawn from the
 * seeded stream, `gg.manualSeed`) and scale the rest by 1/(1-p); else identity.
 * @example gg.nn.functional.dropout(x, 0.2, model.training)
 */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  checkDropoutP(p);
  checkBool('dropout', 'training', training);
  if (!training) return input;
  if (p === 1) return input.mul(0);
  const mask = noGrad(() => {
    const u = rand(input.shape, { dtype: input.dtype, device: input.device });
    const keep = u.lt(1 - p);
    const m = keep.div(1 - p);
    u.dispose();
    keep.dispose();
    return m;
  });
  const out = input.mul(mask);
  mask.dispose();
  return out;
}

// ---- Linear ---------------------------------------------------------------------------------

/** Options of `Linear`. */
export interface LinearOptions extends FactoryOptions {
  bias?: boolean;
}

/**
 * y = x Wᵀ + b, W of shape (out, in). Initialised as PyTorch:
 * W, b ~ U(-1/√in, 1/√in).
 * @example const fc = new gg.nn.Linear(4, 5, { dtype: 'float64' }); fc.call(gg.randn([2, 4], { dtype: 'float64' }))
 */
export class Linear extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  inFeatures: number;
  outFeatures: number;
  /** @internal dtype and device of parameters created later (lazy). */
  protected factory: FactoryOptions;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    checkOptions(new.target.name, opts, ['dtype', 'device', 'bias'] satisfies readonly (keyof LinearOptions)[]);
    checkOptionalBool('Linear', 'bias', opts.bias, true);
    this.inFeatures = checkNonNegInt('Linear', 'in_features', inFeatures);
    this.outFeatures = checkNonNegInt('Linear', 'out_features', outFeatures);
    this.factory = { dtype: opts.dtype, device: opts.device };
    if (isLazyModule(this)) {
      lazyModuleInit(this, ['weight', 'bias']);
    } else {
      this.registerParameter('weight', zeros([this.outFeatures, this.inFeatures], this.factory));
      this.registerParameter('bias', (opts.bias ?? true) ? zeros([this.outFeatures], this.factory) : null);
      this.resetParameters();
    }
  }

  /** Re-draw weight and bias with PyTorch's default initialisation. @example fc.resetParameters(); */
  resetParameters(): void {
    if (!this.weight) return;
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      uniform_(this.bias, -bound, bound);
    }
  }

  /** x Wᵀ + b; run it through `call` so hooks fire. @example new gg.nn.Linear(4, 2).call(gg.randn([3, 4])).shape // [3, 2] */
  forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }

  /** The options in the printed form. @example new gg.nn.Linear(4, 5).extraRepr() // 'in_features=4, out_features=5, bias=True' */
  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.hasBias())}`;
  }
  /** @internal whether a bias exists or will (lazy). */
  protected hasBias(): boolean {
    return this.bias !== null;
  }
}

/**
 * Linear whose `inFeatures` is inferred from the first input (last dim).
 * Until then `weight` and `bias` are null (`hasUninitializedParams()`), are
 * absent from `stateDict()`, and `loadStateDict` creates them from the
 * checkpoint's shapes. `module.to(...)` before materialising sets the dtype
 * and device they will get. Once materialised the object becomes a `Linear`
 * (PyTorch's `cls_to_become`), and `gg.nn.onMaterialize(module, fn)`
 * callbacks run (before the forward that materialised it uses the weight).
 * @example const fc = new gg.nn.LazyLinear(10); fc.call(gg.randn([2, 7])); fc.inFeatures // 7
 */
export class LazyLinear extends Linear implements LazyModuleMixin {
  private wantBias = true;

  constructor(outFeatures: number, opts: LinearOptions = {}) {
    super(0, outFeatures, opts);
    this.wantBias = opts.bias ?? true;
  }

  /** A materialised LazyLinear is a Linear. @example new gg.nn.LazyLinear(3).clsToBecome === gg.nn.Linear // true */
  get clsToBecome(): ModuleClass {
    return Linear;
  }

  protected override hasBias(): boolean {
    return this.wantBias;
  }

  /** Whether weight (or bias) still waits for the first forward. @example new gg.nn.LazyLinear(3).hasUninitializedParams() // true */
  hasUninitializedParams(): boolean {
    return this._parameters.get('weight') === null || (this.wantBias && this._parameters.get('bias') === null);
  }

  /**
   * Create weight (and bias) for `input`'s last dim; the lazy mechanism calls it on the first forward.
   * @example new gg.nn.LazyLinear(3).initializeParameters(gg.randn([2, 7])) // ['weight', 'bias']
   */
  initializeParameters(input: Tensor): string[] {
    return this.createMissing(input.shape[input.ndim - 1] ?? 1);
  }

  /**
   * Create the missing parameters for `inFeatures` inputs, initialise them, become a Linear.
   * @example const fc = new gg.nn.LazyLinear(3); fc.materialize(7); fc.weight.shape // [3, 7]
   */
  materialize(inFeatures: number): void {
    materialized(this, this.createMissing(inFeatures));
  }

  private createMissing(inFeatures: number): string[] {
    this.inFeatures = inFeatures;
    const created: string[] = [];
    noGrad(() => {
      if (this._parameters.get('weight') === null) {
        this._parameters.set('weight', parameter(zeros([this.outFeatures, inFeatures], this.factory)));
        created.push('weight');
      }
      if (this.wantBias && this._parameters.get('bias') === null) {
        this._parameters.set('bias', parameter(zeros([this.outFeatures], this.factory)));
        created.push('bias');
      }
    });
    this.resetParameters();
    return created;
  }

  /** Materialise from the input's last dim on first use, then x Wᵀ + b. @example new gg.nn.LazyLinear(3).call(gg.randn([2, 7])).shape // [2, 3] */
  override forward(input: Tensor): Tensor {
    inferParameters(this, [input]);
    return linear(input, this.weight, this.bias);
  }

  /**
   * `Module.to`; before materialising it also sets the dtype or device the parameters will be created with.
   * @example new gg.nn.LazyLinear(3).to('float64') // weight is created as float64
   */
  override to(target: string): this {
    this.factory = factoryAfterTo(this.factory, target);
    return super.to(target);
  }

  protected override loadMissing(name: string, kind: 'p' | 'b', src: Tensor): void {
    if (kind !== 'p' || (name !== 'weight' && name !== 'bias')) return super.loadMissing(name, kind, src);
    if (name === 'weight') {
      if (src.ndim !== 2 || src.shape[0] !== this.outFeatures) {
        throw new Error(`size mismatch for weight: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is [${this.outFeatures}, -1].`);
      }
      const created = this.createMissing(src.shape[1] ?? 0);
      const w = this._parameters.get('weight') as Tensor;
      w.assign(src.to(w.device).to(w.dtype));
      materialized(this, created);
      return;
    } else {
      if (src.ndim !== 1 || src.shape[0] !== this.outFeatures) {
        throw new Error(`size mismatch for bias: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is [${this.outFeatures}].`);
      }
      this._parameters.set('bias', parameter(zeros([this.outFeatures], this.factory)));
    }
    const target = this._parameters.get(name) as Tensor;
    target.assign(src.to(target.device).to(target.dtype));
  }
}

// ---- activations and simple layers -------------------------------------------------------------

/** Returns its input. @example new gg.nn.Identity().call(x) // x itself */
export class Identity extends Module {
  /** Returns `input` unchanged (same object). @example new gg.nn.Identity().call(x) === x // true */
  forward(input: Tensor): Tensor {
    return input;
  }
}

/** max(x, 0). @example new gg.nn.ReLU().call(gg.tensor([-1, 2])) // [0, 2] */
export class ReLU extends Module {
  /** max(x, 0) elementwise. @example new gg.nn.ReLU().call(gg.tensor([-1, 2])) // [0, 2] */
  forward(input: Tensor): Tensor {
    return relu(input);
  }
}

/**
 * x for x > 0, else negativeSlope·x (PyTorch's `nn.LeakyReLU`); the slope
 * alone or the options `{ negativeSlope, inplace }` (inplace only false).
 * @throws TypeError `LeakyReLU() got an unexpected keyword argument 'k'` for
 *   another option key (PyTorch: `LeakyReLU.__init__() got ...`), or for a
 *   slope that is not a number
 * @example new gg.nn.LeakyReLU(0.2) // or ({ negativeSlope: 0.2 })
 */
export class LeakyReLU extends Module {
  negativeSlope: number;
  constructor(negativeSlope: number | { negativeSlope?: number; inplace?: boolean } = 0.01) {
    super();
    const opts = isOptions('LeakyReLU', negativeSlope, ['negativeSlope', 'inplace']);
    if (opts) checkOptionalBool('LeakyReLU', 'inplace', negativeSlope.inplace, false);
    const v = opts ? (negativeSlope.negativeSlope ?? 0.01) : negativeSlope;
    this.negativeSlope = checkNumber('LeakyReLU', 'negative_slope', v);
  }
  /** x for x > 0, else negativeSlope·x, elementwise. @example new gg.nn.LeakyReLU(0.1).call(gg.tensor([-1, 2])) // [-0.1, 2] */
  forward(input: Tensor): Tensor {
    return leakyRelu(input, this.negativeSlope);
  }
  /** The slope in the printed form. @example new gg.nn.LeakyReLU(0.2).extraRepr() // 'negative_slope=0.2' */
  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}`;
  }
}

/** 1 / (1 + e^-x). @example new gg.nn.Sigmoid().call(gg.tensor([0])) // [0.5] */
export class Sigmoid extends Module {
  /** 1 / (1 + e^-x) elementwise. @example new gg.nn.Sigmoid().call(gg.tensor([0])) // [0.5] */
  forward(input: Tensor): Tensor {
    return input.sigmoid();
  }
}

/** tanh(x). @example new gg.nn.Tanh().call(gg.tensor([0])) // [0] */
export class Tanh extends Module {
  /** tanh(x) elementwise. @example new gg.nn.Tanh().call(gg.tensor([0])) // [0] */
  forward(input: Tensor): Tensor {
    return input.tanh();
  }
}

/** What Softmax and LogSoftmax share: a `dim`, given bare or as `{ dim }`. */
abstract class AlongDim extends Module {
  dim: number;
  constructor(dim: number | { dim: number }) {
    super();
    this.dim = checkInt(this.constructor.name, 'dim', isOptions(this.constructor.name, dim, ['dim']) ? dim.dim : dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Softmax along `dim`. @example new gg.nn.Softmax(1).call(gg.tensor([[1, 1]])) // [[0.5, 0.5]]; or new gg.nn.Softmax({ dim: 1 }) */
export class Softmax extends AlongDim {
  /** Softmax of `input` along `this.dim`. @example new gg.nn.Softmax(1).call(logits) // each row sums to 1 */
  forward(input: Tensor): Tensor {
    return input.softmax(this.dim);
  }
}

/** log softmax along `dim`. @example new gg.nn.LogSoftmax(1).call(logits) // log-probabilities, e.g. for NLLLoss */
export class LogSoftmax extends AlongDim {
  /** log softmax of `input` along `this.dim`. @example new gg.nn.LogSoftmax(1).call(logits) */
  forward(input: Tensor): Tensor {
    return input.logSoftmax(this.dim);
  }
}

/**
 * Zero elements with probability p in training (scaling the rest by
 * 1/(1-p)); identity in eval. Masks come from the seeded stream
 * (PyTorch's `nn.Dropout`); p alone or the options `{ p, inplace }`.
 * @throws TypeError `Dropout() got an unexpected keyword argument 'k'` for
 *   another option key (PyTorch: `_DropoutNd.__init__() got ...`) or a p that
 *   is not a number; Error `dropout probability has to be between 0 and 1`
 * @example const d = new gg.nn.Dropout(0.2);
 */
export class Dropout extends Module {
  readonly p: number;
  constructor(p: number | { p?: number; inplace?: boolean } = 0.5) {
    super();
    const opts = isOptions('Dropout', p, ['p', 'inplace']);
    if (opts) checkOptionalBool('Dropout', 'inplace', p.inplace, false);
    const v = opts ? (p.p ?? 0.5) : p;
    checkDropoutP(v);
    this.p = v;
  }
  /** Dropout in training mode, identity after `eval()`. @example const d = new gg.nn.Dropout(0.5); d.eval(); d.call(x) // x */
  forward(input: Tensor): Tensor {
    return dropout(input, this.p, this.training);
  }
  /** The probability in the printed form. @example new gg.nn.Dropout(0.2).extraRepr() // 'p=0.2, inplace=False' */
  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}

/** Flatten dims startDim..endDim into one. @example new gg.nn.Flatten(0) // or ({ startDim: 0, endDim: -1 }) */
export class Flatten extends Module {
  startDim: number;
  endDim: number;
  constructor(startDim: number | { startDim?: number; endDim?: number } = 1, endDim = -1) {
    super();
    const opts = isOptions('Flatten', startDim, ['startDim', 'endDim']);
    this.startDim = checkInt('Flatten', 'start_dim', opts ? (startDim.startDim ?? 1) : startDim);
    this.endDim = checkInt('Flatten', 'end_dim', opts ? (startDim.endDim ?? -1) : endDim);
  }
  /** `input.flatten(startDim, endDim)`. @example new gg.nn.Flatten().call(gg.zeros([2, 3, 4])).shape // [2, 12] */
  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }
  /** The dims in the printed form. @example new gg.nn.Flatten().extraRepr() // 'start_dim=1, end_dim=-1' */
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

// ---- containers ------------------------------------------------------------------------------------

function checkIndex(i: number, n: number): number {
  const j = i < 0 ? i + n : i;
  if (!Number.isInteger(j) || j < 0 || j >= n) throw new RangeError(`index ${i} is out of range`);
  return j;
}

/** What Sequential and ModuleList share: children in order, counted, indexed, appended and iterated. */
abstract class ModuleSequence extends Module implements Iterable<Module> {
  /** Number of modules. */
  get length(): number {
    return this._modules.size;
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const list = [...this._modules.values()];
    return list[checkIndex(i, list.length)] as Module;
  }
  /** Append a module (named by its position). */
  append(m: Module): this {
    this.registerModule(String(this._modules.size), m);
    return this;
  }
  *[Symbol.iterator](): Iterator<Module> {
    yield* this.children();
  }
}

/**
 * Modules applied in order; children are named '0', '1', ... (or by the keys
 * of an object). Built from a list, it keeps each layer's type:
 * `net.at(0)` is a `Linear` below (PyTorch's `net[0]`; `net[0]` also works,
 * typed `Module`).
 * @example
 * const net = new gg.nn.Sequential(new gg.nn.Linear(4, 8), new gg.nn.ReLU(), new gg.nn.Linear(8, 2));
 * net.at(0).weight.shape // [8, 4]; net.at(-1) is a Module
 */
export class Sequential<out T extends readonly Module[] = Module[]> extends ModuleSequence {
  /** Children by position, as PyTorch's `seq[0]` (typed `Module`; `at(i)` keeps the type). */
  readonly [index: number]: Module;
  constructor(...modules: T);
  constructor(modules: Record<string, Module>);
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const first = modules[0];
    if (modules.length === 1 && first !== undefined && !(first instanceof Module)) {
      for (const [name, m] of Object.entries(first)) this.registerModule(name, m);
    } else {
      (modules as Module[]).forEach((m, i) => this.registerModule(String(i), m));
    }
  }
  /**
   * The i-th module (negative counts from the end), typed as the layer given
   * at that position when `i` is a literal.
   * Errors: out of range throws `index i is out of range`.
   * @example new gg.nn.Sequential(new gg.nn.Linear(2, 3), new gg.nn.ReLU()).at(0).outFeatures // 3
   */
  override at<I extends number>(i: I): T[I & keyof T] {
    return super.at(i) as T[I & keyof T];
  }
  /** Feed `input` through the children in order (each via `call`). @example net.call(gg.randn([5, 4])).shape // [5, 2] for the net above */
  forward(input: Tensor): Tensor {
    let x = input;
    let freeable = false;
    for (const m of this._modules.values()) {
      if (!m) continue;
      const plain = keepsNothing.has(Object.getPrototypeOf(m)) && !m.hasHooks();
      const y = m.call(x);
      // NOTE: a result passed between two library layers without hooks is seen by no one else:
      // freed now (the graph keeps its own handle), not left to the garbage collector (README "Memory")
      if (freeable && plain && y !== x && x !== input) x.dispose();
      freeable = plain;
      x = y;
    }
    return x;
  }
}

/**
 * A list of modules registered as children '0', '1', ...; no forward of its own.
 * @example const blocks = new gg.nn.ModuleList([a, b]); for (const m of blocks) x = m.call(x);
 */
export class ModuleList extends ModuleSequence {
  constructor(modules: Iterable<Module> = []) {
    super();
    this.extend(modules);
  }
  /** Append every module of `modules`, in order. @example blocks.extend([c, d]); blocks.length // 4 */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }
  /** Insert before position `index`; later modules are renumbered. @example blocks.insert(0, new gg.nn.Identity()); // the old '0' becomes '1' */
  insert(index: number, m: Module): void {
    const list = [...this._modules.values()] as Module[];
    const at = index < 0 ? Math.max(0, index + list.length) : Math.min(index, list.length);
    list.splice(at, 0, m);
    this._modules.clear();
    list.forEach((x, i) => (i < list.length - 1 ? this._modules.set(String(i), x) : this.registerModule(String(i), x)));
  }
  /** Throws, as PyTorch: a ModuleList is a container; iterate it and call its modules. @example for (const m of blocks) x = m.call(x); */
  forward(): never {
    throw new Error('Module [ModuleList] is missing the required "forward" function');
  }
}
