/**
 * Lazy modules: one mechanism for every module whose parameters are
 * created from its first input (LazyLinear, LazyConv*), after PyTorch's
 * `torch.nn.modules.lazy.LazyModuleMixin`.
 *
 * - A lazy class implements `LazyModuleMixin`: `hasUninitializedParams()`,
 *   `initializeParameters(...inputs)` (creates the missing parameters from
 *   the inputs, returns their names) and `clsToBecome`, the eager class it
 *   turns into (or null to stay as it is).
 * - Its base class's constructor asks `isLazyModule(this)`: a lazy instance
 *   registers empty (null) slots and calls `lazyModuleInit(this)`, which adds
 *   the forward pre-hook that runs `inferParameters` before the first forward
 *   (PyTorch's `_infer_parameters`, removed after it ran).
 * - `materialized(module, names)` is the one exit, whichever way the
 *   parameters came (first forward, or a `loadStateDict` into the
 *   unmaterialised module): the module becomes `clsToBecome` (its prototype
 *   is swapped, as PyTorch assigns `__class__`) and the `onMaterialize` hooks
 *   run, before the forward that materialised it uses the new parameters.
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/grad-mode.js';
import type { FactoryOptions, Module } from './module.js';

/** A module class (what `clsToBecome` names). */
export type ModuleClass = abstract new (...args: never[]) => Module;

/** A module whose parameters are created on first use (LazyLinear, LazyConv*). */
export interface LazyModule {
  /** Whether a parameter still waits for the first forward (or a state dict). */
  hasUninitializedParams(): boolean;
}

/**
 * What a lazy class implements (PyTorch's `LazyModuleMixin`); the functions
 * of this file do the rest.
 */
export interface LazyModuleMixin extends LazyModule {
  /** The eager class the module becomes once materialised (PyTorch's `cls_to_become`); null: it keeps its class. */
  readonly clsToBecome: ModuleClass | null;
  /** Create the uninitialised parameters from the first forward's inputs; returns the names created. Runs without grad. */
  initializeParameters(...inputs: Tensor[]): string[];
}

/**
 * Whether `m` is a lazy module that has not become its eager class yet
 * (an instance of a class implementing `LazyModuleMixin`).
 * @example gg.nn.isLazyModule(new gg.nn.LazyLinear(3)) // true
 */
export function isLazyModule(m: Module): m is Module & LazyModuleMixin {
  const lazy = m as Partial<LazyModuleMixin>;
  return 'clsToBecome' in m && typeof lazy.hasUninitializedParams === 'function' && typeof lazy.initializeParameters === 'function';
}

// ---- materialisation hooks --------------------------------------------------------------

/** Called with the module and the names of the parameters it just created. */
export type MaterializeHook = (module: Module, names: string[]) => void;

/** Hooks run after any lazy module materialises (after its own hooks). */
export const lazyMaterializeHooks = new Set<MaterializeHook>();
const instanceHooks = new WeakMap<Module, MaterializeHook[]>();

/**
 * Run `fn(module, names)` once `module`'s lazy parameters are created, before
 * the forward that created them uses them. Runs at once if `module` has no
 * uninitialised parameters.
 * @example gg.nn.onMaterialize(lazy, (m) => console.log(m.weight.shape));
 */
export function onMaterialize(module: Module, fn: MaterializeHook): { remove(): void } {
  if (!isLazyModule(module) || !module.hasUninitializedParams()) {
    fn(module, [...module._parameters.keys()]);
    return { remove: () => undefined };
  }
  const list = instanceHooks.get(module) ?? [];
  list.push(fn);
  instanceHooks.set(module, list);
  return { remove: () => void list.splice(list.indexOf(fn) >>> 0, 1) };
}

/** @internal run the hooks waiting for `module` (each once), then the global ones. */
export function notifyMaterialized(module: Module, names: string[]): void {
  const list = instanceHooks.get(module) ?? [];
  instanceHooks.delete(module);
  for (const fn of list) fn(module, names);
  for (const fn of lazyMaterializeHooks) fn(module, names);
}

// ---- the mechanism ----------------------------------------------------------------------

/**
 * @internal Called by the base class constructor of a lazy instance: the
 * parameters `names` are registered empty (null), and the forward pre-hook
 * that creates them from the first input is added (removed once it ran).
 */
export function lazyModuleInit(module: Module & LazyModuleMixin, names: readonly string[]): void {
  for (const name of names) module.registerParameter(name, null);
  const handle = module.registerForwardPreHook((_m, inputs) => {
    handle.remove();
    inferParameters(module, inputs);
  });
}

/**
 * @internal Create a lazy module's missing parameters from `inputs`, then
 * `materialized`. Does nothing for a module that is not lazy or already has
 * them (a forward calls it too, for a forward run without `call`).
 */
export function inferParameters(module: Module, inputs: readonly Tensor[]): void {
  if (!isLazyModule(module) || !module.hasUninitializedParams()) return;
  const names = noGrad(() => module.initializeParameters(...inputs));
  materialized(module, names);
}

/**
 * @internal The one exit of a lazy module: it becomes `clsToBecome` and the
 * materialise hooks run with the names of the parameters just created.
 */
export function materialized(module: Module & LazyModuleMixin, names: string[]): void {
  const eager = module.clsToBecome;
  if (eager) Object.setPrototypeOf(module, eager.prototype);
  notifyMaterialized(module, names);
}

/**
 * @internal The factory options after `module.to(target)` on a module that
 * has not created its parameters yet: they will be created with that dtype
 * or on that device.
 */
export function factoryAfterTo(factory: FactoryOptions, target: string): FactoryOptions {
  return target === 'float32' || target === 'float64' ? { ...factory, dtype: target } : { ...factory, device: target };
}
