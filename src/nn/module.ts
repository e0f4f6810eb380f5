/**
 * `nn.Module`: parameters, buffers and children in insertion order, train and
 * eval modes, hooks, and PyTorch's `state_dict` keys.
 *
 * As in PyTorch, a parameter (`gg.nn.parameter(t)`) or a module assigned to
 * a field registers itself, whether as a class field or in the constructor
 * (a Proxy's `defineProperty` trap, see `Module`'s constructor):
 *
 * ```ts
 * class Scale extends gg.nn.Module {
 *   weight = gg.nn.parameter(gg.ones([3]));   // a parameter: in parameters(), stateDict(), .double()
 *   fc: gg.nn.Linear;
 *   constructor() { super(); this.fc = new gg.nn.Linear(3, 3); }   // a child module
 *   forward(x: gg.Tensor) { return this.fc.call(x.mul(this.weight)); }
 * }
 * ```
 *
 * Buffers are registered explicitly (`registerBuffer`), since a plain tensor
 * field is just a field, as in PyTorch. `registerParameter`/`registerModule`
 * work as before; fields they define are best declared with `declare` (a
 * plain `weight: Tensor;` field with no value is ignored over a registered one).
 *
 * NOTE: over 500 lines because Module is one class with PyTorch's whole
 * surface (registration, traversal, state dicts, hooks, modes, moves);
 * each method is short.
 */
import { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/storage.js';
import { noGrad } from '../autograd/grad-mode.js';
import { fmt } from '../tensor/shape.js';
import { typeName } from '../tensor/check.js';
import { Function as AutogradFunction, type FunctionCtx } from '../autograd/function.js';
import { DTYPES, isFloatingDtype, type DType } from '../backend/types.js';

/** PyTorch's factory arguments, taken by every module constructor. */
export interface FactoryOptions {
  dtype?: DType;
  device?: string;
}

/**
 * @internal Library layers whose forward keeps nothing of its input or output
 * (no stash on `this`, no callback into user code). Sequential frees the
 * results it passes between two such layers (README "Memory"). Exact classes
 * only: a user's subclass may keep what it sees.
 */
export const keepsNothing = new WeakSet<object>();

/** Marks buffers that hold integers (e.g. `num_batches_tracked`), saved as I64. */
export const integerTensors = new WeakSet<Tensor>();

/** Tensors made parameters (`parameter()` or `registerParameter`): what a field assignment registers. */
const parameterTensors = new WeakSet<Tensor>();

/**
 * Make `t` a parameter (PyTorch's `nn.Parameter`): a leaf that requires grad,
 * kept out of `tidy`; assigned to a Module's field, it registers there.
 * @example const w = gg.nn.parameter(gg.randn([3, 4]));
 */
export function parameter(t: Tensor, requiresGrad = true): Tensor {
  const p = t.isLeaf && !t.isDisposed ? t : t.detach();
  p.requiresGrad = requiresGrad;
  parameterTensors.add(p);
  return keep(p);
}

/**
 * True for a tensor made by `gg.nn.parameter` (or registered as a parameter).
 * @example gg.nn.isParameter(gg.nn.parameter(gg.zeros([2]))) // true
 */
export function isParameter(t: unknown): t is Tensor {
  return t instanceof Tensor && parameterTensors.has(t);
}

/**
 * The Proxy trap behind field registration. Every assignment to a module's
 * property (`this.w = v`, a class field `w = v`) ends in [[DefineOwnProperty]]
 * on the receiver, so this one trap sees them all.
 */
const registering: ProxyHandler<Module> = {
  defineProperty(target, prop, desc) {
    if (typeof prop !== 'string' || !('value' in desc) || desc.get || desc.set) return Reflect.defineProperty(target, prop, desc);
    const v: unknown = desc.value;
    const slot = Object.getOwnPropertyDescriptor(target, prop);
    const registered = target._parameters.has(prop) || target._buffers.has(prop) || target._modules.has(prop);
    if (registered && slot?.set) {
      // NOTE: a TypeScript field without a value (`weight: Tensor;` under
      // useDefineForClassFields) defines `undefined` after the base class registered it
      if (v === undefined) return true;
      slot.set.call(target, v);
      return true;
    }
    if (isParameter(v)) {
      target.registerParameter(prop, v);
      return true;
    }
    if (v instanceof Module) {
      target.registerModule(prop, v);
      return true;
    }
    return Reflect.defineProperty(target, prop, desc);
  },
};

export type ForwardPreHook = (module: Module, inputs: Tensor[]) => Tensor[] | Tensor | void;
export type ForwardHook = (module: Module, inputs: Tensor[], output: Tensor) => Tensor | void;
export type BackwardHook = (module: Module, gradInput: (Tensor | null)[], gradOutput: (Tensor | null)[]) => (Tensor | null)[] | void;

/**
 * A normalisation layer (BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm,
 * SwitchableNorm2d, SwitchNorm2d): a type marker, so that tools such as
 * `applySpectralNorm` skip them by type, not by class name.
 */
export interface NormLayer {
  readonly isNormLayer: true;
}

/**
 * Whether `m` is a normalisation layer (implements `NormLayer`).
 * @example gg.nn.isNormLayer(new gg.nn.BatchNorm2d(4)) // true
 */
export function isNormLayer(m: Module): m is Module & NormLayer {
  return (m as Partial<NormLayer>).isNormLayer === true;
}

/** One module's entry in a state dict's metadata (PyTorch's `local_metadata`). */
export interface StateDictModuleMetadata {
  /** The module class's `version` when the state dict was written. */
  version?: number;
}

/**
 * Per-module metadata that `stateDict()` attaches to its result as the
 * non-enumerable property `_metadata` (PyTorch's `state_dict._metadata`),
 * keyed by the module's prefix without the trailing dot (`''` for the root).
 */
export type StateDictMetadata = Record<string, StateDictModuleMetadata>;

/** The metadata attached to a state dict (an object or a Map), if any. */
function metadataOf(sd: object): StateDictMetadata | undefined {
  return (sd as { _metadata?: StateDictMetadata })._metadata;
}

/** Result of a non-strict `loadStateDict`. */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

let hookIds = 0;

/**
 * Base class of layers and models: it holds parameters, buffers and child
 * modules, and gives traversal, `train`/`eval`, `to`, state dicts and hooks.
 * Subclasses register their members and define `forward`.
 * @example
 * class Net extends gg.nn.Module { declare fc: gg.nn.Linear; constructor() { super(); this.registerModule('fc', new gg.nn.Linear(4, 2)); }
 *   forward(x: gg.Tensor) { return this.fc.call(x).relu(); } }
 */
export abstract class Module {
  /**
   * Version of this class's state layout, written into `stateDict()`'s
   * metadata (PyTorch's `_version`); bump it when the layout changes and
   * upgrade old state dicts in `loadFromStateDict`.
   */
  static version = 1;
  /** Whether the module is in training mode (see `train()`, `eval()`). */
  training = true;
  /** @internal */ readonly _parameters = new Map<string, Tensor | null>();
  /** @internal */ readonly _buffers = new Map<string, Tensor | null>();
  /** @internal */ readonly _nonPersistent = new Set<string>();
  /** @internal */ readonly _modules = new Map<string, Module | null>();
  private readonly preHooks = new Map<number, ForwardPreHook>();
  private readonly fwdHooks = new Map<number, ForwardHook>();
  private readonly bwdHooks = new Map<number, BackwardHook>();

  constructor() {
    // Why a Proxy: subclass fields (`weight = gg.nn.parameter(...)`) are defined
    // on the object this constructor returns, after it returns, so only a trap
    // on that object can register them, as PyTorch's __setattr__ does
    return new Proxy(this, registering);
  }

  /** The computation; call the module with `call(...)` so hooks run. @example forward(x: gg.Tensor) { return this.fc.call(x).relu(); } */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** @internal whether a call hands its inputs or output to hooks (user code). */
  hasHooks(): boolean {
    return this.preHooks.size + this.fwdHooks.size + this.bwdHooks.size > 0;
  }

  /**
   * Run the module: forward pre-hooks, `forward`, forward hooks, and the
   * wiring for full backward hooks.
   * @example const y = layer.call(x);
   */
  call(...inputs: Tensor[]): Tensor {
    let args = inputs;
    for (const h of this.preHooks.values()) {
      const r = h(this, args);
      if (r instanceof Tensor) args = [r];
      else if (Array.isArray(r)) args = r;
    }
    const state = this.bwdHooks.size ? new BackwardHookState(this, [...this.bwdHooks.values()]) : null;
    if (state) args = state.wrapInputs(args);
    let out = this.forward(...args);
    for (const h of this.fwdHooks.values()) {
      const r = h(this, args, out);
      if (r instanceof Tensor) out = r;
    }
    if (state) out = state.wrapOutput(out);
    return out;
  }

  // ---- registration ------------------------------------------------------------------

  private defineSlot(name: string, read: () => unknown, write: (v: never) => void): void {
    Object.defineProperty(this, name, { get: read, set: write, enumerable: true, configurable: true });
  }

  /**
   * Register a parameter (null: declared but absent, like `bias=False`).
   * @example this.registerParameter('weight', gg.randn([4, 3]));
   */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name, this._parameters);
    const p = t ? parameter(t, t.requiresGrad || t.isLeaf) : null;
    this._parameters.set(name, p);
    if (p) parameterTensors.add(p);
    this.defineSlot(name, () => this._parameters.get(name) ?? null, (v: Tensor | null) => this._parameters.set(name, v));
    return p;
  }

  /**
   * Register a buffer: state that is not trained (running statistics).
   * Non-persistent buffers stay out of `stateDict`.
   * @example this.registerBuffer('running_mean', gg.zeros([c]));
   */
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    this.checkName(name, this._buffers);
    if (t) keep(t);
    this._buffers.set(name, t);
    if (!persistent) this._nonPersistent.add(name);
    this.defineSlot(name, () => this._buffers.get(name) ?? null, (v: Tensor | null) => this._buffers.set(name, v ? keep(v) : v));
    return t;
  }

  /**
   * Register a child module under `name`.
   * @example this.registerModule('fc', new gg.nn.Linear(4, 2));
   */
  registerModule<M extends Module | null>(name: string, m: M): M {
    this.checkName(name, this._modules);
    this._modules.set(name, m);
    this.defineSlot(name, () => this._modules.get(name) ?? null, (v: Module | null) => this._modules.set(name, v));
    return m;
  }
  /** Same as `registerModule` (PyTorch's `add_module`). @example this.addModule('fc', new gg.nn.Linear(4, 2)); */
  addModule<M extends Module | null>(name: string, m: M): M {
    return this.registerModule(name, m);
  }

  private checkName(name: string, own: Map<string, unknown>): void {
    if (name.includes('.')) throw new Error(`module name can't contain ".", got: ${name}`);
    if (name === '') throw new Error('module name can\'t be empty string ""');
    for (const m of [this._parameters, this._buffers, this._modules]) {
      if (m !== own && m.has(name)) throw new Error(`attribute '${name}' already exists`);
    }
  }

  // ---- traversal ---------------------------------------------------------------------

  /**
   * Children with their names, in registration order.
   * @example for (const [name, child] of net.namedChildren()) console.log(name, child.constructor.name);
   */
  *namedChildren(): Generator<[string, Module]> {
    for (const [n, m] of this._modules) if (m) yield [n, m];
  }
  /** Children, in registration order. @example [...net.children()].length // 3 for a three-layer Sequential */
  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }
  /** This module and every descendant, each once, with dotted names. @example [...net.namedModules()].map(([n]) => n) // ['', '0', '1', '2'] */
  *namedModules(prefix = '', seen = new Set<Module>()): Generator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [n, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${n}` : n, seen);
  }
  /** This module and every descendant. @example for (const m of net.modules()) if (m instanceof gg.nn.Linear) m.resetParameters(); */
  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }
  /**
   * Parameters with dotted names (`0.weight`), each tensor once.
   * @example [...net.namedParameters()].map(([n]) => n) // ['0.weight', '0.bias', ...]
   */
  *namedParameters(prefix = '', recurse = true): Generator<[string, Tensor]> {
    yield* this.namedMembers((m) => m._parameters, prefix, recurse);
  }
  /** Parameters, each once. @example new gg.optim.SGD(model.parameters(), { lr: 0.1 }) */
  parameters(recurse = true): Tensor[] {
    return [...this.namedParameters('', recurse)].map(([, p]) => p);
  }
  /** Buffers with dotted names. @example for (const [name, b] of model.namedBuffers()) console.log(name, b.shape); */
  *namedBuffers(prefix = '', recurse = true): Generator<[string, Tensor]> {
    yield* this.namedMembers((m) => m._buffers, prefix, recurse);
  }
  /** Buffers, each once. @example model.buffers().length // 0 for a model without normalisation layers */
  buffers(recurse = true): Tensor[] {
    return [...this.namedBuffers('', recurse)].map(([, b]) => b);
  }
  private *namedMembers(pick: (m: Module) => Map<string, Tensor | null>, prefix: string, recurse: boolean): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods: [string, Module][] = recurse ? [...this.namedModules(prefix)] : [[prefix, this]];
    for (const [mp, m] of mods) {
      for (const [n, t] of pick(m)) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        yield [mp ? `${mp}.${n}` : n, t];
      }
    }
  }

  // ---- modes and bulk operations ------------------------------------------------------

  /**
   * Switch training mode on (or off) for this module and its descendants.
   * @example model.train(); // Dropout drops, BatchNorm uses batch statistics
   */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode: `train(false)`. @example model.eval(); // before validation or inference */
  eval(): this {
    return this.train(false);
  }
  /** Clear the gradients of every parameter (set to null, as PyTorch's default). @example model.zeroGrad(); // before the next backward */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (!p.grad) continue;
      if (setToNone) {
        p.grad.dispose();
        p.grad = null;
      } else {
        noGrad(() => (p.grad as Tensor).assign((p.grad as Tensor).mul(0)));
      }
    }
  }
  /**
   * Call `fn` on every descendant and then this module (post-order, as PyTorch).
   * @example model.apply((m) => { if (m instanceof gg.nn.Linear) gg.nn.init.zeros_(m.weight); });
   */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }
  /**
   * Move parameters and buffers to a device, or convert them to a dtype;
   * the tensor objects stay the same (optimisers keep working). As in
   * PyTorch, a dtype converts only floating point tensors: integer buffers
   * (`num_batches_tracked`) stay int64.
   * @example model.to('gpu:webasm'); model.to('float64');
   */
  to(target: string): this {
    const dtype = (DTYPES as readonly string[]).includes(target);
    if (dtype && !isFloatingDtype(target as DType)) throw new TypeError(`nn.Module.to only accepts floating point or complex dtypes, but got desired dtype=torch.${target}`);
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        if (dtype && !t.isFloatingPoint()) continue;
        const moved = t.to(target);
        if (moved !== t) {
          t.rehome(moved);
          moved.dispose();
        }
        if (t.grad) {
          const g = t.grad.to(target);
          if (g !== t.grad) t.grad = keep(g);
        }
      }
    });
    return this;
  }
  /** `to('float64')`. @example model.double(); // parameters and buffers become float64 */
  double(): this {
    return this.to('float64');
  }
  /** `to('float32')`. @example model.float(); // back to float32 */
  float(): this {
    return this.to('float32');
  }

  // ---- state -----------------------------------------------------------------------------

  /**
   * Parameters and persistent buffers under PyTorch's keys and order
   * (`weight`, `bias`, `running_mean`, ..., then children as `name.key`).
   * The tensors share data with the module. The result carries each
   * module's class `version` as the non-enumerable `_metadata` property
   * (PyTorch's `state_dict._metadata`), which `loadStateDict` reads.
   * @example Object.keys(new gg.nn.BatchNorm2d(3).stateDict())
   */
  stateDict(prefix = ''): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const meta: StateDictMetadata = {};
    this.collectState(prefix, out, meta);
    Object.defineProperty(out, '_metadata', { value: meta, enumerable: false, writable: true, configurable: true });
    return out;
  }
  private collectState(prefix: string, out: Record<string, Tensor>, meta: StateDictMetadata): void {
    meta[prefix.replace(/\.$/, '')] = { version: (this.constructor as typeof Module).version };
    for (const [n, p] of this._parameters) if (p) out[prefix + n] = p.detach();
    for (const [n, b] of this._buffers) {
      if (!b || this._nonPersistent.has(n)) continue;
      const d = b.detach();
      if (integerTensors.has(b)) integerTensors.add(d);
      out[prefix + n] = d;
    }
    for (const [n, m] of this._modules) if (m) m.collectState(`${prefix}${n}.`, out, meta);
  }

  /**
   * Copy values from a state dict. Strict mode (default) throws PyTorch's
   * message listing missing and unexpected keys; shape mismatches always throw.
   * @example model.loadStateDict(gg.io.loadSafetensors('model.safetensors'));
   */
  loadStateDict(sd: Record<string, Tensor> | Map<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    if (typeof sd !== 'object' || sd === null) throw new TypeError(`Expected state_dict to be dict-like, got ${typeName(sd)}.`);
    const strict = opts.strict ?? true;
    // a copy: the upgrade hooks may add or rename keys, and the caller's dict stays as it was
    const entries: Map<string, unknown> = new Map<string, unknown>(sd instanceof Map ? sd : Object.entries(sd));
    const metadata = metadataOf(sd);
    const own = new Map<string, [Module, string, 'p' | 'b']>();
    const visit = (m: Module, prefix: string): void => {
      m.loadFromStateDict(entries, prefix, metadata?.[prefix.replace(/\.$/, '')] ?? {});
      for (const [n] of m._parameters) own.set(prefix + n, [m, n, 'p']);
      for (const [n] of m._buffers) if (!m._nonPersistent.has(n)) own.set(prefix + n, [m, n, 'b']);
      for (const [n, c] of m._modules) if (c) visit(c, `${prefix}${n}.`);
    };
    visit(this, '');
    const missing: string[] = [];
    const errors: string[] = [];
    const plan: [Module, string, 'p' | 'b', Tensor][] = [];
    for (const [key, [m, n, kind]] of own) {
      const cur = (kind === 'p' ? m._parameters : m._buffers).get(n) ?? null;
      const src = entries.get(key);
      if (src === undefined || src === null) {
        if (cur) missing.push(key);
        continue;
      }
      // every value is checked before anything is written (a failed load changes nothing)
      const what = kind === 'p' ? 'parameter' : 'buffer';
      if (!(src instanceof Tensor)) {
        errors.push(`While copying the ${what} named "${key}", expected a Tensor from checkpoint but received ${typeName(src)}`);
        continue;
      }
      if (src.isDisposed || src.storage.freed) {
        errors.push(`While copying the ${what} named "${key}", the Tensor from checkpoint was disposed`);
        continue;
      }
      if (cur && fmt(cur.shape) !== fmt(src.shape)) {
        errors.push(`size mismatch for ${key}: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is ${fmt(cur.shape)}.`);
        continue;
      }
      if (cur && src.device !== cur.device && !src.storage.device.syncRead) {
        errors.push(
          `While copying the ${what} named "${key}", the Tensor from checkpoint is on '${src.device}', whose results arrive asynchronously: move it first with 'await t.toAsync('${cur.device}')'`,
        );
        continue;
      }
      plan.push([m, n, kind, src]);
    }
    const unexpected = [...entries.keys()].filter((k) => !own.has(k));
    if (strict) {
      if (unexpected.length) errors.unshift(`Unexpected key(s) in state_dict: ${unexpected.map((k) => `"${k}"`).join(', ')}. `);
      if (missing.length) errors.unshift(`Missing key(s) in state_dict: ${missing.map((k) => `"${k}"`).join(', ')}. `);
    }
    if (errors.length) {
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join('\n\t')}`);
    }
    // all checks passed: convert every value first (nothing written yet), then write in order
    const staged = new Map<number, Tensor>();
    try {
      noGrad(() => {
        plan.forEach(([m, n, kind, src], i) => {
          const cur = (kind === 'p' ? m._parameters : m._buffers).get(n) ?? null;
          if (cur) staged.set(i, src.to(cur.device).to(cur.dtype));
        });
      });
    } catch (e) {
      staged.forEach((v, i) => v !== plan[i]?.[3] && v.dispose());
      throw e;
    }
    noGrad(() => {
      plan.forEach(([m, n, kind, src], i) => {
        const cur = (kind === 'p' ? m._parameters : m._buffers).get(n) ?? null;
        const v = staged.get(i);
        if (v) {
          (cur as Tensor).assign(v);
          if (v !== src) v.dispose();
        } else if (cur) {
          // a slot that an earlier entry materialised (a lazy module's bias)
          cur.assign(src.to(cur.device).to(cur.dtype));
        } else {
          // absent slots (lazy modules) check their own shapes and may throw
          m.loadMissing(n, kind, src);
        }
      });
    });
    return { missingKeys: missing, unexpectedKeys: unexpected };
  }

  /**
   * Upgrade this module's entries of a state dict written by an older
   * version of the class, before `loadStateDict` checks and copies them
   * (the upgrade part of PyTorch's `_load_from_state_dict`). `state` is
   * loadStateDict's own copy, keyed with `prefix`; `localMetadata.version`
   * is the version that wrote it (absent for dicts without metadata).
   * @example
   * protected override loadFromStateDict(state: Map<string, unknown>, prefix: string, meta: gg.nn.StateDictModuleMetadata) {
   *   if ((meta.version ?? 1) < 2 && state.has(prefix + 'gamma')) state.set(prefix + 'weight', state.get(prefix + 'gamma')!);
   * }
   */
  protected loadFromStateDict(state: Map<string, unknown>, prefix: string, localMetadata: StateDictModuleMetadata): void {
    void state;
    void prefix;
    void localMetadata;
  }

  /** @internal a state entry for a slot that is null (lazy modules materialise here). */
  protected loadMissing(name: string, kind: 'p' | 'b', _src: Tensor): void {
    throw new Error(`cannot load '${name}' into ${this.constructor.name}: the ${kind === 'p' ? 'parameter' : 'buffer'} is absent (None) in this module`);
  }

  // ---- hooks -----------------------------------------------------------------------------

  /**
   * Run `fn(module, inputs)` before forward; it may return replacement inputs.
   * @example const h = model.registerForwardPreHook((m, inputs) => console.log(inputs[0]?.shape)); h.remove();
   */
  registerForwardPreHook(fn: ForwardPreHook): { remove(): void } {
    const id = hookIds++;
    this.preHooks.set(id, fn);
    return { remove: () => this.preHooks.delete(id) };
  }
  /**
   * Run `fn(module, inputs, output)` after forward; it may return a replacement output.
   * @example layer.registerForwardHook((m, inputs, out) => out.relu()); // replaces the output
   */
  registerForwardHook(fn: ForwardHook): { remove(): void } {
    const id = hookIds++;
    this.fwdHooks.set(id, fn);
    return { remove: () => this.fwdHooks.delete(id) };
  }
  /**
   * Run `fn(module, gradInput, gradOutput)` when the gradients with respect
   * to the module's inputs are computed; it may return replacement gradInput.
   * @example bn.registerFullBackwardHook((m, gin, gout) => console.log(gout[0]?.shape));
   */
  registerFullBackwardHook(fn: BackwardHook): { remove(): void } {
    const id = hookIds++;
    this.bwdHooks.set(id, fn);
    return { remove: () => this.bwdHooks.delete(id) };
  }

  // ---- printing ------------------------------------------------------------------------------

  /**
   * Extra text inside the printed form, e.g. `in_features=4, out_features=5, bias=True`.
   * @example override extraRepr() { return `dim=${this.dim}`; }
   */
  extraRepr(): string {
    return '';
  }
  /** The PyTorch-style printed form. @example console.log(net.toString()); // Sequential(\n  (0): Linear(in_features=4, ... */
  toString(): string {
    const kids = [...this.namedChildren()];
    const name = this.constructor.name;
    if (!kids.length) return `${name}(${this.extraRepr()})`;
    const lines = kids.map(([n, m]) => `  (${n}): ${m.toString().split('\n').join('\n  ')}`);
    const extra = this.extraRepr();
    return `${name}(${extra ? `\n  ${extra}` : ''}\n${lines.join('\n')}\n)`;
  }
}

/**
 * Full backward hooks: identity ops around the module's inputs and output
 * capture the gradients on both sides (as PyTorch's BackwardHookFunction).
 */
class BackwardHookState {
  private gradOutputs: (Tensor | null)[] = [];
  private nInputs = 0;
  constructor(
    private readonly module: Module,
    private readonly hooks: BackwardHook[],
  ) {}

  wrapInputs(inputs: Tensor[]): Tensor[] {
    this.nInputs = inputs.length;
    if (!inputs.some((t) => t.requiresGrad)) return inputs;
    const out = IdentityHook.apply<Tensor[]>(this, 'in', ...inputs);
    return out;
  }
  wrapOutput(out: Tensor): Tensor {
    if (!out.requiresGrad) return out;
    return IdentityHook.apply<Tensor[]>(this, 'out', out)[0] as Tensor;
  }
  /** @internal called by IdentityHook.backward. */
  onGrads(side: 'in' | 'out', grads: (Tensor | null)[]): (Tensor | null)[] {
    if (side === 'out') {
      // own handles: the engine disposes the gradients it passes once a node is done
      this.gradOutputs = grads.map((g) => (g ? g.alias() : null));
      return grads;
    }
    let gin = grads;
    for (const h of this.hooks) {
      const r = h(this.module, gin, this.gradOutputs);
      if (r) gin = r;
    }
    for (const g of this.gradOutputs) g?.dispose();
    this.gradOutputs = [];
    void this.nInputs;
    return gin;
  }
}

class IdentityHook extends AutogradFunction {
  static override forward(ctx: FunctionCtx, ...args: unknown[]): Tensor[] {
    ctx['state'] = args[0];
    ctx['side'] = args[1];
    return (args.slice(2) as Tensor[]).map((t) => t.detach());
  }
  static override backward(ctx: FunctionCtx, ...grads: Tensor[]): (Tensor | null)[] {
    const state = ctx['state'] as BackwardHookState;
    const side = ctx['side'] as 'in' | 'out';
    return [null, null, ...state.onGrads(side, grads)];
  }
}
