/**
 * Where the normalize primitive and `moments` take the `cpu` device's
 * float32 fast passes (backend/group-passes.ts, backend/wasm/norm.ts;
 * docs/notes/architecture.md, "The normalization fast path"). Each function
 * answers null when the fast path does not apply (another device or dtype,
 * the fast path turned off, a layout the loops do not cover, a recorded
 * graph or a forward-mode tangent that needs the IR's ops), and the caller
 * then runs its IR kernels, which stay the definition.
 */
import { CpuDevice } from '../backend/cpu.js';
import type { DeviceBuffer } from '../backend/device.js';
import { finishMoments, gradInputLanes, groupLayout, type GroupInput, type GroupLayout } from '../backend/group-passes.js';
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

/** A float32 tensor of `dev` as a pass input (its whole array, where it starts, its buffer). */
function input(dev: CpuDevice, t: Tensor): GroupInput | null {
  const data = dev.hostData(t.storage.buffer);
  return data instanceof Float32Array ? { data, offset: t.offset, key: t.storage.buffer } : null;
}

/** x's layout over `dims`, and g's when given (dense, x's shape, the same groups); null when either does not fit. */
function layouts(x: Tensor, g: Tensor | null, dims: readonly number[]): GroupLayout | null {
  const L = groupLayout(x.shape, x.strides, x.offset, dims);
  if (!L || x.numel() === 0 || !g) return L && x.numel() > 0 ? L : null;
  if (g.dtype !== 'float32' || g.device !== x.device || g.shape.join() !== x.shape.join()) return null;
  const Lg = groupLayout(g.shape, g.strides, g.offset, dims);
  return Lg && Lg.outer === L.outer && Lg.groups === L.groups && Lg.inner === L.inner ? L : null;
}

/**
 * Per-group values of tensors in the group shape (any strides), interleaved
 * as the passes take them: par[k·i + j] is tensor j's value for group i
 * (row-major over the kept dims); a number is the same for every group.
 * Null when a tensor is not a float32 tensor of that shape on `dev`.
 */
function groupParams(dev: CpuDevice, ts: readonly (Tensor | number)[], shape: readonly number[], groups: number): Float64Array | null {
  const k = ts.length;
  const par = new Float64Array(k * groups);
  for (const [j, t] of ts.entries()) {
    if (typeof t === 'number') {
      for (let i = 0; i < groups; i++) par[k * i + j] = t;
      continue;
    }
    // a tensor of fewer dims broadcasts from the right (a weight of shape [C, 1, 1] for BatchNorm2d's [1, C, 1, 1])
    const pad = shape.length - t.shape.length;
    if (t.dtype !== 'float32' || t.device !== dev.name || pad < 0 || t.shape.join() !== shape.slice(pad).join()) return null;
    const strides = [...new Array<number>(pad).fill(0), ...t.strides];
    const data = dev.hostData(t.storage.buffer);
    const idx = shape.map(() => 0);
    let at = t.offset;
    for (let i = 0; i < groups; i++) {
      par[k * i + j] = data[at] as number;
      // the next index, row-major (size-1 dims never move)
      for (let d = shape.length - 1; d >= 0; d--) {
        const st = strides[d] ?? 0;
        if ((idx[d] ?? 0) + 1 < (shape[d] ?? 1)) {
          idx[d] = (idx[d] ?? 0) + 1;
          at += st;
          break;
        }
        at -= (idx[d] ?? 0) * st;
        idx[d] = 0;
      }
    }
  }
  return par;
}

/**
 * `moments`' scale, 1/scale, S₁ and S₂ of x over `dims` (normalised) in one
 * pass (`GroupPasses.moments`, `finishMoments`), in the group shape; null where the fast path does not apply, or where x
 * requires grad while grad mode is on or carries a forward-mode tangent
 * (S₁ and S₂ must then be recorded ops of x).
 */
export function fastMoments(x: Tensor, dims: readonly number[], eps: number): { scale: Tensor; inv: Tensor; sum1: Tensor; sum2: Tensor } | null {
  const dev = fastDevice(x);
  if (!dev || (isGradEnabled() && x.requiresGrad) || dual([x])) return null;
  const L = layouts(x, null, dims);
  const xi = input(dev, x);
  if (!L || !xi) return null;
  const G = L.groups;
  const buffers = dev.runHost('Moments', [G, G, G, G], 'float32', (outs) => {
    const raw = dev.groupPasses.moments(xi, L);
    return raw !== null && finishMoments(raw, G, eps, outs as Float32Array[]);
  });
  if (!buffers) return null;
  const shape = groupShape(x.shape, dims);
  const [scale, inv, sum1, sum2] = buffers.map((b) => x.ownerOf(b, shape)) as [Tensor, Tensor, Tensor, Tensor];
  return { scale, inv, sum1, sum2 };
}

/** Whether the backward may take a fast pass: the cpu device, grad mode off (double backward records the IR's ops), no tangents. */
function backwardDevice(ts: readonly Tensor[]): CpuDevice | null {
  const dev = fastDevice(ts[0] as Tensor);
  return dev && !isGradEnabled() && !dual(ts) ? dev : null;
}

/**
 * The normalize backward's Σg and Σg·((x - s)·inv - m) per group in one pass
 * (`GroupPasses.gradSums`), in the group shape; null where the fast path
 * does not apply.
 */
export function fastGradSums(x: Tensor, g: Tensor, s: Tensor, inv: Tensor, m: Tensor, dims: readonly number[]): [Tensor, Tensor] | null {
  const dev = backwardDevice([x, g, s, inv, m]);
  const L = dev ? layouts(x, g, dims) : null;
  if (!dev || !L) return null;
  const shape = groupShape(x.shape, dims);
  const par = groupParams(dev, [s, inv, m], shape, L.groups);
  const [xi, gi] = [input(dev, x), input(dev, g)];
  if (!par || !xi || !gi) return null;
  const G = L.groups;
  const buffers = dev.runHost('NormGradSums', [G, G], 'float32', ([r1, r2]) => {
    const r = dev.groupPasses.gradSums(xi, gi, L, par);
    if (!r || !r1 || !r2) return false;
    for (let i = 0; i < G; i++) {
      r1[i] = r[2 * i] as number;
      r2[i] = r[2 * i + 1] as number;
    }
    return true;
  });
  return buffers ? [x.ownerOf(buffers[0] as DeviceBuffer, shape), x.ownerOf(buffers[1] as DeviceBuffer, shape)] : null;
}

/**
 * The forward output ((x - s)·inv - m)·a + b (b optional) as a kernel named
 * `name` (`GroupPasses.output`), with s, inv, m, a and b one value per
 * group; the new buffer (x's shape, dense), or null where the fast path
 * does not apply. Grad mode does not matter: the output's node is the
 * primitive's, whichever loop computed the values.
 */
export function fastOutput(name: string, x: Tensor, s: Tensor, inv: Tensor, m: Tensor, a: Tensor, b: Tensor | null, dims: readonly number[]): DeviceBuffer | null {
  const dev = fastDevice(x);
  const ts = [x, s, inv, m, a, ...(b ? [b] : [])];
  const L = dev && !dual(ts) ? layouts(x, null, dims) : null;
  if (!dev || !L) return null;
  // NOTE: without a bias, adding -0 changes nothing (not even a -0), so one loop serves both
  const par = groupParams(dev, [s, inv, m, a, b ?? -0], groupShape(x.shape, dims), L.groups);
  const xi = input(dev, x);
  if (!par || !xi) return null;
  return dev.runHost(name, [x.numel()], 'float32', ([out]) => dev.groupPasses.output(xi, L, par, out as Float32Array, dev.normLanes), true)?.[0] ?? null;
}

/**
 * x's gradient ((g·wi + P) + Q·((x - s)·inv))·inv as a kernel named `name`
 * (`GroupPasses.gradInput`), with s, inv, wi, P and Q one value per group;
 * a new tensor of x's shape, or null where the fast path does not apply.
 */
export function fastGradInput(name: string, x: Tensor, g: Tensor, s: Tensor, inv: Tensor, wi: Tensor, P: Tensor, Q: Tensor, dims: readonly number[]): Tensor | null {
  const dev = backwardDevice([x, g, s, inv, wi, P, Q]);
  const L = dev ? layouts(x, g, dims) : null;
  if (!dev || !L) return null;
  const par = groupParams(dev, [s, inv, wi, P, Q], groupShape(x.shape, dims), L.groups);
  const [xi, gi] = [input(dev, x), input(dev, g)];
  if (!par || !xi || !gi) return null;
  const buffer = dev.runHost(name, [x.numel()], 'float32', ([out]) => dev.groupPasses.gradInput(xi, gi, L, par, out as Float32Array, dev.normLanes), true)?.[0];
  return buffer ? x.ownerOf(buffer, x.shape) : null;
}

/** What `fastGradFused` computed: the two sums, x's gradient, and the lane coefficients its pass used. */
export interface FusedGrad {
  readonly sums: [Tensor, Tensor];
  readonly dx: Tensor;
  readonly lanes: Float32Array;
}

/** Fused backward passes run, and those whose coefficients differed from the per-group kernels' (x's gradient then mapped again; for tests). */
export const fusedGradStats = { runs: 0, misses: 0 };

/**
 * The normalize backward's Σg, Σg·((x - s)·inv - m) and x's gradient in one
 * pass per group (`GroupPasses.gradFused`, the WebAssembly engine only),
 * with S₁, S₂ (the saved sums), w (one value per group, or none), n, eps and
 * `safe` for the per-group coefficients computed inside the pass. x's
 * gradient is provisional until `checkFusedGrad` has compared those
 * coefficients with the per-group kernels'. Null where the fast path, the
 * float32 lanes or the fused pass (`fastGradFused` off:
 * `GPUGRAD_FAST_NORM_FUSED=0`) do not apply; the caller then runs the two
 * passes apart.
 */
export function fastGradFused(x: Tensor, g: Tensor, s: Tensor, inv: Tensor, m: Tensor, s1: Tensor, s2: Tensor, w: Tensor | null, dims: readonly number[], n: number, eps: number, safe: boolean): FusedGrad | null {
  const dev = backwardDevice([x, g, s, inv, m, s1, s2, ...(w ? [w] : [])]);
  if (!dev || !dev.normFused || !dev.normLanes || !dev.groupPasses.gradFused) return null;
  const L = layouts(x, g, dims);
  if (!L) return null;
  const shape = groupShape(x.shape, dims);
  const par = groupParams(dev, [s, inv, m, s1, s2, w ?? 1, n, eps], shape, L.groups);
  const [xi, gi] = [input(dev, x), input(dev, g)];
  if (!par || !xi || !gi) return null;
  const G = L.groups;
  let lanes: Float32Array | null = null;
  const buffers = dev.runHost(`NormGradFused`, [G, G, x.numel()], 'float32', ([r1, r2, out]) => {
    const r = dev.groupPasses.gradFused?.(xi, gi, L, par, safe, out as Float32Array);
    if (!r || !r1 || !r2) return false;
    for (let i = 0; i < G; i++) {
      r1[i] = r.sums[2 * i] as number;
      r2[i] = r.sums[2 * i + 1] as number;
    }
    lanes = r.lanes;
    return true;
  }, true);
  if (!buffers || !lanes) return null;
  fusedGradStats.runs++;
  const [b1, b2, bd] = buffers as [DeviceBuffer, DeviceBuffer, DeviceBuffer];
  return { sums: [x.ownerOf(b1, shape), x.ownerOf(b2, shape)], dx: x.ownerOf(bd, x.shape), lanes };
}

/**
 * x's gradient from a fused pass, once its lane coefficients are checked
 * against those of the per-group kernels' wi, P and Q (`gradInputLanes`, as
 * `fastGradInput` would map them): the same bits, the fused dx stands;
 * otherwise (a different rounding, or coefficients that take the double
 * map) x's gradient is mapped again over the same array as `fastGradInput`
 * maps it, so the result is always `fastGradInput`'s. Null (the fused dx
 * disposed) where that second map cannot run: the caller runs the IR.
 */
export function checkFusedGrad(fused: FusedGrad, x: Tensor, g: Tensor, s: Tensor, inv: Tensor, wi: Tensor, P: Tensor, Q: Tensor, dims: readonly number[]): Tensor | null {
  const dev = backwardDevice([x, g, s, inv, wi, P, Q]);
  const L = dev ? layouts(x, g, dims) : null;
  const par = dev && L ? groupParams(dev, [s, inv, wi, P, Q], groupShape(x.shape, dims), L.groups) : null;
  if (dev && L && par) {
    const want = dev.normLanes ? gradInputLanes(par, L.groups) : null;
    if (want && sameBits(want, fused.lanes)) return fused.dx;
    fusedGradStats.misses++;
    const [xi, gi] = [input(dev, x), input(dev, g)];
    // NOTE: writes the array of a buffer made by this backward, which nothing else has read yet
    const out = dev.hostData(fused.dx.storage.buffer);
    if (xi && gi && out instanceof Float32Array && dev.groupPasses.gradInput(xi, gi, L, par, out, dev.normLanes)) return fused.dx;
  }
  fused.dx.dispose();
  return null;
}

/** Whether two float32 arrays hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const [ia, ib] = [new Int32Array(a.buffer, a.byteOffset, a.length), new Int32Array(b.buffer, b.byteOffset, b.length)];
  for (let i = 0; i < ia.length; i++) if (ia[i] !== ib[i]) return false;
  return true;
}
