/**
 * Defects a probe found, each against PyTorch 1.13 (test/fixtures/torch_tools.json
 * `probe`, make_tools.py):
 * - crossEntropy with label smoothing and every target ignored: loss NaN
 *   ('mean'), gradient 0 (was NaN), with and without class weights;
 * - `backward({ retainGraph: true })`: the options as the first argument
 *   (was an internal TypeError), an unknown key refused as usual;
 * - the norm functionals refuse non-float weight, bias and running
 *   statistics up front with PyTorch's messages (some ran, others named an
 *   internal op), and a refused call changes no running statistic.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectClose } from '../helpers/compare.js';
import { nums, tools } from '../helpers/tools-fixture.js';

const F = gg.nn.functional;
const f64 = { dtype: 'float64' } as const;

describe('crossEntropy: label smoothing with every target ignored (PyTorch: loss NaN for mean, gradient 0)', () => {
  for (const c of tools().probe.ceIgnored) {
    it(`${c.weighted ? 'class weights, ' : ''}reduction ${c.reduction}${c.target ? `, targets ${c.target.join(', ')}` : ', all ignored'}`, async () => {
      const x = gg.tensor(nums(c.input), { ...f64, shape: c.input.shape, requiresGrad: true });
      const target = gg.tensor(c.target ?? [2, 2], { dtype: 'int64' });
      const weight = c.weighted ? gg.tensor([0.2, 1, 3], f64) : null;
      const loss = F.crossEntropy(x, target, { labelSmoothing: 0.1, ignoreIndex: 2, weight, reduction: c.reduction });
      const want = nums(c.loss);
      const got = [...(await loss.data())];
      expect(got.map(Number.isNaN)).to.deep.equal(want.map(Number.isNaN));
      expectClose(got.filter((v) => !Number.isNaN(v)), want.filter((v) => !Number.isNaN(v)), { rtol: 1e-12, atol: 1e-14 }, 'loss');
      loss.sum().backward();
      expectClose(await x.grad!.data(), nums(c.grad), { rtol: 1e-12, atol: 1e-14 }, 'gradient');
    });
  }
});

describe('backward: the options as the first argument (PyTorch loss.backward(retain_graph=True))', () => {
  it('backward({ retainGraph: true }) keeps the graph for a second backward: x.grad as PyTorch after two', async () => {
    const x = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward({ retainGraph: true });
    y.backward();
    expect([...(await x.grad!.data())]).to.deep.equal(nums(tools().probe.backward.retainTwice));
  });
  it('backward({}) is backward(); without retainGraph a second backward is refused as usual', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward({});
    expect(() => y.backward()).to.throw(/Trying to backward through the graph a second time/);
  });
  it('an unknown key in the first-argument options is refused with the usual message, before anything runs', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    // PyTorch: "Tensor.backward() got an unexpected keyword argument 'retainGraph'" (for its spelling)
    const msg = tools().probe.backward.unknownKey.replace(/^Tensor\./, '').replace('retainGraph', 'retain_graph');
    expect(() => x.sum().backward({ retain_graph: true } as gg.BackwardOptions)).to.throw(TypeError, msg);
    expect(() => x.sum().backward(undefined, { retain_graph: true } as gg.BackwardOptions)).to.throw(TypeError, msg);
    expect(x.grad).to.equal(null);
  });
  it('a gradient that is not a tensor (an array, a number) is refused by name, not read as one', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(() => x.mul(2).backward([1, 1] as unknown as gg.Tensor)).to.throw(TypeError, /backward\(\).*gradient.*Tensor/);
    expect(() => x.sum().backward(1 as unknown as gg.Tensor)).to.throw(TypeError, /backward\(\).*gradient.*Tensor/);
    expect(x.grad).to.equal(null);
  });
});

describe('norm functionals: non-float weight, bias, running statistics refused with PyTorch\'s messages', () => {
  const cases = Object.entries(tools().probe.normDtypes);
  it('the fixture covers batch_norm, instance_norm, layer_norm, group_norm and every case is refused by PyTorch', () => {
    expect(cases.length).to.be.greaterThan(80);
    for (const [key, msg] of cases) expect(msg, key).to.be.a('string');
  });
  for (const [key, msg] of cases) {
    it(`${key}: ${msg}`, async () => {
      // the input's dtype; 'none': no integer parameter (an integer input, float32 parameters)
      const [mode, dtype, given, ints] = key.split('/') as [string, 'float32' | 'float64' | 'int64' | 'int32', string, string];
      const integral = dtype === 'int64' || dtype === 'int32';
      const x = gg.tensor(Array.from({ length: 24 }, (_, i) => (integral ? i % 5 : i / 7)), { shape: [2, 3, 4], dtype });
      const c = mode === 'ln' ? 4 : 3;
      const float = integral ? 'float32' : dtype;
      const param = (k: string): gg.Tensor | null => {
        if (!given.includes(k)) return null;
        if (ints === 'int32' && k === 'W') return gg.ones([c], { dtype: 'int32' });
        return ints !== 'none' && ints.includes(k) ? gg.ones([c], { dtype: 'int64' }) : gg.ones([c], { dtype: float }).mul(k === 'M' ? 0.5 : 1);
      };
      const [M, V, W, B] = [param('M'), param('V'), param('W'), param('B')];
      const run: Record<string, () => gg.Tensor> = {
        bnTrain: () => F.batchNorm(x, M, V, W, B, true),
        bnEval: () => F.batchNorm(x, M, V, W, B, false),
        inUse: () => F.instanceNorm(x, M, V, W, B, true),
        inRunning: () => F.instanceNorm(x, M, V, W, B, false),
        ln: () => F.layerNorm(x, [4], W, B),
        gn: () => F.groupNorm(x, 1, W, B),
      };
      const before = await Promise.all([M, V].map(async (t) => (t ? [...(await t.data())] : null)));
      expect(run[mode]!).to.throw(Error, msg!);
      // a refused call changes nothing: the running statistics as they were
      expect(await Promise.all([M, V].map(async (t) => (t ? [...(await t.data())] : null)))).to.deep.equal(before);
    });
  }
});
