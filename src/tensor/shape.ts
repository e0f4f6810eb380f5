/**
 * Shapes, strides and broadcasting, and the checks of shape arguments
 * (expand, permute, narrow, matmul): pure functions over number arrays.
 */
import { argError, checkIntList } from './check.js';

export type Shape = readonly number[];

/** A shape given as numbers or as one array: `reshape(2, 3)` or `reshape([2, 3])`. */
export type ShapeArgs = (number | readonly number[])[];

/** The shape `ShapeArgs` stand for. */
export function shapeOf(args: ShapeArgs): number[] {
  const first = args[0];
  return args.length === 1 && Array.isArray(first) ? [...(first as readonly number[])] : (args as number[]);
}

/** A dim argument: one dim, several, or all (undefined/null). */
export type Dims = number | readonly number[] | null | undefined;

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: Shape): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Row-major strides of a contiguous tensor. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = step;
    step *= shape[d] ?? 1;
  }
  return strides;
}

/** Whether (shape, strides, offset) covers a buffer densely in row-major order from 0. */
export function isContiguousLayout(shape: Shape, strides: Shape, offset: number): boolean {
  if (offset !== 0) return false;
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] ?? 1;
    if (n !== 1 && strides[d] !== expect) return false;
    expect *= n;
  }
  return true;
}

/** Format a shape as PyTorch prints it: `[2, 3]`. */
/** Whether two shapes are equal (what comparing their `fmt` texts said, without building them: a hot check). */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/**
 * NumPy/PyTorch broadcasting of two shapes, aligned at the right.
 * @example broadcastShapes([3, 1], [1, 4]) // [3, 4]
 */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`The size of tensor a (${da}) must match the size of tensor b (${db}) at non-singleton dimension ${i}`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if expanded to `target` (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, strides: Shape, target: Shape): number[] {
  const lead = target.length - shape.length;
  return target.map((_, i) => {
    if (i < lead) return 0;
    const n = shape[i - lead] ?? 1;
    return n === 1 ? 0 : (strides[i - lead] ?? 0);
  });
}

/**
 * Normalise a possibly negative dim against a rank, PyTorch's way
 * (a scalar accepts -1 and 0).
 */
export function normDim(dim: number, rank: number, fn = ''): number {
  const r = Math.max(rank, 1);
  // NOTE: the type first, so an object's valueOf never runs (docs/notes/validation.md)
  if (typeof dim !== 'number' || !Number.isSafeInteger(dim)) throw argError(fn, 'dim', 'int', dim);
  if (dim < -r || dim >= r) {
    throw new Error(`Dimension out of range (expected to be in range of [${-r}, ${r - 1}], but got ${dim})`);
  }
  return dim < 0 ? dim + r : dim;
}

/** Normalise a dim list (undefined/null = all dims); duplicates are an error. */
export function normDims(dims: Dims, rank: number, fn = ''): number[] {
  if (dims !== undefined && dims !== null && typeof dims !== 'number') checkIntList(fn, 'dim', dims);
  // NOTE: an empty list means every dim, as PyTorch 1.13 reads `x.sum([])`
  if (dims === undefined || dims === null || (typeof dims !== 'number' && dims.length === 0)) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = list.map((d) => normDim(d, rank, fn)).filter((d) => d < rank || rank > 0);
  const seen = new Set<number>();
  for (const d of out) {
    if (seen.has(d)) throw new Error(`dim ${d} appears multiple times in the list of dims`);
    seen.add(d);
  }
  return out.filter((d) => d < rank).sort((x, y) => x - y);
}

/** Resolve one -1 in a requested shape; checks the element count. */
export function inferShape(requested: Shape, total: number, fn = 'reshape'): number[] {
  checkIntList(fn, 'shape', requested);
  const free = requested.filter((s) => s === -1).length;
  if (free > 1) throw new Error('only one dimension can be inferred');
  const known = requested.reduce((a, s) => (s === -1 ? a : a * s), 1);
  for (const s of requested) {
    if (!Number.isInteger(s) || s < -1) throw new Error(`invalid shape dimension ${s}`);
  }
  if (free === 1) {
    if (known === 0 || total % known !== 0) {
      throw new Error(`shape '${fmt(requested)}' is invalid for input of size ${total}`);
    }
    return requested.map((s) => (s === -1 ? total / known : s));
  }
  if (known !== total) throw new Error(`shape '${fmt(requested)}' is invalid for input of size ${total}`);
  return [...requested];
}

/** Check a shape given by a user: non-negative integers. */
export function checkShape(shape: Shape): number[] {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new Error(`Trying to create tensor with negative dimension ${s}: ${fmt(shape)}`);
  }
  return [...shape];
}

/** The dims of a permutation of `rank` dims, normalised; throws PyTorch's errors. */
export function permutation(dims: readonly number[], rank: number): number[] {
  if (dims.length !== rank) {
    throw new Error(`permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = ${rank} is not equal to len(dims) = ${dims.length}`);
  }
  const norm = dims.map((d) => normDim(d, rank));
  if (new Set(norm).size !== norm.length) throw new Error('permute(): duplicate dims are not allowed.');
  return norm;
}

/** The shape `expand(...target)` gives a tensor of `shape` (-1 keeps a dim); throws PyTorch's errors. */
export function expandedShape(shape: Shape, target: Shape): number[] {
  if (target.length < shape.length) {
    throw new Error(`expand(torch.FloatTensor{${fmt(shape)}}, size=${fmt(target)}): the number of sizes provided (${target.length}) must be greater or equal to the number of dimensions in the tensor (${shape.length})`);
  }
  const lead = target.length - shape.length;
  return target.map((s, i) => {
    if (i < lead && s === -1) {
      throw new Error(`The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension ${i}`);
    }
    const own = i >= lead ? (shape[i - lead] ?? 1) : 1;
    const want = s === -1 ? own : s;
    if (own !== want && own !== 1) {
      throw new Error(`The expanded size of the tensor (${want}) must match the existing size (${own}) at non-singleton dimension ${i}.  Target sizes: ${fmt(target)}.  Tensor sizes: ${fmt(shape)}`);
    }
    return want;
  });
}

/** The start of `narrow(dim, start, length)` on `shape` (negative counts from the end); throws PyTorch's errors. */
export function narrowStart(shape: Shape, dim: number, start: number, length: number): number {
  const n = shape[dim] ?? 1;
  const s = start < 0 ? start + n : start;
  if (s < 0 || s > n) throw new Error(`start (${start}) is out of bounds for dimension ${dim} of size ${n}`);
  if (length < 0 || s + length > n) throw new Error(`start (${s}) + length (${length}) exceeds dimension size (${n}).`);
  return s;
}

/** Check that matrices of shapes `a` (..., m, k) and `b` (..., k, n) can be multiplied. */
export function checkMatmul(a: Shape, b: Shape): void {
  const k1 = a[a.length - 1];
  const k2 = b[b.length - 2];
  if (k1 !== k2) {
    const sa = `${a.slice(0, -1).reduce((x, y) => x * y, 1)}x${k1}`;
    const sb = `${k2}x${b[b.length - 1]}`;
    throw new Error(`mat1 and mat2 shapes cannot be multiplied (${sa} and ${sb})`);
  }
}
