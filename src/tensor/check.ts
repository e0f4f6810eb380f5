/**
 * Argument checks at the door, with PyTorch's wording
 * (`full(): argument 'fill_value' must be Number, not str`).
 *
 * Every value a user passes that ends up in kernel text or in a shape is
 * proven a JS number here, before anything runs (docs/notes/validation.md).
 * The checks look at `typeof` first and never convert: an object's
 * `valueOf`/`toString` is never called, and a message never prints a value
 * that is not a primitive.
 */

import type { Tensor } from './tensor.js';

/**
 * @internal The mark every Tensor carries (tensor.ts), so a check below
 * tensor.ts recognises a tensor without importing the class.
 */
export const tensorBrand: unique symbol = Symbol('gpugrad.Tensor');

/** Whether `v` is a Tensor (PyTorch's `torch.is_tensor`), as `instanceof Tensor` says. */
export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && tensorBrand in v;
}

/** A Tensor argument, else PyTorch's TypeError. */
export function checkTensor(fn: string, arg: string, t: unknown): Tensor {
  if (!isTensor(t)) throw argError(fn, arg, 'Tensor', t);
  return t;
}

/** A list of tensors, else PyTorch's message naming the first bad element. */
export function checkTensorList(fn: string, list: unknown): readonly Tensor[] {
  if (!Array.isArray(list)) throw argError(fn, 'tensors', 'tuple of Tensors', list);
  list.forEach((t: unknown, i) => {
    if (!isTensor(t)) throw new TypeError(`${fn}(): expected Tensor as element ${i} in argument 'tensors', but got ${typeName(t)}`);
  });
  return list as readonly Tensor[];
}

/**
 * The name of a value's type, in PyTorch's words where it has one
 * (`str`, `bool`, `float`, `list`, `None`), without running any of its code.
 * @example typeName('a') // 'str'
 */
export function typeName(v: unknown): string {
  if (v === null) return 'None';
  switch (typeof v) {
    case 'string':
      return 'str';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'bigint';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'symbol';
    case 'function':
      return 'function';
    default:
      break;
  }
  if (Array.isArray(v)) return 'list';
  if (ArrayBuffer.isView(v)) return safeConstructorName(v);
  return safeConstructorName(v);
}

/** The constructor name of an object, read without invoking getters or proxies' traps where avoidable. */
function safeConstructorName(v: object): string {
  try {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === null) return 'object';
    const desc = Object.getOwnPropertyDescriptor(proto, 'constructor');
    const ctor: unknown = desc && 'value' in desc ? desc.value : undefined;
    if (typeof ctor === 'function') {
      const nameDesc = Object.getOwnPropertyDescriptor(ctor, 'name');
      const name: unknown = nameDesc && 'value' in nameDesc ? nameDesc.value : undefined;
      if (typeof name === 'string' && name && name !== 'Object') return name;
    }
  } catch {
    // a Proxy may throw from its traps: fall through
  }
  return 'object';
}

/** `fn(): argument 'arg' must be WHAT, not TYPE` (PyTorch's TypeError wording). */
export function argError(fn: string, arg: string, what: string, v: unknown): TypeError {
  return new TypeError(`${fn ? `${fn}(): ` : ''}argument '${arg}' must be ${what}, not ${typeName(v)}`);
}

/**
 * A JS number (NaN and ±inf included), else a TypeError naming the argument.
 * @example checkNumber('full', 'fill_value', 7) // 7
 */
export function checkNumber(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number') throw argError(fn, arg, 'Number', v);
  return v;
}

/** A finite JS number, else an error naming the argument. @example checkFinite('arange', 'end', 3) // 3 */
export function checkFinite(fn: string, arg: string, v: unknown): number {
  const n = checkNumber(fn, arg, v);
  if (!Number.isFinite(n)) throw new RangeError(`${fn}(): argument '${arg}' must be a finite number, got ${n}`);
  return n;
}

/**
 * A whole JS number (safe integer), else a TypeError naming the argument.
 * @example checkInt('narrow', 'start', 1) // 1
 */
export function checkInt(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw argError(fn, arg, 'int', v);
  return v;
}

/** A whole number >= 0. @example checkNonNegInt('Linear', 'in_features', 3) // 3 */
export function checkNonNegInt(fn: string, arg: string, v: unknown): number {
  const n = checkInt(fn, arg, v);
  if (n < 0) throw new RangeError(`${fn}(): argument '${arg}' must be non-negative, got ${n}`);
  return n;
}

/** A whole number >= 1. @example checkPosInt('Conv2d', 'stride', 1) // 1 */
export function checkPosInt(fn: string, arg: string, v: unknown): number {
  const n = checkInt(fn, arg, v);
  if (n < 1) throw new RangeError(`${fn}(): argument '${arg}' must be positive, got ${n}`);
  return n;
}

/** A boolean. @example checkBool('sum', 'keepdim', false) // false */
export function checkBool(fn: string, arg: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw argError(fn, arg, 'bool', v);
  return v;
}

/**
 * A list of whole numbers (PyTorch's `tuple of ints`); the message names the
 * position of the first bad element, as PyTorch does.
 * @example checkIntList('zeros', 'size', [2, 3]) // [2, 3]
 */
export function checkIntList(fn: string, arg: string, v: unknown): number[] {
  if (!Array.isArray(v)) throw argError(fn, arg, 'tuple of ints', v);
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isSafeInteger(x)) {
      throw new TypeError(`${fn ? `${fn}(): ` : ''}argument '${arg}' must be tuple of ints, but found element of type ${typeName(x)} at pos ${i}`);
    }
    out.push(x);
  }
  return out;
}

/**
 * A tensor size: whole numbers >= 0 (PyTorch's message for a negative one).
 * @example checkSize('zeros', 'size', [2, 3]) // [2, 3]
 */
export function checkSize(fn: string, arg: string, v: unknown): number[] {
  const s = checkIntList(fn, arg, v);
  for (const n of s) {
    if (n < 0) throw new RangeError(`Trying to create tensor with negative dimension ${n}: [${s.join(', ')}]`);
  }
  return s;
}

/** A dim argument: one int, a list of ints, or null/undefined (all). @example checkDims('sum', 'dim', 1) */
export function checkDims(fn: string, arg: string, v: unknown): number | number[] | null | undefined {
  if (v === undefined || v === null) return v;
  if (typeof v === 'number') return checkInt(fn, arg, v);
  if (Array.isArray(v)) return checkIntList(fn, arg, v);
  throw argError(fn, arg, 'int or tuple of ints', v);
}

/** Largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A number that fits the dtype: a finite float64 beyond float32's range
 * is refused for float32 (PyTorch: `value cannot be converted to type float
 * without overflow`); ±inf and NaN pass.
 * @example checkFits('float32', 1e39) // throws
 */
export function checkFits(dtype: string, v: number): number {
  if (dtype === 'float32' && Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX) {
    throw new RangeError(`value cannot be converted to type float without overflow: ${v}`);
  }
  if (dtype === 'int32' || dtype === 'int64') return checkIntFits(dtype, v);
  return v;
}

/**
 * A number as an integer dtype holds it: truncated toward zero (PyTorch's
 * conversion), refused when out of range (PyTorch: `value cannot be
 * converted to type int without overflow`) or, for int64, beyond 2^53,
 * where gpugrad's int64 would round (docs/notes/dtypes.md#refused-not-rounded).
 * @example checkIntFits('int64', 2.7) // 2
 */
export function checkIntFits(dtype: 'int32' | 'int64', v: number): number {
  const t = Math.trunc(v);
  if (dtype === 'int32' && !(t >= -(2 ** 31) && t < 2 ** 31)) throw new RangeError(`value cannot be converted to type int without overflow: ${v}`);
  if (dtype === 'int64' && !(Math.abs(t) <= 2 ** 53)) {
    throw new RangeError(
      Number.isFinite(v) && Math.abs(t) < 2 ** 63
        ? `int64 value ${v} is beyond 2^53 (9007199254740992): gpugrad's int64 is exact only up to 2^53 and refuses it rather than round it (docs/notes/dtypes.md)`
        : `value cannot be converted to type int64_t without overflow: ${v}`,
    );
  }
  return t === 0 ? 0 : t;
}

/**
 * An options object (or undefined), never a primitive; with `allowed`, every
 * key holding a value must be one of them, else Python's TypeError for an
 * unexpected keyword (`var() got an unexpected keyword argument 'correction'`),
 * with a hint when the key is the snake_case of a known one
 * (`(did you mean 'labelSmoothing'?)`). Why: a misspelt option was silently
 * ignored and gave a wrong value (docs/notes/validation.md). Keys holding
 * `undefined` pass (spread objects).
 * @throws TypeError when `v` is no options object or has an unknown key
 * @example checkOptions('mse_loss', opts, ['reduction'])
 */
export function checkOptions<T extends object>(fn: string, v: T | undefined, allowed?: readonly string[]): T | Record<string, never> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw argError(fn, 'options', 'an options object', v);
  if (allowed) checkOptionKeys(fn, v, allowed);
  return v;
}

/** The camelCase form of a snake_case name (`label_smoothing` → `labelSmoothing`). */
function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Every own key of `v` holding a value is in `allowed`, else Python's unexpected-keyword TypeError. */
function checkOptionKeys(fn: string, v: object, allowed: readonly string[]): void {
  for (const key of Object.keys(v)) {
    if (allowed.includes(key)) continue;
    const desc = Object.getOwnPropertyDescriptor(v, key);
    if (desc && 'value' in desc && desc.value === undefined) continue;
    const camel = camelCase(key);
    const hint = camel !== key && allowed.includes(camel) ? ` (did you mean '${camel}'?)` : '';
    throw new TypeError(`${fn}() got an unexpected keyword argument '${key}'${hint}`);
  }
}

const warned = new Set<string>();

/**
 * A UserWarning, once per distinct message (Python's default warnings filter):
 * through `process.emitWarning` in Node, `console.warn` elsewhere.
 * @example warnOnce('Using a target size ([3]) that is different to the input size ([2, 3]). ...')
 */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  const proc = (globalThis as { process?: { emitWarning?: (m: string, type: string) => void } }).process;
  if (proc?.emitWarning) proc.emitWarning(message, 'UserWarning');
  else console.warn(`UserWarning: ${message}`);
}

/** A float argument (any JS number), else PyTorch's `must be float, not str`. @example checkFloat('cross_entropy', 'label_smoothing', 0.1) */
export function checkFloat(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number') throw argError(fn, arg, 'float', v);
  return v;
}

/** An optional Tensor option: undefined and null give null, else it must be a Tensor. @example checkOptionalTensor('nll_loss', 'weight', undefined) // null */
export function checkOptionalTensor(fn: string, arg: string, v: unknown): Tensor | null {
  if (v === undefined || v === null) return null;
  return checkTensor(fn, arg, v);
}

/** An optional boolean option with its default. @example checkOptionalBool('max_pool2d', 'ceil_mode', undefined, false) // false */
export function checkOptionalBool(fn: string, arg: string, v: unknown, dflt: boolean): boolean {
  return v === undefined ? dflt : checkBool(fn, arg, v);
}

/**
 * A loss's `reduction`: 'mean', 'sum' or 'none', else PyTorch's ValueError
 * wording (`bogus is not a valid value for reduction`); a value that is no
 * primitive is named by its type, never converted.
 * @example checkReduction('sum') // 'sum'
 */
export function checkReduction(v: unknown): 'mean' | 'sum' | 'none' {
  if (v === undefined) return 'mean';
  if (v === 'mean' || v === 'sum' || v === 'none') return v;
  const shown = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeName(v);
  throw new Error(`${shown} is not a valid value for reduction`);
}
