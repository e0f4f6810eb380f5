/**
 * `gg.nn.utils.parametrize`: PyTorch 1.13's `torch.nn.utils.parametrize`
 * (docs/spec/parametrize.md#parametrize).
 *
 * Registering a parametrization on `module.weight` moves the original
 * Parameter object (not a copy) to `module.parametrizations.weight.original`
 * and replaces the instance's `weight` accessor with a computed one: reading
 * runs the chain `p_n(...p_1(original))`, assigning runs the chain's
 * `rightInverse` backwards and stores the result in `original` in place.
 *
 * ```ts
 * class Symmetric extends gg.nn.Module {
 *   forward(x: gg.Tensor) { return x.add(x.t()).div(2); }
 * }
 * const lin = new gg.nn.Linear(3, 3);
 * gg.nn.utils.parametrize.registerParametrization(lin, 'weight', new Symmetric());
 * lin.weight; // symmetric, recomputed on every access
 * gg.nn.utils.parametrize.cached(() => { lin.call(x); lin.call(y); }); // computed once
 * ```
 */
import { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { fmt } from '../../tensor/shape.js';
import { typeName } from '../../tensor/check.js';
import { Module } from '../module.js';

/** A parametrization: a Module whose `forward(x)` maps the original tensor to the exposed one. */
export type Parametrization = Module & {
  forward(x: Tensor): Tensor;
  /** Optional: a tensor `z` with `forward(z) = x` (used on assignment and at registration). */
  rightInverse?(x: Tensor): Tensor;
};

/** Options of `registerParametrization`. */
export interface RegisterOptions {
  /** Skip the dtype and shape checks (the parametrization may change them). */
  unsafe?: boolean;
}

/** Options of `removeParametrizations`. */
export interface RemoveOptions {
  /** Leave the current parametrized value in the original Parameter (default true). */
  leaveParametrized?: boolean;
}

/**
 * Replace `dst`'s data with `src`'s (sharing it), keeping `dst`'s identity,
 * as PyTorch's `Tensor.set_`: the shape may change (unsafe parametrizations).
 */
function setData(dst: Tensor, src: Tensor): void {
  if (src === dst) return;
  if (fmt(src.shape) === fmt(dst.shape) && src.dtype === dst.dtype && src.device === dst.device) {
    dst.assign(src);
    return;
  }
  // set_ may change the shape, dtype and device: rehome keeps the object and adopts all three
  dst.rehome(src);
}

/** Register `t` as a parameter or a buffer of `m`, keeping its `requiresGrad` flag. */
function registerTensor(m: Module, name: string, t: Tensor, asParameter: boolean): void {
  if (asParameter) {
    const flag = t.requiresGrad;
    m.registerParameter(name, t);
    if (t.isLeaf) t.requiresGrad = flag;
  } else {
    m.registerBuffer(name, t);
  }
}

/**
 * The `parametrizations` child of a parametrized module: one
 * `ParametrizationList` per parametrized tensor name (PyTorch's ModuleDict).
 * @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.keys() // ['weight']
 */
export class ModuleDict extends Module {
  /** The entry for `key`, or undefined. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.get('weight') */
  get(key: string): Module | undefined {
    return this._modules.get(key) ?? undefined;
  }
  /** Whether `key` is present. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.has('weight') // true */
  has(key: string): boolean {
    return this._modules.has(key);
  }
  /** Add or replace the entry `key`. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.set('weight', list); */
  set(key: string, m: Module): void {
    if (this._modules.has(key)) this._modules.set(key, m);
    else this.registerModule(key, m);
  }
  /** Remove the entry `key`. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.delete('weight'); */
  delete(key: string): void {
    this._modules.delete(key);
    Reflect.deleteProperty(this, key);
  }
  /** Names in insertion order. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.keys() // ['weight'] */
  keys(): string[] {
    return [...this._modules.keys()];
  }
  /** Number of entries. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.length // 1 */
  get length(): number {
    return this._modules.size;
  }
  /** Throws: a ModuleDict is a container; call its entries. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.get('weight')?.call() */
  forward(): Tensor {
    throw new Error('ModuleDict is not callable: call its entries');
  }
}

/**
 * The chain of parametrizations of one tensor (`module.parametrizations[name]`):
 * children `0`, `1`, ... and the original tensor as `original` (a parameter
 * or a buffer, as it was on the module).
 * @example gg.nn.utils.parametrize.parametrizationList(lin, 'weight')?.original // the stored tensor
 */
export class ParametrizationList extends Module {
  /** The unparametrized tensor (the module's original Parameter object). */
  declare original: Tensor;
  /** True when any registration in the chain passed `unsafe`. */
  unsafe: boolean;

  constructor(modules: Parametrization[], original: Tensor, asParameter: boolean, unsafe = false) {
    super();
    if (modules.length === 0) throw new Error('ParametrizationList requires one or more modules.');
    modules.forEach((m, i) => this.registerModule(String(i), m));
    this.unsafe = unsafe;
    const originalShape = original.shape;
    const originalDtype = original.dtype;
    // the chain's right inverse of the original becomes the stored value (same object)
    const value = noGrad(() => {
      let v = original;
      for (const m of [...modules].reverse()) if (m.rightInverse) v = m.rightInverse(v);
      return v;
    });
    if (value.dtype !== original.dtype) {
      throw new Error(`When \`right_inverse\` outputs one tensor, it may not change the dtype.\noriginal.dtype: ${original.dtype}\nright_inverse(original).dtype: ${value.dtype}`);
    }
    noGrad(() => setData(original, value));
    registerTensor(this, 'original', original, asParameter);
    if (!this.unsafe) {
      const z: unknown = this.call();
      if (!(z instanceof Tensor)) throw new Error(`A parametrization must return a tensor. Got ${typeName(z)}.`);
      if (z.dtype !== originalDtype) {
        throw new Error(`Registering a parametrization may not change the dtype of the tensor, unless \`unsafe\` flag is enabled.\nunparametrized dtype: ${originalDtype}\nparametrized dtype: ${z.dtype}`);
      }
      if (fmt(z.shape) !== fmt(originalShape)) {
        throw new Error(`Registering a parametrization may not change the shape of the tensor, unless \`unsafe\` flag is enabled.\nunparametrized shape: ${fmt(originalShape)}\nparametrized shape: ${fmt(z.shape)}`);
      }
    }
  }

  /** The parametrizations in order. @example list.chain[0] // the first parametrization applied */
  get chain(): Parametrization[] {
    const out: Parametrization[] = [];
    for (let i = 0; this._modules.has(String(i)); i++) out.push(this._modules.get(String(i)) as Parametrization);
    return out;
  }
  /** Number of parametrizations in the chain. @example gg.nn.utils.parametrize.parametrizationList(lin, 'weight')?.length // 1 */
  get length(): number {
    return this.chain.length;
  }
  /** Add a parametrization at the end of the chain. @example list.append(new Symmetric()); */
  append(p: Parametrization): void {
    this.registerModule(String(this.length), p);
  }

  /**
   * Store `value` so that the chain gives it back: run each `rightInverse`
   * from the last parametrization to the first, then set `original` in place.
   * @example list.rightInverse(w0); // lin.weight now gives w0 back
   */
  rightInverse(value: Tensor): void {
    noGrad(() => {
      let v = value;
      for (const m of [...this.chain].reverse()) {
        if (!m.rightInverse) throw new Error(`parametrization ${m.constructor.name} does not implement right_inverse.`);
        v = m.rightInverse(v);
      }
      if (v.dtype !== this.original.dtype) {
        throw new Error(`The tensor returned by \`right_inverse\` has dtype ${v.dtype} while \`original\` has dtype ${this.original.dtype}`);
      }
      setData(this.original, v);
    });
  }

  /** The parametrized tensor: `p_n(...p_1(original))`. @example list.call() // what lin.weight returns */
  forward(): Tensor {
    let x = this.original;
    for (const m of this.chain) x = m.call(x);
    return x;
  }
}

// ---- caching -----------------------------------------------------------------------------

let cacheDepth = 0;
let cache = new Map<Module, Map<string, Tensor>>();

function endCachedScope(): void {
  cacheDepth--;
  if (cacheDepth === 0) cache = new Map();
}

/**
 * Run `fn` with parametrized tensors computed at most once each (the first
 * access computes, later ones reuse it), as PyTorch's `with parametrize.cached():`.
 * Scopes nest; the cache is cleared when the outermost one ends (for an async
 * `fn`, when its promise settles).
 * @example gg.nn.utils.parametrize.cached(() => rnn.forward(x)); // weight computed once for all steps
 */
export function cached<T>(fn: () => T): T {
  cacheDepth++;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    endCachedScope();
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(endCachedScope) as T;
  }
  endCachedScope();
  return result;
}

// ---- registration ------------------------------------------------------------------------

/** The `parametrizations` ModuleDict of `module`, or undefined. @example gg.nn.utils.parametrize.parametrizationsOf(lin)?.keys() // ['weight'] */
export function parametrizationsOf(module: Module): ModuleDict | undefined {
  const d = module._modules.get('parametrizations');
  return d instanceof ModuleDict ? d : undefined;
}

/** The chain registered on `module[name]`, or undefined. @example gg.nn.utils.parametrize.parametrizationList(lin, 'weight')?.length // 1 */
export function parametrizationList(module: Module, name: string): ParametrizationList | undefined {
  const l = parametrizationsOf(module)?.get(name);
  return l instanceof ParametrizationList ? l : undefined;
}

/**
 * Whether `module` has any parametrization, or one on `name`.
 * @example gg.nn.utils.parametrize.isParametrized(lin, 'weight') // true after spectralNorm(lin)
 */
export function isParametrized(module: Module, name?: string): boolean {
  const d = parametrizationsOf(module);
  if (!d) return false;
  return name === undefined ? d.length > 0 : d.has(name);
}

/**
 * The module's class (PyTorch's `type_before_parametrizations`; gpugrad does not swap classes).
 * @example gg.nn.utils.parametrize.typeBeforeParametrizations(lin) === gg.nn.Linear // true
 */
export function typeBeforeParametrizations<M extends Module>(module: M): abstract new (...args: never[]) => M {
  return module.constructor as abstract new (...args: never[]) => M;
}

function injectProperty(module: Module, name: string): void {
  Object.defineProperty(module, name, {
    configurable: true,
    enumerable: true,
    get(): Tensor {
      const list = parametrizationList(module, name);
      if (!list) throw new Error(`internal: '${name}' lost its parametrization`);
      if (cacheDepth === 0) return list.call();
      let perModule = cache.get(module);
      if (!perModule) cache.set(module, (perModule = new Map()));
      let t = perModule.get(name);
      if (!t) perModule.set(name, (t = list.call()));
      return t;
    },
    set(value: Tensor): void {
      const list = parametrizationList(module, name);
      if (!list) throw new Error(`internal: '${name}' lost its parametrization`);
      list.rightInverse(value);
    },
  });
}

/**
 * Parametrize `module[name]` (a parameter, a buffer, or an already
 * parametrized name, whose chain `p` then extends).
 * @example gg.nn.utils.parametrize.registerParametrization(lin, 'weight', new Symmetric());
 */
export function registerParametrization<M extends Module>(module: M, name: string, p: Parametrization, opts: RegisterOptions = {}): M {
  const unsafe = opts.unsafe ?? false;
  p.train(module.training);
  const existing = parametrizationList(module, name);
  if (existing) {
    if (!unsafe) {
      const y = (module as unknown as Record<string, Tensor>)[name] as Tensor;
      const x = p.call(y);
      if (!(x instanceof Tensor)) throw new Error(`A parametrization must return a tensor. Got ${typeName(x)}.`);
      if (x.dtype !== y.dtype) {
        throw new Error(`Registering a parametrization may not change the dtype of the tensor, unless the \`unsafe\` flag is enabled.\nmodule.${name}.dtype: ${y.dtype}\nparametrization(module.${name}).dtype: ${x.dtype}`);
      }
      if (fmt(x.shape) !== fmt(y.shape)) {
        throw new Error(`Registering a parametrization may not change the shape of the tensor, unless the \`unsafe\` flag is enabled.\nmodule.${name}.shape: ${fmt(y.shape)}\nparametrization(module.${name}).shape: ${fmt(x.shape)}`);
      }
      if (p.rightInverse) {
        const z = noGrad(() => (p.rightInverse as (t: Tensor) => Tensor).call(p, x));
        if (z.dtype !== y.dtype) {
          throw new Error(`The tensor returned by parametrization.right_inverse must have the same dtype as module.${name}, unless the \`unsafe\` flag is enabled.\nmodule.${name}.dtype: ${y.dtype}\nreturned dtype: ${z.dtype}`);
        }
        if (fmt(z.shape) !== fmt(y.shape)) {
          throw new Error(`The tensor returned by parametrization.right_inverse must have the same shape as module.${name}, unless the \`unsafe\` flag is enabled.\nmodule.${name}.shape: ${fmt(y.shape)}\nreturned shape: ${fmt(z.shape)}`);
        }
      }
    }
    existing.append(p);
    existing.unsafe ||= unsafe;
    return module;
  }
  const isParam = module._parameters.has(name);
  const original = isParam ? module._parameters.get(name) : module._buffers.get(name);
  if (!(isParam || module._buffers.has(name)) || !original) {
    throw new Error(`Module '${String(module)}' does not have a parameter, a buffer, or a parametrized element with name '${name}'`);
  }
  const list = new ParametrizationList([p], original, isParam, unsafe);
  // delattr(module, name)
  if (isParam) module._parameters.delete(name);
  else {
    module._buffers.delete(name);
    module._nonPersistent.delete(name);
  }
  Reflect.deleteProperty(module, name);
  let dict = parametrizationsOf(module);
  if (!dict) dict = module.registerModule('parametrizations', new ModuleDict());
  dict.set(name, list);
  injectProperty(module, name);
  return module;
}

/**
 * Undo the parametrizations of `module[name]`: the original Parameter object
 * comes back under `name`, holding the current parametrized value
 * (`leaveParametrized`, default) or its unparametrized value.
 * @example gg.nn.utils.parametrize.removeParametrizations(lin, 'weight');
 */
export function removeParametrizations<M extends Module>(module: M, name: string, opts: RemoveOptions = {}): M {
  const leave = opts.leaveParametrized ?? true;
  const list = parametrizationList(module, name);
  const dict = parametrizationsOf(module);
  if (!list || !dict) throw new Error(`Module ${String(module)} does not have a parametrization on ${name}`);
  const original = list.original;
  const isParam = list._parameters.has('original');
  if (leave) {
    const t = noGrad(() => (module as unknown as Record<string, Tensor>)[name] as Tensor);
    noGrad(() => setData(original, t));
  }
  Reflect.deleteProperty(module, name);
  dict.delete(name);
  registerTensor(module, name, original, isParam);
  if (!isParametrized(module)) {
    module._modules.delete('parametrizations');
    Reflect.deleteProperty(module, 'parametrizations');
  }
  return module;
}
