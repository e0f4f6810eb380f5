/**
 * Creating tensors: from data, constants, ranges and random numbers, and the
 * default device and dtype they use. (`cat`, `stack`, `where` are
 * composites: composites.ts.)
 */
import { hostArray, type DType, type HostArray } from '../backend/types.js';
import { getDevice } from '../backend/registry.js';
import { normal, uniform } from './random.js';
import { argError, checkFits, checkNumber, checkOptions, checkSize, checkTensor, typeName } from './check.js';
import { numel } from './shape.js';
import { defaults } from './defaults.js';
import type { NestedArray } from './format.js';
import { Tensor } from './tensor.js';

/** Options every creation function takes. */
export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

let defaultDevice = 'cpu';

/**
 * Device used when none is given (initially `'cpu'`).
 * @example gg.setDefaultDevice('gpu:webasm');
 */
export function setDefaultDevice(name: string): void {
  if (typeof name !== 'string') throw argError('setDefaultDevice', 'device', 'str', name);
  getDevice(name);
  defaultDevice = name;
}
/** The current default device. @example gg.getDefaultDevice() // 'cpu' unless changed */
export function getDefaultDevice(): string {
  return defaultDevice;
}
/** dtype used when none is given (initially float32). @example gg.setDefaultDtype('float64') */
export function setDefaultDtype(dtype: DType): void {
  defaults.dtype = checkDtype('setDefaultDtype', dtype);
}
/** The current default dtype. @example gg.getDefaultDtype() // 'float32' unless changed */
export function getDefaultDtype(): DType {
  return defaults.dtype;
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A dtype name, checked without converting the value. */
function checkDtype(fn: string, dtype: unknown): DType {
  if (dtype === 'float32' || dtype === 'float64') return dtype;
  if (typeof dtype === 'string') throw new TypeError(`unsupported dtype '${dtype}': expected 'float32' or 'float64'`);
  throw argError(fn, 'dtype', "'float32' or 'float64'", dtype);
}

/** The options' dtype and device (defaults filled in), each checked. */
function resolve(opts: TensorOptions, fn = 'tensor'): { dtype: DType; device: string } {
  checkOptions(fn, opts);
  const dtype = checkDtype(fn, opts.dtype ?? defaults.dtype);
  const device = opts.device ?? defaultDevice;
  if (typeof device !== 'string') throw argError(fn, 'device', 'str', device);
  if (opts.requiresGrad !== undefined && typeof opts.requiresGrad !== 'boolean') throw argError(fn, 'requires_grad', 'bool', opts.requiresGrad);
  return { dtype, device };
}

/** Data accepted by `tensor()`. */
export type TensorData = number | NestedArray | readonly NestedArray[] | HostArray | Int32Array | Uint8Array | readonly number[];

/**
 * A tensor from a number, nested arrays, or a typed array with `opts.shape`.
 * Every element must be a JS number (no strings, booleans, null, BigInt); a
 * given shape must be whole numbers >= 0 holding exactly the data.
 * @throws TypeError naming the first bad element, or the bad option
 * @example gg.tensor([[1, 2], [3, 4]], { dtype: 'float64', requiresGrad: true })
 */
export function tensor(data: TensorData | Tensor, opts: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  const { dtype, device } = resolve(opts, 'tensor');
  const given = opts.shape === undefined ? undefined : checkSize('tensor', 'shape', opts.shape);
  if (data instanceof Tensor) return finish(data.detach().to(dtype).to(device).clone(), opts);
  let shape: number[];
  let flat: HostArray;
  if (ArrayBuffer.isView(data)) {
    const view: unknown = data;
    if (view instanceof BigInt64Array || view instanceof BigUint64Array) {
      throw new TypeError(`tensor(): ${typeName(view)} data is not supported (float32/float64 only): convert it first, e.g. Float64Array.from(data, Number)`);
    }
    if (view instanceof DataView) throw new TypeError("tensor(): argument 'data' must be a number, nested arrays or a numeric typed array, not DataView");
    const arr = data as unknown as ArrayLike<number>;
    shape = given ?? [arr.length];
    if (numel(shape) !== arr.length) throw new Error(`shape ${JSON.stringify(shape)} holds ${numel(shape)} values but the data has ${arr.length}`);
    flat = hostArray(dtype, arr.length);
    flat.set(arr);
  } else {
    shape = inferNestedShape(data as unknown);
    flat = hostArray(dtype, numel(shape));
    let k = 0;
    const walk = (v: NestedArray): void => {
      if (typeof v === 'number') flat[k++] = v;
      else for (const x of v) walk(x);
    };
    walk(data as NestedArray);
    if (given) {
      if (numel(given) !== flat.length) throw new Error(`shape ${JSON.stringify(given)} does not fit ${flat.length} values`);
      shape = given;
    }
  }
  return finish(Tensor.fromHost(flat, shape, dtype, device), opts);
}

/** `[i, j, ...]`: where an element sits in nested data, for messages. */
function at(path: readonly number[]): string {
  return `[${path.join(', ')}]`;
}

function inferNestedShape(data: unknown): number[] {
  const shape: number[] = [];
  let cur: unknown = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  const path: number[] = [];
  const check = (v: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (typeof v === 'number') return;
      if (Array.isArray(v)) throw new TypeError(`tensor(): argument 'data' must be nested lists of one depth: expected a number at ${at(path)} (depth ${dim}), got a list`);
      if (v === null || v === undefined) throw new TypeError(`tensor(): could not infer dtype of ${typeName(v)} at ${at(path)}: argument 'data' must hold only numbers`);
      throw new TypeError(`tensor(): invalid data type '${typeName(v)}' at ${at(path)}: argument 'data' must hold only numbers`);
    }
    if (!Array.isArray(v)) throw new TypeError(`tensor(): argument 'data' must be nested lists of one depth: expected a sequence at ${at(path)} (depth ${dim}), got ${typeName(v)}`);
    if (v.length !== shape[dim]) throw new Error(`expected sequence of length ${shape[dim]} at dim ${dim} (got ${v.length})`);
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      check(v[i], dim + 1);
      path.pop();
    }
  };
  check(data, 0);
  return shape;
}

/** `fn`'s fill: size and value checked (the value becomes a kernel literal), then one fill kernel. */
function filled(fn: string, shape: unknown, value: unknown, opts: TensorOptions): Tensor {
  const { dtype, device } = resolve(opts, fn);
  const s = checkSize(fn, 'size', shape);
  const v = checkFits(dtype, checkNumber(fn, 'fill_value', value));
  return finish(Tensor.filled(s, v, dtype, device), opts);
}

/**
 * A tensor filled with `value`, computed on the device (no upload).
 * @throws TypeError when `shape` is not whole numbers or `value` is not a JS
 *   number; RangeError for a negative size or a finite value beyond float32
 * @example gg.full([2, 2], 7)
 */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  return filled('full', shape, value, opts);
}
/** Zeros. @example gg.zeros([2, 3]) */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled('zeros', shape, 0, opts);
}
/** Ones. @example gg.ones([2, 3]) */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, opts);
}
/** Zeros shaped like `t`, on its device and dtype. @example gg.zerosLike(x) */
export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  checkTensor('zeros_like', 'input', t);
  return filled('zeros_like', t.shape, 0, { dtype: t.dtype, device: t.device, ...opts });
}
/** Ones shaped like `t`. @example gg.onesLike(x, { dtype: 'float64' }) */
export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  checkTensor('ones_like', 'input', t);
  return filled('ones_like', t.shape, 1, { dtype: t.dtype, device: t.device, ...opts });
}
/** `value` shaped like `t`. @example gg.fullLike(x, 7) */
export function fullLike(t: Tensor, value: number, opts: TensorOptions = {}): Tensor {
  checkTensor('full_like', 'input', t);
  return filled('full_like', t.shape, value, { dtype: t.dtype, device: t.device, ...opts });
}

/**
 * 0, 1, ..., n-1 (or start .. end by step).
 * @example gg.arange(4) // [0, 1, 2, 3]
 */
export function arange(n: number, opts: TensorOptions & { start?: number; step?: number } = {}): Tensor {
  const { dtype, device } = resolve(opts, 'arange');
  const end = checkNumber('arange', 'end', n);
  const start = checkNumber('arange', 'start', opts.start ?? 0);
  const step = checkNumber('arange', 'step', opts.step ?? 1);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new RangeError(`arange(): unsupported range: ${start} -> ${end}`);
  if (step === 0 || !Number.isFinite(step)) throw new RangeError(`arange(): step must be nonzero and finite, got ${step}`);
  if ((step > 0 && end < start) || (step < 0 && end > start)) throw new RangeError('arange(): upper bound and larger bound inconsistent with step sign');
  const count = Math.ceil((end - start) / step);
  if (count > 2 ** 31) throw new RangeError(`arange(): ${count} elements is too many`);
  const data = hostArray(dtype, count);
  for (let i = 0; i < count; i++) data[i] = start + i * step;
  return finish(Tensor.fromHost(data, [count], dtype, device), opts);
}

function fromStream(fn: string, shape: readonly number[], draw: () => number, opts: TensorOptions): Tensor {
  const { dtype, device } = resolve(opts, fn);
  const s = checkSize(fn, 'size', shape);
  const data = hostArray(dtype, numel(s));
  for (let i = 0; i < data.length; i++) data[i] = draw();
  return finish(Tensor.fromHost(data, s, dtype, device), opts);
}
/** Uniform in [0, 1). @example gg.manualSeed(0); gg.rand([2, 2]) */
export function rand(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return fromStream('rand', shape, uniform, opts);
}
/** Standard normal. @example gg.randn([3]) */
export function randn(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return fromStream('randn', shape, normal, opts);
}
/** Uniform in [low, high). @example gg.uniform([3], -1, 1) */
export function uniformTensor(shape: readonly number[], low: number, high: number, opts: TensorOptions = {}): Tensor {
  const lo = checkNumber('uniform', 'from', low);
  const hi = checkNumber('uniform', 'to', high);
  return fromStream('uniform', shape, () => lo + (hi - lo) * uniform(), opts);
}
