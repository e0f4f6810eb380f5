/**
 * Element types a tensor can hold, their host arrays, and PyTorch's type
 * promotion between them (docs/notes/dtypes.md).
 *
 * Integers are stored however each device can: the `cpu` device keeps int32
 * in an Int32Array and int64 in a Float64Array (exact for |v| <= 2^53); the
 * gpu.js devices keep both in float32 (exact for |v| <= 2^24). A value
 * outside that range is refused where it enters a device, never rounded.
 */
export type DType = 'float32' | 'float64' | 'int32' | 'int64';

/** Every dtype, in promotion order within each kind. */
export const DTYPES: readonly DType[] = ['int32', 'int64', 'float32', 'float64'];

/**
 * The host-side array type backing a dtype: Float32Array (float32),
 * Float64Array (float64, and int64: whole numbers, exact up to 2^53),
 * Int32Array (int32).
 */
export type HostArray = Float32Array | Float64Array | Int32Array;

/** Whether `dtype` is a floating point type (the only kind that can require gradients). */
export function isFloatingDtype(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** Whether `dtype` is an integer type. */
export function isIntegralDtype(dtype: DType): boolean {
  return dtype === 'int32' || dtype === 'int64';
}

/** PyTorch's name of a dtype, for messages: Float, Double, Int, Long. */
export function scalarTypeName(dtype: DType): string {
  return { float32: 'Float', float64: 'Double', int32: 'Int', int64: 'Long' }[dtype];
}

/**
 * PyTorch's `torch.promote_types`: the smallest dtype both convert to
 * without leaving their kind (an integer with a float gives the float).
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  const fa = isFloatingDtype(a);
  const fb = isFloatingDtype(b);
  if (fa !== fb) return fa ? a : b;
  return DTYPES.indexOf(a) > DTYPES.indexOf(b) ? a : b;
}

/** The largest integer magnitude a dtype's host array holds exactly. */
export function exactIntLimit(dtype: DType): number {
  return dtype === 'int32' ? 2 ** 31 : dtype === 'int64' ? Number.MAX_SAFE_INTEGER + 1 : Infinity;
}

/** Allocate a host array of the given dtype. */
export function hostArray(dtype: DType, size: number): HostArray {
  return dtype === 'float32' ? new Float32Array(size) : dtype === 'int32' ? new Int32Array(size) : new Float64Array(size);
}

/** Bytes per element of a dtype (int64 counts 8, as PyTorch stores it). */
export function bytesOf(dtype: DType): number {
  return dtype === 'float64' || dtype === 'int64' ? 8 : 4;
}

/**
 * PyTorch's `torch.result_type` over operands: dimensioned tensors decide
 * the dtype, unless a zero-dim operand (a scalar tensor, or a JS number made
 * into one) is of a higher kind (a float against integers), in which case
 * the two are promoted. So `int64[3] + 2.5` is float32 (2.5 becomes a
 * default-dtype scalar), `float32[3] + float64 scalar` stays float32, and
 * `int32[3] + int64 scalar` stays int32 (docs/spec/dtypes.md#promotion).
 */
export function resultType(operands: readonly { readonly dtype: DType; readonly ndim: number }[]): DType {
  let dim: DType | undefined;
  let zero: DType | undefined;
  for (const o of operands) {
    if (o.ndim > 0) dim = dim === undefined ? o.dtype : promoteTypes(dim, o.dtype);
    else zero = zero === undefined ? o.dtype : promoteTypes(zero, o.dtype);
  }
  if (dim === undefined) return zero ?? 'float32';
  if (zero === undefined || isFloatingDtype(dim) || !isFloatingDtype(zero)) return dim;
  return promoteTypes(dim, zero);
}
