/**
 * SwitchableNorm2d (docs/spec/normalization.md#switchablenorm2d) and SwitchNorm2d (#switchnorm2d): goldens from the
 * fixture script's reference implementations, and the one-hot properties
 * that need no golden (BN, IN and LN special cases).
 *
 * Run: npx tsc -p tsconfig.json && node_modules/.bin/mocha dist/test/nn/switchable.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
// NOTE: importing the shared helpers also registers normalization.test's suites when this file runs alone
import { runCase, type ModuleCase } from './normalization.test.js';
import { expectClose, fixture, values, F64 } from '../helpers/compare.js';

const nn = gg.nn;
const f64 = { dtype: 'float64' as const };

const cases = fixture<ModuleCase[]>('torch_nn.json').filter((c) => c.kind === 'module' && (c.module === 'SwitchableNorm2d' || c.module === 'SwitchNorm2d'));

describe('SwitchableNorm2d / SwitchNorm2d: goldens (float64, cpu)', () => {
  it('has cases for both layers', () => {
    expect(cases.filter((c) => c.module === 'SwitchableNorm2d').length).to.be.greaterThan(3);
    expect(cases.filter((c) => c.module === 'SwitchNorm2d').length).to.be.greaterThan(3);
  });
  for (const c of cases) it(c.name, async () => runCase(c, F64));
});

function randn(shape: number[], seed: number, scale = 1, shift = 0): gg.Tensor {
  gg.manualSeed(seed);
  return gg.randn(shape, f64).mul(scale).add(shift);
}
function setLogits(m: gg.nn.SwitchableNorm2d, logits: number[]): void {
  gg.noGrad(() => {
    m.meanWeight.assign(gg.tensor(logits, f64));
    m.varWeight.assign(gg.tensor(logits, f64));
  });
}
async function close(a: gg.Tensor, b: gg.Tensor, label: string, tol = { rtol: 1e-9, atol: 1e-10 }): Promise<void> {
  expect(a.shape, label).to.deep.equal(b.shape);
  expectClose(await values(a), await values(b), tol, label);
}

describe('SwitchableNorm2d: one-hot mixing reproduces the plain layers', () => {
  const x = randn([3, 4, 5, 5], 123, 2, 0.5);

  for (const momentum of [0.1, null, 0.3]) {
    it(`one-hot BN equals BatchNorm2d (momentum ${momentum}): outputs, input grads, running stats, then eval`, async () => {
      const s = new nn.SwitchableNorm2d(4, { ...f64, momentum });
      const b = new nn.BatchNorm2d(4, { ...f64, momentum });
      setLogits(s, [-1e4, -1e4, 0]);
      gg.noGrad(() => {
        const w = randn([4], 1, 0.3, 1);
        const bias = randn([4], 2);
        for (const m of [s, b]) {
          (m.weight as gg.Tensor).assign(w);
          (m.bias as gg.Tensor).assign(bias);
        }
      });
      for (let k = 0; k < 2; k++) {
        const xs = x.add(k).detach().requiresGrad_(true);
        const xb = x.add(k).detach().requiresGrad_(true);
        const g = randn([3, 4, 5, 5], 10 + k);
        const ys = s.call(xs);
        const yb = b.call(xb);
        ys.mul(g).sum().backward();
        yb.mul(g).sum().backward();
        await close(ys, yb, `step ${k} output`);
        await close(xs.grad as gg.Tensor, xb.grad as gg.Tensor, `step ${k} input grad`);
        await close(s.runningMean as gg.Tensor, b.runningMean as gg.Tensor, `step ${k} running_mean`, { rtol: 1e-12, atol: 1e-12 });
        await close(s.runningVar as gg.Tensor, b.runningVar as gg.Tensor, `step ${k} running_var`, { rtol: 1e-12, atol: 1e-12 });
        expect(await (s.numBatchesTracked as gg.Tensor).item()).to.equal(k + 1);
      }
      s.eval();
      b.eval();
      await close(s.call(x), b.call(x), 'eval output');
    });
  }

  it('one-hot BN without tracked stats equals BatchNorm2d in eval (batch statistics)', async () => {
    const s = new nn.SwitchableNorm2d(4, { ...f64, trackRunningStats: false }).eval();
    const b = new nn.BatchNorm2d(4, { ...f64, trackRunningStats: false }).eval();
    setLogits(s, [-1e4, -1e4, 0]);
    await close(s.call(x), b.call(x), 'output');
  });

  it('one-hot IN equals InstanceNorm2d', async () => {
    const s = new nn.SwitchableNorm2d(4, { ...f64, affine: false });
    setLogits(s, [0, -1e4, -1e4]);
    await close(s.call(x), new nn.InstanceNorm2d(4, f64).call(x), 'output');
    s.eval();
    await close(s.call(x), new nn.InstanceNorm2d(4, f64).call(x), 'eval output');
  });

  it('one-hot LN equals LayerNorm over (C, H, W) without affine', async () => {
    const s = new nn.SwitchableNorm2d(4, { ...f64, affine: false });
    setLogits(s, [-1e4, 0, -1e4]);
    const ln = new nn.LayerNorm([4, 5, 5], { ...f64, elementwiseAffine: false });
    const xs = x.detach().requiresGrad_(true);
    const xl = x.detach().requiresGrad_(true);
    const g = randn([3, 4, 5, 5], 5);
    const ys = s.call(xs);
    const yl = ln.call(xl);
    ys.mul(g).sum().backward();
    yl.mul(g).sum().backward();
    await close(ys, yl, 'output');
    await close(xs.grad as gg.Tensor, xl.grad as gg.Tensor, 'input grad');
  });

  it('mixing weights get gradients through the softmax; buffers never require grad', async () => {
    const s = new nn.SwitchableNorm2d(4, f64);
    s.call(x).mul(randn([3, 4, 5, 5], 6)).sum().backward();
    for (const p of [s.meanWeight, s.varWeight]) {
      const g = await values(p.grad as gg.Tensor);
      expect(g.some((v) => v !== 0)).to.equal(true);
      // softmax Jacobian rows sum to zero, so the logit gradients do too
      expect(Math.abs(g.reduce((a, v) => a + v, 0))).to.be.lessThan(1e-9);
    }
    expect(s.buffers().every((b) => !b.requiresGrad)).to.equal(true);
  });

  it('keys, defaults and getters', async () => {
    const s = new nn.SwitchableNorm2d(3);
    expect(Object.keys(s.stateDict())).to.deep.equal(['weight', 'bias', 'mean_weight', 'var_weight', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(await values(s.meanWeight)).to.deep.equal([1, 1, 1]);
    expect(await values(s.varWeight)).to.deep.equal([1, 1, 1]);
    expect(s.parameters()).to.have.length(4);
    expect(Object.keys(new nn.SwitchableNorm2d(3, { affine: false, trackRunningStats: false }).stateDict())).to.deep.equal(['mean_weight', 'var_weight']);
  });

  it('eps = 0 with a constant input gives β (as BatchNorm2d)', async () => {
    const s = new nn.SwitchableNorm2d(2, { ...f64, eps: 0 });
    gg.noGrad(() => (s.bias as gg.Tensor).assign(gg.tensor([1, 2], f64)));
    const out = await values(s.call(gg.full([2, 2, 2, 2], 0.1, f64)));
    expect(out.slice(0, 4)).to.deep.equal([1, 1, 1, 1]);
    expect(out.slice(4, 8)).to.deep.equal([2, 2, 2, 2]);
  });
});

describe('SwitchNorm2d: the authors\' conventions', () => {
  it('keys, shapes, initial values', async () => {
    const s = new nn.SwitchNorm2d(3);
    const sd = s.stateDict();
    expect(Object.keys(sd)).to.deep.equal(['weight', 'bias', 'mean_weight', 'var_weight', 'running_mean', 'running_var']);
    expect(sd['weight']?.shape).to.deep.equal([1, 3, 1, 1]);
    expect(sd['running_mean']?.shape).to.deep.equal([1, 3, 1]);
    expect(await values(s.runningVar as gg.Tensor)).to.deep.equal([0, 0, 0]);
    expect(await values(new nn.SwitchNorm2d(3, { lastGamma: true }).weight)).to.deep.equal([0, 0, 0]);
    const nb = new nn.SwitchNorm2d(3, { usingBn: false });
    expect(Object.keys(nb.stateDict())).to.deep.equal(['weight', 'bias', 'mean_weight', 'var_weight']);
    expect(nb.meanWeight.shape).to.deep.equal([2]);
  });

  it('H·W = 1 gives NaN (unbiased IN variance)', async () => {
    const out = await values(new nn.SwitchNorm2d(2, f64).call(randn([3, 2, 1, 1], 7)));
    expect(out.every((v) => Number.isNaN(v))).to.equal(true);
  });

  it('usingMovingAverage false accumulates sums', async () => {
    const s = new nn.SwitchNorm2d(2, { ...f64, usingMovingAverage: false });
    const x = randn([3, 2, 3, 3], 8, 2, 1);
    s.call(x);
    s.call(x);
    const mIn = x.reshape(3, 2, 9).mean(2, true);
    const vIn = x.reshape(3, 2, 9).var(2, { keepdim: true });
    const mBn = mIn.mean(0, true);
    const vBn = vIn.add(mIn.mul(mIn)).mean(0, true).sub(mBn.mul(mBn));
    await close(s.runningMean as gg.Tensor, mBn.mul(2), 'running_mean');
    await close(s.runningVar as gg.Tensor, mBn.mul(mBn).add(vBn).mul(2), 'running_var');
  });
});
