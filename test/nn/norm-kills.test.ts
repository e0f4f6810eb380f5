/**
 * Tests written from the survivors of the mutation run over the
 * normalization layers (docs/notes/mutation-testing.md, `MUTATION_SET=norm`):
 * the moments' fields by hand, the layers' getters, setters and resets, and
 * PyTorch's mode rules for buffers that are missing or not tracked. Every
 * expected number is computed by hand in a comment, or is PyTorch 1.13's
 * behaviour (the fixture scripts under test/fixtures/ record the values).
 *
 * Run: npx tsc -p tsconfig.json && GPUGRAD_TEST_DEVICES=cpu node scripts/run-tests.mjs dist/test/nn/norm-kills.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { batchNorm, groupNorm, instanceNorm, layerNorm, moments } from '../../src/nn/normalization.js';
import { realVar } from '../../src/nn/norm/functional.js';
import { expectClose, fixture, values, F64 } from '../helpers/compare.js';

const nn = gg.nn;
const f64 = { dtype: 'float64' as const };
const t64 = (data: number[], shape?: number[]): gg.Tensor => gg.tensor(data, { ...f64, ...(shape ? { shape } : {}) });
async function close(t: gg.Tensor, expected: number[], label: string, shape?: number[]): Promise<void> {
  if (shape) expect(t.shape, `${label} shape`).to.deep.equal(shape);
  expectClose(await values(t), expected, F64, label);
}

describe('moments: every field by hand', () => {
  it('one group [1, 2, 3, 6]: shift 1, scale 5, mean 3, variance 3.5', async () => {
    // x - shift = [0, 1, 2, 5]; scale = max|x - shift| = 5; centred = [0, 0.2, 0.4, 1]
    // centredMean = 1.6/4 = 0.4; mean = 1 + 0.4·5 = 3; var(centred) = (0 + 0.04 + 0.16 + 1)/4 - 0.16 = 0.14
    // (the input's variance: 0.14·25 = 3.5 = (4 + 1 + 0 + 9)/4); epsScaled = 0.5/25 = 0.02
    const m = moments(t64([1, 2, 3, 6], [1, 4]), [1], { eps: 0.5 });
    await close(m.shift, [1], 'shift', [1, 1]);
    await close(m.scale, [5], 'scale', [1, 1]);
    await close(m.inv, [0.2], 'inv', [1, 1]);
    await close(m.centred, [0, 0.2, 0.4, 1], 'centred', [1, 4]);
    await close(m.centredMean, [0.4], 'centredMean', [1, 1]);
    await close(m.mean, [3], 'mean', [1, 1]);
    await close(m.var, [0.14], 'var', [1, 1]);
    await close(m.epsScaled, [0.02], 'epsScaled', [1, 1]);
    expect(m.count).to.equal(4);
  });

  it('two groups over dim 1, negative dims, and commonScale', async () => {
    // rows [4, 2, 0] and [-1, -1, 2]: shifts 4 and -1; max|x - s| = 4 and 3
    const x = t64([4, 2, 0, -1, -1, 2], [2, 3]);
    const m = moments(x, [-1]);
    await close(m.shift, [4, -1], 'shift', [2, 1]);
    await close(m.scale, [4, 3], 'scale', [2, 1]);
    await close(m.mean, [2, 0], 'mean', [2, 1]);
    // variances 8/3 and 2 in the input's units, i.e. (8/3)/16 and 2/9 in the scaled ones
    await close(m.var, [8 / 3 / 16, 2 / 9], 'var', [2, 1]);
    await close(m.epsScaled, [0, 0], 'epsScaled (eps 0)', [2, 1]);
    expect(m.count).to.equal(3);
    // one scale for both groups: the largest |x - s| of all, 4
    const c = moments(x, [1], { commonScale: true });
    await close(c.scale, [4], 'common scale (all ones shape)', [1, 1]);
    await close(c.centred, [0, -0.5, -1, 0, 0, 0.75], 'common centred', [2, 3]);
    await close(c.var, [8 / 3 / 16, 2 / 16], 'common var', [2, 1]);
    // over both dims: one group of 6, shift x[0, 0] = 4, scale max|x - 4| = 5
    const all = moments(x, [0, 1]);
    await close(all.scale, [5], 'scale over all', [1, 1]);
    expect(all.count).to.equal(6);
  });

  it('the scale is at least sqrt(eps), 1 for a constant group without eps, 1 where the max is not finite', async () => {
    // |x - s| <= 0.1 with eps 1: scale sqrt(1) = 1; a constant group with eps 0: 1
    await close(moments(t64([3, 3.1, 2.9], [1, 3]), [1], { eps: 1 }).scale, [1], 'floor sqrt(eps)');
    await close(moments(t64([3, 3.1, 2.9], [1, 3]), [1], { eps: 0.0001 }).scale, [0.1], 'above the floor');
    await close(moments(t64([7, 7], [1, 2]), [1]).scale, [1], 'constant group');
    await close(moments(t64([1, Infinity, 2, 5], [2, 2]), [1]).scale, [1, 3], 'inf group');
  });
});

describe('norm layers: getters, setters and resets', () => {
  it('runningMean, runningVar and numBatchesTracked set the buffers', async () => {
    const bn = new nn.BatchNorm1d(2, f64);
    const rm = t64([1, 2]);
    const rv = t64([3, 4]);
    const nbt = gg.full([], 5, { dtype: 'int64' });
    bn.runningMean = rm;
    bn.runningVar = rv;
    bn.numBatchesTracked = nbt;
    expect(bn.running_mean).to.equal(rm);
    expect(bn.running_var).to.equal(rv);
    expect(bn.num_batches_tracked).to.equal(nbt);
    expect(bn.numBatchesTracked).to.equal(nbt);
    const sn = new nn.SwitchableNorm2d(2, f64);
    const w = t64([1, 2, 3]);
    sn.meanWeight = w;
    sn.varWeight = w;
    expect(sn.mean_weight).to.equal(w);
    expect(sn.var_weight).to.equal(w);
    const sw = new nn.SwitchNorm2d(2, f64);
    expect(sw.meanWeight).to.equal(sw.mean_weight);
    expect(sw.varWeight).to.equal(sw.var_weight);
    expect(sw.runningMean).to.equal(sw.running_mean);
    expect(sw.runningVar).to.equal(sw.running_var);
  });

  it('resetRunningStats and resetParameters restore 0, 1, 0 and weight 1, bias 0 (PyTorch _NormBase)', async () => {
    const bn = new nn.BatchNorm2d(2, f64);
    bn.call(t64([1, 5, 2, 7, 3, 9, 4, 1], [2, 2, 2, 1]));
    gg.noGrad(() => {
      (bn.weight as gg.Tensor).assign(t64([2, 3]));
      (bn.bias as gg.Tensor).assign(t64([4, 5]));
    });
    expect(await (bn.numBatchesTracked as gg.Tensor).item()).to.equal(1);
    bn.resetRunningStats();
    expect(await values(bn.runningMean as gg.Tensor)).to.deep.equal([0, 0]);
    expect(await values(bn.runningVar as gg.Tensor)).to.deep.equal([1, 1]);
    expect(await (bn.numBatchesTracked as gg.Tensor).item()).to.equal(0);
    expect((bn.numBatchesTracked as gg.Tensor).dtype).to.equal('int64');
    expect(await values(bn.weight as gg.Tensor)).to.deep.equal([2, 3]); // parameters untouched
    bn.call(t64([1, 5, 2, 7, 3, 9, 4, 1], [2, 2, 2, 1]));
    bn.resetParameters();
    expect(await values(bn.runningMean as gg.Tensor)).to.deep.equal([0, 0]);
    expect(await values(bn.runningVar as gg.Tensor)).to.deep.equal([1, 1]);
    expect(await (bn.numBatchesTracked as gg.Tensor).item()).to.equal(0);
    expect(await values(bn.weight as gg.Tensor)).to.deep.equal([1, 1]);
    expect(await values(bn.bias as gg.Tensor)).to.deep.equal([0, 0]);
    expect((bn.weight as gg.Tensor).dtype).to.equal('float64');
    // without buffers or parameters there is nothing to reset, and nothing fails
    const bare = new nn.BatchNorm2d(2, { affine: false, trackRunningStats: false });
    bare.resetParameters();
    expect(bare.weight).to.equal(null);
    expect(bare.runningMean).to.equal(null);
  });
});

describe('BatchNorm: buffers missing or not tracked (PyTorch _BatchNorm.forward)', () => {
  // channel 0 holds [1, 2, 3, 6] (mean 3, biased variance 3.5, unbiased 14/3), channel 1 [0, 0, 4, 4] (mean 2, variance 4, 16/3)
  const x = (): gg.Tensor => t64([1, 2, 0, 0, 3, 6, 4, 4], [2, 2, 2]);
  const xhat = [-2, -1, -2, -2, 0, 3, 2, 2].map((d, i) => d / Math.sqrt([3.5, 4][Math.floor(i / 2) % 2] as number));

  it('trackRunningStats switched off after construction: training leaves the buffers and the counter, eval uses the buffers', async () => {
    const bn = new nn.BatchNorm1d(2, { ...f64, eps: 0 });
    bn.trackRunningStats = false;
    await close(bn.call(x()), xhat, 'train: batch statistics');
    expect(await values(bn.runningMean as gg.Tensor)).to.deep.equal([0, 0]);
    expect(await values(bn.runningVar as gg.Tensor)).to.deep.equal([1, 1]);
    expect(await (bn.numBatchesTracked as gg.Tensor).item()).to.equal(0);
    // eval: running_mean 0, running_var 1 are still there and used, so the output is x itself
    bn.eval();
    await close(bn.call(x()), [1, 2, 0, 0, 3, 6, 4, 4], 'eval: the buffers');
  });

  it('eval with one buffer removed refuses and names it, as PyTorch: "running_mean/running_var must be defined in evaluation mode"', () => {
    const bn = new nn.BatchNorm1d(2, f64).eval();
    bn.runningMean = null;
    expect(() => bn.call(x())).to.throw('running_mean must be defined in evaluation mode');
    const bv = new nn.BatchNorm1d(2, f64).eval();
    bv.runningVar = null;
    expect(() => bv.call(x())).to.throw('running_var must be defined in evaluation mode');
    const sn = new nn.SwitchableNorm2d(2, f64).eval();
    sn.runningVar = null;
    expect(() => sn.call(x().unsqueeze(3))).to.throw('running_var must be defined in evaluation mode');
    sn.runningMean = null;
    sn.runningVar = t64([1, 1]);
    expect(() => sn.call(x().unsqueeze(3))).to.throw('running_mean must be defined in evaluation mode');
  });

  it('both buffers removed: batch statistics in training and eval, momentum null included; the counter still counts', async () => {
    for (const momentum of [0.1, null]) {
      const bn = new nn.BatchNorm1d(2, { ...f64, eps: 0, momentum });
      bn.runningMean = null;
      bn.runningVar = null;
      await close(bn.call(x()), xhat, `train, momentum ${momentum}`);
      expect(await (bn.numBatchesTracked as gg.Tensor).item()).to.equal(1);
      bn.eval();
      await close(bn.call(x()), xhat, `eval, momentum ${momentum}`);
    }
  });

  it('momentum null: the first batch sets the buffers to its statistics (factor 1/1)', async () => {
    const bn = new nn.BatchNorm1d(2, { ...f64, momentum: null });
    bn.call(x());
    await close(bn.runningMean as gg.Tensor, [3, 2], 'running_mean');
    await close(bn.runningVar as gg.Tensor, [14 / 3, 16 / 3], 'running_var (unbiased)');
  });
});

describe('InstanceNorm: defaults and momentum', () => {
  it('affine and trackRunningStats default to false (not merely falsy)', () => {
    for (const m of [new nn.InstanceNorm1d(2), new nn.InstanceNorm2d(2), new nn.InstanceNorm3d(2)]) {
      expect(m.affine).to.equal(false);
      expect(m.trackRunningStats).to.equal(false);
      expect(m.weight).to.equal(null);
      expect(m.runningMean).to.equal(null);
    }
    const b = new nn.BatchNorm1d(2);
    expect(b.affine).to.equal(true);
    expect(b.trackRunningStats).to.equal(true);
  });

  it('momentum null is refused in every mode, as PyTorch 1.13 (torch.instance_norm takes a float)', () => {
    const msg = "instance_norm(): argument 'momentum' (position 7) must be float, not NoneType";
    const input = t64([1, 2, 0, 0, 3, 6, 4, 4], [2, 2, 2]);
    for (const trackRunningStats of [false, true]) {
      for (const train of [true, false]) {
        const m = new nn.InstanceNorm1d(2, { ...f64, trackRunningStats, momentum: null }).train(train);
        expect(() => m.call(input), `track ${trackRunningStats}, train ${train}`).to.throw(TypeError, msg);
        expect(() => m.call(input.narrow(0, 0, 1).squeeze(0)), `unbatched, track ${trackRunningStats}, train ${train}`).to.throw(TypeError, msg);
      }
    }
  });

  it('instanceNorm with the running statistics needs no spatial extent: (x - rm)/sqrt(rv + eps)', async () => {
    // shape [2, 2, 1]: one value per (n, c); rm = [1, -1], rv = [3, 8], eps 1: (x - rm)/2 and (x - rm)/3
    const y = instanceNorm(t64([3, 2, 5, -4], [2, 2, 1]), t64([1, -1]), t64([3, 8]), null, null, false, 0.1, 1);
    await close(y, [1, 1, 2, -1], 'eval instance norm', [2, 2, 1]);
  });
});

describe('evaluation with running_var + eps = 0 (PyTorch 1.13 values, test/fixtures/torch_autograd.json)', () => {
  const fx = fixture<Record<string, unknown>>('torch_autograd.json');
  const num = (v: number | string): number => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity);
  const golden = (key: string): number[] => (fx[key] as { data: (number | string)[] }).data.map(num);
  // (N=4, C=3): every channel holds [-1, 0, 2, 1]; running means 1, 0, -1; running_var 0, eps 0
  const x = (): gg.Tensor => t64([-1, 0, 2, 1].flatMap((v) => [v, v, v]), [4, 3]);
  const rm = (): gg.Tensor => t64([1, 0, -1]);

  it('gives the infs and NaNs of PyTorch\'s eval kernel, x·α + (β - mean·α), not β', async () => {
    expectClose(await values(batchNorm(x(), rm(), t64([0, 0, 0]), null, null, false, 0.1, 0)), golden('bn_eval_zero_var'), F64, 'no affine');
    const y = batchNorm(x(), rm(), t64([0, 0, 0]), t64([2, -1, 0]), t64([1, 1, 1]), false, 0.1, 0);
    expectClose(await values(y), golden('bn_eval_zero_var_affine'), F64, 'affine');
    // the module in eval, and a finite α: unchanged, (x - mean)/sqrt(var + eps)
    const bn = new nn.BatchNorm1d(3, { ...f64, eps: 0 }).eval();
    bn.runningMean = rm();
    bn.runningVar = t64([0, 0, 0]);
    expectClose(await values(bn.call(x())), golden('bn_eval_zero_var'), F64, 'module');
    // instance norm without input statistics: the same eval kernel, (1, C=3, L=4) holding each channel's [-1, 0, 2, 1]
    const xi = t64([-1, 0, 2, 1, -1, 0, 2, 1, -1, 0, 2, 1], [1, 3, 4]);
    expectClose(await values(instanceNorm(xi, rm(), t64([0, 0, 0]), null, null, false, 0.1, 0)), golden('in_eval_zero_var'), F64, 'instance norm');
    bn.runningVar = t64([4, 1, 0.25]);
    expectClose(await values(bn.call(x())), [-1, 0, 2, 1].flatMap((v) => [(v - 1) / 2, v, (v + 1) * 2]), F64, 'finite');
  });

  it('messages: a missing buffer in eval, InstanceNorm\'s momentum None', () => {
    const msg = (key: string): string => (fx[key] as string).replace(/^\w+: /, '');
    expect(() => batchNorm(x(), null, t64([1, 1, 1]))).to.throw(msg('bn_eval_no_running_mean'));
    expect(() => batchNorm(x(), rm(), null)).to.throw(msg('bn_eval_no_running_var'));
    expect(() => new nn.InstanceNorm1d(3, { momentum: null }).eval().call(gg.zeros([1, 3, 4]))).to.throw(TypeError, msg('instance_norm_momentum_none'));
  });
});

describe('functional forms: refusals and argument forms', () => {
  it('refuses inputs of too few dims, each with its message', () => {
    // PyTorch 1.13 fails these with an IndexError from size(1) (batch_norm, group_norm) or a spatial-size
    // ValueError (instance_norm); gpugrad names the rank it needs
    expect(() => batchNorm(gg.zeros([3]), null, null, null, null, true)).to.throw('batch_norm: expected an input with at least 2 dims (got 1D input)');
    expect(() => instanceNorm(gg.zeros([2, 3]))).to.throw('instance_norm: expected an input with at least 3 dims (got 2D input)');
    expect(() => groupNorm(gg.zeros([3]), 1)).to.throw('Dimension out of range (expected to be in range of [-1, 0], but got 1)');
  });

  it('instance_norm without input statistics needs both buffers; layer_norm checks the affine shapes (PyTorch\'s messages)', () => {
    const x = gg.zeros([2, 3, 4]);
    expect(() => instanceNorm(x, null, null, null, null, false)).to.throw('Expected running_mean and running_var to be defined when use_input_stats is false');
    expect(() => instanceNorm(x, gg.zeros([3]), null, null, null, false)).to.throw('Expected running_mean and running_var to be defined when use_input_stats is false');
    expect(() => layerNorm(x, [4], gg.ones([3]))).to.throw('Expected weight to be of same shape as normalized_shape, but got weight of shape [3] and normalized_shape = [4]');
    expect(() => layerNorm(x, [4], null, gg.ones([2, 2]))).to.throw('Expected bias to be of same shape as normalized_shape, but got bias of shape [2, 2] and normalized_shape = [4]');
  });

  it('layerNorm takes a number for a one-dim normalized shape', async () => {
    // [1, 2, 3, 6]: mean 3, variance 3.5, eps 0: (x - 3)/sqrt(3.5)
    const y = layerNorm(t64([1, 2, 3, 6], [1, 4]), 4, null, null, 0);
    await close(y, [-2, -1, 0, 3].map((d) => d / Math.sqrt(3.5)), 'layerNorm(x, 4)', [1, 4]);
  });

  it('SwitchNorm2d prints its options as its docs give them', () => {
    const m = new nn.SwitchNorm2d(4, { eps: 1e-3, momentum: 0.5, usingMovingAverage: false, usingBn: false, lastGamma: true });
    expect(m.extraRepr()).to.equal('4, eps=0.001, momentum=0.5, using_moving_average=False, using_bn=False, last_gamma=True');
    expect(new nn.SwitchNorm2d(64).extraRepr()).to.equal('64, eps=1e-05, momentum=0.9, using_moving_average=True, using_bn=True, last_gamma=False');
  });
});

describe('eps = 0 on a constant slice (PyTorch 1.13 values, test/fixtures/torch_autograd.json)', () => {
  const fx = fixture<Record<string, { data: (number | string)[] }>>('torch_autograd.json');
  const golden = (key: string): number[] => (fx[key] as { data: (number | string)[] }).data.map((v) => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity));
  // (2, 2, 2): sample 0 is constant 2, sample 1 holds [1, 2, 4, 8]
  const x = (): gg.Tensor => t64([2, 2, 2, 2, 1, 2, 4, 8], [2, 2, 2]);

  it('layer and group norm give NaN (no zero guard, as PyTorch), instance norm 0 (guarded, as PyTorch)', async () => {
    expectClose(await values(layerNorm(x(), [2, 2], null, null, 0)), golden('ln_eps0_constant'), F64, 'layer_norm');
    expectClose(await values(groupNorm(x(), 1, null, null, 0)), golden('gn_eps0_constant'), F64, 'group_norm');
    expectClose(await values(instanceNorm(x(), null, null, null, null, true, 0.1, 0)), golden('in_eps0_constant'), F64, 'instance_norm');
    expectClose(await values(new nn.LayerNorm([2, 2], { ...f64, eps: 0 }).call(x())), golden('ln_eps0_constant'), F64, 'LayerNorm');
    expectClose(await values(new nn.GroupNorm(1, 2, { ...f64, eps: 0 }).call(x())), golden('gn_eps0_constant'), F64, 'GroupNorm');
  });
});

describe('functional forms: each argument check names its function and argument', () => {
  // PyTorch's wording (`batch_norm(): argument 'running_mean' (position 2) must be Tensor, not list`),
  // without the position; eps goes through the library's number check ('Number')
  const x = gg.zeros([2, 2, 3]);
  const L = [1, 2] as never;
  const cases: [() => unknown, string][] = [
    [() => batchNorm(L, null, null), "batch_norm(): argument 'input' must be Tensor, not list"],
    [() => batchNorm(x, L, null), "batch_norm(): argument 'running_mean' must be Tensor, not list"],
    [() => batchNorm(x, null, L), "batch_norm(): argument 'running_var' must be Tensor, not list"],
    [() => batchNorm(x, null, null, L), "batch_norm(): argument 'weight' must be Tensor, not list"],
    [() => batchNorm(x, null, null, null, L), "batch_norm(): argument 'bias' must be Tensor, not list"],
    [() => batchNorm(x, null, null, null, null, 1 as never), "batch_norm(): argument 'training' must be bool, not int"],
    [() => batchNorm(x, null, null, null, null, true, 'a' as never), "batch_norm(): argument 'momentum' must be float, not str"],
    [() => batchNorm(x, null, null, null, null, true, 0.1, '1' as never), "batch_norm(): argument 'eps' must be Number, not str"],
    [() => instanceNorm(L), "instance_norm(): argument 'input' must be Tensor, not list"],
    [() => instanceNorm(x, L), "instance_norm(): argument 'running_mean' must be Tensor, not list"],
    [() => instanceNorm(x, null, L), "instance_norm(): argument 'running_var' must be Tensor, not list"],
    [() => instanceNorm(x, null, null, L), "instance_norm(): argument 'weight' must be Tensor, not list"],
    [() => instanceNorm(x, null, null, null, L), "instance_norm(): argument 'bias' must be Tensor, not list"],
    [() => instanceNorm(x, null, null, null, null, 1 as never), "instance_norm(): argument 'use_input_stats' must be bool, not int"],
    [() => instanceNorm(x, null, null, null, null, true, 'a' as never), "instance_norm(): argument 'momentum' must be float, not str"],
    [() => instanceNorm(x, null, null, null, null, true, 0.1, '1' as never), "instance_norm(): argument 'eps' must be Number, not str"],
    [() => layerNorm(L, [3]), "layer_norm(): argument 'input' must be Tensor, not list"],
    [() => layerNorm(x, [3], L), "layer_norm(): argument 'weight' must be Tensor, not list"],
    [() => layerNorm(x, [3], null, L), "layer_norm(): argument 'bias' must be Tensor, not list"],
    [() => layerNorm(x, [3], null, null, '1' as never), "layer_norm(): argument 'eps' must be Number, not str"],
    [() => layerNorm(x, 1.5), "layer_norm(): argument 'normalized_shape' must be int, not float"],
    [() => layerNorm(x, [1.5]), "layer_norm(): argument 'normalized_shape' must be tuple of ints, but found element of type float at pos 0"],
    [() => groupNorm(L, 1), "group_norm(): argument 'input' must be Tensor, not list"],
    [() => groupNorm(x, 1, L), "group_norm(): argument 'weight' must be Tensor, not list"],
    [() => groupNorm(x, 1, null, L), "group_norm(): argument 'bias' must be Tensor, not list"],
    [() => groupNorm(x, 1, null, null, '1' as never), "group_norm(): argument 'eps' must be Number, not str"],
    [() => groupNorm(x, 1.5), "group_norm(): argument 'num_groups' must be int, not float"],
  ];
  it(`${cases.length} refusals, exact TypeError messages`, () => {
    for (const [call, msg] of cases) {
      let err: unknown = null;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err, msg).to.be.instanceOf(TypeError);
      expect((err as Error).message).to.equal(msg);
    }
  });
});

describe('batch statistics: what counts as more than one value', () => {
  it('BatchNorm1d trains on one sample with two positions; InstanceNorm on one position per instance refuses', async () => {
    // [1, 3, 2]: N·L = 2 values per channel; channel c holds [c, c + 2]: mean c + 1, variance 1, eps 0 → [-1, 1]
    const y = new nn.BatchNorm1d(3, { ...f64, eps: 0 }).call(t64([0, 2, 1, 3, 2, 4], [1, 3, 2]));
    await close(y, [-1, 1, -1, 1, -1, 1], 'BatchNorm1d [1, 3, 2]');
    expect(() => new nn.BatchNorm1d(3).call(gg.zeros([1, 3, 1]))).to.throw('Expected more than 1 value per channel when training, got input size [1, 3, 1]');
    expect(() => new nn.InstanceNorm1d(3).call(gg.zeros([4, 3, 1]))).to.throw('Expected more than 1 spatial element when training, got input size [4, 3, 1]');
  });

  it('an empty batch keeps weight and bias in the graph: they get zero gradients, as PyTorch', async () => {
    for (const make of [() => new nn.BatchNorm2d(3, f64), () => new nn.SwitchableNorm2d(3, f64)]) {
      const m = make();
      m.call(gg.zeros([0, 3, 2, 2], { ...f64, requiresGrad: true })).sum().backward();
      expect(await values((m.weight as gg.Tensor).grad as gg.Tensor)).to.deep.equal([0, 0, 0]);
      expect(await values((m.bias as gg.Tensor).grad as gg.Tensor)).to.deep.equal([0, 0, 0]);
    }
    // no weight or bias: nothing to tie, and nothing fails
    expect(new nn.BatchNorm2d(3, { affine: false }).call(gg.zeros([0, 3, 2, 2])).shape).to.deep.equal([0, 3, 2, 2]);
  });
});

describe('PyTorch 1.13 rules found by the mutation run (values checked against torch.nn.functional)', () => {
  // x (N=2, C=3) = [[1, 2, 3], [3, 6, 9]]: batch means [2, 4, 6], unbiased variances [2, 8, 18]
  const x = (): gg.Tensor => t64([1, 2, 3, 3, 6, 9], [2, 3]);

  it('training updates each running buffer given, the other may be missing', async () => {
    const rm = t64([0, 0, 0]);
    batchNorm(x(), rm, null, null, null, true);
    await close(rm, [0.2, 0.4, 0.6], 'running_mean alone: 0.9·0 + 0.1·mean');
    const rv = t64([1, 1, 1]);
    batchNorm(x(), null, rv, null, null, true);
    await close(rv, [1.1, 1.7, 2.7], 'running_var alone: 0.9·1 + 0.1·unbiased var');
    // instance norm: (N=2, C=3, L=2) holding 0..11, instance means 0.5, 2.5, ..., 10.5; batch means of them [3.5, 5.5, 7.5]
    const im = t64([0, 0, 0]);
    instanceNorm(gg.arange(12, f64).reshape(2, 3, 2), im);
    await close(im, [0.35, 0.55, 0.75], 'instance norm running_mean alone');
    const iv = t64([1, 1, 1]);
    instanceNorm(gg.arange(12, f64).reshape(2, 3, 2), null, iv);
    await close(iv, [0.95, 0.95, 0.95], 'instance norm running_var alone: 0.9 + 0.1·0.5');
  });

  it('eval needs no second value per channel: (x - rm)/sqrt(rv + eps)', async () => {
    const y = batchNorm(t64([1, 2, 3], [1, 3]), t64([0, 0, 0]), t64([1, 1, 1]), null, null, false, 0.1, 0);
    await close(y, [1, 2, 3], 'eval on one sample');
  });

  it('instanceNorm defaults to input statistics', async () => {
    // [1, 2, 3, 6]: mean 3, variance 3.5, eps 1e-5
    await close(instanceNorm(t64([1, 2, 3, 6], [1, 1, 4])), [-2, -1, 0, 3].map((d) => d / Math.sqrt(3.5 + 1e-5)), 'instanceNorm(x)');
  });

  it('layer norm: the shape rules and messages', async () => {
    expect(() => layerNorm(x(), [])).to.throw('Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but got normalized_shape = []');
    expect(() => layerNorm(gg.zeros([4]), [4, 4])).to.throw('Given normalized_shape=[4, 4], expected input with shape [*, 4, 4], but got input of size[4]');
    expect(() => layerNorm(gg.zeros([2, 3, 5]), [3, 4])).to.throw('Given normalized_shape=[3, 4], expected input with shape [*, 3, 4], but got input of size[2, 3, 5]');
    // an input of exactly the normalised shape: [[1, 3], [5, 7]], mean 4, variance 5, eps 0
    await close(layerNorm(t64([1, 3, 5, 7], [2, 2]), [2, 2], null, null, 0), [-3, -1, 1, 3].map((d) => d / Math.sqrt(5)), 'ndim == k');
  });

  it('group norm: a 2-D input, and a weight that is no vector', async () => {
    // [[1, 3, 2, 6]] in 2 groups: [1, 3] and [2, 6], each normalised to [-1, 1] (eps 0)
    await close(groupNorm(t64([1, 3, 2, 6], [1, 4]), 2, null, null, 0), [-1, 1, -1, 1], 'group norm of (N, C)');
    expect(() => groupNorm(gg.zeros([2, 4, 3]), 2, gg.ones([2, 2]))).to.throw('Expected weight to be a vector of size equal to the number of channels in input, but got weight of shape [2, 2] and input of shape [2, 4, 3]');
  });

  it('per-channel sizes: each argument named, N·C for instance norm', () => {
    const t3 = gg.zeros([2, 3, 2]);
    expect(() => batchNorm(x(), t64([0, 0, 0]), gg.ones([2]), null, null, true)).to.throw('running_var should contain 3 elements not 2');
    expect(() => batchNorm(x(), null, null, gg.ones([3]), gg.ones([2]), true)).to.throw('bias should contain 3 elements not 2');
    expect(() => instanceNorm(t3, gg.zeros([2]), gg.ones([3]))).to.throw('running_mean should contain 6 elements not 4');
    expect(() => instanceNorm(t3, gg.zeros([3]), gg.ones([2]))).to.throw('running_var should contain 6 elements not 4');
    expect(() => instanceNorm(t3, null, null, gg.ones([3]), gg.ones([2]))).to.throw('bias should contain 6 elements not 4');
  });

  it('SwitchableNorm2d updates the buffer that is left when the other is removed', async () => {
    const sn = new nn.SwitchableNorm2d(3, f64);
    sn.runningVar = null;
    sn.call(x().reshape(2, 3, 1, 1));
    await close(sn.runningMean as gg.Tensor, [0.2, 0.4, 0.6], 'running_mean');
  });
});

describe('layer constructors: each check names the layer and the argument', () => {
  const cases: [() => unknown, string][] = [
    [() => new nn.LayerNorm(1.5), "LayerNorm(): argument 'normalized_shape' must be int, not float"],
    [() => new nn.LayerNorm([1.5]), "LayerNorm(): argument 'normalized_shape' must be tuple of ints, but found element of type float at pos 0"],
    [() => new nn.LayerNorm(2, { eps: '1' as never }), "LayerNorm(): argument 'eps' must be Number, not str"],
    [() => new nn.LayerNorm(2, { elementwiseAffine: 1 as never }), "LayerNorm(): argument 'elementwise_affine' must be bool, not int"],
    [() => new nn.GroupNorm(1.5, 2), "GroupNorm(): argument 'num_groups' must be int, not float"],
    [() => new nn.GroupNorm(0, 2), "GroupNorm(): argument 'num_groups' must be positive, got 0"],
    [() => new nn.GroupNorm(1, 1.5), "GroupNorm(): argument 'num_channels' must be int, not float"],
    [() => new nn.GroupNorm(1, 2, { eps: '1' as never }), "GroupNorm(): argument 'eps' must be Number, not str"],
    [() => new nn.GroupNorm(1, 2, { affine: 1 as never }), "GroupNorm(): argument 'affine' must be bool, not int"],
    [() => new nn.BatchNorm2d(1.5), "BatchNorm2d(): argument 'num_features' must be int, not float"],
    [() => new nn.BatchNorm2d(2, { eps: '1' as never }), "BatchNorm2d(): argument 'eps' must be Number, not str"],
    [() => new nn.BatchNorm2d(2, { momentum: '1' as never }), "BatchNorm2d(): argument 'momentum' must be Number, not str"],
    [() => new nn.BatchNorm2d(2, { affine: 1 as never }), "BatchNorm2d(): argument 'affine' must be bool, not int"],
    [() => new nn.BatchNorm2d(2, { trackRunningStats: 1 as never }), "BatchNorm2d(): argument 'track_running_stats' must be bool, not int"],
    [() => new nn.InstanceNorm1d(1.5), "InstanceNorm1d(): argument 'num_features' must be int, not float"],
    [() => new nn.SwitchableNorm2d(1.5), "SwitchableNorm2d(): argument 'num_features' must be int, not float"],
    [() => new nn.SwitchNorm2d(1.5), "SwitchNorm2d(): argument 'num_features' must be int, not float"],
    [() => new nn.SwitchNorm2d(2, { eps: '1' as never }), "SwitchNorm2d(): argument 'eps' must be Number, not str"],
    [() => new nn.SwitchNorm2d(2, { momentum: '1' as never }), "SwitchNorm2d(): argument 'momentum' must be Number, not str"],
    [() => new nn.SwitchNorm2d(2, { usingMovingAverage: 1 as never }), "SwitchNorm2d(): argument 'using_moving_average' must be bool, not int"],
    [() => new nn.SwitchNorm2d(2, { usingBn: 1 as never }), "SwitchNorm2d(): argument 'using_bn' must be bool, not int"],
    [() => new nn.SwitchNorm2d(2, { lastGamma: 1 as never }), "SwitchNorm2d(): argument 'last_gamma' must be bool, not int"],
  ];
  it(`${cases.length} refusals, exact messages`, () => {
    for (const [call, msg] of cases) expect(call, msg).to.throw(msg);
  });
});

describe('SwitchableNorm2d: BatchNorm2d\'s buffer rules', () => {
  // (N=2, C=3, 1, 1) = [[1, 2, 3], [3, 6, 9]]
  const x = (): gg.Tensor => t64([1, 2, 3, 3, 6, 9], [2, 3, 1, 1]);

  it('trackRunningStats switched off: training leaves the buffers; eval on one sample needs no batch', async () => {
    const sn = new nn.SwitchableNorm2d(3, f64);
    sn.trackRunningStats = false;
    sn.call(x());
    expect(await values(sn.runningMean as gg.Tensor)).to.deep.equal([0, 0, 0]);
    expect(await values(sn.runningVar as gg.Tensor)).to.deep.equal([1, 1, 1]);
    // eval with one-hot BN logits: (x - 0)/sqrt(1 + eps) on a single sample
    sn.eval();
    gg.noGrad(() => {
      sn.meanWeight.assign(t64([-1e4, -1e4, 0]));
      sn.varWeight.assign(t64([-1e4, -1e4, 0]));
    });
    const one = t64([1, 2, 3], [1, 3, 1, 1]);
    await close(sn.call(one), [1, 2, 3].map((v) => v / Math.sqrt(1 + 1e-5)), 'eval, one sample');
  });

  it('per-channel sizes name the first argument that does not fit', () => {
    const bad = gg.zeros([2, 4, 2, 2], f64);
    expect(() => new nn.SwitchableNorm2d(3, f64).call(bad)).to.throw('running_mean should contain 4 elements not 3');
    const noMean = new nn.SwitchableNorm2d(3, f64);
    noMean.runningMean = null;
    expect(() => noMean.call(bad)).to.throw('running_var should contain 4 elements not 3');
    const untracked = new nn.SwitchableNorm2d(3, { ...f64, trackRunningStats: false });
    expect(() => untracked.call(bad)).to.throw('weight should contain 4 elements not 3');
    untracked.weight = null;
    expect(() => untracked.call(bad)).to.throw('bias should contain 4 elements not 3');
  });

  it('SwitchNorm2d with eps 0 on a constant input: NaN, its authors\' plain 1/sqrt(var + eps) (0·inf)', async () => {
    const y = new nn.SwitchNorm2d(2, { ...f64, eps: 0 }).call(gg.full([2, 2, 2, 2], 3, f64));
    expect((await values(y)).every((v) => Number.isNaN(v))).to.equal(true);
  });
});

describe('the layers\' named kernels (float64 on the cpu), in order', () => {
  // the fused kernels each pass is (docs/notes/architecture.md, "Fused kernels"); their names are
  // what gg.profile shows. Plain ops (add, div, sum, ...) are left out: only the named ones are pinned.
  const named = async (fn: () => unknown): Promise<string> =>
    (await gg.profile(fn)).kernels
      .map((k) => `${k.kernel} ${k.elements}`)
      .filter((k) => /^[A-Z]/.test(k))
      .join(', ');
  const wave = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(12.9898 + i * 78.233) * 2 + 0.3);
  const x = (shape: number[]): gg.Tensor => gg.tensor(wave(shape.reduce((a, b) => a * b, 1)), { ...f64, shape });

  it('BatchNorm1d in training and in evaluation, InstanceNorm1d tracking its statistics', async () => {
    const bn = new nn.BatchNorm1d(3, f64);
    // the moments (max |x - s|, the scale, Σc, Σc²), both running buffers, the primitive
    expect(await named(() => bn.forward(x([4, 3, 5])))).to.equal('AbsMax 3, Scale 3, CentredSum 3, CentredSquareSum 3, RunningUpdate 3, RunningUpdate 3, Mean 3, NativeBatchNormScale 3, NativeBatchNorm 60');
    bn.eval();
    expect(await named(() => bn.forward(x([4, 3, 5])))).to.equal('InvStd 3, Normalize 60');
    const inorm = new nn.InstanceNorm1d(3, { ...f64, trackRunningStats: true });
    // per (sample, channel): the running mean from the groups' means, the running variance from their unbiased variances
    expect(await named(() => inorm.forward(x([4, 3, 5])))).to.equal(
      'AbsMax 12, Scale 12, CentredSum 12, CentredSquareSum 12, Mean 12, MeanOfInput 12, RunningUpdate 3, Variance 12, RealVar 12, RunningUpdate 3, Mean 12, NativeBatchNormScale 12, NativeBatchNorm 60',
    );
  });

  it('LayerNorm and GroupNorm: the primitive under their PyTorch names', async () => {
    expect(await named(() => new nn.LayerNorm([5], f64).forward(x([4, 3, 5])))).to.equal('AbsMax 12, Scale 12, CentredSum 12, CentredSquareSum 12, Mean 12, NativeLayerNormScale 12, NativeLayerNorm 60');
    expect(await named(() => new nn.GroupNorm(3, 6, f64).forward(x([2, 6, 5])))).to.equal('AbsMax 6, Scale 6, CentredSum 6, CentredSquareSum 6, Mean 6, NativeGroupNormScale 6, NativeGroupNorm 60');
  });

  it('the moments\' lazy fields, and realVar', async () => {
    const m = moments(x([4, 3, 5]), [0, 2], { eps: 1e-5 });
    expect(await named(() => [m.centred, m.mean, m.var, m.epsScaled, realVar(m)])).to.equal('Centred 60, Mean 3, MeanOfInput 3, Variance 3, EpsScaled 3, RealVar 3');
  });

  it('SwitchableNorm2d in training, SwitchNorm2d in evaluation', async () => {
    const sw = new nn.SwitchableNorm2d(3, f64);
    expect(await named(() => sw.forward(x([2, 3, 2, 2])))).to.equal('AbsMax 1, Scale 1, CentredSum 6, CentredSquareSum 6, Mean 6, Variance 6, RunningUpdate 3, RunningUpdate 3, EpsScaled 1, InvStd 6, Normalize 24');
    const sn = new nn.SwitchNorm2d(3, f64);
    sn.eval();
    expect(await named(() => sn.forward(x([2, 3, 2, 2])))).to.equal('AbsMax 1, Scale 1, CentredSum 6, CentredSquareSum 6, Mean 6, Variance 6, EpsScaled 1, InvStd 6, Normalize 24');
  });
});

describe('an empty batch with zero channels', () => {
  it('batch norm returns the empty input as it is (no weight[0] or bias[0] to tie it to; PyTorch raises an IndexError, docs/notes/mutation-testing.md)', async () => {
    const y = batchNorm(gg.zeros([2, 0, 3], f64), null, null, gg.zeros([0], f64), gg.zeros([0], f64), true);
    expect(y.shape).to.deep.equal([2, 0, 3]);
  });
});
