/**
 * Regression tests of issue 13 with PyTorch 1.13's values
 * (test/fixtures/torch_autograd.json, written by make_special.py): gradcheck's
 * checks, versioned state dicts, and the planted-bug tests (maximum ties,
 * hook order, spectral norm dim and iterations, parametrize order).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { customFunction } from '../helpers/custom-function.js';
import { gradcheck, gradgradcheck } from '../../src/autograd/gradcheck.js';
import { parametrizationList, registerParametrization, removeParametrizations, type ParametrizationList } from '../../src/nn/utils/parametrize.js';
import { removeSpectralNorm, spectralNorm, type SpectralNorm } from '../../src/nn/utils/spectral.js';
import { fixture, type Golden, valuesSync, rejection } from '../helpers/compare.js';
import { decodeAll, type SpecialGolden } from '../helpers/special.js';

const f64 = { dtype: 'float64' as const };
const fx = fixture<Record<string, unknown>>('torch_autograd.json');
const golden = (k: string): number[] => (fx[k] as Golden).data.map(Number);

describe('gradcheck: the checks of PyTorch 1.13', () => {
  it('no differentiable output: the numerical Jacobian must be zero (input 8)', async () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(await rejection(gradcheck((a) => a.mul(2).detach(), [x]))).to.equal(fx['gradcheck_detached']);
    expect(await gradcheck((a) => a.mul(2).detach(), [x], { raiseException: false })).to.equal(false);
    expect(await rejection(gradcheck((a) => a.mul(2).detach(), [x], { fastMode: true }))).to.equal(fx['gradcheck_detached']);
    // a constant output passes, as in PyTorch
    expect(fx['gradcheck_detached_constant']).to.equal(true);
    expect(await gradcheck(() => gg.ones([2], f64), [x])).to.equal(true);
  });

  it("backward not multiplied by grad_output is found on every input, not only the first", async () => {
    class IgnoresSecond extends customFunction({
      forward: (a, b) => a.add(b).sum(),
      // right for a one-element output and grad_output 1, but ignores g for b
      backward: (g) => [g.expand(2), gg.ones([2], f64)],
    }) {}
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    expect(await rejection(gradcheck((x, y) => IgnoresSecond.apply(x, y), [a, b]))).to.equal('backward not multiplied by grad_output');
  });

  it('an error thrown by backward on zero gradients propagates (as in PyTorch); checkUndefinedGrad and checkGradDtypes pass on sound functions', async () => {
    class Fragile extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor[] {
        void ctx;
        return [a.mul(2), a.mul(3)];
      }
      static override backward(ctx: gg.autograd.FunctionCtx, g1: gg.Tensor, g2: gg.Tensor): gg.Tensor {
        void ctx;
        // fine for real gradients; refuses all-zero ones (undefined gradients arrive as zeros)
        if (g1.abs().sum().itemSync() === 0 && g2.abs().sum().itemSync() === 0) throw new Error('no gradient');
        return g1.mul(2).add(g2.mul(3));
      }
    }
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(await rejection(gradcheck((x) => Fragile.apply(x), [a]))).to.equal('no gradient');
    expect(await gradcheck((x) => x.mul(2), [a], { checkUndefinedGrad: false })).to.equal(true);
    expect(await gradcheck((x) => [x.mul(2), x.exp()], [a], { checkUndefinedGrad: true, checkGradDtypes: true })).to.equal(true);
  });

  it('gradgradcheck still passes on ordinary functions (the new checks apply to its first derivative)', async () => {
    const x = gg.tensor([0.5, -1.2, 2], { ...f64, requiresGrad: true });
    expect(await gradgradcheck((t) => t.pow(3).sum(), [x])).to.equal(true);
    expect(await gradgradcheck((t) => t.mul(2), [x])).to.equal(true);
  });
});

describe('state dicts: versions and upgrade hooks (input 9)', () => {
  it("stateDict() carries PyTorch's per-module versions as non-enumerable _metadata", () => {
    const seq = new gg.nn.Sequential(new gg.nn.Linear(2, 2), new gg.nn.BatchNorm1d(2));
    const sd = seq.stateDict() as Record<string, gg.Tensor> & { _metadata?: unknown };
    expect(sd._metadata).to.deep.equal(fx['state_dict_metadata']);
    expect(Object.keys(sd)).to.not.include('_metadata');
  });

  it('BatchNorm2d loads an old state dict without num_batches_tracked and sets the counter to 0', () => {
    const make = (): Record<string, gg.Tensor> => ({
      weight: gg.tensor([1.5, 2]),
      bias: gg.tensor([0.1, 0.2]),
      running_mean: gg.tensor([0.3, 0.4]),
      running_var: gg.tensor([2, 3]),
    });
    const bn = new gg.nn.BatchNorm2d(2);
    bn.train();
    bn.call(gg.randn([3, 2, 2, 2]));
    expect(bn.numBatchesTracked?.itemSync()).to.equal(1);
    const old = make();
    bn.loadStateDict(old);
    expect(bn.numBatchesTracked?.itemSync()).to.equal(fx['bn_no_metadata_nbt']);
    expect(valuesSync(bn.running_var as gg.Tensor)).to.deep.equal([2, 3]);
    expect(Object.keys(old)).to.deep.equal(['weight', 'bias', 'running_mean', 'running_var']); // the caller's dict is untouched
    // version 1 metadata: upgraded too
    const v1 = make();
    Object.defineProperty(v1, '_metadata', { value: { '': { version: 1 } } });
    const bn1 = new gg.nn.BatchNorm2d(2);
    bn1.loadStateDict(v1);
    expect(bn1.numBatchesTracked?.itemSync()).to.equal(fx['bn_old_state_nbt']);
    // version 2 (current) without the key is an error, as in PyTorch
    const v2 = make();
    Object.defineProperty(v2, '_metadata', { value: { '': { version: 2 } } });
    expect(() => new gg.nn.BatchNorm2d(2).loadStateDict(v2)).to.throw(fx['bn_v2_missing_nbt'] as string);
  });

  it('nested modules get their own prefix and version; a Map with _metadata works as well', () => {
    const seq = new gg.nn.Sequential(new gg.nn.Linear(2, 2), new gg.nn.BatchNorm1d(2));
    const full = seq.stateDict();
    const map = new Map(Object.entries(full).filter(([k]) => k !== '1.num_batches_tracked'));
    Object.defineProperty(map, '_metadata', { value: { '': { version: 1 }, '0': { version: 1 }, '1': { version: 1 } } });
    const res = new gg.nn.Sequential(new gg.nn.Linear(2, 2), new gg.nn.BatchNorm1d(2)).loadStateDict(map);
    expect(res.missingKeys).to.deep.equal([]);
    // a round trip keeps the current version, so nothing is upgraded
    const again = new gg.nn.Sequential(new gg.nn.Linear(2, 2), new gg.nn.BatchNorm1d(2));
    expect(again.loadStateDict(full).missingKeys).to.deep.equal([]);
  });
});

describe('issue 13 inputs 1-3: std at zero, max/min with NaN, NaN through relu and clamp', () => {
  const grad = (f: (x: gg.Tensor) => gg.Tensor, data: number[], shape?: number[]): number[] => {
    const x = gg.tensor(data, { ...f64, requiresGrad: true, ...(shape ? { shape } : {}) });
    f(x).backward();
    return valuesSync(x.grad as gg.Tensor);
  };
  it("std's gradient is 0 where std is 0 (ones(3).std(), std(0) of constant columns)", () => {
    expect(grad((x) => x.std(), [1, 1, 1])).to.deep.equal(decodeAll(fx['std_ones'] as SpecialGolden));
    expect(grad((x) => x.std(0).sum(), [1, 2, 1, 2, 1, 2], [3, 2])).to.deep.equal(decodeAll(fx['std0_constant_columns'] as SpecialGolden));
    const mixed = grad((x) => x.std(0).sum(), [1, 2, 1, 4, 1, 3], [3, 2]);
    decodeAll(fx['std0_mixed_columns'] as SpecialGolden).forEach((e, i) => expect(mixed[i]).to.be.closeTo(e, 1e-12));
  });
  it('max() and min() of [1, NaN, 3] send the gradient to the NaN; so does max over a dim (torch.max(x, dim), not torch.amax\'s NaN row)', () => {
    expect(grad((x) => x.max(), [1, NaN, 3])).to.deep.equal(decodeAll(fx['max_nan'] as SpecialGolden));
    expect(grad((x) => x.min(), [1, NaN, 3])).to.deep.equal(decodeAll(fx['min_nan'] as SpecialGolden));
    expect(grad((x) => x.max(1).sum(), [1, NaN, 3, 2, 2, 1], [2, 3])).to.deep.equal(decodeAll(fx['max_dim_nan'] as SpecialGolden));
    expect(grad((x) => x.amax(1).sum(), [1, NaN, 3, 2, 2, 1], [2, 3])).to.deep.equal(decodeAll(fx['max_dim_nan'] as SpecialGolden));
  });
  it('relu(NaN) and clamp(NaN, 0, 1) are NaN', () => {
    expect(valuesSync(gg.tensor([NaN], f64).relu())).to.deep.equal(decodeAll(fx['relu_nan'] as SpecialGolden));
    expect(valuesSync(gg.nn.functional.relu(gg.tensor([NaN], f64)))).to.deep.equal(decodeAll(fx['relu_nan'] as SpecialGolden));
    expect(valuesSync(gg.tensor([NaN], f64).clamp(0, 1))).to.deep.equal(decodeAll(fx['clamp_nan'] as SpecialGolden));
  });
});

describe('NaN in BatchNorm statistics (input 3)', () => {
  it('BatchNorm2d(1) in training on [1, NaN, 3, 4] leaves running_var and running_mean NaN', () => {
    const bn = new gg.nn.BatchNorm2d(1, f64);
    bn.train();
    bn.call(gg.tensor([1, NaN, 3, 4], { ...f64, shape: [4, 1, 1, 1] }));
    expect(valuesSync(bn.running_var as gg.Tensor)).to.deep.equal(decodeAll(fx['bn_nan_running_var'] as SpecialGolden));
    expect(valuesSync(bn.running_mean as gg.Tensor)).to.deep.equal(decodeAll(fx['bn_nan_running_mean'] as SpecialGolden));
  });
});

describe('planted-bug tests with PyTorch values', () => {
  it('maximum and minimum split ties in half (a = [1, 2, 3], b = [1, 0, 3])', () => {
    for (const op of ['maximum', 'minimum'] as const) {
      const a = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
      const b = gg.tensor([1, 0, 3], { ...f64, requiresGrad: true });
      a[op](b).sum().backward();
      const want = fx[`${op}_ties`] as { a: Golden; b: Golden };
      expect(valuesSync(a.grad as gg.Tensor), op).to.deep.equal(want.a.data);
      expect(valuesSync(b.grad as gg.Tensor), op).to.deep.equal(want.b.data);
    }
  });

  it('tensor hooks chain in registration order', () => {
    const x = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    x.registerHook((g) => g.mul(10));
    x.registerHook((g) => g.add(1));
    x.mul(x).sum().backward();
    expect(valuesSync(x.grad as gg.Tensor)).to.deep.equal(golden('hooks_order'));
  });

  it('spectral norm uses dim 1 for ConvTranspose3d (_u of shape [4])', () => {
    const ct = spectralNorm(new gg.nn.ConvTranspose3d(2, 4, 3, f64));
    const sn = (parametrizationList(ct, 'weight') as ParametrizationList).chain[0] as SpectralNorm;
    expect(sn._u.shape).to.deep.equal(fx['convT3d_u_shape']);
    expect(sn._v.shape).to.deep.equal(fx['convT3d_v_shape']);
  });

  it('spectral norm: n power iterations from non-converged vectors, and removeSpectralNorm, as PyTorch', () => {
    const want = fx['spectral_iterations'] as { W: Golden; u0: Golden; v0: Golden; runs: Record<string, Record<'weight' | 'u' | 'v' | 'removed', Golden>> };
    for (const n of [1, 3]) {
      const lin = new gg.nn.Linear(3, 2, { ...f64, bias: false });
      gg.noGrad(() => lin.weight.copy_(gg.tensor(want.W.data, { ...f64, shape: [2, 3] })));
      spectralNorm(lin, { nPowerIterations: n });
      const sn = (parametrizationList(lin, 'weight') as ParametrizationList).chain[0] as SpectralNorm;
      gg.noGrad(() => {
        sn._u.copy_(gg.tensor(want.u0.data, f64));
        sn._v.copy_(gg.tensor(want.v0.data, f64));
      });
      lin.train();
      const run = want.runs[String(n)] as Record<'weight' | 'u' | 'v' | 'removed', Golden>;
      const close = (a: number[], e: number[], what: string): void => a.forEach((v, i) => expect(v, `${what}[${i}] n=${n}`).to.be.closeTo(e[i] as number, 1e-12));
      close(valuesSync(lin.weight), run.weight.data, 'weight');
      close(valuesSync(sn._u), run.u.data, 'u');
      close(valuesSync(sn._v), run.v.data, 'v');
      lin.eval();
      removeSpectralNorm(lin);
      close(valuesSync(lin.weight), run.removed.data, 'removed');
    }
    // 1 and 3 iterations must differ from these starting vectors (the test can tell them apart)
    expect(want.runs['1']!.weight.data[0]).to.not.be.closeTo(want.runs['3']!.weight.data[0] as number, 1e-3);
  });

  it('parametrize applies rightInverse in reverse order, and keeps a frozen weight frozen', () => {
    class Scale extends gg.nn.Module {
      forward(x: gg.Tensor): gg.Tensor {
        return x.mul(2);
      }
      rightInverse(x: gg.Tensor): gg.Tensor {
        return x.div(2);
      }
    }
    class Shift extends gg.nn.Module {
      forward(x: gg.Tensor): gg.Tensor {
        return x.add(1);
      }
      rightInverse(x: gg.Tensor): gg.Tensor {
        return x.sub(1);
      }
    }
    const lin = new gg.nn.Linear(2, 1, { ...f64, bias: false });
    registerParametrization(lin, 'weight', new Scale());
    registerParametrization(lin, 'weight', new Shift());
    lin.weight = gg.tensor([[5, 7]], f64);
    const want = fx['parametrize_right_inverse'] as { weight: Golden; original: Golden };
    expect(valuesSync(lin.weight)).to.deep.equal(want.weight.data);
    expect(valuesSync((parametrizationList(lin, 'weight') as ParametrizationList).original)).to.deep.equal(want.original.data);

    const frozen = fx['parametrize_frozen'] as { registered: boolean; removed: boolean };
    const lin2 = new gg.nn.Linear(2, 1, { ...f64, bias: false });
    lin2.weight.requiresGrad = false;
    registerParametrization(lin2, 'weight', new Scale());
    expect((parametrizationList(lin2, 'weight') as ParametrizationList).original.requiresGrad).to.equal(frozen.registered);
    removeParametrizations(lin2, 'weight');
    expect(lin2.weight.requiresGrad).to.equal(frozen.removed);
  });
});
