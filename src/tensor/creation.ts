/**
 * Creating tensors: from data, constants, ranges and random numbers, and the
 * default device and dtype they use. (`cat`, `stack`, `where` are
 * composites: composites.ts.)
 */
import { DTYPES, hostArray, isFloatingDtype, isIntegralDtype, type DType, type HostArray } from '../backend/types.js';
import { getDevice } from '../backend/registry.js';
import { normal, uniform } from './random.js';
import { argError, checkFits, checkInt, checkIntFits, checkNumber, checkOptions, checkSize, checkTensor, typeName } from './check.js';
import { numel } from './shape.js';
import { defaults } from './defaults.js';
import type { NestedArray } from './format.js';
import { Tensor } from './tensor.js';
import { isNdArrayLike, readNdArray, type NdArrayLike } from './ndarray.js';

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
  defaults.dtype = checkDefaultDtype(dtype);
}
/** The current default dtype. @example gg.getDefaultDtype() // 'float32' unless changed */
export function getDefaultDtype(): DType {
  return defaults.dtype;
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) {
    if (!isFloatingDtype(t.dtype)) {
      // a failed call leaves nothing behind
      t.dispose();
      throw new Error('Only Tensors of floating point and complex dtype can require gradients');
    }
    t.requiresGrad = true;
  }
  return t;
}

const DTYPE_NAMES = DTYPES.map((d) => `'${d}'`).join(', ');

/** A dtype name, checked without converting the value. */
function checkDtype(fn: string, dtype: unknown): DType {
  if (typeof dtype === 'string' && (DTYPES as readonly string[]).includes(dtype)) return dtype as DType;
  if (typeof dtype === 'string') throw new TypeError(`unsupported dtype '${dtype}': expected one of ${DTYPE_NAMES}`);
  throw argError(fn, 'dtype', DTYPE_NAMES, dtype);
}

/** The default float dtype may only be a floating point type (PyTorch: `only floating-point types are supported as the default type`). */
function checkDefaultDtype(dtype: unknown): DType {
  const d = checkDtype('setDefaultDtype', dtype);
  if (!isFloatingDtype(d)) throw new TypeError('only floating-point types are supported as the default type');
  return d;
}

/** The keys of TensorOptions (an unknown key is refused, docs/notes/validation.md). */
const TENSOR_KEYS: readonly (keyof TensorOptions)[] = ['dtype', 'device', 'requiresGrad'];

/**
 * The options' dtype and device (defaults filled in), each checked; a key
 * outside TensorOptions and `extra` is refused with Python's
 * unexpected-keyword TypeError (`zeros() got an unexpected keyword argument
 * 'requires_grad' (did you mean 'requiresGrad'?)`).
 */
function resolve(opts: TensorOptions, fn = 'tensor', inferred?: DType, extra: readonly string[] = []): { dtype: DType; device: string } {
  checkOptions(fn, opts, [...TENSOR_KEYS, ...extra]);
  const dtype = checkDtype(fn, opts.dtype ?? inferred ?? defaults.dtype);
  const device = opts.device ?? defaultDevice;
  if (typeof device !== 'string') throw argError(fn, 'device', 'str', device);
  if (opts.requiresGrad !== undefined && typeof opts.requiresGrad !== 'boolean') throw argError(fn, 'requires_grad', 'bool', opts.requiresGrad);
  return { dtype, device };
}

/** Data accepted by `tensor()`: a scijs ndarray (any view) is read with its shape, strides and offset. */
export type TensorData = number | NestedArray | readonly NestedArray[] | HostArray | Int32Array | Uint8Array | BigInt64Array | readonly number[] | NdArrayLike;

/**
 * `values` as the host array of `dtype`: an integer dtype truncates toward
 * zero and refuses what it cannot hold exactly (checkIntFits); floats are copied.
 */
function toHost(values: ArrayLike<number>, dtype: DType): HostArray {
  const out = hostArray(dtype, values.length);
  if (isIntegralDtype(dtype)) {
    const d = dtype as 'int32' | 'int64';
    for (let i = 0; i < values.length; i++) out[i] = checkIntFits(d, values[i] ?? 0);
  } else {
    out.set(values);
  }
  return out;
}

/** A BigInt64Array as numbers, each checked to be exact (|v| <= 2^53). */
function fromBigInts(data: BigInt64Array | BigUint64Array): number[] {
  return Array.from(data, (v) => {
    if (v > 2n ** 53n || v < -(2n ** 53n)) {
      throw new RangeError(`tensor(): int64 value ${v} is beyond 2^53 (9007199254740992): gpugrad's int64 is exact only up to 2^53 and refuses it rather than round it (docs/notes/dtypes.md)`);
    }
    return Number(v);
  });
}

/** The dtype PyTorch infers when none is given: int64 for whole numbers, int32 for an Int32Array, else the default float dtype. */
function inferDtype(data: unknown): DType | undefined {
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return 'int64';
  if (typeof data === 'number') return Number.isInteger(data) ? 'int64' : undefined;
  if (!Array.isArray(data)) return undefined;
  let any = false;
  let whole = true;
  const walk = (v: unknown): void => {
    if (!whole) return;
    if (Array.isArray(v)) v.forEach(walk);
    else {
      any = true;
      if (!Number.isInteger(v)) whole = false;
    }
  };
  walk(data);
  // PyTorch: torch.tensor([]) is the default float dtype
  return any && whole ? 'int64' : undefined;
}

/**
 * A tensor from a number, nested arrays, a typed array with `opts.shape`,
 * or a scijs ndarray (PyTorch's `torch.tensor(data)`: the data is copied).
 * Every element must be a JS number (no strings, booleans, null); a given
 * shape must be whole numbers >= 0 holding exactly the data.
 *
 * dtype, when not given, as PyTorch infers it: whole JS numbers give int64
 * (`gg.tensor([0, 1, 2])`, PyTorch's `torch.tensor([0, 1, 2])`), any
 * fractional or non-finite one the default float dtype; an Int32Array gives
 * int32, a BigInt64Array int64, other typed arrays and ndarrays the default
 * float dtype; a Tensor keeps its dtype. JavaScript has no float literal for
 * a whole number (PyTorch's `torch.tensor([1., 2.])`), so: whole numbers with
 * `requiresGrad: true` and no dtype give the default float dtype (only
 * floating point tensors can require gradients, so that is the only tensor
 * the call can mean), and elsewhere write `{ dtype: 'float32' }` or `.float()`
 * (docs/spec/dtypes.md#inference).
 *
 * An ndarray is read through its shape, stride and offset, so every view
 * gives the values it shows: transposed (`.transpose`), sliced
 * (`.lo`, `.hi`), stepped (`.step`, negative steps included) and picked
 * (`.pick`). The tensor has the ndarray's shape; `opts.shape`, if given,
 * must equal it.
 *
 * @throws TypeError naming the first bad element, or the bad option; for an
 *   ndarray, TypeError for malformed shape/stride/offset or non-numeric data
 *   and RangeError for a view reaching outside its data; RangeError for an
 *   integer value the dtype cannot hold exactly (int64 beyond 2^53); Error
 *   `Only Tensors of floating point and complex dtype can require gradients`
 * @example gg.tensor([[1, 2], [3, 4]], { dtype: 'float64', requiresGrad: true })
 * @example gg.tensor([0, 2, 1]).dtype // 'int64'
 * @example gg.tensor(ndarray(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]).transpose(1, 0)) // [[1, 4], [2, 5], [3, 6]]
 */
export function tensor(data: TensorData | Tensor, opts: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  let inferred = data instanceof Tensor ? data.dtype : inferDtype(data);
  // whole JS numbers that must require grad: the `torch.tensor([1., 2.], requires_grad=True)` a port means
  if (opts.requiresGrad === true && inferred === 'int64' && !ArrayBuffer.isView(data)) inferred = undefined;
  const { dtype, device } = resolve(opts, 'tensor', inferred, ['shape']);
  const given = opts.shape === undefined ? undefined : checkSize('tensor', 'shape', opts.shape);
  if (data instanceof Tensor) return finish(data.detach().to(dtype).to(device).clone(), opts);
  let shape: number[];
  let flat: HostArray;
  if (isNdArrayLike(data)) {
    // integer dtypes read through float64 first, so toHost sees (and refuses) what int32 would wrap
    ({ shape, data: flat } = readNdArray(data, (n) => (isIntegralDtype(dtype) ? new Float64Array(n) : hostArray(dtype, n))));
    if (isIntegralDtype(dtype)) flat = toHost(flat, dtype);
    if (given && given.join() !== shape.join()) throw new Error(`tensor(): shape ${JSON.stringify(given)} given for an ndarray of shape ${JSON.stringify(shape)}; reshape the tensor afterwards`);
  } else if (ArrayBuffer.isView(data)) {
    const view: unknown = data;
    if (view instanceof DataView) throw new TypeError("tensor(): argument 'data' must be a number, nested arrays or a numeric typed array, not DataView");
    const arr = view instanceof BigInt64Array || view instanceof BigUint64Array ? fromBigInts(view) : (data as unknown as ArrayLike<number>);
    shape = given ?? [arr.length];
    if (numel(shape) !== arr.length) throw new Error(`shape ${JSON.stringify(shape)} holds ${numel(shape)} values but the data has ${arr.length}`);
    flat = toHost(arr, dtype);
  } else {
    shape = inferNestedShape(data as unknown);
    const values = new Float64Array(numel(shape));
    let k = 0;
    const walk = (v: NestedArray): void => {
      if (typeof v === 'number') values[k++] = v;
      else for (const x of v) walk(x);
    };
    walk(data as NestedArray);
    flat = isIntegralDtype(dtype) ? toHost(values, dtype) : dtype === 'float64' ? values : Float32Array.from(values);
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
function filled(fn: string, shape: unknown, value: unknown, opts: TensorOptions, inferred?: DType): Tensor {
  const { dtype, device } = resolve(opts, fn, inferred);
  const s = checkSize(fn, 'size', shape);
  const v = checkFits(dtype, checkNumber(fn, 'fill_value', value));
  return finish(Tensor.filled(s, v, dtype, device), opts);
}

/**
 * The dtype `full` and `arange` infer from their numbers when none is given,
 * as PyTorch does from Python ints (torch.full([2], 3) and torch.arange(5)
 * are int64): int64 when every number is whole and within ±2^53 (the
 * integers a JS number holds exactly), else the default float dtype. Why
 * the bound: a larger whole number (1e30, 3.4e38) is a float literal in
 * practice, and gpugrad's int64 would refuse it; and -0 is a float (no
 * integer has a negative zero: `full([1], -0)` is PyTorch's `-0.`). As `tensor()`: with
 * `requiresGrad: true` whole numbers give the default float dtype, the only
 * tensor that can require gradients (docs/spec/dtypes.md#inference).
 */
function inferFromNumbers(values: readonly unknown[], opts: TensorOptions): DType | undefined {
  if (opts.requiresGrad === true) return undefined;
  return values.every((v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 2 ** 53 && !Object.is(v, -0)) ? 'int64' : undefined;
}

/**
 * A tensor of `shape` filled with `value`, computed on the device (no
 * upload); PyTorch's `torch.full`.
 *
 * dtype, when not given, as PyTorch infers it: a whole `value` gives int64
 * (`gg.full([2], 3)`, PyTorch's `torch.full([2], 3)`), a fractional or
 * non-finite one the default float dtype. JavaScript has no float literal
 * for a whole number (PyTorch's `torch.full([2], 3.)`), so ask for a float
 * with `gg.full([2], 3, { dtype: 'float32' })` (or `.float()`); with
 * `requiresGrad: true` a whole value gives the default float dtype, as
 * `gg.tensor` (docs/spec/dtypes.md#inference). PyTorch's bool fill
 * (`torch.full([2], True)`) has no gpugrad dtype and is refused.
 * @throws TypeError when `shape` is not whole numbers or `value` is not a JS
 *   number (a boolean included), or for an option key other than dtype,
 *   device, requiresGrad (`full() got an unexpected keyword argument 'k'`, as
 *   every creation function); RangeError for a negative size, a finite value
 *   beyond float32 in a float32 tensor or a value the integer dtype cannot hold
 * @example gg.full([2, 2], 7) // int64 [[7, 7], [7, 7]]
 * @example gg.full([2, 2], 0.5) // float32
 * @example gg.full([2, 2], 7, { dtype: 'float32' }) // float32 [[7, 7], [7, 7]]
 */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  return filled('full', shape, value, opts, inferFromNumbers([value], opts));
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

/** Options of `arange(end, opts)`: start and step may also go here (gpugrad's older form). */
export type ArangeOptions = TensorOptions & { start?: number; step?: number };

/**
 * Evenly spaced values in [start, end): start, start + step, ..., as
 * PyTorch's `torch.arange`, with its argument order: `arange(end)`,
 * `arange(start, end)`, `arange(start, end, step)`, each optionally followed
 * by the options (`dtype`, `device`, `requiresGrad`).
 *
 * dtype, when not given, as PyTorch infers it: int64 when start, end and
 * step are all whole numbers (`gg.arange(5)`, `gg.arange(0, 10, 2)`, as
 * `torch.arange(5)`), else the default float dtype (`gg.arange(0, 1, 0.5)`).
 * JavaScript has no float literal for a whole number (PyTorch's
 * `torch.arange(5.)`): ask for floats with `gg.arange(5, { dtype: 'float32' })`
 * (or `.float()`); with `requiresGrad: true` whole numbers give the default
 * float dtype, as `gg.tensor` (docs/spec/dtypes.md#inference).
 *
 * Shape: [ceil((end - start) / step)] (PyTorch's length rule, computed in
 * float64, so `arange(0, 1, 0.1)` has 10 values). Element i is
 * `start + i·step` computed in float64, then stored in the dtype.
 * With an integer dtype, start, end and step are first truncated toward
 * zero, as PyTorch computes integer ranges in int64:
 * `arange(0.5, 3, { dtype: 'int64' })` is [0, 1, 2] and a step of 0.5 is
 * `step must be nonzero`.
 * The form `arange(end, { start, step })` is kept.
 *
 * @throws TypeError for an argument that is not a JS number (naming it as
 *   PyTorch does: 'end' alone, else 'start', 'end', 'step'), or start/step
 *   given both as arguments and as options; RangeError with PyTorch's
 *   messages: `step must be nonzero`, `unsupported range: 0 -> inf` (a
 *   non-finite start or end), `upper bound and larger bound inconsistent
 *   with step sign`, and for more than 2^31 elements; RangeError for an
 *   integer range the dtype cannot hold exactly (int64 beyond 2^53)
 * @example gg.arange(4) // int64 [0, 1, 2, 3]
 * @example gg.arange(4, { dtype: 'float32' }) // float32 [0, 1, 2, 3]
 * @example gg.arange(2, 5) // [2, 3, 4]
 * @example gg.arange(1, 2.5, 0.5, { dtype: 'float64' }) // [1, 1.5, 2]
 * @example gg.arange(10, 0, -3) // [10, 7, 4, 1]
 */
export function arange(end: number, opts?: ArangeOptions): Tensor;
/** `arange(start, end)`: step 1. @example gg.arange(2, 5) // [2, 3, 4] */
export function arange(start: number, end: number, opts?: TensorOptions): Tensor;
/** `arange(start, end, step)`. @example gg.arange(0, 1, 0.25) // [0, 0.25, 0.5, 0.75] */
export function arange(start: number, end: number, step: number, opts?: TensorOptions): Tensor;
export function arange(...args: unknown[]): Tensor {
  // the positional numbers come first; a last argument that is a plain object is the options
  // (anything else in a number's place is refused by checkNumber, naming the argument)
  const last = args[args.length - 1];
  const hasOpts = args.length > 1 && typeof last === 'object' && last !== null && !Array.isArray(last);
  const nums = hasOpts ? args.slice(0, -1) : [...args];
  while (nums.length > 0 && nums[nums.length - 1] === undefined) nums.pop();
  if (nums.length === 0 || nums.length > 3) throw new TypeError(`arange() takes 1 to 3 numbers (end; start, end; or start, end, step) and options, got ${args.length} arguments`);
  const opts = (hasOpts ? last : {}) as ArangeOptions;
  const inferred = inferFromNumbers(nums.length === 1 ? [nums[0], opts.start ?? 0, opts.step ?? 1] : [nums[0], nums[1], nums[2] ?? 1], opts);
  const { dtype, device } = resolve(opts, 'arange', inferred, ['start', 'step']);
  let start: number;
  let end: number;
  let step: number;
  if (nums.length === 1) {
    end = checkNumber('arange', 'end', nums[0]);
    start = checkNumber('arange', 'start', opts.start ?? 0);
    step = checkNumber('arange', 'step', opts.step ?? 1);
  } else {
    if (opts.start !== undefined || opts.step !== undefined) {
      throw new TypeError('arange(): start and step are given as arguments (arange(start, end, step)); leave them out of the options');
    }
    start = checkNumber('arange', 'start', nums[0]);
    end = checkNumber('arange', 'end', nums[1]);
    step = checkNumber('arange', 'step', nums[2] ?? 1);
  }
  const { first, by, count } = arangeRange(dtype, start, end, step);
  const data = hostArray(dtype, count);
  for (let i = 0; i < count; i++) data[i] = first + i * by;
  return finish(Tensor.fromHost(data, [count], dtype, device), opts);
}

/**
 * PyTorch's arange arithmetic and checks, in its order (aten
 * RangeFactories: arange_out). For an integer dtype PyTorch computes in
 * int64: start, end and step are truncated toward zero first (so a step
 * of 0.5 is `step must be nonzero` and `arange(0.5, 3)` is [0, 1, 2]); the
 * length is counted from the truncated values for int64 and from the given
 * ones for int32, as PyTorch 1.13 does. An int64 value beyond 2^53 is
 * refused (gpugrad's int64 would round it; docs/notes/dtypes.md).
 */
function arangeRange(dtype: DType, start: number, end: number, step: number): { first: number; by: number; count: number } {
  const integral = isIntegralDtype(dtype);
  // Math.trunc(x) + 0: no -0 in an integer
  const [xstart, xend, xstep] = integral ? [start, end, step].map((v) => Math.trunc(v) + 0) as [number, number, number] : [start, end, step];
  if (!(xstep > 0 || xstep < 0)) throw new RangeError('step must be nonzero');
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new RangeError(`arange(): unsupported range: ${pyNum(start)} -> ${pyNum(end)}`);
  if (!((xstep > 0 && xend >= xstart) || (xstep < 0 && xend <= xstart))) throw new RangeError('upper bound and larger bound inconsistent with step sign');
  // Math.max: +0, not the -0 that ceil gives for an empty range with a negative step
  const count = Math.max(0, Math.ceil(dtype === 'int64' ? (xend - xstart) / xstep : (end - start) / step));
  if (count > 2 ** 31) throw new RangeError(`arange(): ${count} elements is too many`);
  if (integral) {
    const d = dtype as 'int32' | 'int64';
    // beyond 2^53 the bounds themselves are rounded (2^60 + 2 is 2^60): refused before counting on them
    checkIntFits(d, xstart);
    if (d === 'int64') checkIntFits(d, xend);
    if (count > 0) checkIntFits(d, xstart + (count - 1) * xstep);
  }
  return { first: xstart, by: xstep, count };
}

/** A number as PyTorch's C++ messages print it (inf, -inf, nan). */
function pyNum(v: number): string {
  return Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
}

function fromStream(fn: string, shape: readonly number[], draw: () => number, opts: TensorOptions, inferred?: DType): Tensor {
  const { dtype, device } = resolve(opts, fn, inferred);
  if (fn !== 'randint' && isIntegralDtype(dtype)) throw new TypeError(`"${fn}" not implemented for '${dtype === 'int64' ? 'Long' : 'Int'}'`);
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

/**
 * PyTorch's range check of randint's bounds against an integer dtype
 * (`from is out of bounds for int`, `to - 1 is out of bounds for int`);
 * int64 holds ±2^53 in gpugrad (docs/notes/dtypes.md).
 */
function checkRandintBounds(dtype: unknown, lo: number, hi: number): void {
  const range = dtype === 'int32' ? { min: -(2 ** 31), max: 2 ** 31 - 1, name: 'int' } : dtype === 'int64' ? { min: -(2 ** 53), max: 2 ** 53, name: 'long' } : null;
  if (!range) return;
  const why = dtype === 'int64' ? " (gpugrad's int64 is exact only up to 2^53; docs/notes/dtypes.md)" : '';
  if (lo < range.min || lo > range.max) throw new RangeError(`from is out of bounds for ${range.name}${why}`);
  if (hi - 1 < range.min || hi - 1 > range.max) throw new RangeError(`to - 1 is out of bounds for ${range.name}${why}`);
}

/**
 * Random integers uniform in [low, high), int64 unless `opts.dtype` says
 * otherwise (PyTorch's `torch.randint(low, high, size)`; `randint(high,
 * size)` takes low = 0). Drawn from the seeded stream (`gg.manualSeed`), so
 * the same seed gives the same numbers on every device (not PyTorch's).
 * @throws RangeError `random_ expects 'from' to be less than 'to'` when low >= high, and
 *   PyTorch's `from is out of bounds for int` / `to - 1 is out of bounds for int`
 *   for bounds outside an int32 dtype (int64: beyond 2^53); TypeError for non-integer bounds
 * @example gg.manualSeed(0); gg.randint(0, 10, [2, 3]) // int64 values in 0..9
 * @example gg.randint(3, [4]) // values in 0..2
 */
export function randint(low: number, high: number | readonly number[], size?: readonly number[] | TensorOptions, opts: TensorOptions = {}): Tensor {
  let lo: number;
  let hi: number;
  let shape: readonly number[];
  let o = opts;
  if (Array.isArray(high)) {
    // randint(high, size, opts?)
    lo = 0;
    hi = checkInt('randint', 'high', low);
    shape = high as readonly number[];
    o = (size as TensorOptions | undefined) ?? {};
  } else {
    lo = checkInt('randint', 'low', low);
    hi = checkInt('randint', 'high', high as number);
    if (!Array.isArray(size)) throw argError('randint', 'size', 'tuple of ints', size);
    shape = size as readonly number[];
  }
  if (lo >= hi) throw new RangeError(`random_ expects 'from' to be less than 'to', but got from=${lo} >= to=${hi}`);
  checkRandintBounds(o.dtype ?? 'int64', lo, hi);
  return fromStream('randint', shape, () => lo + Math.floor((hi - lo) * uniform()), o, 'int64');
}
