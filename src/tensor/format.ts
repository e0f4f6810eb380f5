/**
 * Tensors as text and nested arrays: what `toString()` prints and what
 * `array()` returns. Pure formatting over values already read from the device.
 */
import type { HostArray } from '../backend/types.js';
import { fmt, type Shape } from './shape.js';
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

/** A readable form, PyTorch-style: the values when the device reads synchronously and there are at most 100. */
export function formatTensor(t: Tensor): string {
  const head = `tensor(shape=${fmt(t.shape)}, dtype=${t.dtype}, device='${t.device}'`;
  if (t.isDisposed) return `${head}, disposed)`;
  if (!t.storage.device.syncRead || t.numel() > 100) return `${head})`;
  return `tensor(${JSON.stringify(t.arraySync())}${t.dtype === 'float64' ? ', dtype=float64' : ''}${t.device === 'cpu' ? '' : `, device='${t.device}'`}${t.gradFn ? `, gradFn=<${t.gradFn.name}>` : t.requiresGrad ? ', requiresGrad=true' : ''})`;
}
