/** Element types a tensor can hold. gpu.js devices are float32 only. */
export type DType = 'float32' | 'float64';

/** The host-side array type backing a dtype. */
export type HostArray = Float32Array | Float64Array;

/** Allocate a host array of the given dtype. */
export function hostArray(dtype: DType, size: number): HostArray {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

/** Bytes per element of a dtype. */
export function bytesOf(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}
