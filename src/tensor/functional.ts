/**
 * PyTorch's top-level tensor functions: `gg.exp(x)`, `gg.maximum(a, b)`,
 * `gg.matmul(a, b)`, `gg.sum(x, 1)`, `gg.softmax(x, 1)`, ..., so that code
 * written as `torch.exp(x)` ports word for word (README, "Porting from
 * PyTorch"; docs/spec/tools.md#top-level-functions).
 *
 * Each function is the Tensor method of the same name applied to its first
 * argument: the same values, gradient, node names, dtypes and errors. What
 * they add is the check of that first argument, with PyTorch's message
 * (`exp(): argument 'input' (position 1) must be Tensor, not int`, or for
 * PyTorch's overloaded functions `softmax() received an invalid combination
 * of arguments - got (int, int), but expected one of:`). Later arguments are
 * the method's (a number is accepted as the second operand wherever the
 * method takes one, as PyTorch takes a Python scalar).
 *
 * The functions are made from a table of method names (`fromMethod`), typed
 * by the method's own parameters; `max`/`min` are written out, since
 * `torch.max(a, b)` with a tensor `b` is `torch.maximum`.
 */
import type { Tensor } from './tensor.js';
import type { Dims } from './shape.js';
import { isTensor, typeName } from './check.js';

/**
 * The names of the Tensor methods that return a tensor ('exp', 'sum', ...).
 * @example const m: gg.TensorMethod = 'exp';
 */
export type TensorMethod = { [K in keyof Tensor]: Tensor[K] extends (...args: never[]) => Tensor ? K : never }[keyof Tensor];
/**
 * The parameters of the method `K`, after the tensor it is called on.
 * @example type SumArgs = gg.MethodArgs<'sum'>; // [dim?: Dims, keepdim?: boolean]
 */
export type MethodArgs<K extends TensorMethod> = Tensor[K] extends (...args: infer A) => Tensor ? A : never;
/**
 * A top-level function made from the method `K`: the tensor first, then the method's parameters.
 * @example const f: gg.TensorFunction<'exp'> = gg.exp;
 */
export type TensorFunction<K extends TensorMethod> = (input: Tensor, ...args: MethodArgs<K>) => Tensor;

/** A value's type as PyTorch's argument parser names it (None is NoneType; a missing argument too). */
function pyType(v: unknown): string {
  return v === null || v === undefined ? 'NoneType' : typeName(v);
}

/**
 * PyTorch's TypeError for a first argument that is not a tensor: the argument
 * parser's "must be Tensor" for a function with one signature, its "invalid
 * combination" (whose first line names every argument's type) for an
 * overloaded one, followed by gpugrad's signature.
 */
function notATensor(fn: string, signature: string | null, args: readonly unknown[]): TypeError {
  if (signature === null) return new TypeError(`${fn}(): argument 'input' (position 1) must be Tensor, not ${pyType(args[0])}`);
  return new TypeError(`${fn}() received an invalid combination of arguments - got (${args.map(pyType).join(', ')}), but expected one of:\n * ${signature}`);
}

/** Refuse a first argument that is not a tensor (PyTorch's message). */
function checkInput(fn: string, signature: string | null, args: readonly unknown[]): Tensor {
  const input = args[0];
  if (!isTensor(input)) throw notATensor(fn, signature, args);
  return input;
}

/**
 * The function `torch.<torchName>(input, ...args)` as `input.<method>(...args)`.
 * `signature` (gpugrad's, shown in the message) marks the functions PyTorch overloads.
 */
function fromMethod<K extends TensorMethod>(method: K, torchName: string = method, signature: string | null = null): TensorFunction<K> {
  const f = (...all: [Tensor, ...MethodArgs<K>]): Tensor => {
    const input = checkInput(torchName, signature, all);
    const fn = input[method] as unknown as (this: Tensor, ...a: MethodArgs<K>) => Tensor;
    return fn.apply(input, all.slice(1) as MethodArgs<K>);
  };
  // its own name in stack traces (`gg.exp.name` is 'exp')
  return Object.defineProperty(f, 'name', { value: method });
}

// ---- elementwise, one tensor ------------------------------------------------------------

/**
 * -x, elementwise (torch.neg). Shape and dtype of `input`.
 * @throws TypeError `neg(): argument 'input' (position 1) must be Tensor, not int` for a non-tensor
 * @example gg.neg(gg.tensor([1, -2])) // tensor([-1, 2])
 */
export const neg = fromMethod('neg');
/**
 * e^x, elementwise (torch.exp). Float tensors; shape and dtype of `input`.
 * @throws TypeError for a non-tensor `input` (PyTorch's message)
 * @example gg.exp(gg.tensor([0, 1])) // tensor([1.0000, 2.7183])
 */
export const exp = fromMethod('exp');
/**
 * Natural logarithm, elementwise (torch.log): -inf at 0, NaN below.
 * @throws TypeError for a non-tensor `input`
 * @example gg.log(gg.tensor([1, Math.E])) // tensor([0., 1.])
 */
export const log = fromMethod('log');
/**
 * Square root, elementwise (torch.sqrt).
 * @throws TypeError for a non-tensor `input`
 * @example gg.sqrt(gg.tensor([4, 9])) // tensor([2., 3.])
 */
export const sqrt = fromMethod('sqrt');
/**
 * 1/sqrt(x), elementwise (torch.rsqrt).
 * @throws TypeError for a non-tensor `input`
 * @example gg.rsqrt(gg.tensor([4])) // tensor([0.5000])
 */
export const rsqrt = fromMethod('rsqrt');
/**
 * 1/x, elementwise (torch.reciprocal).
 * @throws TypeError for a non-tensor `input`
 * @example gg.reciprocal(gg.tensor([2, 4])) // tensor([0.5000, 0.2500])
 */
export const reciprocal = fromMethod('reciprocal');
/**
 * x², elementwise (torch.square).
 * @throws TypeError for a non-tensor `input`
 * @example gg.square(gg.tensor([-3])) // tensor([9])
 */
export const square = fromMethod('square');
/**
 * |x|, elementwise (torch.abs); gradient sign(x) (0 at 0).
 * @throws TypeError for a non-tensor `input`
 * @example gg.abs(gg.tensor([-1.5, 2])) // tensor([1.5000, 2.0000])
 */
export const abs = fromMethod('abs');
/**
 * -1, 0 or 1 by the sign of x, elementwise (torch.sign); no gradient.
 * @throws TypeError for a non-tensor `input`
 * @example gg.sign(gg.tensor([-2, 0, 3])) // tensor([-1, 0, 1])
 */
export const sign = fromMethod('sign');
/**
 * Largest integer ≤ x, elementwise (torch.floor); zero gradient.
 * @throws TypeError for a non-tensor `input`
 * @example gg.floor(gg.tensor([1.5, -1.5])) // tensor([1., -2.])
 */
export const floor = fromMethod('floor');
/**
 * Smallest integer ≥ x, elementwise (torch.ceil); zero gradient.
 * @throws TypeError for a non-tensor `input`
 * @example gg.ceil(gg.tensor([1.5, -1.5])) // tensor([2., -1.])
 */
export const ceil = fromMethod('ceil');
/**
 * Round half to even, elementwise (torch.round; `{ decimals }` is PyTorch's keyword); zero gradient.
 * @throws TypeError for a non-tensor `input`, or the method's for a bad `decimals`
 * @example gg.round(gg.tensor([0.5, 1.5, 2.567]), { decimals: 0 }) // tensor([0., 2., 3.])
 */
export const round = fromMethod('round');
/**
 * max(x, 0), keeping -0 and NaN, elementwise (torch.relu).
 * @throws TypeError for a non-tensor `input`
 * @example gg.relu(gg.tensor([-1, 2])) // tensor([0, 2])
 */
export const relu = fromMethod('relu');
/**
 * 1/(1 + e^-x), elementwise (torch.sigmoid).
 * @throws TypeError for a non-tensor `input`
 * @example gg.sigmoid(gg.tensor([0])) // tensor([0.5000])
 */
export const sigmoid = fromMethod('sigmoid');
/**
 * Hyperbolic tangent, elementwise (torch.tanh).
 * @throws TypeError for a non-tensor `input`
 * @example gg.tanh(gg.tensor([0])) // tensor([0.])
 */
export const tanh = fromMethod('tanh');
/**
 * A copy that stays in the graph (torch.clone): its gradient passes through.
 * @throws TypeError for a non-tensor `input`
 * @example const y = gg.clone(x);
 */
export const clone = fromMethod('clone');
/**
 * The same data cut from the graph (torch.detach): `requiresGrad` false.
 * @throws TypeError for a non-tensor `input`
 * @example const y = gg.detach(x.mul(2));
 */
export const detach = fromMethod('detach');

// ---- elementwise, two operands (broadcast as NumPy; a number as the second) ----------------

/**
 * input + alpha·other, broadcast (torch.add); `other` a tensor or a number; `{ alpha }` as PyTorch's keyword.
 * Dtype by PyTorch's promotion.
 * @throws TypeError `add(): argument 'input' (position 1) must be Tensor, not str` for a non-tensor
 *   `input` (a number first is refused: PyTorch's `torch.add(1, t)` is `gg.add(t, 1)`); the
 *   method's errors for shapes that do not broadcast
 * @example gg.add(gg.tensor([1, 2]), 1) // tensor([2, 3])
 */
export const add = fromMethod('add');
/**
 * input - alpha·other, broadcast (torch.sub); see `rsub` for other - input.
 * @throws TypeError for a non-tensor `input`
 * @example gg.sub(gg.tensor([1, 2]), gg.tensor([1, 1]), { alpha: 2 }) // tensor([-1, 0])
 */
export const sub = fromMethod('sub');
/**
 * input · other, broadcast (torch.mul).
 * @throws TypeError for a non-tensor `input`
 * @example gg.mul(gg.tensor([1, 2]), 3) // tensor([3, 6])
 */
export const mul = fromMethod('mul');
/**
 * input / other, broadcast, true division (torch.div).
 * @throws TypeError for a non-tensor `input`
 * @example gg.div(gg.tensor([1, 2]), 4) // tensor([0.2500, 0.5000])
 */
export const div = fromMethod('div');
/**
 * input^exponent, broadcast (torch.pow); `exponent` a tensor or a number.
 * @throws TypeError `pow() received an invalid combination of arguments - got (int, float), ...` for a
 *   non-tensor `input` (PyTorch overloads pow)
 * @example gg.pow(gg.tensor([2, 3]), 2) // tensor([4, 9])
 */
export const pow = fromMethod('pow', 'pow', '(Tensor input, Tensor | number exponent)');
/**
 * The larger of two values, elementwise and broadcast (torch.maximum): NaN if either is NaN, the
 * first operand on a tie of +0 and -0; a tie splits the gradient in half.
 * @throws TypeError `maximum(): argument 'input' (position 1) must be Tensor, not int` for a non-tensor
 * @example gg.maximum(gg.tensor([1, 5]), gg.tensor([3, 2])) // tensor([3, 5])
 */
export const maximum = fromMethod('maximum');
/**
 * The smaller of two values, elementwise and broadcast (torch.minimum); NaN and ties as `maximum`.
 * @throws TypeError for a non-tensor `input`
 * @example gg.minimum(gg.tensor([1, 5]), 2) // tensor([1, 2])
 */
export const minimum = fromMethod('minimum');
/**
 * input == other as a bool-valued tensor (1/0 of input's dtype; torch.eq); no gradient.
 * @throws TypeError `eq() received an invalid combination of arguments - got (int, float), ...` for a non-tensor `input`
 * @example gg.eq(gg.tensor([1, 2]), 2) // tensor([0, 1])
 */
export const eq = fromMethod('eq', 'eq', '(Tensor input, Tensor | number other)');
/**
 * input != other (torch.ne); as `eq`.
 * @throws TypeError for a non-tensor `input` (PyTorch's overload message)
 * @example gg.ne(gg.tensor([1, 2]), 2) // tensor([1, 0])
 */
export const ne = fromMethod('ne', 'ne', '(Tensor input, Tensor | number other)');
/**
 * input < other (torch.lt); as `eq`.
 * @throws TypeError for a non-tensor `input` (PyTorch's overload message)
 * @example gg.lt(gg.tensor([1, 2]), 2) // tensor([1, 0])
 */
export const lt = fromMethod('lt', 'lt', '(Tensor input, Tensor | number other)');
/**
 * input <= other (torch.le); as `eq`.
 * @throws TypeError for a non-tensor `input` (PyTorch's overload message)
 * @example gg.le(gg.tensor([1, 3]), 2) // tensor([1, 0])
 */
export const le = fromMethod('le', 'le', '(Tensor input, Tensor | number other)');
/**
 * input > other (torch.gt); as `eq`.
 * @throws TypeError for a non-tensor `input` (PyTorch's overload message)
 * @example gg.gt(gg.tensor([1, 3]), 2) // tensor([0, 1])
 */
export const gt = fromMethod('gt', 'gt', '(Tensor input, Tensor | number other)');
/**
 * input >= other (torch.ge); as `eq`.
 * @throws TypeError for a non-tensor `input` (PyTorch's overload message)
 * @example gg.ge(gg.tensor([1, 2]), 2) // tensor([0, 1])
 */
export const ge = fromMethod('ge', 'ge', '(Tensor input, Tensor | number other)');
/**
 * Limit to [min, max], either bound omitted with null (torch.clamp with number bounds).
 * @throws TypeError `clamp() received an invalid combination of arguments - got (int, float, float), ...`
 *   for a non-tensor `input`; Error `torch.clamp: At least one of 'min' or 'max' must not be None`
 * @example gg.clamp(gg.tensor([-2, 0.5, 3]), 0, 1) // tensor([0.0000, 0.5000, 1.0000])
 */
export const clamp = fromMethod('clamp', 'clamp', '(Tensor input, number | null min, number | null max)');

// ---- reductions ---------------------------------------------------------------------------

/**
 * Sum over `dim` (all dims when omitted), `keepdim` keeps them as size 1 (torch.sum); integers sum as int64.
 * @throws TypeError for a non-tensor `input`; RangeError for a dim out of range
 * @example gg.sum(gg.tensor([[1, 2], [3, 4]]), 1) // tensor([3, 7])
 */
export const sum = fromMethod('sum');
/**
 * Mean over `dim` (all when omitted; torch.mean). Float tensors only (PyTorch's message otherwise).
 * @throws TypeError for a non-tensor `input`; Error for an integer tensor
 * @example gg.mean(gg.tensor([[1, 2], [3, 4]], { dtype: 'float32' }), 0) // tensor([2., 3.])
 */
export const mean = fromMethod('mean');
/**
 * Variance over `dim` (torch.var), options `{ unbiased, correction, keepdim }` as the method:
 * PyTorch's keywords, here an options object.
 * @throws TypeError for a non-tensor `input` or a bad option
 * @example gg.var(gg.tensor([1, 2, 3, 4], { dtype: 'float32' })) // tensor(1.6667)
 */
const variance = fromMethod('var');
export { variance as var };
/**
 * Standard deviation over `dim` (torch.std), options as `var`.
 * @throws TypeError for a non-tensor `input` or a bad option
 * @example gg.std(gg.tensor([1, 2, 3, 4], { dtype: 'float32' })) // tensor(1.2910)
 */
export const std = fromMethod('std');

/**
 * Largest value (torch.max): of all elements, or over `dim` (the values
 * only, as the method `max`; PyTorch's `torch.max(x, dim)` returns
 * `(values, indices)`: take the indices from `gg.argmax(x, dim)`). With a
 * tensor as the second argument it is `maximum(input, other)`, as
 * `torch.max(input, other)`. Ties share the gradient; a NaN is the largest.
 * Shape: `dim` removed (kept as size 1 with `keepdim`).
 * @throws TypeError `max(): argument 'input' (position 1) must be Tensor, not int` for a non-tensor
 *   `input`; Error for an empty tensor without `dim`
 * @example gg.max(gg.tensor([[1, 5], [7, 2]]), 1) // tensor([5, 7])
 * @example gg.max(gg.tensor([1, 5]), gg.tensor([3, 2])) // tensor([3, 5])
 */
export function max(input: Tensor, dim?: Dims | Tensor, keepdim = false): Tensor {
  const x = checkInput('max', null, [input, dim]);
  return isTensor(dim) ? x.maximum(dim) : x.max(dim, keepdim);
}

/**
 * Smallest value (torch.min), as `max`: over `dim` the values only, and
 * `min(input, other)` with a tensor `other` is `minimum`.
 * @throws TypeError for a non-tensor `input`; Error for an empty tensor without `dim`
 * @example gg.min(gg.tensor([[1, 5], [7, 2]]), 1) // tensor([1, 2])
 */
export function min(input: Tensor, dim?: Dims | Tensor, keepdim = false): Tensor {
  const x = checkInput('min', null, [input, dim]);
  return isTensor(dim) ? x.minimum(dim) : x.min(dim, keepdim);
}

/**
 * Largest value over `dim` (torch.amax); as `max` with a dim.
 * @throws TypeError for a non-tensor `input`
 * @example gg.amax(gg.tensor([[1, 5], [7, 2]]), 0) // tensor([7, 5])
 */
export const amax = fromMethod('amax');
/**
 * Index of the first largest value along `dim` (flattened when omitted) as int64, no gradient (torch.argmax).
 * @throws TypeError for a non-tensor `input`
 * @example gg.argmax(gg.tensor([[1, 5], [7, 2]]), 1) // tensor([1, 0])
 */
export const argmax = fromMethod('argmax');
/**
 * Index of the first smallest value (torch.argmin); as `argmax`.
 * @throws TypeError for a non-tensor `input`
 * @example gg.argmin(gg.tensor([[1, 5], [7, 2]]), 1) // tensor([0, 1])
 */
export const argmin = fromMethod('argmin');
/**
 * log Σ e^x over `dim`, computed stably (torch.logsumexp).
 * @throws TypeError `logsumexp() received an invalid combination of arguments - ...` for a non-tensor `input`
 * @example gg.logsumexp(gg.tensor([0, 0], { dtype: 'float32' }), 0) // tensor(0.6931)
 */
export const logsumexp = fromMethod('logsumexp', 'logsumexp', '(Tensor input, number dim, boolean keepdim = false)');
/**
 * Softmax along `dim` (torch.softmax), computed stably. Shape and dtype of `input`.
 * @throws TypeError `softmax() received an invalid combination of arguments - got (int, int), ...` for a non-tensor `input`
 * @example gg.softmax(gg.tensor([[1, 1]], { dtype: 'float32' }), 1) // tensor([[0.5000, 0.5000]])
 */
export const softmax = fromMethod('softmax', 'softmax', '(Tensor input, number dim)');
/**
 * log(softmax(x)) along `dim` (torch.log_softmax), without overflow.
 * @throws TypeError `log_softmax() received an invalid combination of arguments - ...` for a non-tensor `input`
 * @example gg.logSoftmax(gg.tensor([0, 0], { dtype: 'float32' }), 0) // tensor([-0.6931, -0.6931])
 */
export const logSoftmax = fromMethod('logSoftmax', 'log_softmax', '(Tensor input, number dim)');

// ---- products --------------------------------------------------------------------------------

/**
 * Matrix product with NumPy's rules (torch.matmul): 1-D operands promoted and the added dim
 * removed, batch dims broadcast. (..., M, K) @ (..., K, N) → (..., M, N).
 * @throws TypeError for a non-tensor `input`; Error for mismatched inner dims (PyTorch's message)
 * @example gg.matmul(gg.ones([2, 3]), gg.ones([3, 4])).shape // [2, 4]
 */
export const matmul = fromMethod('matmul');
/**
 * Product of two 2-D matrices (torch.mm): (M, K) @ (K, N) → (M, N).
 * @throws TypeError for a non-tensor `input`; Error for operands that are not 2-D or do not match
 * @example gg.mm(gg.ones([2, 3]), gg.ones([3, 4])).shape // [2, 4]
 */
export const mm = fromMethod('mm');

// ---- shape ---------------------------------------------------------------------------------

/**
 * Same data, new shape, one dim may be -1 (torch.reshape; the shape as numbers or one array).
 * @throws TypeError for a non-tensor `input`; Error for a shape of another size
 * @example gg.reshape(gg.arange(6), [2, 3]).shape // [2, 3]
 */
export const reshape = fromMethod('reshape');
/**
 * Reorder dims, a view (torch.permute).
 * @throws TypeError for a non-tensor `input`; Error for dims that are not a permutation
 * @example gg.permute(gg.zeros([2, 3, 4]), [2, 0, 1]).shape // [4, 2, 3]
 */
export const permute = fromMethod('permute');
/**
 * Swap dims `dim0` and `dim1`, a view (torch.transpose).
 * @throws TypeError `transpose() received an invalid combination of arguments - ...` for a non-tensor `input`
 * @example gg.transpose(gg.zeros([2, 3]), 0, 1).shape // [3, 2]
 */
export const transpose = fromMethod('transpose', 'transpose', '(Tensor input, number dim0, number dim1)');
/**
 * Transpose of a tensor of at most 2 dims (torch.t).
 * @throws TypeError for a non-tensor `input`; Error for more than 2 dims
 * @example gg.t(gg.zeros([2, 3])).shape // [3, 2]
 */
export const t = fromMethod('t');
/**
 * Remove size-1 dims, all or just `dim` (torch.squeeze).
 * @throws TypeError for a non-tensor `input`
 * @example gg.squeeze(gg.zeros([1, 3, 1])).shape // [3]
 */
export const squeeze = fromMethod('squeeze');
/**
 * Insert a size-1 dim at `dim` (torch.unsqueeze).
 * @throws TypeError for a non-tensor `input`; RangeError for a dim out of range
 * @example gg.unsqueeze(gg.zeros([3]), 0).shape // [1, 3]
 */
export const unsqueeze = fromMethod('unsqueeze');
/**
 * Flatten dims `startDim..endDim` into one (torch.flatten).
 * @throws TypeError for a non-tensor `input`
 * @example gg.flatten(gg.zeros([2, 3, 4]), 1).shape // [2, 12]
 */
export const flatten = fromMethod('flatten');
/**
 * The slice `start .. start+length` of `dim`, a view (torch.narrow).
 * @throws TypeError `narrow() received an invalid combination of arguments - ...` for a non-tensor `input`
 * @example gg.narrow(gg.arange(5), 0, 1, 3) // tensor([1, 2, 3])
 */
export const narrow = fromMethod('narrow', 'narrow', '(Tensor input, number dim, number start, number length)');
