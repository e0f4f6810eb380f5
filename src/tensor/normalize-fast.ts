/**
 * Where the normalize primitive and `moments` take the `cpu` device's
 * float32 fast passes (backend/group-passes.ts; docs/notes/architecture.md,
 * "The normalization fast path"). Each function answers null when the fast
 * path does not apply (another device or dtype, the fast path turned off, a
 * layout the loops do not cover, a recorded graph that needs the IR's ops),
 * and the caller then runs its IR kernels, which stay the definition.
 */
import { CpuDevice } from '../backend/cpu.js';
import { gradSumsPass, groupLayout, momentsPass, type GroupLayout } from '../backend/group-passes.js';
import { getDevice } from '../backend/registry.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { forwardActive, tangentOf } from './dual.js';
import type { Tensor } from './tensor.js';

/** The cpu device of a float32 tensor, when its fast passes are on. */
function fastDevice(t: Tensor): CpuDevice | null {
  if (t.dtype !== 'float32') return null;
  const d = getDevice(t.device);
  return d instanceof CpuDevice && d.fastNorm ? d : null;
}

/** Whether any of `ts` carries a forward-mode tangent (its results must then be ops that propagate it). */
function dual(ts: readonly Tensor[]): boolean {
  return forwardActive() && ts.some((t) => tangentOf(t) !== null);
}

/** x's shape with the reduced dims of size 1 (the group shape). */
function groupShape(shape: readonly number[], dims: readonly number[]): number[] {
  return shape.map((n, d) => (dims.includes(d) ? 1 : n));
}

/**
 * One value per group of a tensor `t` in the group shape (any strides), as
 * doubles in group order (row-major over the kept dims); null when `t` is
 * not a float32 tensor of that shape on `dev`.
 */
function groupValues(dev: CpuDevice, t: Tensor, shape: readonly number[], groups: number): Float64Array | null {
  if (t.dtype !== 'float32' || t.device !== dev.name || t.shape.join() !== shape.join()) return null;
  const data = dev.hostData(t.storage.buffer);
  const out = new Float64Array(groups);
  const idx = shape.map(() => 0);
  let at = t.offset;
  for (let gi = 0; gi < groups; gi++) {
    out[gi] = data[at] as number;
    // the next index, row-major (size-1 dims never move)
    for (let d = shape.length - 1; d >= 0; d--) {
      const n = shape[d] ?? 1;
      const s = t.strides[d] ?? 0;
      if ((idx[d] ?? 0) + 1 < n) {
        idx[d] = (idx[d] ?? 0) + 1;
        at += s;
        break;
      }
      at -= (idx[d] ?? 0) * s;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * `moments`' scale, 1/scale, S₁ and S₂ of x over `dims` (normalised) in one
 * pass (`momentsPass`), as views of one new buffer in the group shape; null
 * where the fast path does not apply, or where x requires grad while grad
 * mode is on or carries a forward-mode tangent (S₁ and S₂ must then be
 * recorded ops of x).
 */
export function fastMoments(x: Tensor, dims: readonly number[], eps: number): { scale: Tensor; inv: Tensor; sum1: Tensor; sum2: Tensor } | null {
  const dev = fastDevice(x);
  if (!dev || x.numel() === 0 || (isGradEnabled() && x.requiresGrad) || dual([x])) return null;
  const L = groupLayout(x.shape, x.strides, x.offset, dims);
  if (!L) return null;
  const data = dev.hostData(x.storage.buffer);
  if (!(data instanceof Float32Array)) return null;
  const buffer = dev.runHost('Moments', 4 * L.groups, 'float32', (out) => momentsPass(data, L, eps, out as Float32Array));
  if (!buffer) return null;
  const [scale, inv, sum1, sum2] = x.blocksOf(buffer, groupShape(x.shape, dims), 4) as [Tensor, Tensor, Tensor, Tensor];
  return { scale, inv, sum1, sum2 };
}

/**
 * The normalize backward's Σg and Σg·((x - s)·inv - m) per group in one pass
 * (`gradSumsPass`), in the group shape; null where the fast path does not
 * apply, grad mode is on (double backward records the IR's ops) or an
 * input carries a forward-mode tangent.
 */
export function fastGradSums(x: Tensor, g: Tensor, s: Tensor, inv: Tensor, m: Tensor, dims: readonly number[]): [Tensor, Tensor] | null {
  const dev = fastDevice(x);
  if (!dev || isGradEnabled() || dual([x, g, s, inv, m]) || x.numel() === 0 || g.dtype !== 'float32' || g.device !== x.device || g.shape.join() !== x.shape.join()) return null;
  const L = groupLayout(x.shape, x.strides, x.offset, dims);
  const Lg = groupLayout(g.shape, g.strides, g.offset, dims);
  if (!L || !Lg || !sameGroups(L, Lg)) return null;
  const shape = groupShape(x.shape, dims);
  const [sv, iv, mv] = [s, inv, m].map((t) => groupValues(dev, t, shape, L.groups));
  const xd = dev.hostData(x.storage.buffer);
  const gd = dev.hostData(g.storage.buffer);
  if (!sv || !iv || !mv || !(xd instanceof Float32Array) || !(gd instanceof Float32Array)) return null;
  const buffer = dev.runHost('NormGradSums', 2 * L.groups, 'float32', (out) => {
    gradSumsPass(xd, L, gd, g.offset, sv, iv, mv, out as Float32Array);
    return true;
  });
  if (!buffer) return null;
  return x.blocksOf(buffer, shape, 2) as [Tensor, Tensor];
}

function sameGroups(a: GroupLayout, b: GroupLayout): boolean {
  return a.outer === b.outer && a.groups === b.groups && a.inner === b.inner;
}
