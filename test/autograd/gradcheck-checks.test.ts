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
import { fixture } from '../helpers/compare.js';

const fx = fixture<Record<string, unknown>>('torch_gradcheck.json');
const f64 = { dtype: 'float64' as const };
/** PyTorch's message without its exception type. */
const msg = (k: string): string => String(fx[k]).replace(/^[A-Za-z]+: /, '');

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

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
