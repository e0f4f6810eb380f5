/** Creating tensors: from data, constants, ranges and random numbers. */
import { hostArray, type DType, type HostArray } from '../backend/types.js';
import { getDevice } from '../backend/registry.js';
import { fill } from '../backend/kernels.js';
import { normal, uniform } from './random.js';
import { checkShape, contiguousStrides, normDim, numel } from './shape.js';
import { Storage } from './storage.js';
import { Tensor, type NestedArray } from './tensor.js';

/** Options every creation function takes. */
export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

let defaultDevice = 'cpu';
let defaultDtype: DType = 'float32';

/**
 * Device used when none is given (initially `'cpu'`).
 * @example gg.setDefaultDevice('gpu:webasm');
 */
export function setDefaultDevice(name: string): void {
  getDevice(name);
  defaultDevice = name;
}
/** The current default device. @example gg.getDefaultDevice() // 'cpu' unless changed */
export function getDefaultDevice(): string {
  return defaultDevice;
}
/** dtype used when none is given (initially float32). @example gg.setDefaultDtype('float64') */
export function setDefaultDtype(dtype: DType): void {
  defaultDtype = dtype;
}
/** The current default dtype. @example gg.getDefaultDtype() // 'float32' unless changed */
export function getDefaultDtype(): DType {
  return defaultDtype;
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function resolve(opts: TensorOptions): { dtype: DType; device: string } {
  const dtype = opts.dtype ?? defaultDtype;
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`unsupported dtype '${String(dtype)}': expected 'float32' or 'float64'`);
  return { dtype, device: opts.device ?? defaultDevice };
}

/** Data accepted by `tensor()`. */
export type TensorData = number | NestedArray | readonly NestedArray[] | HostArray | Int32Array | Uint8Array | readonly number[];

/**
 * A tensor from a number, nested arrays, or a typed array with `opts.shape`.
 * @example gg.tensor([[1, 2], [3, 4]], { dtype: 'float64', requiresGrad: true })
 */
export function tensor(data: TensorData | Tensor, opts: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  const { dtype, device } = resolve(opts);
  if (data instanceof Tensor) return finish(data.detach().to(dtype).to(device).clone(), opts);
  let shape: number[];
  let flat: HostArray;
  if (ArrayBuffer.isView(data)) {
    const arr = data as unknown as ArrayLike<number>;
    shape = opts.shape ? checkShape(opts.shape) : [arr.length];
    if (numel(shape) !== arr.length) throw new Error(`shape ${JSON.stringify(shape)} holds ${numel(shape)} values but the data has ${arr.length}`);
    flat = hostArray(dtype, arr.length);
    flat.set(arr);
  } else {
    shape = inferNestedShape(data as NestedArray);
    flat = hostArray(dtype, numel(shape));
    let k = 0;
    const walk = (v: NestedArray): void => {
      if (typeof v === 'number') flat[k++] = v;
      else for (const x of v) walk(x);
    };
    walk(data as NestedArray);
    if (opts.shape) {
      if (numel(opts.shape) !== flat.length) throw new Error(`shape ${JSON.stringify(opts.shape)} does not fit ${flat.length} values`);
      shape = [...opts.shape];
    }
  }
  return finish(Tensor.fromHost(flat, shape, dtype, device), opts);
}

function inferNestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0] as NestedArray;
  }
  if (typeof cur !== 'number' && !Array.isArray(cur)) throw new Error(`tensor(): could not infer dtype of ${typeof cur}`);
  const check = (v: NestedArray, dim: number): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number') throw new Error(`tensor(): expected a number at depth ${dim}, got an array`);
      return;
    }
    if (!Array.isArray(v)) throw new Error(`tensor(): expected a sequence at depth ${dim}, got a number`);
    if (v.length !== shape[dim]) throw new Error(`expected sequence of length ${shape[dim]} at dim ${dim} (got ${v.length})`);
    for (const x of v) check(x, dim + 1);
  };
  check(data, 0);
  return shape;
}

/**
 * A tensor filled with `value`, computed on the device (no upload).
 * @example gg.full([2, 2], 7)
 */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  const { dtype, device } = resolve(opts);
  const s = checkShape(shape);
  const dev = getDevice(device);
  const buffer = dev.run(fill(numel(s), value), [], dtype);
  return finish(new Tensor(new Storage(buffer), s, contiguousStrides(s), 0, dtype), opts);
}
/** Zeros. @example gg.zeros([2, 3]) */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}
/** Ones. @example gg.ones([2, 3]) */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}
/** Zeros shaped like `t`, on its device and dtype. @example gg.zerosLike(x) */
export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return full(t.shape, 0, { dtype: t.dtype, device: t.device, ...opts });
}
/** Ones shaped like `t`. @example gg.onesLike(x, { dtype: 'float64' }) */
export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, device: t.device, ...opts });
}
/** `value` shaped like `t`. @example gg.fullLike(x, 7) */
export function fullLike(t: Tensor, value: number, opts: TensorOptions = {}): Tensor {
  return full(t.shape, value, { dtype: t.dtype, device: t.device, ...opts });
}

/**
 * 0, 1, ..., n-1 (or start .. end by step).
 * @example gg.arange(4) // [0, 1, 2, 3]
 */
export function arange(n: number, opts: TensorOptions & { start?: number; step?: number } = {}): Tensor {
  const start = opts.start ?? 0;
  const step = opts.step ?? 1;
  if (step === 0) throw new Error('step must be nonzero');
  const count = Math.max(0, Math.ceil((n - start) / step));
  const { dtype, device } = resolve(opts);
  const data = hostArray(dtype, count);
  for (let i = 0; i < count; i++) data[i] = start + i * step;
  return finish(Tensor.fromHost(data, [count], dtype, device), opts);
}

function fromStream(shape: readonly number[], draw: () => number, opts: TensorOptions): Tensor {
  const { dtype, device } = resolve(opts);
  const s = checkShape(shape);
  const data = hostArray(dtype, numel(s));
  for (let i = 0; i < data.length; i++) data[i] = draw();
  return finish(Tensor.fromHost(data, s, dtype, device), opts);
}
/** Uniform in [0, 1). @example gg.manualSeed(0); gg.rand([2, 2]) */
export function rand(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return fromStream(shape, uniform, opts);
}
/** Standard normal. @example gg.randn([3]) */
export function randn(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return fromStream(shape, normal, opts);
}
/** Uniform in [low, high). @example gg.uniform([3], -1, 1) */
export function uniformTensor(shape: readonly number[], low: number, high: number, opts: TensorOptions = {}): Tensor {
  return fromStream(shape, () => low + (high - low) * uniform(), opts);
}

/**
 * Concatenate along `dim` (each input is padded into place and the pads
 * summed, so the gradient of each input is a slice).
 * @example gg.cat([gg.ones([2]), gg.zeros([3])], 0) // [1, 1, 0, 0, 0]
 */
export function cat(list: readonly Tensor[], dim = 0): Tensor {
  const first = list[0];
  if (!first) throw new Error('torch.cat(): expected a non-empty list of Tensors');
  const d = normDim(dim, first.rank);
  list.forEach((t, i) => {
    if (t.rank !== first.rank) throw new Error(`Tensors must have same number of dimensions: got ${first.rank} and ${t.rank}`);
    t.shape.forEach((s, k) => {
      if (k !== d && s !== first.shape[k]) {
        throw new Error(`Sizes of tensors must match except in dimension ${d}. Expected size ${first.shape[k]} but got size ${s} for tensor number ${i} in the list.`);
      }
    });
  });
  const total = list.reduce((a, t) => a + (t.shape[d] ?? 0), 0);
  let at = 0;
  let out: Tensor | null = null;
  for (const t of list) {
    const n = t.shape[d] ?? 0;
    const before = t.shape.map((_, k) => (k === d ? at : 0));
    const after = t.shape.map((_, k) => (k === d ? total - at - n : 0));
    const placed = t.pad(before, after);
    out = out ? out.add(placed) : placed;
    at += n;
  }
  return out as Tensor;
}

/**
 * Stack along a new dim.
 * @example gg.stack([gg.ones([2]), gg.zeros([2])], 0).shape // [2, 2]
 */
export function stack(list: readonly Tensor[], dim = 0): Tensor {
  const first = list[0];
  if (!first) throw new Error('stack expects a non-empty TensorList');
  list.forEach((t, i) => {
    if (t.shape.join() !== first.shape.join()) {
      throw new Error(`stack expects each tensor to be equal size, but got [${first.shape.join(', ')}] at entry 0 and [${t.shape.join(', ')}] at entry ${i}`);
    }
  });
  const d = normDim(dim, first.rank + 1);
  return cat(list.map((t) => t.unsqueeze(d)), d);
}

/**
 * `a` where `condition` is non-zero, else `b` (PyTorch's `torch.where`).
 * @example gg.where(gg.tensor([1, 0]), gg.tensor([1, 2]), 0) // [1, 0]
 */
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const base = typeof a === 'number' ? (typeof b === 'number' ? condition.scalar(a) : b.scalar(a)) : a;
  return base.where(condition, b);
}
