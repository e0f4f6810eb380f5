/**
 * gradcheck and gradgradcheck with PyTorch's semantics (docs/spec/gradcheck.md):
 * central finite differences in the inputs' own precision (use float64),
 * compared elementwise with the Jacobian the backward pass gives and, with
 * `checkForwardAd`, the one forward mode gives (docs/notes/forward-mode.md).
 */
import { uniform } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor, zerosLike } from '../tensor/creation.js';
import { grad } from './engine.js';
import { Function as AutogradFunction, type FunctionCtx } from './function.js';
import { platform } from '../backend/platform/platform.js';
import { dualLevel, makeDual, unpackDual } from './forward-ad.js';
import { checkOptions } from '../tensor/check.js';

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
  /**
   * PyTorch's `check_batched_grad` (default false): gradients computed for a
   * batch of grad_outputs at once through vmap. gpugrad has no vmap, so
   * `true` is refused with an error saying so (docs/spec/gradcheck.md).
   */
  checkBatchedGrad?: boolean;
  /** PyTorch's `check_batched_forward_grad` (default false): refused when true, as `checkBatchedGrad`. */
  checkBatchedForwardGrad?: boolean;
  /** PyTorch's `check_sparse_nnz` (default false): gpugrad has no sparse tensors, so true is refused. */
  checkSparseNnz?: boolean;
}

/** Options of `gradgradcheck`. */
export interface GradgradcheckOptions extends Omit<GradcheckOptions, 'checkForwardAd' | 'checkBackwardAd' | 'checkBatchedForwardGrad' | 'checkSparseNnz'> {
  /** The grad_outputs to differentiate with (default: uniform in [-1, 1), one per differentiable output, requiring grad). */
  gradOutputs?: Tensor[];
  /** Draw the default grad_outputs as non-contiguous views (PyTorch's `gen_non_contig_grad_outputs`, default false). */
  genNonContigGradOutputs?: boolean;
  /**
   * PyTorch's `check_fwd_over_rev` (default false): second derivatives by forward mode over the
   * backward pass. gpugrad's backward pass carries no tangents, so `true` is refused (docs/spec/gradcheck.md).
   */
  checkFwdOverRev?: boolean;
  /** Check them with backward mode over the backward pass (PyTorch's `check_rev_over_rev`, default true). */
  checkRevOverRev?: boolean;
}

/** The keys of GradcheckOptions and GradgradcheckOptions (an unknown key is refused, docs/notes/validation.md). */
const GRADCHECK_KEYS: readonly (keyof GradcheckOptions)[] = [
  'eps', 'atol', 'rtol', 'raiseException', 'fastMode', 'nondetTol', 'checkUndefinedGrad', 'checkGradDtypes',
  'checkForwardAd', 'checkBackwardAd', 'checkBatchedGrad', 'checkBatchedForwardGrad', 'checkSparseNnz',
];
const GRADGRADCHECK_KEYS: readonly (keyof GradgradcheckOptions)[] = [
  'eps', 'atol', 'rtol', 'raiseException', 'fastMode', 'nondetTol', 'checkUndefinedGrad', 'checkGradDtypes',
  'checkBatchedGrad', 'gradOutputs', 'genNonContigGradOutputs', 'checkFwdOverRev', 'checkRevOverRev',
];

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

/** The values of fn's outputs at perturbed inputs, with each output's shape and dtype (PyTorch checks they do not change). */
type Perturbed = Float64Array[] & { meta: { shape: string; dtype: string }[] };

/** Run fn with input j's element k moved by delta (a fresh input; nothing is mutated). */
async function evalPerturbed(fn: Fn, inputs: Tensor[], j: number, perturb: (data: Float64Array) => void): Promise<Perturbed> {
  const x = inputs[j] as Tensor;
  const data = await values(x);
  perturb(data);
  // NOTE: inputs keep requiresGrad, as in PyTorch: gradgradcheck's function differentiates inside
  const moved = tensor(data, { shape: x.shape, dtype: x.dtype, device: x.device, requiresGrad: x.requiresGrad });
  const args = inputs.map((t, i) => (i === j ? moved : t));
  const outs = asList(fn(...args));
  const result: Perturbed = Object.assign(await Promise.all(outs.map(values)), {
    meta: outs.map((o) => ({ shape: `[${o.shape.join(', ')}]`, dtype: o.dtype })),
  });
  moved.dispose();
  return result;
}

/**
 * PyTorch's `_check_outputs_same_dtype_and_shape`: fn must give outputs of
 * the same shape and dtype at x + eps and x - eps (a plain Error, as
 * PyTorch's AssertionError, so `raiseException: false` does not hide it).
 */
function checkSameMeta(minus: Perturbed, plus: Perturbed, eps: number, index: number): void {
  minus.meta.forEach((a, i) => {
    // as PyTorch's zip: an output only one of the two runs gave is not compared
    const b = plus.meta[i];
    if (!b) return;
    const on = `on index ${index} `;
    if (a.shape !== b.shape) throw new Error(`Expected \`func\` to return outputs with the same shape when inputs are perturbed ${on}by ${eps}, but got: shapes ${a.shape} and ${b.shape}.`);
    if (a.dtype !== b.dtype) throw new Error(`Expected \`func\` to return outputs with the same dtype when inputs are perturbed ${on}by ${eps}, but got: dtypes ${a.dtype} and ${b.dtype}.`);
  });
}

/** torch.allclose for one pair: equal values (±inf included) are close, NaN never is. */
function isClose(a: number, n: number, atol: number, rtol: number): boolean {
  return a === n || Math.abs(a - n) <= atol + rtol * Math.abs(n);
}

function fmtMatrix(m: Float64Array[], cols: number): string {
  const rows = m.map((r) => `[${Array.from(r.subarray(0, cols), (v) => (Number.isFinite(v) ? v.toPrecision(6) : String(v))).join(', ')}]`);
  return `tensor([${rows.join(',\n        ')}])`;
}

/**
 * Check analytical gradients against finite differences. Resolves true, or
 * false / throws (with `raiseException`) on a mismatch.
 * @throws (rejects) TypeError `gradcheck() got an unexpected keyword argument 'k'`
 *   for an option key GradcheckOptions lacks (PyTorch's TypeError for an
 *   unknown keyword), before fn runs
 * @example
 * const x = gg.randn([3], { dtype: 'float64', requiresGrad: true });
 * await gg.autograd.gradcheck((t) => t.exp().sum(), [x]); // true
 */
export async function gradcheck(fn: Fn, inputsIn: Tensor | Tensor[], opts: GradcheckOptions = {}): Promise<boolean> {
  checkOptions('gradcheck', opts, GRADCHECK_KEYS);
  try {
    return await gradcheckChecks(fn, inputsIn, opts);
  } catch (e) {
    // as PyTorch's gradcheck: every failed check raises a GradcheckError; without raiseException it resolves false
    if (e instanceof GradcheckError && opts.raiseException === false) return false;
    throw e;
  }
}

async function gradcheckChecks(fn: Fn, inputsIn: Tensor | Tensor[], opts: GradcheckOptions): Promise<boolean> {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const nondetTol = opts.nondetTol ?? 0;
  const inputs = Array.isArray(inputsIn) ? inputsIn : [inputsIn];
  const checkForward = opts.checkForwardAd ?? false;
  const checkBackward = opts.checkBackwardAd ?? true;
  if (!checkForward && !checkBackward) throw new Error('Expected at least one of check_forward_ad or check_backward_ad to be True');
  const diff = inputs.map((t, j) => (t.requiresGrad ? j : -1)).filter((j) => j >= 0);
  if (diff.length === 0) {
    throw new Error('gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.');
  }
  if (opts.checkSparseNnz) throw new Error('gradcheck: check_sparse_nnz needs sparse tensors, which gpugrad does not have (docs/spec/gradcheck.md)');
  if (opts.checkBatchedGrad && !checkBackward) throw new Error('Setting check_batched_grad=True requires check_backward_ad to be True');
  if (opts.checkBatchedForwardGrad && !checkForward) throw new Error('Setting check_batched_forward_grad=True requires check_forward_ad to be True');
  if (opts.checkBatchedGrad || opts.checkBatchedForwardGrad) {
    throw new Error('gradcheck: check_batched_grad and check_batched_forward_grad compute gradients through vmap, which gpugrad does not have (docs/spec/gradcheck.md)');
  }
  // PyTorch's _check_inputs
  for (const j of diff) {
    const x = inputs[j] as Tensor;
    if (x.dtype !== 'float64') {
      platform().warn(
        `Input #${j} requires gradient and is not a double precision floating point or complex. This check will likely fail if all the inputs are not of double precision floating point or complex. `,
        'UserWarning',
      );
    }
    if (!x.strides.every((st, d) => st > 0 || (x.shape[d] ?? 0) <= 1)) {
      throw new Error(
        `The ${j}th input has a dimension with stride 0. gradcheck only supports inputs that are non-overlapping to be able to compute the numerical gradients correctly. You should call .contiguous on the input before passing it to gradcheck.`,
      );
    }
  }
  const fail = (msg: string, jac?: { numerical: Float64Array[]; analytical: Float64Array[]; outputIndex: number; inputIndex: number; cols: number }): never => {
    const err = new GradcheckError(msg);
    if (jac) {
      const asTensor = (m: Float64Array[]) => {
        const cols = jac.cols;
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
  // PyTorch's fast mode draws u (per input) and v (per output) from a generator of its own, so
  // the user's random stream is untouched and a run is repeatable
  const rng = privateUniform();
  const outVals = await Promise.all(outputs.map(values));
  const diffOutputs = outputs.map((o, i) => (o.requiresGrad ? i : -1)).filter((i) => i >= 0);

  // PyTorch's _check_no_differentiable_outputs: with no differentiable output the
  // numerical Jacobian must be zero (a detach() in the middle of fn is a bug it finds)
  if (diffOutputs.length === 0) {
    const zero = opts.fastMode
      ? await numericalDirectionalZero(fn, inputs, diff, eps, nondetTol, rng)
      : await numericalJacobianZero(fn, inputs, diff, eps);
    if (!zero) fail('Numerical gradient for function expected to be zero');
    return true;
  }

  // one vector-Jacobian product: the gradients of Σ v·output_i with respect to the differentiable inputs
  let dtypesOk = true;
  const vjp = async (i: number, v: Float64Array, retain = true): Promise<Float64Array[]> => {
    const o = outputs[i] as Tensor;
    const go = tensor(v, { shape: o.shape, dtype: o.dtype, device: o.device });
    const gs = grad([o], diff.map((j) => inputs[j] as Tensor), { gradOutputs: [go], retainGraph: retain, allowUnused: true });
    // PyTorch's _stack_and_check_tensors: each gradient has its input's size (and dtype)
    // Stryker disable all: unreachable, the engine brings every gradient to its input's shape and dtype (equivalent mutants, docs/notes/mutation-testing.md)
    gs.forEach((g, k) => {
      const x = inputs[diff[k] as number] as Tensor;
      if (g && g.numel() !== x.numel()) throw new GradcheckError('Analytical gradient has incorrect size');
      if (g && g.dtype !== x.dtype) dtypesOk = false;
    });
    // Stryker restore all
    const out = await Promise.all(gs.map((g, k) => (g ? values(g) : values(zerosLike(inputs[diff[k] as number] as Tensor)))));
    go.dispose();
    return out;
  };

  // PyTorch checks the dtypes right after the analytical Jacobian, before reentrancy and values
  // Stryker disable next-line all: dtypesOk stays true (see above)
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

  const undefinedChecks = opts.checkUndefinedGrad ?? true;
  if (opts.fastMode) {
    await fastCheck(fn, inputs, outVals, diff, diffOutputs, vjp, checkBackward ? null : jvpOf, checkForward ? jvpOf : null, { eps, atol, rtol, nondetTol }, dtypesWrong, fail, rng);
    if (checkForward && undefinedChecks) await checkUndefinedForward(fn, inputs, diff, fail);
    if (checkBackward) await afterJacobians();
    return true;
  }

  // PyTorch's _get_numerical_jacobian, for every differentiable input before any analytical one:
  // numerical[jj][i][k][m] = d out_i[m] / d x_j[k] (rows: input elements, as PyTorch prints)
  const numerical: Float64Array[][][] = [];
  for (const j of diff) {
    const perOutput: Float64Array[][] = outputs.map(() => []);
    for (let k = 0; k < (inputs[j] as Tensor).numel(); k++) {
      const plus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) + eps));
      const minus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) - eps));
      checkSameMeta(minus, plus, eps, k);
      plus.forEach((p, i) => {
        const q = minus[i] as Float64Array;
        (perOutput[i] as Float64Array[]).push(Float64Array.from(p, (v, m) => (v - (q[m] ?? 0)) / (2 * eps)));
      });
    }
    numerical.push(perOutput);
  }
  /** Any entry where torch.allclose fails (rows of both matrices have the output's length). */
  const mismatch = (analytical: Float64Array[], numericalRows: Float64Array[]): boolean =>
    analytical.some((row, k) => row.some((a, m) => !isClose(a, (numericalRows[k] as Float64Array)[m] as number, atol, rtol)));

  for (const i of checkBackward ? diffOutputs : []) {
    // PyTorch's _check_analytical_jacobian_attributes: the vector-Jacobian product of every output
    // element (one-hot grad_output, all inputs at once), twice; dtypes, then reentrancy for every input
    const nOut = (outVals[i] as Float64Array).length;
    const jacobian = async (): Promise<Float64Array[][]> => {
      const rows = diff.map((j) => Array.from({ length: (inputs[j] as Tensor).numel() }, () => new Float64Array(nOut)));
      for (let m = 0; m < nOut; m++) {
        const onehot = new Float64Array(nOut);
        onehot[m] = 1;
        const gs = await vjp(i, onehot);
        gs.forEach((g, jj) => g.forEach((v, k) => ((rows[jj] as Float64Array[])[k] as Float64Array)[m] = v));
      }
      return rows;
    };
    const analytical = await jacobian();
    const again = await jacobian();
    // Stryker disable next-line all: dtypesOk stays true (see vjp)
    if (dtypesWrong()) fail('Gradient has dtype mismatch');
    // PyTorch's _check_jacobians_equal: only a difference above the tolerance fails (NaN from inf - inf does not)
    const reentrant = analytical.every((rows, jj) => rows.every((row, k) => row.every((a, m) => !(Math.abs(a - ((again[jj] as Float64Array[])[k] as Float64Array)[m]!) > nondetTol))));
    if (!reentrant) fail(reentrantMessage(nondetTol));
    for (const [jj, rows] of analytical.entries()) {
      const n = (numerical[jj] as Float64Array[][])[i] as Float64Array[];
      if (mismatch(rows, n)) {
        fail(
          `Jacobian mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${fmtMatrix(n, nOut)}\nanalytical:${fmtMatrix(rows, nOut)}\n`,
          { numerical: n, analytical: rows, outputIndex: diffOutputs.indexOf(i), inputIndex: jj, cols: nOut },
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
      for (const i of diffOutputs) {
        const nOut = (outVals[i] as Float64Array).length;
        const analytical = columns.map((c) => c[i] as Float64Array);
        const n = (numerical[jj] as Float64Array[][])[i] as Float64Array[];
        if (mismatch(analytical, n)) {
          fail(
            `Jacobian computed with forward mode mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${fmtMatrix(n, nOut)}\nanalytical:${fmtMatrix(analytical, nOut)}\n`,
          );
        }
      }
    }
    if (undefinedChecks) await checkUndefinedForward(fn, inputs, diff, fail);
  }

  if (checkBackward) await afterJacobians();
  return true;

  // PyTorch's _test_backward_mul_by_grad_output and _test_undefined_backward_mode
  async function afterJacobians(): Promise<void> {
    // a backward that ignores its grad_output would pass the one-hot checks when the output is
    // 1-element; zero grad_outputs must give zero gradients for every input
    const diffIns = diff.map((j) => inputs[j] as Tensor);
    const zeroGos = diffOutputs.map((i) => zerosLike(outputs[i] as Tensor));
    // Stryker disable next-line BooleanLiteral: nothing uses this graph afterwards (the undefined-gradient checks call fn again)
    const gsZero = grad(diffOutputs.map((i) => outputs[i] as Tensor), diffIns, { gradOutputs: zeroGos, retainGraph: true, allowUnused: true });
    // Stryker disable next-line ArrowFunction: frees temporaries (memory, not values)
    zeroGos.forEach((t) => t.dispose());
    for (const [k, g] of gsZero.entries()) {
      if (!g) continue;
      const x = diffIns[k] as Tensor;
      if ((await values(g)).some((v) => v !== 0)) fail('backward not multiplied by grad_output');
      // Stryker disable all: unreachable, the engine conforms every gradient to its input (docs/notes/validation.md §2)
      if (g.dtype !== x.dtype || g.device !== x.device) fail('grad is incorrect type');
      if (g.shape.join() !== x.shape.join()) fail('grad is incorrect size');
      // Stryker restore all
    }
    if (undefinedChecks) await checkUndefined(fn, inputs, diff, fail);
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
  // Stryker disable next-line BlockStatement: returning undefined is returning no gradient, as null
  static override backward(): null {
    return null;
  }
}

const UNDEFINED_NOTE = 'Please look at "Notes about undefined output gradients" in "tools/autograd/derivatives.yaml"';

/** PyTorch's words (its note about OpInfo workarounds left out: it names PyTorch's own test files). */
const reentrantMessage = (nondetTol: number): string =>
  `Backward is not reentrant, i.e., running backward with same input and grad_output multiple times gives different values, although analytical gradient matches numerical gradient.The tolerance for nondeterminism was ${nondetTol}.`;

/** PyTorch's warning before an undefined-gradient failure. */
function warnBcBreaking(): void {
  platform().warn(
    'Backwards compatibility: New undefined gradient support checking feature is enabled by default, but it may break existing callers of this function. If this is true for you, you can call this function with "check_undefined_grad=False" to disable the feature',
    'UserWarning',
  );
}

/**
 * A uniform [0, 1) stream of gradcheck's own (mulberry32 from a fixed
 * seed), so fast mode leaves the user's random stream alone, as PyTorch's
 * private `torch.Generator()` does.
 */
// Stryker disable all: any fixed stream of positive numbers is as good (the vectors are normalised); the tests check that it is fixed and private
function privateUniform(): () => number {
  let a = 0x2545f491;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// Stryker restore all

/**
 * PyTorch's `_test_undefined_forward_mode` (with `checkForwardAd` and
 * `checkUndefinedGrad`): every differentiable input gets a random tangent;
 * then, one input at a time, a zero tangent and no tangent at all (a plain
 * tensor) must give the same output tangents wherever both are defined.
 */
async function checkUndefinedForward(fn: Fn, inputs: Tensor[], diff: number[], fail: (msg: string) => never): Promise<void> {
  const rng = privateUniform();
  const tangents = new Map(diff.map((j) => [j, unitVector((inputs[j] as Tensor).numel(), rng)]));
  for (const j of diff) {
    const run = (zeroTangent: boolean): Promise<(Float64Array | null)[]> =>
      dualLevel(async () => {
        const args = inputs.map((x, m) => {
          if (!diff.includes(m)) return x;
          // Stryker disable next-line ConditionalExpression,EqualityOperator: a custom jvp gets zeros for an absent tangent, so both runs match unless the jvp keeps state
          if (m === j) return zeroTangent ? makeDual(x.detach(), zerosLike(x)) : x.detach();
          const t = tensor(tangents.get(m) as Float64Array, { shape: x.shape, dtype: x.dtype, device: x.device });
          return makeDual(x.detach(), t);
        });
        const outs = asList(fn(...args));
        return Promise.all(outs.map(async (o) => {
          const t = unpackDual(o).tangent;
          return t ? values(t) : null;
        }));
      });
    // Stryker disable next-line BooleanLiteral: as above, a zero and an absent tangent give the same tangents
    const withZero = await run(true);
    // Stryker disable next-line BooleanLiteral: as above
    const without = await run(false);
    for (const [i, a] of withZero.entries()) {
      const b = without[i];
      if (!a || !b) continue;
      if (a.some((v, m) => !isClose(v, b[m] as number, 1e-8, 1e-5))) {
        fail(
          `Mismatch in tangent values for output with index: ${i} when input: ${j} has an undefined tangent value.  Got: [${Array.from(a).join(', ')}] but expected: [${Array.from(b).join(', ')}]`,
        );
      }
    }
  }
}

/**
 * PyTorch's `_test_undefined_backward_mode`: with every output's gradient
 * undefined (then one output at a time), backward must not throw and every
 * input gradient must be absent or zero. Custom Functions receive zeros for
 * undefined gradients (see autograd/function.ts), so this mostly catches a
 * backward that throws on them.
 */
async function checkUndefined(fn: Fn, inputs: Tensor[], diff: number[], fail: (msg: string) => never): Promise<void> {
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
      warnBcBreaking();
      fail(`Expected backward function to handle undefined output grads. ${UNDEFINED_NOTE}`);
    }
    for (const g of gs) {
      if (g && (await values(g)).some((v) => v !== 0)) {
        warnBcBreaking();
        fail(`Expected all input grads to be undefined or zero when all output grads are undefined or zero. ${UNDEFINED_NOTE}`);
      }
    }
  }
}

/** The full numerical Jacobian of every output with respect to every differentiable input is zero. */
async function numericalJacobianZero(fn: Fn, inputs: Tensor[], diff: number[], eps: number): Promise<boolean> {
  for (const j of diff) {
    const n = (inputs[j] as Tensor).numel();
    // Stryker disable next-line EqualityOperator: k = n writes past the end of a Float64Array (ignored): an unperturbed pair, whose difference is 0
    for (let k = 0; k < n; k++) {
      const plus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) + eps));
      const minus = await evalPerturbed(fn, inputs, j, (d) => (d[k] = (d[k] ?? 0) - eps));
      checkSameMeta(minus, plus, eps, k);
      for (const [i, p] of plus.entries()) {
        const q = minus[i] as Float64Array;
        if (p.some((v, m) => (v - (q[m] ?? 0)) / (2 * eps) !== 0)) return false;
      }
    }
  }
  return true;
}

/** Fast mode's version: the numerical derivative along one random direction per input is within nondetTol of 0. */
async function numericalDirectionalZero(fn: Fn, inputs: Tensor[], diff: number[], eps: number, nondetTol: number, rng: () => number): Promise<boolean> {
  for (const j of diff) {
    const u = unitVector((inputs[j] as Tensor).numel(), rng);
    const plus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) + eps * (u[k] ?? 0))));
    const minus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) - eps * (u[k] ?? 0))));
    for (const [i, p] of plus.entries()) {
      const q = minus[i] as Float64Array;
      if (p.some((v, m) => Math.abs((v - (q[m] ?? 0)) / (2 * eps)) > nondetTol)) return false;
    }
  }
  return true;
}

/** PyTorch's `_vec_from_tensor`: uniform [0, 1) entries, scaled to unit length (so Σu > 0). */
function unitVector(n: number, rng: () => number): Float64Array {
  const v = Float64Array.from({ length: n }, () => rng());
  let sq = 0;
  for (const x of v) sq += x * x;
  const norm = Math.sqrt(sq) || 1;
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
  tol: { eps: number; atol: number; rtol: number; nondetTol: number },
  dtypesWrong: () => boolean,
  fail: (msg: string) => never,
  rng: () => number,
): Promise<void> {
  const suffix =
    '\n\nThe above quantities relating the numerical and analytical jacobians are computed in fast mode. See: https://github.com/pytorch/pytorch/issues/53876 for more background about fast mode. Rerun with fastMode: false to see the full Jacobians.';
  // PyTorch's _make_vectors: one u per differentiable input, one v per differentiable output
  const us = diff.map((j) => unitVector((inputs[j] as Tensor).numel(), rng));
  const vs = new Map(diffOutputs.map((i) => [i, unitVector((outVals[i] as Float64Array).length, rng)]));
  const sum = (a: Float64Array): number => a.reduce((x, y) => x + y, 0);
  // numerical vᵀ(J u) per input: one pair of perturbed runs along u
  const numericalJu: Perturbed[][] = [];
  for (const [jj, j] of diff.entries()) {
    const u = us[jj] as Float64Array;
    const plus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) + tol.eps * (u[k] ?? 0))));
    const minus = await evalPerturbed(fn, inputs, j, (d) => d.forEach((_, k) => (d[k] = (d[k] ?? 0) - tol.eps * (u[k] ?? 0))));
    checkSameMeta(minus, plus, tol.eps, 0);
    numericalJu.push([plus, minus]);
  }
  for (const i of diffOutputs) {
    const v = vs.get(i) as Float64Array;
    let vJ: Float64Array[] | null = null;
    if (!forwardOnly) {
      // PyTorch's _check_analytical_jacobian_attributes in fast mode: vᵀJ twice, equal within nondetTol
      vJ = await vjp(i, v);
      const again = await vjp(i, v);
      // Stryker disable next-line all: dtypesOk stays true (see vjp)
      if (dtypesWrong()) fail('Gradient has dtype mismatch');
      const reentrant = vJ.every((g, k) => g.every((x, m) => !(Math.abs(x - ((again[k] as Float64Array)[m] ?? 0)) > tol.nondetTol)));
      if (!reentrant) fail(reentrantMessage(tol.nondetTol));
    }
    for (const [jj, j] of diff.entries()) {
      const u = us[jj] as Float64Array;
      const [plus, minus] = numericalJu[jj] as Perturbed[];
      const p = (plus as Perturbed)[i] as Float64Array;
      const q = (minus as Perturbed)[i] as Float64Array;
      // PyTorch's _adjusted_atol: atol·Σu·Σv (Σv = 1 in forward mode, which has no v)
      const atol = tol.atol * sum(u) * (forwardOnly ? 1 : sum(v));
      const close = (a: number, n: number): boolean => isClose(a, n, atol, tol.rtol);
      if (vJ) {
        let numerical = 0;
        p.forEach((pv, m) => (numerical += (v[m] ?? 0) * (pv - (q[m] ?? 0)) / (2 * tol.eps)));
        let analytical = 0;
        (vJ[jj] as Float64Array).forEach((g, k) => (analytical += g * (u[k] ?? 0)));
        if (!close(analytical, numerical)) {
          fail(`Jacobian mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${numerical}\nanalytical:${analytical}\n${suffix}`);
        }
      }
      const jvp = forward ?? forwardOnly;
      if (jvp) {
        // J u from one dual pass, compared entry by entry as PyTorch's forward fast mode (no v there)
        const Ju = (await jvp(j, u))[i] as Float64Array;
        const numericalJuVec = Float64Array.from(p, (pv, m) => (pv - (q[m] ?? 0)) / (2 * tol.eps));
        const atolF = tol.atol * sum(u);
        const bad = Ju.findIndex((a, m) => !isClose(a, numericalJuVec[m] as number, atolF, tol.rtol));
        if (bad >= 0) {
          fail(
            `Jacobian computed with forward mode mismatch for output ${diffOutputs.indexOf(i)} with respect to input ${jj},\nnumerical:${fmtMatrix([numericalJuVec], numericalJuVec.length)}\nanalytical:${fmtMatrix([Ju], Ju.length)}\n${suffix}`,
          );
        }
      }
    }
  }
}

/**
 * Check second derivatives: gradcheck of (inputs, grad_outputs) → the
 * gradients computed with `createGraph`.
 * @throws (rejects) TypeError `gradgradcheck() got an unexpected keyword argument 'k'`
 *   for an option key GradgradcheckOptions lacks, before fn runs
 * @example
 * const x = gg.randn([3], { dtype: 'float64', requiresGrad: true });
 * await gg.autograd.gradgradcheck((t) => t.pow(3), [x]); // true
 */
export async function gradgradcheck(fn: Fn, inputsIn: Tensor | Tensor[], opts: GradgradcheckOptions = {}): Promise<boolean> {
  checkOptions('gradgradcheck', opts, GRADGRADCHECK_KEYS);
  const fwdOverRev = opts.checkFwdOverRev ?? false;
  const revOverRev = opts.checkRevOverRev ?? true;
  if (!fwdOverRev && !revOverRev) throw new Error('Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True');
  if ((opts.checkUndefinedGrad ?? true) && !revOverRev) throw new Error('Setting check_undefined_grad=True requires check_rev_over_rev to be True');
  if (opts.checkBatchedGrad && !revOverRev) throw new Error('Setting check_batched_grad=True requires check_rev_over_rev to be True');
  if (fwdOverRev) {
    // NOTE: the engine's backward pass carries no forward-mode tangents (grad() of a dual gives a plain tensor)
    throw new Error('gradgradcheck: check_fwd_over_rev needs forward-mode tangents through the backward pass, which gpugrad does not carry (docs/spec/gradcheck.md)');
  }
  const inputs = Array.isArray(inputsIn) ? inputsIn : [inputsIn];
  const diffInputs = new Set([...inputs.keys()].filter((i) => (inputs[i] as Tensor).requiresGrad));
  const gradOutputs =
    opts.gradOutputs ??
    asList(fn(...inputs))
      .filter((o) => o.requiresGrad)
      .map((o) => {
        // PyTorch's make_tensor(low=-1, high=1): uniform in [-1, 1), from the library's stream
        const data = Float64Array.from({ length: o.numel() }, () => 2 * uniform() - 1);
        const dense = { dtype: o.dtype, device: o.device };
        if (!opts.genNonContigGradOutputs) return tensor(data, { ...dense, shape: o.shape, requiresGrad: true });
        // a non-contiguous leaf: every other element of a buffer twice as long (a strided view: narrow
        // then squeeze would copy, since squeeze reshapes)
        const buffer = new Float64Array(2 * data.length);
        data.forEach((v, k) => (buffer[2 * k] = v));
        const wide = tensor(buffer, { ...dense, shape: [buffer.length] });
        const strides = o.shape.map((_, d) => 2 * o.shape.slice(d + 1).reduce((p, s) => p * s, 1));
        return wide.asStrided({ shape: [...o.shape], strides, offset: 0 }).requiresGrad_(true);
      });
  const n = inputs.length;
  const first = (...all: Tensor[]): Tensor[] => {
    const xs = all.slice(0, n);
    const gos = all.slice(n);
    const ys = asList(fn(...xs)).filter((o) => o.requiresGrad);
    const dxs = xs.filter((_, i) => diffInputs.has(i));
    const gs = grad(ys, dxs, { gradOutputs: gos, createGraph: true, allowUnused: true });
    return gs.filter((g): g is Tensor => g !== null);
  };
  const { gradOutputs: _unused, genNonContigGradOutputs: _g, checkFwdOverRev: _f, checkRevOverRev: _r, ...rest } = opts;
  return gradcheck(first, [...inputs, ...gradOutputs], { ...rest, checkForwardAd: fwdOverRev, checkBackwardAd: revOverRev });
}
