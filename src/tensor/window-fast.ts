/**
 * Where a max reduction over small windows (max pooling's) and its backward
 * take the `cpu` device's float32 window passes (backend/window-passes.ts
 * `maxPass`, `maxBackwardPass`; docs/notes/architecture.md, "The window
 * fast path"): one loop per window forward, and one pass per window
 * backward instead of the MaxCount and MaxBackward kernels; 2×2 windows
 * that tile a dense image run as WebAssembly SIMD passes (wasm/window.ts),
 * the same values. Each answers
 * null where it does not apply (another device or dtype, the path turned
 * off, a window over `MAX_WINDOW` elements; backward: a recorded double
 * backward or a forward-mode tangent, which need the IR's ops), and the
 * caller then runs the IR kernels, which stay the definition. im2col and
 * col2im take their passes inside the cpu device (the kernels carry their
 * geometry as data, backend/kernel.ts `WindowSpec`).
 */
import { CpuDevice } from '../backend/cpu.js';
import { getDevice } from '../backend/registry.js';
import { maxBackwardPass, maxPass } from '../backend/window-passes.js';
import type { DeviceBuffer } from '../backend/device.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { forwardActive, tangentOf } from './dual.js';
import type { Tensor } from './tensor.js';

/**
 * Windows up to this many elements take the passes (pooling's: 4 for
 * MaxPool2d(2), 9 for 3×3). Why a bound: the passes read a window through a
 * table of offsets, slower than the IR kernel's loops over a long
 * reduction, and the table would be as long as the window.
 */
const MAX_WINDOW = 32;

/** The cpu device of float32 tensors `ts` reduced over `dims`, when its window passes are on and the window is small. */
function windowDevice(ts: readonly Tensor[], dims: readonly number[]): CpuDevice | null {
  const t = ts[0] as Tensor;
  if (ts.some((u) => u.dtype !== 'float32' || u.device !== t.device) || t.numel() === 0) return null;
  if (dims.reduce((m, d) => m * (t.shape[d] ?? 1), 1) > MAX_WINDOW) return null;
  const dev = getDevice(t.device);
  return dev instanceof CpuDevice && dev.fastWindows ? dev : null;
}

/**
 * The planes, height and width of a max over 2×2 windows that tile a dense
 * image (the pooling view (..., oh, 2, ow, 2) reduced over its two window
 * dims, dense from its offset), or null: what wasm/window.ts runs.
 */
function tiles2x2(a: Tensor, dims: readonly number[]): { planes: number; h: number; w: number } | null {
  const r = a.ndim;
  const set = new Set(dims.map((d) => (d < 0 ? d + r : d)));
  if (r < 4 || set.size !== 2 || !set.has(r - 3) || !set.has(r - 1) || a.shape[r - 3] !== 2 || a.shape[r - 1] !== 2) return null;
  if (!dense(a.shape, a.strides)) return null;
  const oh = a.shape[r - 4] ?? 1;
  const ow = a.shape[r - 2] ?? 1;
  return { planes: a.shape.slice(0, r - 4).reduce((m, n) => m * n, 1), h: 2 * oh, w: 2 * ow };
}

/** Whether `strides` are row-major over `shape` (size-1 dims aside). */
function dense(shape: readonly number[], strides: readonly number[]): boolean {
  let st = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if ((shape[d] ?? 1) !== 1 && strides[d] !== st) return false;
    st *= shape[d] ?? 1;
  }
  return true;
}

/**
 * `a.amax(dims)`'s values (the kept dims, dense) as one pass
 * (`maxPass`): each window in `dims`' order, the IR reduction's comparisons,
 * so the same float32 values; the new buffer, or null (the IR kernel runs).
 * Grad mode does not matter: the result's node is amax's, whichever loop
 * computed the values.
 */
export function fastMax(a: Tensor, dims: readonly number[]): DeviceBuffer | null {
  const dev = windowDevice([a], dims);
  if (!dev || dims.some((d) => (a.shape[d] ?? 0) === 0)) return null;
  const A = dev.hostData(a.storage.buffer);
  if (!(A instanceof Float32Array)) return null;
  const size = a.shape.reduce((m, n, d) => (dims.includes(d) ? m : m * n), 1);
  const simd = dev.windowSimd;
  const t = simd && tiles2x2(a, dims);
  return dev.runHost('max', [size], 'float32', ([out]) => {
    // 2×2 windows that tile the image: branch-free SIMD (wasm/window.ts), the same values
    if (simd && t && simd.maxPool2(A, a.offset, t.planes, t.h, t.w, out as Float32Array)) return true;
    maxPass(a.shape, dims, { data: A, offset: a.offset, strides: a.strides }, out as Float32Array);
    return true;
  })?.[0] ?? null;
}

/**
 * The gradient of `a.amax(dims, keepdim)` for the output gradient `g`, with
 * `r` its result; `r` and `g` in the keepdim shape (a's shape, the reduced
 * dims of size 1). mask / Σmask · g with mask = (a == r) + (a ≠ a)·(r ≠ r),
 * times `v` where given (amax's `valid` input: max pooling's padding, 0,
 * never takes a share), the formula of the op table's rule (tensor/ops.ts,
 * amax), bit for bit; a new tensor of a's shape, or null.
 */
export function fastMaxBackward(a: Tensor, r: Tensor, g: Tensor, dims: readonly number[], v: Tensor | null = null): Tensor | null {
  const reduced = new Set(dims.map((d) => (d < 0 ? d + a.ndim : d)));
  const dev = windowDevice(v ? [a, r, g, v] : [a, r, g], [...reduced]);
  if (!dev || isGradEnabled()) return null;
  if (forwardActive() && [a, r, g].some((t) => tangentOf(t) !== null)) return null;
  const ks = a.shape.map((n, d) => (reduced.has(d) ? 1 : n));
  if (r.shape.join() !== ks.join() || g.shape.join() !== ks.join()) return null;
  // v broadcasts to a's shape (max pooling's is (1, 1, *kernel, *out)): the same rank, each dim a's or 1
  if (v && (v.ndim !== a.ndim || v.shape.some((n, d) => n !== 1 && n !== a.shape[d]))) return null;
  const [A, R, G] = [a, r, g].map((t) => dev.hostData(t.storage.buffer));
  const V = v ? dev.hostData(v.storage.buffer) : null;
  if (!(A instanceof Float32Array && R instanceof Float32Array && G instanceof Float32Array) || (v && !(V instanceof Float32Array))) return null;
  // size-1 dims never move, so their strides do not matter
  const flat = (t: Tensor): number[] => t.strides.map((s, d) => ((t.shape[d] ?? 1) === 1 ? 0 : s));
  const simd = dev.windowSimd;
  // the SIMD pass has no valid mask (2×2 windows that tile an image have no padding, so no mask either)
  const t = simd && !v && tiles2x2(a, [...reduced]);
  const sameLayout = t && dense(r.shape, r.strides) && dense(g.shape, g.strides);
  const valid = v && V instanceof Float32Array ? { data: V, offset: v.offset, strides: flat(v) } : null;
  const buffers = dev.runHost('MaxBackward', [a.numel()], 'float32', ([out]) => {
    if (simd && t && sameLayout && simd.maxPool2Backward(A, a.offset, R, r.offset, G, g.offset, t.planes, t.h, t.w, out as Float32Array)) return true;
    maxBackwardPass(a.shape, [...reduced], { data: A, offset: a.offset, strides: flat(a) }, { data: R, offset: r.offset, strides: flat(r) }, { data: G, offset: g.offset, strides: flat(g) }, out as Float32Array, valid);
    return true;
  });
  return buffers ? a.ownerOf(buffers[0]!, a.shape) : null;
}
