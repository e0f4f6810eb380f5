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

const fx = fixture<Record<string, unknown>>('torch_gradcheck.json');
const f64 = { dtype: 'float64' as const };
/** PyTorch's message without its exception type. */
const msg = (k: string): string => String(fx[k]).replace(/^[A-Za-z]+: /, '');

async function warningsOf(f: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const on = (w: Error): void => void seen.push(w.message);
  process.on('warning', on);
  try {
    await f().catch(() => undefined);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', on);
  }
  return seen;
}

/** 2x, with a backward that drifts by 1e-9 each call (PyTorch's fixture does the same). */
function noisy(): typeof gg.autograd.Function {
  let calls = 0;
  return class Noisy extends gg.autograd.Function {
    static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor {
      void ctx;
      return a.mul(2);
    }
    static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
      void ctx;
      calls++;
      return g.mul(2 + calls * 1e-9);
    }
  };
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
    class Drifting extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor, b: gg.Tensor): gg.Tensor {
        ctx.saveForBackward(a, b);
        return a.mul(b);
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor[] {
        const [a, b] = ctx.savedTensors as [gg.Tensor, gg.Tensor];
        return [g.mul(b), g.mul(a)];
      }
      static override jvp(ctx: gg.autograd.FunctionCtx, ta: gg.Tensor, tb: gg.Tensor): gg.Tensor {
        const [a, b] = ctx.savedTensors as [gg.Tensor, gg.Tensor];
        const t = ta.mul(b).add(a.mul(tb));
        return calls++ >= 4 ? t.add(calls) : t;
      }
    }
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
  class WrongJvp extends gg.autograd.Function {
    static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor {
      ctx.saveForBackward(a);
      return a.mul(a).mul(a);
    }
    static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
      const [a] = ctx.savedTensors as [gg.Tensor];
      return g.mul(a.mul(a)).mul(3);
    }
    static override jvp(ctx: gg.autograd.FunctionCtx, t: gg.Tensor): gg.Tensor {
      const [a] = ctx.savedTensors as [gg.Tensor];
      return t.mul(a.mul(a)).mul(6);
    }
  }

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
    class WrongSecond extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor, b: gg.Tensor): gg.Tensor {
        ctx.saveForBackward(a, b);
        return a.mul(b);
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor[] {
        const [a, b] = ctx.savedTensors as [gg.Tensor, gg.Tensor];
        return [g.mul(b), g.mul(a).mul(2)];
      }
    }
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
      class Off extends gg.autograd.Function {
        static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor {
          void ctx;
          return a.mul(2);
        }
        static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
          void ctx;
          return g.mul(2 * (1 + delta));
        }
      };
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
    class FirstOrderOnly extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor {
        ctx.saveForBackward(a);
        return a.mul(a).mul(a);
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
        const [a] = ctx.savedTensors as [gg.Tensor];
        return g.mul(a.detach().mul(a.detach()).mul(3));
      }
    }
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
    class PartlyIgnores extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor {
        void ctx;
        return a.mul(gg.tensor([3, 2], f64)).sum();
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
        void ctx;
        return g.mul(gg.tensor([2, 2], f64)).add(gg.tensor([1, 0], f64));
      }
    }
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(await rejection(gradcheck((t) => PartlyIgnores.apply(t), [a]))).to.equal('backward not multiplied by grad_output');
    expect(await gradcheck((t) => PartlyIgnores.apply(t), [a], { raiseException: false })).to.equal(false);
  });

  it('fast mode with forward mode only runs no backward, and checks undefined tangents', async () => {
    let backwards = 0;
    class Counted extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor {
        ctx.saveForBackward(a);
        return a.mul(a);
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
        backwards++;
        const [a] = ctx.savedTensors as [gg.Tensor];
        return g.mul(a).mul(2);
      }
      static override jvp(ctx: gg.autograd.FunctionCtx, t: gg.Tensor): gg.Tensor {
        const [a] = ctx.savedTensors as [gg.Tensor];
        return t.mul(a).mul(2);
      }
    }
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
    class NoisyFirst extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor {
        void ctx;
        return a.mul(2);
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
        void ctx;
        calls++;
        return g.mul(gg.tensor([2 + calls * 1e-9, 2], f64));
      }
    }
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
