/**
 * gradcheck and gradgradcheck with PyTorch's semantics (docs/spec/gradcheck.md):
 * central finite differences in the inputs' own precision (use float64),
 * compared elementwise with the Jacobian the backward pass gives and, with
 * `checkForwardAd`, the one forward mode gives (docs/notes/forward-mode.md).
 */
import { normal } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor, zerosLike } from '../tensor/creation.js';
import { grad } from './engine.js';
import { Function as AutogradFunction, type FunctionCtx } from './function.js';
import { platform } from '../backend/platform/platform.js';
import { dualLevel, makeDual, unpackDual } from './forward-ad.js';

/** Options of `gradcheck`. */
export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  raiseException?: boolean;
  fastMode?: boolean;
  nondetTol?: number;
  /**
   * Check that backward copes with undefined output gradients (default true,
   * PyTorch's `check_undefined_grad`): gradients of outputs cut off by a node
   * that passes none back must come out zero or absent.
   */
  checkUndefinedGrad?: boolean;
  /**
   * Fail with PyTorch's 'Gradient has dtype mismatch' when an analytical
   * gradient's dtype differs from its input's (default false, as PyTorch).
   * The engine brings every gradient to its input's dtype, so this guards
   * that rule.
   */
  checkGradDtypes?: boolean;
  /** Also compare the Jacobian forward mode gives (one dual pass per input element) with the numerical one (default false, as PyTorch). */
  checkForwardAd?: boolean;
  /** Compare the Jacobian backward gives (default true); at least one of the two checks must be on. */
  checkBackwardAd?: boolean;
}

/** Options of `gradgradcheck`. */
export interface GradgradcheckOptions extends GradcheckOptions {
  gradOutputs?: Tensor[];
}

/** The function gradcheck differentiates: tensors in, a tensor or tensors out. */
export type Fn = (...inputs: Tensor[]) => Tensor | Tensor[];

/**
 * What a failed `gradcheck` throws. A Jacobian mismatch carries both
 * Jacobians as float64 tensors of shape [input elements, output elements]
 * (rows: input elements, as PyTorch prints them), so they can be compared,
 * drawn (examples/gradcheck-tour.ts draws them as heatmaps) or subtracted.
 * @example
 * try { await gg.autograd.gradcheck(f, [x]); }
 * catch (e) { if (e instanceof gg.autograd.GradcheckError && e.analytical) e.analytical.sub(e.numerical!); }
 */
export class GradcheckError extends Error {
  override name = 'GradcheckError';
  /** The Jacobian backward gave, [input elements, output elements] (a Jacobian mismatch only; fast mode has none). */
  analytical?: Tensor;
  /** The finite-difference Jacobian, same shape. */
  numerical?: Tensor;
  /** Which output and which differentiable input the Jacobians are of. */
  outputIndex?: number;
  inputIndex?: number;
}

const asList = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);

async function values(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/** Run fn with input j's element k moved by delta (a fresh input; nothing is mutated). */
async function evalPerturbed(fn: Fn, inputs: Tensor[], j: number, perturb: (data: Float64Array) => void): Promise<Float64Array[]> {
  const x = inputs[j] as Tensor;
  const data = await values(x);
  perturb(data);
  // NOTE: inputs keep requiresGrad, as in PyTorch: gradgradcheck's function differentiates inside
  const moved = tensor(data, { shape: x.shape, dtype: x.dtype, device: x.device, requiresGrad: x.requiresGrad });
  const args = inputs.map((t, i) => (i === j ? moved : t));
  const outs = asList(fn(...args));
  const result = await Promise.all(outs.map(values));
  moved.dispose();
  return result;
}

function fmtMatrix(m: Float64Array[], cols: number): string {
  const rows = m.map((r) => `[${Array.from(r.subarray(0, cols), (v) => (Number.isFinite(v) ? v.toPrecision(6) : String(v))).join(', ')}]`);
  return `tensor([${rows.join(',\n        ')}])`;
}

/**
 * Check analytical gradients against finite differences. Resolves true, or
 * false / throws (with `raiseException`) on a mismatch.
 * @example
 * const x = gg.randn([3], { dtype: 'float64', requiresGrad: true });
 * await gg.autograd.gradcheck((t) => t.exp().sum(), [x]); // true
 */
export async function gradcheck(fn: Fn, inputsIn: Tensor | Tensor[], opts: GradcheckOptions = {}): Promise<boolean> {
  try {
    return await gradcheckChecks(fn, inputsIn, opts);
  } catch (e) {
    // the size and dtype checks inside vector-Jacobian products throw; without raiseException they resolve false
    if (e instanceof GradcheckError && opts.raiseException === false) return false;
    throw e;
  }
}

async function gradcheckChecks(fn: Fn, inputsIn: Tensor | Tensor[], opts: GradcheckOptions): Promise<boolean> {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const raise = opts.raiseException ?? true;
  const nondetTol = opts.nondetTol ?? 0;
  const inputs = Array.isArray(inputsIn) ? inputsIn : [inputsIn];
  const checkForward = opts.checkForwardAd ?? false;
  const checkBackward = opts.checkBackwardAd ?? true;
  if (!checkForward && !checkBackward) throw new Error('Expected at least one of check_forward_ad or check_backward_ad to be True');
  const diff = inputs.map((t, j) => (t.requiresGrad ? j : -1)).filter((j) => j >= 0);
  if (diff.length === 0) {
    throw new Error('gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.');
  }
  for (const j of diff) {
    if ((inputs[j] as Tensor).dtype !== 'float64') {
      platform().warn(
        `Input #${j} requires gradient and is not a double precision floating point. This check will likely fail if all the inputs are not of double precision floating point.`,
        'UserWarning',
      );
    }
  }
  const fail = (msg: string, jac?: { numerical: Float64Array[]; analytical: Float64Array[]; outputIndex: number; inputIndex: number }): boolean => {
    if (!raise) return false;
    const err = new GradcheckError(msg);
    if (jac) {
      const asTensor = (m: Float64Array[]) => {
        const cols = m[0]?.length ?? 0;
        const flat = new Float64Array(m.length * cols);
        m.forEach((row, k) => flat.set(row, k * cols));
        return tensor(flat, { shape: [m.length, cols], dtype: 'float64' });
      };
      err.numerical = asTensor(jac.numerical);
      err.analytical = asTensor(jac.analytical);
      err.outputIndex = jac.outputIndex;
      err.inputIndex = jac.inputIndex;
    }
    throw err;
  };

  const outputs = asList(fn(...inputs));
  const outVals = await Promise.all(outputs.map(values));
  const diffOutputs = outputs.map((o, i) => (o.requiresGrad ? i : -1)).filter((i) => i >= 0);

  // PyTorch's _check_no_differentiable_outputs: with no differentiable output the
  // numerical Jacobian must be zero (a detach() in the middle of fn is a bug it finds)
  if (diffOutputs.length === 0) {
    const zero = opts.fastMode
      ? await numericalDirectionalZero(fn, inputs, diff, eps, nondetTol)
      : await numericalJacobianZero(fn, inputs, diff, eps);
    return zero || fail('Numerical gradient for function expected to be zero');
  }

  // one vector-Jacobian product: the gradients of Σ v·output_i with respect to the differentiable inputs
  let dtypesOk = true;
  const vjp = async (i: number, v: Float64Array, retain = true): Promise<Float64Array[]> => {
    const o = outputs[i] as Tensor;
    const go = tensor(v, { shape: o.shape, dtype: o.dtype, device: o.device });
    const gs = grad([o], diff.map((j) => inputs[j] as Tensor), { gradOutputs: [go], retainGraph: retain, allowUnused: true });
    // PyTorch's _stack_and_check_tensors: each gradient has its input's size (and dtype)
    gs.forEach((g, k) => {
      const x = inputs[diff[k] as number] as Tensor;
      if (g && g.numel() !== x.numel()) throw new GradcheckError('Analytical gradient has incorrect size');
      if (g && g.dtype !== x.dtype) dtypesOk = false;
    });
    const out = await Promise.all(gs.map((g, k) => (g ? values(g) : values(zerosLike(inputs[diff[k] as number] as Tensor)))));
    go.dispose();
    return out;
  };

  // PyTorch checks the dtypes right after the analytical Jacobian, before reentrancy and values
  const dtypesWrong = (): boolean => (opts.checkGradDtypes ?? false) && !dtypesOk;

  // a dual pass with `tangent` on input j (the other inputs plain): each output's tangent
  const jvpOf = (j: number, tangent: Float64Array): Promise<Float64Array[]> =>
    dualLevel(async () => {
      const x = inputs[j] as Tensor;
      const t = tensor(tangent, { shape: x.shape, dtype: x.dtype, device: x.device });
      const args = inputs.map((y, m) => (m === j ? makeDual(y.detach(), t) : y));
      const outs = asList(fn(...args));
      return Promise.all(outs.map((o) => values(unpackDual(o).tangent ?? zerosLike(o))));
    });

  if (opts.fastMode) {
    if (!(await fastCheck(fn, inputs, outVals, diff, diffOutputs, vjp, checkBackward ? null : jvpOf, checkForward ? jvpOf : null, { eps, atol, rtol }, dtypesWrong, fail))) return false;
    return checkBackward ? afterJacobians() : true;
  }

  // numerical[i][jj][k][m] = d out_i[m] / d x_j[k] (rows: input elements, as PyTorch prints), per input on demand
  const numericalCache = new Map<number, Float64Array[][]>();
  const numericalFor = async (j: number): Promise<Float64Array[][]> => {
    const hit = numericalCache.get(j);
    if (hit) return hit;
    const perOutput: Float64Array[][] = outputs.map(() => []);
    for (let k = 0; k < (inputs[j] as Tensor).numel(); k++) {
      const plus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) + eps));
      const minus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) - eps));
      plus.forEach((p, i) => {
        const q = minus[i] as Float64Array;
        (perOutput[i] as Float64Array[]).push(Float64Array.from(p, (v, m) => (v - (q[m] ?? 0)) / (2 * eps)));
      });
    }
    numericalCache.set(j, perOutput);
    return perOutput;
  };
  const mismatch = (analytical: Float64Array[], numerical: Float64Array[], nOut: number): boolean => {
    for (let k = 0; k < analytical.length; k++) {
      for (let m = 0; m < nOut; m++) {
        const a = (analytical[k] as Float64Array)[m] as number;
        const n = (numerical[k] as Float64Array)[m] as number;
        if (!(Math.abs(a - n) <= atol + rtol * Math.abs(n))) return true;
      }
    }
    return false;
  };

  for (const i of checkBackward ? diffOutputs : []) {
    const nOut = (outVals[i] as Float64Array).length;
    for (const [jj, j] of diff.entries()) {
      const x = inputs[j] as Tensor;
      const nIn = x.numel();
      const numerical = (await numericalFor(j))[i] as Float64Array[];
      const analytical = Array.from({ length: nIn }, () => new Float64Array(nOut));
      const again = Array.from({ length: nIn }, () => new Float64Array(nOut));
      for (let m = 0; m < nOut; m++) {
        const onehot = new Float64Array(nOut);
        onehot[m] = 1;
        const g1 = (await vjp(i, onehot))[jj] as Float64Array;
        const g2 = (await vjp(i, onehot))[jj] as Float64Array;
        for (let k = 0; k < nIn; k++) {
          (analytical[k] as Float64Array)[m] = g1[k] ?? 0;
          (again[k] as Float64Array)[m] = g2[k] ?? 0;
        }
      }
      if (dtypesWrong()) return fail('Gradient has dtype mismatch');
      for (let k = 0; k < nIn; k++) {
        for (let m = 0; m < nOut; m++) {
          const d = Math.abs((analytical[k] as Float64Array)[m]! - (again[k] as Float64Array)[m]!);
          if (!(d <= nondetTol)) {
            return fail(
              `Backward is not reentrant, i.e., running backward with same input and grad_output multiple times gives different values, although analytical gradient matches numerical gradient. The tolerance for nondeterminism was ${nondetTol}.`,
            );
          }
        }
      }
      if (mismatch(analytical, numerical, nOut)) {
        return fail(
          `Jacobian mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${fmtMatrix(numerical, nOut)}\nanalytical:${fmtMatrix(analytical, nOut)}\n`,
          { numerical, analytical, outputIndex: diffOutputs.indexOf(i), inputIndex: jj },
        );
      }
    }
  }

  if (checkForward) {
    // the forward-mode Jacobian, a column (one output tangent) per input element
    for (const [jj, j] of diff.entries()) {
      const x = inputs[j] as Tensor;
      const columns: Float64Array[][] = [];
      for (let k = 0; k < x.numel(); k++) {
        const onehot = new Float64Array(x.numel());
        onehot[k] = 1;
        columns.push(await jvpOf(j, onehot));
      }
      const numerical = await numericalFor(j);
      for (const i of diffOutputs) {
        const nOut = (outVals[i] as Float64Array).length;
        const analytical = columns.map((c) => c[i] as Float64Array);
        if (mismatch(analytical, numerical[i] as Float64Array[], nOut)) {
          return fail(
            `Jacobian computed with forward mode mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${fmtMatrix(numerical[i] as Float64Array[], nOut)}\nanalytical:${fmtMatrix(analytical, nOut)}\n`,
          );
        }
      }
    }
    if (!checkBackward) return true;
  }

  return afterJacobians();

  // PyTorch's _test_backward_mul_by_grad_output and _test_undefined_backward_mode
  async function afterJacobians(): Promise<boolean> {
    // a backward that ignores its grad_output would pass the one-hot checks when the output is
    // 1-element; zero grad_outputs must give zero gradients for every input
    const diffIns = diff.map((j) => inputs[j] as Tensor);
    const zeroGos = diffOutputs.map((i) => zerosLike(outputs[i] as Tensor));
    const gsZero = grad(diffOutputs.map((i) => outputs[i] as Tensor), diffIns, { gradOutputs: zeroGos, retainGraph: true, allowUnused: true });
    zeroGos.forEach((t) => t.dispose());
    for (const [k, g] of gsZero.entries()) {
      if (!g) continue;
      const x = diffIns[k] as Tensor;
      if ((await values(g)).some((v) => v !== 0)) return fail('backward not multiplied by grad_output');
      if (g.dtype !== x.dtype || g.device !== x.device) return fail('grad is incorrect type');
      if (g.shape.join() !== x.shape.join()) return fail('grad is incorrect size');
    }
    if (opts.checkUndefinedGrad ?? true) return checkUndefined(fn, inputs, diff, fail);
    return true;
  }
}

/**
 * An identity whose backward passes no gradient (PyTorch's `UndefinedGrad`):
 * the nodes below it run with undefined output gradients.
 */
class UndefinedGrad extends AutogradFunction {
  static override forward(ctx: FunctionCtx, x: Tensor): Tensor {
    void ctx;
    return x.clone();
  }
  static override backward(): null {
    return null;
  }
}

const UNDEFINED_NOTE = 'Please look at "Notes about undefined output gradients" in "tools/autograd/derivatives.yaml"';

/**
 * PyTorch's `_test_undefined_backward_mode`: with every output's gradient
 * undefined (then one output at a time), backward must not throw and every
 * input gradient must be absent or zero. Custom Functions receive zeros for
 * undefined gradients (see autograd/function.ts), so this mostly catches a
 * backward that throws on them.
 */
async function checkUndefined(fn: Fn, inputs: Tensor[], diff: number[], fail: (msg: string) => boolean): Promise<boolean> {
  const diffIns = diff.map((j) => inputs[j] as Tensor);
  const diffOuts = (): Tensor[] => asList(fn(...inputs)).filter((o) => o.requiresGrad);
  const n = diffOuts().length;
  const variants: (number | null)[] = [null];
  if (n > 1) for (let k = 0; k < n; k++) variants.push(k);
  for (const which of variants) {
    const outs = diffOuts().map((o, k) => (which === null || which === k ? UndefinedGrad.apply(o) : o));
    let gs: (Tensor | null)[];
    try {
      gs = grad(outs, diffIns, { gradOutputs: outs.map((o) => zerosLike(o)), allowUnused: true });
    } catch {
      return fail(`Expected backward function to handle undefined output grads. ${UNDEFINED_NOTE}`);
    }
    for (const g of gs) {
      if (g && (await values(g)).some((v) => v !== 0)) {
        return fail(`Expected all input grads to be undefined or zero when all output grads are undefined or zero. ${UNDEFINED_NOTE}`);
      }
    }
  }
  return true;
}

/** The full numerical Jacobian of every output with respect to every differentiable input is zero. */
async function numericalJacobianZero(fn: Fn, inputs: Tensor[], diff: number[], eps: number): Promise<boolean> {
  for (const j of diff) {
    const n = (inputs[j] as Tensor).numel();
    for (let k = 0; k < n; k++) {
      const plus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) + eps));
      const minus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) - eps));
      for (const [i, p] of plus.entries()) {
        const q = minus[i] as Float64Array;
        if (p.some((v, m) => (v - (q[m] ?? 0)) / (2 * eps) !== 0)) return false;
      }
    }
  }
  return true;
}

/** Fast mode's version: the numerical derivative along one random direction per input is within nondetTol of 0. */
async function numericalDirectionalZero(fn: Fn, inputs: Tensor[], diff: number[], eps: number, nondetTol: number): Promise<boolean> {
  for (const j of diff) {
    const u = randomUnit((inputs[j] as Tensor).numel());
    const plus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) + eps * (u[k] ?? 0))));
    const minus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) - eps * (u[k] ?? 0))));
    for (const [i, p] of plus.entries()) {
      const q = minus[i] as Float64Array;
      if (p.some((v, m) => Math.abs((v - (q[m] ?? 0)) / (2 * eps)) > nondetTol)) return false;
    }
  }
  return true;
}

function randomUnit(n: number): Float64Array {
  const v = Float64Array.from({ length: n }, () => normal());
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

type Jvp = (j: number, tangent: Float64Array) => Promise<Float64Array[]>;

async function fastCheck(
  fn: Fn,
  inputs: Tensor[],
  outVals: Float64Array[],
  diff: number[],
  diffOutputs: number[],
  vjp: (i: number, v: Float64Array) => Promise<Float64Array[]>,
  /** Set when only forward mode is checked (no backward pass then). */
  forwardOnly: Jvp | null,
  /** Set when forward mode is checked too. */
  forward: Jvp | null,
  tol: { eps: number; atol: number; rtol: number },
  dtypesWrong: () => boolean,
  fail: (msg: string) => boolean,
): Promise<boolean> {
  const suffix =
    '\n\nThe above quantities relating the numerical and analytical jacobians are computed in fast mode. See: https://github.com/pytorch/pytorch/issues/53876 for more background about fast mode. Rerun with fastMode: false to see the full Jacobians.';
  for (const i of diffOutputs) {
    const v = randomUnit((outVals[i] as Float64Array).length);
    const vJ = forwardOnly ? null : await vjp(i, v);
    if (dtypesWrong()) return fail('Gradient has dtype mismatch');
    for (const [jj, j] of diff.entries()) {
      const x = inputs[j] as Tensor;
      const u = randomUnit(x.numel());
      const plus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) + tol.eps * (u[k] ?? 0))));
      const minus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) - tol.eps * (u[k] ?? 0))));
      const p = plus[i] as Float64Array;
      const q = minus[i] as Float64Array;
      let numerical = 0;
      p.forEach((pv, m) => (numerical += (v[m] ?? 0) * (pv - (q[m] ?? 0)) / (2 * tol.eps)));
      const sumU = u.reduce((a, b) => a + b, 0);
      const sumV = v.reduce((a, b) => a + b, 0);
      const atol = tol.atol * sumU * sumV;
      const close = (a: number): boolean => Math.abs(a - numerical) <= Math.abs(atol) + tol.rtol * Math.abs(numerical);
      if (vJ) {
        let analytical = 0;
        (vJ[jj] as Float64Array).forEach((g, k) => (analytical += g * (u[k] ?? 0)));
        if (!close(analytical)) {
          return fail(`Jacobian mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${numerical}\nanalytical:${analytical}\n${suffix}`);
        }
      }
      const jvp = forward ?? forwardOnly;
      if (jvp) {
        // vᵀ (J u) from one dual pass
        const Ju = (await jvp(j, u))[i] as Float64Array;
        let analytical = 0;
        Ju.forEach((t, m) => (analytical += t * (v[m] ?? 0)));
        if (!close(analytical)) {
          return fail(`Jacobian computed with forward mode mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${numerical}\nanalytical:${analytical}\n${suffix}`);
        }
      }
    }
  }
  return true;
}

/**
 * Check second derivatives: gradcheck of (inputs, grad_outputs) → the
 * gradients computed with `createGraph`.
 * @example
 * const x = gg.randn([3], { dtype: 'float64', requiresGrad: true });
 * await gg.autograd.gradgradcheck((t) => t.pow(3), [x]); // true
 */
export async function gradgradcheck(fn: Fn, inputsIn: Tensor | Tensor[], opts: GradgradcheckOptions = {}): Promise<boolean> {
  const inputs = Array.isArray(inputsIn) ? inputsIn : [inputsIn];
  const outs = asList(fn(...inputs)).filter((o) => o.requiresGrad);
  const gradOutputs =
    opts.gradOutputs ??
    outs.map((o) => {
      const data = Float64Array.from({ length: o.numel() }, () => normal());
      return tensor(data, { shape: o.shape, dtype: o.dtype, device: o.device, requiresGrad: true });
    });
  const n = inputs.length;
  const first = (...all: Tensor[]): Tensor[] => {
    const xs = all.slice(0, n);
    const gos = all.slice(n);
    const ys = asList(fn(...xs)).filter((o) => o.requiresGrad);
    const dxs = xs.filter((_, i) => (inputs[i] as Tensor).requiresGrad);
    const gs = grad(ys, dxs, { gradOutputs: gos, createGraph: true, allowUnused: true });
    return gs.filter((g): g is Tensor => g !== null);
  };
  const { gradOutputs: _unused, ...rest } = opts;
  return gradcheck(first, [...inputs, ...gradOutputs], rest);
}
