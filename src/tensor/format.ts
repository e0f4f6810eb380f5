/**
 * Tensors as text and nested arrays: what `toString()` prints and what
 * `array()` returns. Pure formatting over values already read from the device.
 */
import type { HostArray } from '../backend/types.js';
import type { Shape } from './shape.js';
import { pySize, tensorRepr } from './print.js';
import { defaults } from './defaults.js';
import type { Tensor } from './tensor.js';

/** Nested number arrays, as `array()` returns them. */
export type NestedArray = number | NestedArray[];

/** Row-major `flat` values as nested arrays of `shape` (a number for a scalar). */
export function nest(flat: HostArray, shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0] ?? NaN;
  const build = (dim: number, start: number): NestedArray[] => {
    const n = shape[dim] ?? 1;
    const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(dim === shape.length - 1 ? (flat[start + i] ?? NaN) : build(dim + 1, start + i * inner));
    }
    return out;
  };
  return build(0, 0);
}

/**
 * The tensor as PyTorch prints it (`repr`, src/tensor/print.ts):
 * `tensor([[1., 5., 3.]], dtype=torch.float64, requires_grad=True)`, summarised
 * past 1000 elements. A device that reads only asynchronously prints the
 * size instead of the values (`await t.data()` reads them).
 */
export function formatTensor(t: Tensor): string {
  const size = `size=${pySize(t.shape)}`;
  const device = t.device === 'cpu' ? '' : `, device='${t.device}'`;
  if (t.isDisposed) return `tensor(<disposed>, ${size}, dtype=torch.${t.dtype}${device})`;
  if (!t.storage.device.syncRead) return `tensor(<not read: '${t.device}' reads asynchronously; await t.data()>, ${size}, dtype=torch.${t.dtype}${device})`;
  const name = t.gradFn?.name ?? null;
  return tensorRepr({
    data: t.dataSync(),
    shape: t.shape,
    dtype: t.dtype,
    defaultDtype: defaults.dtype,
    device: t.device,
    // node names are PyTorch's already (MulBackward0; custom Functions <Name>Backward)
    gradFn: name,
    requiresGrad: t.requiresGrad,
  });
}
