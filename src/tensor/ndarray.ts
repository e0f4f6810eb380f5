/**
 * ndarray interop: scijs `ndarray` views read into row-major host data (for
 * `gg.tensor`), and read-back buffers wrapped as ndarrays (for `t.ndarray()`).
 *
 * An ndarray is a flat `data` array seen through `shape`, `stride` (in
 * elements, negative for a reversed dim) and `offset`: element (i0, i1, ...)
 * is `data[offset + i0·stride[0] + i1·stride[1] + ...]`. Transposed, sliced
 * (`lo`/`hi`), stepped (`step`, negative steps included) and picked views
 * differ only in those three, so reading through them covers every view.
 * (`ndarray` 1.1 has no `.T`, whatever @types/ndarray says: use `transpose(1, 0)`.)
 * Plain host work: nothing here reaches a kernel.
 */
import ndarrayFactory from 'ndarray';
import type { HostArray } from '../backend/types.js';
import { typeName } from './check.js';

/**
 * What gpugrad reads from an ndarray: any object with these four fields is
 * accepted by `gg.tensor` (scijs `ndarray` objects are).
 */
export interface NdArrayLike {
  /** The flat storage: a numeric typed array, an array of numbers, or an object with `get(i)` and `length`. */
  readonly data: ArrayLike<number> | { get(i: number): number; readonly length: number };
  readonly shape: readonly number[];
  /** Elements (not bytes) between neighbours along each dim; negative for a reversed dim. */
  readonly stride: readonly number[];
  readonly offset: number;
}

/** The `dtype` name scijs gives a typed array. */
export type NdDataType<D> = D extends Float64Array ? 'float64' : D extends Float32Array ? 'float32' : string;

/**
 * A scijs ndarray over a typed array, as `ndarray(data, shape)` returns it
 * (the fields and methods of the `ndarray` package's objects; declared here
 * so that gpugrad's types need no `@types/ndarray`).
 */
export interface NdArray<D extends HostArray = HostArray> extends NdArrayLike {
  data: D;
  shape: number[];
  stride: number[];
  offset: number;
  /** `'float32'` or `'float64'` for gpugrad's buffers. */
  dtype: NdDataType<D>;
  /** Number of elements. */
  size: number;
  /** Dims ordered from the smallest stride to the largest. */
  order: number[];
  /** Number of dims. */
  dimension: number;
  /** The element at an index (one number per dim). */
  get(...index: number[]): number;
  /** Write the last argument at the index given by the others; returns it. */
  set(...indexAndValue: number[]): number;
  /** Position in `data` of an index. */
  index(...index: number[]): number;
  /** The view from this index on (PyTorch's `x[i:, j:]`). */
  lo(...index: number[]): NdArray<D>;
  /** The view of the first `n` along each dim (PyTorch's `x[:n, :m]`). */
  hi(...sizes: number[]): NdArray<D>;
  /** Every k-th element along each dim; negative k reverses it. */
  step(...steps: number[]): NdArray<D>;
  /** The dims reordered (`transpose(1, 0)`: a matrix's transpose). */
  transpose(...dims: number[]): NdArray<D>;
  /** Fix the dims given a number, keep those given null (PyTorch's `x[i, :]`). */
  pick(...index: (number | null | undefined)[]): NdArray<D>;
}

/**
 * Whether `v` looks like an ndarray: a non-array object with `data`, and
 * `shape` and `stride` arrays (a plain array or typed array never does).
 */
export function isNdArrayLike(v: unknown): v is NdArrayLike {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const o = v as Record<string, unknown>;
  return 'data' in o && Array.isArray(o['shape']) && Array.isArray(o['stride']);
}

/** A whole JS number (typeof first: no object's valueOf runs), else a TypeError naming the field. */
function wholeNumber(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`tensor(): the ndarray's ${what} must be a whole number, got ${typeName(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
  return v;
}

/**
 * Read an ndarray view into a new row-major array (`out` from `alloc`),
 * honouring its shape, strides and offset.
 * @throws TypeError for a malformed view (shape, stride or offset not whole
 *   numbers, a negative size, stride and shape of different lengths, data
 *   that is not numeric, a non-number element) and RangeError for a view
 *   that reaches outside its data
 * @example readNdArray(ndarray(new Float64Array([1, 2, 3, 4]), [2, 2]).transpose(1, 0), (n) => new Float32Array(n)) // shape [2, 2], data [1, 3, 2, 4]
 */
export function readNdArray<A extends HostArray>(nd: NdArrayLike, alloc: (n: number) => A): { shape: number[]; data: A } {
  const shape = nd.shape.map((s, d) => {
    const n = wholeNumber(`shape[${d}]`, s);
    if (n < 0) throw new RangeError(`tensor(): the ndarray's shape[${d}] is negative (${n})`);
    return n;
  });
  if (nd.stride.length !== shape.length) throw new TypeError(`tensor(): the ndarray has ${shape.length} dims but ${nd.stride.length} strides`);
  const stride = nd.stride.map((s, d) => wholeNumber(`stride[${d}]`, s));
  const offset = wholeNumber('offset', nd.offset);
  const read = reader(nd.data);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = alloc(n);
  if (n === 0) return { shape, data };
  // the lowest and highest positions the view reaches must lie inside the data
  let lo = offset;
  let hi = offset;
  shape.forEach((s, d) => {
    const span = (s - 1) * (stride[d] as number);
    if (span < 0) lo += span;
    else hi += span;
  });
  if (lo < 0 || hi >= read.length) {
    throw new RangeError(`tensor(): the ndarray view (shape [${shape.join(', ')}], stride [${stride.join(', ')}], offset ${offset}) reaches positions ${lo}..${hi} of data of length ${read.length}`);
  }
  // an odometer over the index, row-major, moving the data position by the strides
  const index = new Array<number>(shape.length).fill(0);
  let pos = offset;
  for (let k = 0; k < n; k++) {
    const v = read.at(pos);
    if (typeof v !== 'number') throw new TypeError(`tensor(): the ndarray's element at [${index.join(', ')}] is ${typeName(v)}, not a number`);
    data[k] = v;
    for (let d = shape.length - 1; d >= 0; d--) {
      pos += stride[d] as number;
      if (++(index[d] as number) < (shape[d] as number)) break;
      pos -= (shape[d] as number) * (stride[d] as number);
      index[d] = 0;
    }
  }
  return { shape, data };
}

/** Element access to an ndarray's `data`, checked to be numeric storage. */
function reader(data: unknown): { length: number; at(i: number): unknown } {
  if (ArrayBuffer.isView(data)) {
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
      throw new TypeError(`tensor(): the ndarray's ${typeName(data)} data is not supported (float32/float64 only): convert it first`);
    }
    if (data instanceof DataView) throw new TypeError("tensor(): the ndarray's data must be a numeric typed array or an array, not DataView");
    const arr = data as unknown as ArrayLike<number>;
    return { length: arr.length, at: (i) => arr[i] };
  }
  if (Array.isArray(data)) return { length: data.length, at: (i) => data[i] as unknown };
  if (typeof data === 'object' && data !== null) {
    const g = data as { get?: unknown; length?: unknown };
    if (typeof g.get === 'function' && typeof g.length === 'number') {
      const get = g.get as (i: number) => unknown;
      return { length: g.length, at: (i) => get.call(data, i) };
    }
  }
  throw new TypeError(`tensor(): the ndarray's data must be a numeric typed array, an array or an object with get(i) and length, not ${typeName(data)}`);
}

/**
 * A row-major buffer of `shape` as an ndarray (no copy: the ndarray's `data`
 * is `data` itself).
 * @example wrapNdArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]).get(1, 0) // 4
 */
export function wrapNdArray<D extends HostArray>(data: D, shape: readonly number[]): NdArray<D> {
  return ndarrayFactory(data, [...shape]) as unknown as NdArray<D>;
}
