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
import { finishMoments, gradInputLanes, groupLayout, outputLanes, type GroupInput, type GroupLayout } from '../backend/group-passes.js';
import { getDevice } from '../backend/registry.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { forwardActive, tangentOf } from './dual.js';
import { Storage } from './storage.js';
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
    // a tensor of fewer dims broadcasts from the right (a weight of shape [C, 1, 1] for BatchNorm2d's [1, C, 1, 1]),
    // and along its size-1 dims (InstanceNorm2d's [1, C, 1, 1] weight against its groups' [N, C, 1, 1])
    const pad = shape.length - t.shape.length;
    if (t.dtype !== 'float32' || t.device !== dev.name || pad < 0 || t.shape.some((n, d) => n !== 1 && n !== shape[pad + d])) return null;
    const strides = [...new Array<number>(pad).fill(0), ...t.strides.map((st, d) => (t.shape[d] === 1 ? 0 : st))];
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

/** What the forward's output needs from `moments`' caller to be computed in the moments pass (`fastMoments`). */
export interface FusedOutputSpec {
  /** The layer's input (x itself, before `detach`: a forward-mode tangent on it rules the pass out). */
  readonly input: Tensor;
  /** The weight and bias the `normalize` primitive will take (null: none). */
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  /** The primitive's `safe` (a zero denominator gives 0). */
  readonly safe: boolean;
  /**
   * Batch norm's running buffers (one value per group each, either may be
   * null) and a number momentum: their new values are then computed in the
   * same kernel (`runningNext`), as the RunningUpdate kernels would.
   */
  readonly running?: { readonly mean: Tensor | null; readonly var: Tensor | null; readonly momentum: number };
}

/** What `fastMoments` gives: the moments' tensors and, where asked and possible, the running buffers' next values. */
export interface FastMoments {
  readonly scale: Tensor;
  readonly inv: Tensor;
  readonly sum1: Tensor;
  readonly sum2: Tensor;
  /** The running mean's and variance's next values (null: that buffer not given), in their shapes; absent where not computed. */
  readonly running?: readonly [Tensor | null, Tensor | null];
}

/** An output computed by the moments pass, waiting for the `normalize` primitive's forward (`fastOutput`) to check and take it. */
interface PendingOutput {
  /** The buffer and layout of the x it was computed from. */
  readonly x: DeviceBuffer;
  readonly layout: GroupLayout;
  /** The output (a tensor, so that `tidy` frees it where nothing takes it). */
  readonly y: Tensor;
  /** The lane coefficients the pass used ([s, α, β] per group). */
  readonly lanes: Float32Array;
}

/** Outputs of fused moments passes by the buffer of their S₁ (which the `normalize` primitive takes as an input). */
const pendingOutputs = new WeakMap<DeviceBuffer, PendingOutput>();

/** Fused forward passes run, and outputs they computed that the primitive did not take (their coefficients differed; for tests). */
export const fusedOutputStats = { runs: 0, misses: 0 };

/**
 * `moments`' scale, 1/scale, S₁ and S₂ of x over `dims` (normalised) in one
 * pass (`GroupPasses.moments`, `finishMoments`), in the group shape; null where the fast path does not apply, or where x
 * requires grad while grad mode is on or carries a forward-mode tangent
 * (S₁ and S₂ must then be recorded ops of x). With `out` (batch and
 * instance norm) and the WebAssembly engine, the same pass also computes
 * the `normalize` primitive's output per group while the group is in cache
 * (`GroupPasses.momentsOutput`), which `fastOutput` takes once it has
 * checked the pass's coefficients against the per-group kernels'.
 */
export function fastMoments(x: Tensor, dims: readonly number[], eps: number, out?: FusedOutputSpec): FastMoments | null {
  const dev = fastDevice(x);
  if (!dev || (isGradEnabled() && x.requiresGrad) || dual([x])) return null;
  const L = layouts(x, null, dims);
  const xi = input(dev, x);
  if (!L || !xi) return null;
  const G = L.groups;
  const shape = groupShape(x.shape, dims);
  const fused = out ? fusedForward(dev, L, shape, eps, out) : null;
  // the running buffers' next values in the same kernel (batch norm, a number momentum)
  const run = fused && out?.running ? runningInputs(dev, out.running, G) : null;
  let lanes: Float32Array | null = null;
  const buffers = fused
    ? dev.runHost('MomentsOutput', [G, G, G, G, x.numel(), ...(run ? [G, G] : [])], 'float32', (outs) => {
        const r = dev.groupPasses.momentsOutput?.(xi, L, fused, out?.safe ?? false, outs[4] as Float32Array);
        lanes = r?.lanes ?? null;
        if (!r || !finishMoments(r.raw, G, eps, outs as Float32Array[])) return false;
        if (run) runningNext(run, L.outer * L.inner, xi, L, outs as Float32Array[]);
        return true;
      }, true)
    : dev.runHost('Moments', [G, G, G, G], 'float32', (outs) => {
        const raw = dev.groupPasses.moments(xi, L);
        return raw !== null && finishMoments(raw, G, eps, outs as Float32Array[]);
      });
  if (!buffers) return null;
  const [scale, inv, sum1, sum2] = buffers.slice(0, 4).map((b) => x.ownerOf(b, shape)) as [Tensor, Tensor, Tensor, Tensor];
  if (fused && lanes) {
    fusedOutputStats.runs++;
    const y = x.ownerOf(buffers[4] as DeviceBuffer, x.shape);
    pendingOutputs.set(sum1.storage.buffer, { x: x.storage.buffer, layout: L, y, lanes });
  }
  if (!run) return { scale, inv, sum1, sum2 };
  // a buffer not given had its values written as NaN (a kernel writes every element): freed here
  const next = [run.mean, run.var].map((t, i) => {
    const r = x.ownerOf(buffers[5 + i] as DeviceBuffer, t ? t.shape : [G]);
    if (t) return r;
    r.dispose();
    return null;
  });
  return { scale, inv, sum1, sum2, running: next as [Tensor | null, Tensor | null] };
}

/** The running buffers' current values (one per group, NaN for a buffer not given), or null where they cannot be read here. */
interface RunningInputs {
  readonly mean: Tensor | null;
  readonly var: Tensor | null;
  readonly r: [Float64Array, Float64Array];
  readonly momentum: number;
}

/** Each given running buffer's values as doubles, where it is a float32 vector of this device with one value per group; else null. */
function runningInputs(dev: CpuDevice, spec: NonNullable<FusedOutputSpec['running']>, G: number): RunningInputs | null {
  const r: [Float64Array, Float64Array] = [new Float64Array(G), new Float64Array(G)];
  for (const [i, t] of [spec.mean, spec.var].entries()) {
    if (!t) continue;
    if (t.dtype !== 'float32' || t.device !== dev.name || t.ndim !== 1 || t.numel() !== G) return null;
    const data = dev.hostData(t.storage.buffer);
    const st = t.strides[0] ?? 1;
    for (let gi = 0; gi < G; gi++) (r[i] as Float64Array)[gi] = data[t.offset + gi * st] as number;
  }
  return { mean: spec.mean, var: spec.var, r, momentum: spec.momentum };
}

/**
 * The running buffers' next values into outs[5] (mean) and outs[6]
 * (variance), from the moments' float32 values in outs[0..3] (scale, inv,
 * S₁, S₂), each group's shift (x's first value) and n values per group:
 * the RunningUpdate kernels' formulas (nn/norm/functional.ts
 * `updateRunningStats`) in their order, in double, rounded once:
 * R·(1 - f) + ((S₁/n)·k + s)·f and R·(1 - f) + ((v·(k·k))·(n/(n - 1)))·f
 * with v = S₂/n - (S₁/n)², 0 where negative (NaN kept).
 */
function runningNext(run: RunningInputs, n: number, xi: GroupInput, L: GroupLayout, outs: readonly Float32Array[]): void {
  const [scales, , sums1, sums2, , nextMean, nextVar] = outs as Float32Array[];
  const f = run.momentum;
  // the kernels' literals: 1 - f, f and n/(n - 1) computed in JavaScript, written as numbers (backend/kernel.ts `float`)
  const [keep, bessel] = [1 - f, n / (n - 1)];
  for (let gi = 0; gi < L.groups; gi++) {
    const [k, s1, s2] = [scales?.[gi] as number, sums1?.[gi] as number, sums2?.[gi] as number];
    const s = xi.data[xi.offset + gi * L.inner] as number;
    const cm = s1 / n;
    const d = s2 / n - cm * cm;
    const v = d < 0 ? 0 : d;
    if (nextMean) nextMean[gi] = run.mean ? (run.r[0][gi] as number) * keep + (cm * k + s) * f : NaN;
    if (nextVar) nextVar[gi] = run.var ? (run.r[1][gi] as number) * keep + v * (k * k) * bessel * f : NaN;
  }
}

/**
 * The per-group parameters of the fused forward pass ([w, b, n, eps] per
 * group), or null where it does not apply: the pass turned off
 * (`GPUGRAD_FAST_NORM_FUSED_FORWARD=0`), no float32 lanes, no WebAssembly
 * engine, a tangent on the input or parameters, or a weight or bias that is
 * not one value per group (`fastOutput` would decline them).
 */
function fusedForward(dev: CpuDevice, L: GroupLayout, shape: readonly number[], eps: number, out: FusedOutputSpec): Float64Array | null {
  const { input: xin, weight: w, bias: b } = out;
  if (!dev.normFusedForward || !dev.normLanes || !dev.groupPasses.momentsOutput) return null;
  if (dual([xin, ...(w ? [w] : []), ...(b ? [b] : [])])) return null;
  return groupParams(dev, [w ?? 1, b ?? -0, L.outer * L.inner, eps], shape, L.groups);
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
 * group; the new storage (x's shape, dense), or null where the fast path
 * does not apply. Grad mode does not matter: the output's node is the
 * primitive's, whichever loop computed the values. Where the moments pass
 * that made S₁ (`s1`) computed the output too (`fastMoments` with `out`),
 * that output is taken without a pass if its lane coefficients are those
 * of `outputLanes` here, bit for bit (the map is the same, so the values
 * are); otherwise it is dropped and the pass runs.
 */
export function fastOutput(name: string, x: Tensor, s: Tensor, inv: Tensor, m: Tensor, a: Tensor, b: Tensor | null, dims: readonly number[], s1?: Tensor): Storage | null {
  const dev = fastDevice(x);
  const ts = [x, s, inv, m, a, ...(b ? [b] : [])];
  const L = dev && !dual(ts) ? layouts(x, null, dims) : null;
  const pending = s1 ? pendingOutputs.get(s1.storage.buffer) : undefined;
  if (pending) pendingOutputs.delete((s1 as Tensor).storage.buffer);
  if (!dev || !L) return null;
  // NOTE: without a bias, adding -0 changes nothing (not even a -0), so one loop serves both
  const par = groupParams(dev, [s, inv, m, a, b ?? -0], groupShape(x.shape, dims), L.groups);
  const xi = input(dev, x);
  if (!par || !xi) return null;
  if (pending) {
    const want = dev.normLanes && !pending.y.storage.freed && pending.x === x.storage.buffer && sameLayout(pending.layout, L) ? outputLanes(par, L.groups) : null;
    if (want && sameBits(want, pending.lanes)) return pending.y.storage.fork();
    fusedOutputStats.misses++;
  }
  const buffer = dev.runHost(name, [x.numel()], 'float32', ([out]) => dev.groupPasses.output(xi, L, par, out as Float32Array, dev.normLanes), true)?.[0];
  return buffer ? new Storage(buffer) : null;
}

/** Whether two layouts are the same. */
function sameLayout(a: GroupLayout, b: GroupLayout): boolean {
  return a.offset === b.offset && a.outer === b.outer && a.groups === b.groups && a.inner === b.inner;
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
