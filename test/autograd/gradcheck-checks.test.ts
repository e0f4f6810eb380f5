/**
 * gradcheck and gradgradcheck follow every applicable check of PyTorch 1.13
 * (issue 13, docs/spec/gradcheck.md), with its messages from
 * test/fixtures/torch_gradcheck.json (make_gradcheck.py): stride-0 inputs,
 * the non-double warning, reentrancy in slow and fast mode, outputs that
 * change shape under perturbation, option combinations, undefined tangents
 * in forward mode, gradgradcheck's forward-over-reverse and non-contiguous
 * grad_outputs, and torch.allclose's comparison.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { gradcheck, gradgradcheck } from '../../src/autograd/gradcheck.js';
import { fixture, rejection } from '../helpers/compare.js';
import { customFunction } from '../helpers/custom-function.js';

const fx = fixture<Record<string, unknown>>('torch_gradcheck.json');
const f64 = { dtype: 'float64' as const };
/** PyTorch's message without its exception type. */
const msg = (k: string): string => String(fx[k]).replace(/^[A-Za-z]+: /, '');

/** Every warning emitted while f runs (f's own error ignored), as [category, message]. */
async function warningsWithKind(f: () => Promise<unknown>): Promise<[string, string][]> {
  const seen: [string, string][] = [];
  const on = (w: Error): void => void seen.push([w.name, w.message]);
  process.on('warning', on);
  try {
    await f().catch(() => undefined);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', on);
  }
  return seen;
}

/** The messages of the warnings emitted while f runs. */
async function warningsOf(f: () => Promise<unknown>): Promise<string[]> {
  return (await warningsWithKind(f)).map(([, message]) => message);
}

/** 2x, with a backward that drifts by 1e-9 each call (PyTorch's fixture does the same). */
function noisy(): typeof gg.autograd.Function {
  let calls = 0;
  return class Noisy extends customFunction({
    forward: (a) => a.mul(2),
    backward: (g) => {
      calls++;
      return g.mul(2 + calls * 1e-9);
    },
  }) {};
}

describe('gradcheck: PyTorch 1.13 checks (torch_gradcheck.json)', () => {
  it('an input with a stride-0 dim is refused, even with raiseException: false', async () => {
    const x = gg.ones([3, 1], f64).expand(3, 2).requiresGrad_(true);
    expect(x.strides).to.deep.equal([1, 0]);
    expect(await rejection(gradcheck((a) => a.mul(2), [x]))).to.equal(msg('stride0'));
    expect(await rejection(gradcheck((a) => a.mul(2), [x], { raiseException: false }))).to.equal(msg('stride0_raise_false'));
    // a contiguous copy passes
    expect(await gradcheck((a) => a.mul(2), [gg.ones([3, 2], { ...f64, requiresGrad: true })])).to.equal(true);
  });

  it("warns with PyTorch's words when an input is not float64", async () => {
    const x = gg.tensor([1, 2, 3], { requiresGrad: true });
    const seen = await warningsOf(() => gradcheck((a) => a.mul(2), [x], { eps: 1e-2, atol: 1e-2 }));
    expect(seen).to.include((fx['not_double_warning'] as string[])[0]);
  });

  for (const fastMode of [false, true]) {
    it(`a backward that is not reentrant fails${fastMode ? ' in fast mode too' : ''}, and passes within nondetTol`, async () => {
      const x = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
      const torchMsg = msg(fastMode ? 'not_reentrant_fast' : 'not_reentrant');
      const head = torchMsg.slice(0, torchMsg.indexOf('was ') + 4);
      const ours = await rejection(gradcheck((a) => noisy().apply(a), [x], { fastMode }));
      expect(ours.startsWith(head), ours).to.equal(true);
      expect(await gradcheck((a) => noisy().apply(a), [x], { fastMode, raiseException: false })).to.equal(false);
      const Noisy = noisy();
      expect(await gradcheck((a) => Noisy.apply(a), [x], { fastMode, nondetTol: 1e-6 })).to.equal(fx[fastMode ? 'not_reentrant_fast_tol' : 'not_reentrant_tol']);
    });
  }

  it('outputs that change shape under perturbation are refused', async () => {
    const x = gg.tensor([1.5, 2], { ...f64, requiresGrad: true });
    // a[a > 1.5] in PyTorch's fixture; the same selection, made in JS
    const select = (a: gg.Tensor): gg.Tensor => (a.dataSync()[0]! > 1.5 ? a.mul(1) : a.narrow(0, 1, 1));
    const ours = await rejection(gradcheck(select, [x]));
    expect(msg('shape_changes')).to.match(/^Expected `func` to return outputs with the same shape when inputs are perturbed on index \{idx\} by 1e-06, but got: shapes torch.Size\(\[1\]\) and torch.Size\(\[2\]\)\.$/);
    // PyTorch's f-string slip prints '{idx}'; gpugrad prints the index
    expect(ours).to.equal('Expected `func` to return outputs with the same shape when inputs are perturbed on index 0 by 0.000001, but got: shapes [1] and [2].');
  });

  it('option combinations PyTorch refuses', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const f = (a: gg.Tensor): gg.Tensor => a.mul(2);
    expect(await rejection(gradcheck(f, [x], { checkForwardAd: false, checkBackwardAd: false }))).to.equal(msg('no_check'));
    expect(await rejection(gradcheck(f, [x], { checkForwardAd: true, checkBackwardAd: false, checkBatchedGrad: true }))).to.equal(msg('batched_needs_backward'));
    expect(await rejection(gradcheck(f, [x], { checkBatchedForwardGrad: true }))).to.equal(msg('batched_fw_needs_forward'));
    const sq = (a: gg.Tensor): gg.Tensor => a.mul(a);
    expect(await rejection(gradgradcheck(sq, [x], { checkFwdOverRev: false, checkRevOverRev: false }))).to.equal(msg('gg_no_check'));
    expect(await rejection(gradgradcheck(sq, [x], { checkFwdOverRev: true, checkRevOverRev: false }))).to.equal(msg('gg_undefined_needs_rev'));
    // what gpugrad cannot do is refused by name
    expect(await rejection(gradcheck(f, [x], { checkBatchedGrad: true }))).to.match(/check_batched_grad .* vmap, which gpugrad does not have/);
    expect(await rejection(gradcheck(f, [x], { checkSparseNnz: true }))).to.match(/check_sparse_nnz needs sparse tensors/);
  });

  it('gradgradcheck: non-contiguous grad_outputs; forward over reverse refused by name', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const cube = (a: gg.Tensor): gg.Tensor => a.mul(a).mul(a);
    expect(await gradgradcheck(cube, [x], { genNonContigGradOutputs: true })).to.equal(fx['gg_non_contig']);
    // PyTorch passes these (gg_both, gg_fwd_over_rev_only); gpugrad's backward pass carries no tangents
    expect(fx['gg_both']).to.equal(true);
    expect(await rejection(gradgradcheck(cube, [x], { checkFwdOverRev: true }))).to.match(/check_fwd_over_rev needs forward-mode tangents through the backward pass/);
  });

  it('an infinite Jacobian entry is compared as torch.allclose does (inf against NaN fails)', async () => {
    const x = gg.tensor([1], { ...f64, requiresGrad: true });
    const ours = await rejection(gradcheck((a) => a.mul(Infinity), [x]));
    expect(msg('inf_jacobian').startsWith('Jacobian mismatch for output 0 with respect to input 0,')).to.equal(true);
    expect(ours).to.match(/^Jacobian mismatch for output 0 with respect to input 0,\nnumerical:tensor\(\[\[NaN\]\]\)\nanalytical:tensor\(\[\[Infinity\]\]\)/);
  });

  it('equal infinite entries are close (torch.isclose: a == b first)', async () => {
    // at 0, a·1e300·1e300 is ±inf on either side, so both Jacobians hold inf (and inf - inf is NaN)
    const x = gg.tensor([0], { ...f64, requiresGrad: true });
    expect(await gradcheck((a) => a.mul(1e300).mul(1e300), [x], { checkUndefinedGrad: false })).to.equal(fx['inf_equal']);
    expect(fx['inf_equal']).to.equal(true);
  });

  it('fast mode leaves the random stream alone and is repeatable', async () => {
    const x = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    gg.manualSeed(5);
    await gradcheck((a) => a.mul(a), [x], { fastMode: true });
    const after = gg.rand([3]).dataSync();
    gg.manualSeed(5);
    expect(Array.from(gg.rand([3]).dataSync())).to.deep.equal(Array.from(after));
  });

  it('checkForwardAd with checkUndefinedGrad: a zero tangent and no tangent must give the same output tangents', async () => {
    let calls = 0;
    // a jvp that changes with every call: a zero tangent and an absent one give different tangents
    class Drifting extends customFunction({
      saves: true,
      forward: (a, b) => a.mul(b),
      backward: (g, a, b) => [g.mul(b), g.mul(a)],
      jvp: (ta, tb, a, b) => {
        const t = ta.mul(b).add(a.mul(tb));
        return calls++ >= 4 ? t.add(calls) : t;
      },
    }) {}
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    const ours = await rejection(gradcheck((x, y) => Drifting.apply(x, y), [a, b], { checkForwardAd: true, checkBackwardAd: false }));
    expect(ours).to.match(/^Mismatch in tangent values for output with index: 0 when input: 0 has an undefined tangent value/);
    // a sound function passes, with and without the check
    const mul = (x: gg.Tensor, y: gg.Tensor): gg.Tensor => x.mul(y);
    expect(await gradcheck(mul, [a, b], { checkForwardAd: true })).to.equal(true);
    expect(await gradcheck(mul, [a, b], { checkForwardAd: true, fastMode: true })).to.equal(true);
  });
});

describe('gradcheck: failures of forward mode, the options object and the messages (mutation-testing kills)', () => {
  /** x³ with a jvp that is off by a factor of 2. */
  class WrongJvp extends customFunction({
    saves: true,
    forward: (a) => a.mul(a).mul(a),
    backward: (g, a) => g.mul(a.mul(a)).mul(3),
    jvp: (t, a) => t.mul(a.mul(a)).mul(6),
  }) {}

  for (const fastMode of [false, true]) {
    it(`a wrong jvp fails "Jacobian computed with forward mode mismatch"${fastMode ? ' (fast mode)' : ''}; the backward checks alone pass`, async () => {
      const x = gg.tensor([1, -2, 0.5], { ...f64, requiresGrad: true });
      const f = (a: gg.Tensor): gg.Tensor => WrongJvp.apply(a);
      const ours = await rejection(gradcheck(f, [x], { checkForwardAd: true, fastMode }));
      expect(ours).to.match(/^Jacobian computed with forward mode mismatch for output 0 with respect to input 0,\nnumerical:tensor\(\[/);
      if (fastMode) expect(ours).to.include('computed in fast mode');
      expect(await gradcheck(f, [x], { checkForwardAd: true, fastMode, raiseException: false })).to.equal(false);
      expect(await gradcheck(f, [x], { fastMode })).to.equal(true);
      // forward mode only: no backward runs at all
      expect(await rejection(gradcheck(f, [x], { checkForwardAd: true, checkBackwardAd: false, fastMode }))).to.match(/^Jacobian computed with forward mode mismatch/);
    });
  }

  it('the Jacobian mismatch message names the output and input among the differentiable ones, with both matrices', async () => {
    class WrongSecond extends customFunction({ saves: true, forward: (a, b) => a.mul(b), backward: (g, a, b) => [g.mul(b), g.mul(a).mul(2)] }) {}
    const skip = gg.tensor([9], f64); // not differentiable: not counted in "input 1"
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    let err: unknown = null;
    try {
      await gradcheck((s, x, y) => [s.mul(1), WrongSecond.apply(x!, y!)], [skip, a, b]);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(gg.autograd.GradcheckError);
    const e = err as InstanceType<typeof gg.autograd.GradcheckError>;
    expect(e.message).to.equal(
      'Jacobian mismatch for output 0 with respect to input 1,\nnumerical:tensor([[1.00000, 0.00000],\n        [0.00000, 2.00000]])\nanalytical:tensor([[2.00000, 0.00000],\n        [0.00000, 4.00000]])\n',
    );
    expect([e.outputIndex, e.inputIndex]).to.deep.equal([0, 1]);
    expect(e.analytical!.shape).to.deep.equal([2, 2]);
    expect(Array.from(e.numerical!.dataSync()).map((v) => Math.round(v * 1e6) / 1e6)).to.deep.equal([1, 0, 0, 2]);
    expect(Array.from(e.analytical!.dataSync())).to.deep.equal([2, 0, 0, 4]);
  });

  it('atol and rtol: |a − n| ≤ atol + rtol·|n| decides, at the edge', async () => {
    // d/dx 2x·(1 + δ) against the numerical 2: off by 2δ
    const off = (delta: number) =>
      class Off extends customFunction({ forward: (a) => a.mul(2), backward: (g) => g.mul(2 * (1 + delta)) }) {};
    const x = gg.tensor([1], { ...f64, requiresGrad: true });
    const run = (delta: number, atol: number, rtol: number): Promise<boolean> => {
      const C = off(delta);
      return gradcheck((a) => C.apply(a), [x], { atol, rtol, raiseException: false });
    };
    // 2δ = 0.02: passes with atol 0.03 alone, fails with 0.01; rtol 0.015·2 = 0.03 passes, 0.005·2 fails
    expect(await run(0.01, 0.03, 0)).to.equal(true);
    expect(await run(0.01, 0.01, 0)).to.equal(false);
    expect(await run(0.01, 0, 0.015)).to.equal(true);
    expect(await run(0.01, 0, 0.005)).to.equal(false);
    // the defaults (atol 1e-5, rtol 1e-3): 2δ = 1e-3 passes, 1e-2 fails
    const C1 = off(5e-4);
    expect(await gradcheck((a) => C1.apply(a), [x])).to.equal(true);
    const C2 = off(5e-3);
    expect(await gradcheck((a) => C2.apply(a), [x], { raiseException: false })).to.equal(false);
  });

  it('eps is the finite-difference step', async () => {
    // x³ at 1: the central difference is 3 + eps²; with eps = 0.1 that is 3.01, off by more than the tolerance
    const x = gg.tensor([1], { ...f64, requiresGrad: true });
    const cube = (a: gg.Tensor): gg.Tensor => a.mul(a).mul(a);
    expect(await gradcheck(cube, [x], { eps: 0.1, raiseException: false })).to.equal(false);
    expect(await gradcheck(cube, [x], { eps: 1e-4 })).to.equal(true);
  });

  it('a GradcheckError is what raiseException: false turns into false; other errors still throw', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const boom = (): gg.Tensor => {
      throw new RangeError('boom');
    };
    expect(await rejection(gradcheck(boom, [x], { raiseException: false }))).to.equal('boom');
    expect(new gg.autograd.GradcheckError('m').name).to.equal('GradcheckError');
  });

  it('a single tensor is accepted for the inputs, in gradcheck and gradgradcheck', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(await gradcheck((a) => a.mul(a), x)).to.equal(true);
    expect(await gradgradcheck((a) => a.mul(a).mul(a), x)).to.equal(true);
  });

  it('gradgradcheck: given grad_outputs are used as they are; a wrong double backward is found with them too', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const go = gg.tensor([0.5, -1], { ...f64, requiresGrad: true });
    expect(await gradgradcheck((a) => a.mul(a).mul(a), [x], { gradOutputs: [go] })).to.equal(true);
    class FirstOrderOnly extends customFunction({ saves: true, forward: (a) => a.mul(a).mul(a), backward: (g, a) => g.mul(a.detach().mul(a.detach()).mul(3)) }) {}
    const ours = await rejection(gradgradcheck((a) => FirstOrderOnly.apply(a), [x], { gradOutputs: [go] }));
    // the function checked is (x, grad_output) -> dx: input 0 is x
    expect(ours).to.match(/^Jacobian mismatch for output 0 with respect to input 0,/);
    // default grad_outputs are uniform in [-1, 1): a run draws from the library's stream
    gg.manualSeed(1);
    await gradgradcheck((a) => a.mul(a).mul(a), [x]);
    const after = gg.rand([1]).dataSync()[0];
    gg.manualSeed(1);
    expect(gg.rand([1]).dataSync()[0]).to.not.equal(after);
  });
});

describe('gradcheck: edges of the input and grad_output checks (mutation-testing kills)', () => {
  it('a stride-0 dim of size 1 is allowed (PyTorch checks only dims longer than 1)', async () => {
    const x = gg.tensor([2], f64).reshape([]).expand(1).requiresGrad_(true);
    expect(x.strides).to.deep.equal([0]);
    expect(await gradcheck((a) => a.mul(a), [x])).to.equal(true);
  });

  it('a backward that ignores grad_output for one element only still fails', async () => {
    // d/da sum(a·w) = w; the backward returns g·w + [1, 0]: right at g = 1, wrong at g = 0 for the first element only
    class PartlyIgnores extends customFunction({
      forward: (a) => a.mul(gg.tensor([3, 2], f64)).sum(),
      backward: (g) => g.mul(gg.tensor([2, 2], f64)).add(gg.tensor([1, 0], f64)),
    }) {}
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    for (const fastMode of [false, true]) {
      expect(await rejection(gradcheck((t) => PartlyIgnores.apply(t), [a], { fastMode }))).to.equal('backward not multiplied by grad_output');
      expect(await gradcheck((t) => PartlyIgnores.apply(t), [a], { fastMode, raiseException: false })).to.equal(false);
    }
  });

  it('fast mode with forward mode only runs no backward, and checks undefined tangents', async () => {
    let backwards = 0;
    class Counted extends customFunction({
      saves: true,
      forward: (a) => a.mul(a),
      backward: (g, a) => {
        backwards++;
        return g.mul(a).mul(2);
      },
      jvp: (t, a) => t.mul(a).mul(2),
    }) {}
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    for (const fastMode of [false, true]) {
      backwards = 0;
      expect(await gradcheck((t) => Counted.apply(t), [a], { checkForwardAd: true, checkBackwardAd: false, fastMode })).to.equal(true);
      expect(backwards, 'backward calls').to.equal(0);
    }
    backwards = 0;
    expect(await gradcheck((t) => Counted.apply(t), [a], { fastMode: true })).to.equal(true);
    expect(backwards).to.be.greaterThan(0);
  });
});

describe('gradcheck: one element is enough to fail (mutation-testing kills)', () => {
  it('non-reentrant in one element only fails, in slow and fast mode', async () => {
    let calls = 0;
    class NoisyFirst extends customFunction({
      forward: (a) => a.mul(2),
      backward: (g) => {
        calls++;
        return g.mul(gg.tensor([2 + calls * 1e-9, 2], f64));
      },
    }) {}
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    for (const fastMode of [false, true]) {
      expect(await rejection(gradcheck((a) => NoisyFirst.apply(a), [x], { fastMode }))).to.match(/^Backward is not reentrant/);
    }
  });

  it('no differentiable output: one moving output element is enough to fail, a constant passes (slow and fast)', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    // the square's derivative 2x is not 0; only the first output element moves
    const partly = (a: gg.Tensor): gg.Tensor => a.mul(a).mul(gg.tensor([1, 0], f64)).detach();
    for (const fastMode of [false, true]) {
      expect(await rejection(gradcheck(partly, [x], { fastMode }))).to.equal('Numerical gradient for function expected to be zero');
      expect(await gradcheck(() => gg.ones([2], f64), [x], { fastMode })).to.equal(true);
    }
  });
});

describe('gradcheck: order of the checks, tolerances and the undefined-gradient checks (mutation-testing kills, second round)', () => {
  it('outputs whose dtype or 2-d shape changes under perturbation are refused; an output only some runs give is not compared', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    // PyTorch: a * 2 above 1, (a * 2).float() below (torch_gradcheck.json dtype_changes)
    const dtype = (a: gg.Tensor): gg.Tensor => (a.dataSync()[0]! > 1 ? a.mul(2) : a.mul(2).to('float32'));
    expect(msg('dtype_changes')).to.match(/same dtype .* on index \{idx\} by 1e-06, but got: dtypes torch.float32 and torch.float64\.$/);
    expect(await rejection(gradcheck(dtype, [x]))).to.equal(
      'Expected `func` to return outputs with the same dtype when inputs are perturbed on index 0 by 0.000001, but got: dtypes float32 and float64.',
    );
    const shape = (a: gg.Tensor): gg.Tensor => (a.dataSync()[0]! > 1 ? a.reshape([1, 2]) : a.reshape([2, 1]));
    expect(msg('shape_changes_2d')).to.match(/shapes torch.Size\(\[2, 1\]\) and torch.Size\(\[1, 2\]\)\.$/);
    expect(await rejection(gradcheck(shape, [x]))).to.equal(
      'Expected `func` to return outputs with the same shape when inputs are perturbed on index 0 by 0.000001, but got: shapes [2, 1] and [1, 2].',
    );
    // two outputs below 1 (the minus run), one at and above: PyTorch zips the runs' outputs and passes
    const count = (a: gg.Tensor): gg.Tensor | gg.Tensor[] => (a.dataSync()[0]! < 1 ? [a.mul(2), a.mul(3)] : a.mul(2));
    expect(await gradcheck(count, [x])).to.equal(fx['count_changes']);
    expect(fx['count_changes']).to.equal(true);
  });

  it('|a − n| ≤ atol + rtol·|n| holds at equality (exact in binary)', async () => {
    // numerical 0 exactly (the output is a·0); the backward claims 0.25, so |a − n| = 0.25
    class Claims extends customFunction({ forward: (a) => a.mul(0), backward: (g) => g.mul(0.25) }) {}
    const x = gg.tensor([1], { ...f64, requiresGrad: true });
    const f = (a: gg.Tensor): gg.Tensor => Claims.apply(a);
    expect(await gradcheck(f, [x], { atol: 0.25, rtol: 0 })).to.equal(true);
    expect(await gradcheck(f, [x], { atol: 0.2499, rtol: 0, raiseException: false })).to.equal(false);
  });

  it("the non-double warning is a UserWarning, and float64 inputs give none", async () => {
    const x32 = gg.tensor([1, 2, 3], { requiresGrad: true });
    const seen = await warningsWithKind(() => gradcheck((a) => a.mul(2), [x32], { eps: 1e-2, atol: 1e-2 }));
    expect(seen).to.deep.include(['UserWarning', (fx['not_double_warning'] as string[])[0]]);
    const x64 = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    expect(await warningsWithKind(() => gradcheck((a) => a.mul(2), [x64]))).to.deep.equal([]);
  });

  it('reentrancy is checked for every input before any Jacobian is compared (slow and fast mode)', async () => {
    // input 0's gradient is wrong (5 for 2), input 1's backward drifts by 1e-9 a call
    let calls = 0;
    class WrongAndNoisy extends customFunction({
      forward: (a, b) => a.mul(2).add(b.mul(3)),
      backward: (g) => {
        calls++;
        return [g.mul(5), g.mul(3 + calls * 1e-9)];
      },
    }) {}
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    for (const [fastMode, key] of [[false, 'reentrant_before_mismatch'], [true, 'reentrant_before_mismatch_fast']] as const) {
      const torchMsg = msg(key);
      const head = torchMsg.slice(0, torchMsg.indexOf('was ') + 4);
      const ours = await rejection(gradcheck((x, y) => WrongAndNoisy.apply(x!, y!), [a, b], { fastMode }));
      expect(ours.startsWith(head), ours).to.equal(true);
    }
  });

  it('slow mode: one backward per output element for all inputs at once, twice (PyTorch), then one with zero grad_outputs', async () => {
    let backwards = 0;
    class Counted extends customFunction({
      forward: (a, b) => a.mul(b),
      backward: (g) => {
        backwards++;
        return [g.mul(gg.tensor([3, 4, 5], f64)), g.mul(gg.tensor([1, 2, 3], f64))];
      },
    }) {}
    const a = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4, 5], { ...f64, requiresGrad: true });
    expect(await gradcheck((x, y) => Counted.apply(x!, y!), [a, b], { checkUndefinedGrad: false })).to.equal(true);
    // 3 output elements × 2 passes + 1
    expect(backwards).to.equal(7);
  });

  it('a function that must not run in forward mode is not, unless checkForwardAd', async () => {
    class NoForward extends customFunction({ forward: (a) => a.mul(2), backward: (g) => g.mul(2) }) {
      static override jvp(): gg.Tensor {
        throw new Error('no forward mode here');
      }
    }
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const f = (a: gg.Tensor): gg.Tensor => NoForward.apply(a);
    for (const fastMode of [false, true]) {
      expect(await gradcheck(f, [x], { fastMode })).to.equal(true);
      expect(await rejection(gradcheck(f, [x], { fastMode, checkForwardAd: true }))).to.equal('no forward mode here');
    }
  });

  for (const fastMode of [false, true]) {
    it(`undefined tangents: one drifting element fails, with both tangent vectors in the message${fastMode ? ' (fast mode, default options)' : ''}`, async () => {
      // the jvp is right for the Jacobian checks (4 one-hot passes in slow mode, one per input in fast
      // mode), then drifts in element 0 only: a zero and an absent tangent then give different tangents
      let calls = 0;
      const firstDrift = fastMode ? 2 : 4;
      class DriftsFirst extends customFunction({
        saves: true,
        forward: (a, b) => a.mul(b),
        backward: (g, a, b) => [g.mul(b), g.mul(a)],
        jvp: (ta, tb, a, b) => {
          const t = ta.mul(b).add(a.mul(tb));
          return calls++ >= firstDrift ? t.add(gg.tensor([calls, 0], f64)) : t;
        },
      }) {}
      const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
      const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
      const ours = await rejection(gradcheck((x, y) => DriftsFirst.apply(x!, y!), [a, b], { checkForwardAd: true, fastMode }));
      expect(ours).to.match(/^Mismatch in tangent values for output with index: 0 when input: 0 has an undefined tangent value. {2}Got: \[[^,\]]+, [^,\]]+\] but expected: \[[^,\]]+, [^,\]]+\]$/);
      calls = 0;
      expect(await gradcheck((x, y) => DriftsFirst.apply(x!, y!), [a, b], { checkForwardAd: true, fastMode, checkUndefinedGrad: false })).to.equal(true);
    });
  }

  it('undefined output gradients: all at once, then one output at a time (PyTorch _test_undefined_backward_mode)', async () => {
    // a hook on each differentiable output records the gradients that reach it; '|' marks each call of fn
    const log: string[] = [];
    const f = (a: gg.Tensor): gg.Tensor[] => {
      log.push('|');
      const y0 = a.mul(2);
      const y1 = a.mul(3);
      y0.registerHook(() => void log.push('0'));
      y1.registerHook(() => void log.push('1'));
      return [y0, y1, a.detach().mul(4)];
    };
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(await gradcheck(f, [x])).to.equal(true);
    // the count of outputs; all undefined (no hook runs); output 0 undefined (1 gets zeros); output 1 undefined
    expect(log.join('').endsWith('|||1|0'), log.join('')).to.equal(true);
    log.length = 0;
    expect(await gradcheck(f, [x], { checkUndefinedGrad: false })).to.equal(true);
    expect(log.join('').includes('|||1|0')).to.equal(false);
    // one differentiable output: the zero grad_output check's hook, then the count and the one all-undefined run
    log.length = 0;
    const single = (a: gg.Tensor): gg.Tensor => {
      log.push('|');
      const y = a.mul(2);
      y.registerHook(() => void log.push('0'));
      return y;
    };
    expect(await gradcheck(single, [x])).to.equal(true);
    expect(log.join('').endsWith('0||'), log.join('')).to.equal(true);
  });

  /** 2x, whose backward misbehaves on the second all-zero grad_output it gets (the undefined-gradient check's: the first is the zero grad_output check's). */
  function badOnSecondZero(how: 'nonzero' | 'throws'): typeof gg.autograd.Function {
    let zeros = 0;
    return class BadOnSecondZero extends customFunction({
      forward: (a) => a.mul(2),
      backward: (g) => {
        if (g.dataSync().every((v) => v === 0) && ++zeros === 2) {
          if (how === 'throws') throw new Error('undefined gradient');
          // non-zero in one element only
          return g.add(gg.tensor([0, 1], f64));
        }
        return g.mul(2);
      },
    }) {};
  }

  it('the undefined-gradient checks fail with PyTorch words, after its warning', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const note = 'Please look at "Notes about undefined output gradients" in "tools/autograd/derivatives.yaml"';
    const bcWarning = [
      'UserWarning',
      'Backwards compatibility: New undefined gradient support checking feature is enabled by default, but it may break existing callers of this function. If this is true for you, you can call this function with "check_undefined_grad=False" to disable the feature',
    ];
    for (const [how, words] of [
      ['nonzero', 'Expected all input grads to be undefined or zero when all output grads are undefined or zero.'],
      ['throws', 'Expected backward function to handle undefined output grads.'],
    ] as const) {
      let C = badOnSecondZero(how);
      let message = '';
      const seen = await warningsWithKind(async () => {
        message = await rejection(gradcheck((a) => C.apply(a), [x]));
      });
      expect(message).to.equal(`${words} ${note}`);
      expect(seen).to.deep.include(bcWarning);
      C = badOnSecondZero(how);
      expect(await gradcheck((a) => C.apply(a), [x], { raiseException: false })).to.equal(false);
      C = badOnSecondZero(how);
      expect(await gradcheck((a) => C.apply(a), [x], { checkUndefinedGrad: false })).to.equal(true);
    }
  });

  it('no differentiable output: the zero check is a central difference compared exactly with 0 (slow and fast)', async () => {
    // |a − 0.5| at 0.5 with eps 0.125 (exact in binary): f(x + eps) = f(x − eps), so 0
    const xk = gg.tensor([0.5], { ...f64, requiresGrad: true });
    const kink = (a: gg.Tensor): gg.Tensor => a.sub(0.5).abs().detach();
    // a subnormal slope, 1e-315, is not 0
    const x1 = gg.tensor([1], { ...f64, requiresGrad: true });
    const tiny = (a: gg.Tensor): gg.Tensor => a.mul(1e-315).detach();
    for (const fastMode of [false, true]) {
      expect(await gradcheck(kink, [xk], { eps: 0.125, fastMode })).to.equal(fx[fastMode ? 'no_diff_abs_at_kink_fast' : 'no_diff_abs_at_kink']);
      expect(await rejection(gradcheck(tiny, [x1], { fastMode }))).to.equal(msg(fastMode ? 'no_diff_subnormal_slope_fast' : 'no_diff_subnormal_slope'));
    }
    expect(fx['no_diff_abs_at_kink']).to.equal(true);
  });

  it('fast mode, no differentiable output: the step is eps along a positive unit vector, compared with nondetTol', async () => {
    // d/dt Σ(x + t·u) = Σu, which lies in [1, √2] for a positive unit 2-vector
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const total = (a: gg.Tensor): gg.Tensor => a.sum().detach();
    expect(await gradcheck(total, [x], { fastMode: true, nondetTol: 1.5 })).to.equal(true);
    expect(await gradcheck(total, [x], { fastMode: true, nondetTol: 0.99, raiseException: false })).to.equal(false);
  });

  it('fast mode with one input and one output element: u = v = [1], so the message holds J itself', async () => {
    // f = 3a, whose backward says 2
    class Wrong extends customFunction({ forward: (a) => a.mul(3), backward: (g) => g.mul(2) }) {}
    const x = gg.tensor([1], { ...f64, requiresGrad: true });
    const ours = await rejection(gradcheck((a) => Wrong.apply(a), [x], { fastMode: true }));
    const m = /^Jacobian mismatch for output 0 with respect to input 0,\nnumerical:(\S+)\nanalytical:(\S+)\n/.exec(ours);
    expect(m, ours).to.not.equal(null);
    expect(Number(m![1])).to.be.closeTo(3, 1e-6);
    expect(Number(m![2])).to.equal(2);
  });

  it("fast mode: forward mode's message holds the numerical and analytical J·u", async () => {
    // x³ at 2 with a jvp off by 2: J·u = 12 numerically, 24 by the jvp (u = [1])
    class WrongJvp extends customFunction({
      saves: true,
      forward: (a) => a.mul(a).mul(a),
      backward: (g, a) => g.mul(a.mul(a)).mul(3),
      jvp: (t, a) => t.mul(a.mul(a)).mul(6),
    }) {}
    const x = gg.tensor([2], { ...f64, requiresGrad: true });
    const ours = await rejection(gradcheck((a) => WrongJvp.apply(a), [x], { fastMode: true, checkForwardAd: true }));
    expect(ours.startsWith('Jacobian computed with forward mode mismatch for output 0 with respect to input 0,\nnumerical:tensor([[12.0000]])\nanalytical:tensor([[24.0000]])\n'), ours).to.equal(true);
  });

  it("fast mode: atol is scaled by Σu·Σv (PyTorch's _adjusted_atol), and by Σu in forward mode", async () => {
    // out = [Σa, Σa] (J all ones), derivatives claimed (1 + δ) times too large: vᵀJu = ΣvΣu, so the
    // backward check is off by δ·ΣuΣv against atol·ΣuΣv, and each entry of J·u by δ·Σu against atol·Σu
    const delta = 1e-3;
    class Scaled extends customFunction({
      forward: (a) => gg.ones([2], f64).mul(a.sum()),
      backward: (g) => gg.ones([3], f64).mul(g.sum()).mul(1 + delta),
      jvp: (t) => gg.ones([2], f64).mul(t.sum()).mul(1 + delta),
    }) {}
    const x = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    const f = (a: gg.Tensor): gg.Tensor => Scaled.apply(a);
    for (const modes of [{ checkForwardAd: false }, { checkForwardAd: true, checkBackwardAd: false }]) {
      const base = { ...modes, fastMode: true, rtol: 0, raiseException: false };
      expect(await gradcheck(f, [x], { ...base, atol: delta * 1.001 }), JSON.stringify(modes)).to.equal(true);
      expect(await gradcheck(f, [x], { ...base, atol: delta * 0.999 }), JSON.stringify(modes)).to.equal(false);
    }
  });
});

describe('gradgradcheck: grad_outputs and inputs (mutation-testing kills)', () => {
  // 2-d, so the strides of the non-contiguous grad_outputs matter
  const x = gg.tensor([[0.5, 1, 1.5], [2, -1, -2]], { ...f64, requiresGrad: true });

  /** x³ with a first derivative that is not differentiable again (its x is detached), and one whose grad_output is. */
  function cube(detach: 'x' | 'grad'): typeof gg.autograd.Function {
    return class Cube extends customFunction({
      saves: true,
      forward: (a) => a.mul(a).mul(a),
      backward: (g, a) => {
        if (detach === 'x') return g.mul(a.detach().mul(a.detach()).mul(3));
        return g.detach().mul(a.mul(a).mul(3));
      },
    }) {};
  }

  it('default grad_outputs are uniform in [-1, 1), contiguous or not, and differentiable', async () => {
    const Cube = cube('x');
    for (const genNonContigGradOutputs of [false, true]) {
      let err: unknown = null;
      try {
        await gradgradcheck((a) => Cube.apply(a), [x], { genNonContigGradOutputs });
      } catch (e) {
        err = e;
      }
      const e = err as InstanceType<typeof gg.autograd.GradcheckError>;
      expect(e.message).to.match(/^Jacobian mismatch for output 0 with respect to input 0,/);
      // numerical d(dx)/dx is diagonal, 6·x·go
      const n = e.numerical!.dataSync();
      const xs = x.dataSync();
      const gos = Array.from(xs, (xi, k) => n[k * xs.length + k]! / (6 * xi));
      for (const go of gos) {
        expect(go).to.be.greaterThanOrEqual(-1 - 1e-6);
        expect(go).to.be.lessThan(1 + 1e-6);
        expect(Math.abs(go)).to.be.greaterThan(1e-9);
      }
      // a backward that does not differentiate through its grad_output fails on input 1 (the grad_output)
      const Cube2 = cube('grad');
      expect(await rejection(gradgradcheck((a) => Cube2.apply(a), [x], { genNonContigGradOutputs }))).to.match(/^Jacobian mismatch for output 0 with respect to input 1,/);
    }
  });

  it('genNonContigGradOutputs hands the backward non-contiguous grad_outputs, the default contiguous ones', async () => {
    const seen: boolean[] = [];
    class Cube extends customFunction({
      saves: true,
      forward: (a) => a.mul(a).mul(a),
      backward: (g, a) => {
        seen.push(g.isContiguous());
        return g.mul(a.mul(a).mul(3));
      },
    }) {}
    const y = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(await gradgradcheck((a) => Cube.apply(a), [y], { genNonContigGradOutputs: true, checkUndefinedGrad: false })).to.equal(true);
    expect(seen.includes(false)).to.equal(true);
    seen.length = 0;
    expect(await gradgradcheck((a) => Cube.apply(a), [y], { checkUndefinedGrad: false })).to.equal(true);
    expect(seen.includes(false)).to.equal(false);
    // an empty output too
    const empty = gg.zeros([0], { ...f64, requiresGrad: true });
    expect(await gradgradcheck((a) => a.mul(a).mul(a), [empty], { genNonContigGradOutputs: true })).to.equal(true);
  });

  it('fn gets exactly the inputs; inputs not requiring grad, unused inputs and non-differentiable outputs are allowed', async () => {
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const c = gg.tensor([3, 4], f64);
    const unused = gg.tensor([5], { ...f64, requiresGrad: true });
    const f = (...ts: gg.Tensor[]): gg.Tensor[] => {
      if (ts.length !== 3) throw new Error(`fn got ${ts.length} arguments`);
      const [p, q] = ts as [gg.Tensor, gg.Tensor];
      // a non-differentiable output of another shape first
      return [p.detach().sum(), p.mul(p).mul(p).mul(q)];
    };
    expect(await gradgradcheck(f, [a, c, unused])).to.equal(true);
  });

  it("an unknown option is refused with the function's name (Python's TypeError)", async () => {
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const sq = (t: gg.Tensor): gg.Tensor => t.mul(t);
    expect(await rejection(gradcheck(sq, [a], { bogus: 1 } as never))).to.equal("gradcheck() got an unexpected keyword argument 'bogus'");
    expect(await rejection(gradgradcheck(sq, [a], { bogus: 1 } as never))).to.equal("gradgradcheck() got an unexpected keyword argument 'bogus'");
  });

  it('check_batched_grad: needs check_rev_over_rev (PyTorch), and vmap, which gpugrad has not', async () => {
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const sq = (t: gg.Tensor): gg.Tensor => t.mul(t);
    expect(await rejection(gradgradcheck(sq, [a], { checkFwdOverRev: true, checkRevOverRev: false, checkUndefinedGrad: false, checkBatchedGrad: true }))).to.equal(msg('gg_batched_needs_rev'));
    expect(await rejection(gradgradcheck(sq, [a], { checkBatchedGrad: true }))).to.match(/check_batched_grad .* vmap, which gpugrad does not have/);
  });
});
