/**
 * Optimisers against PyTorch 1.13 goldens (float64, cpu), plus identity,
 * memory, errors, parameter groups and state dicts.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectGolden, fixture, golden64, type Golden } from '../helpers/compare.js';

interface OptCase {
  name: string;
  kind: 'optimizer';
  module: 'SGD' | 'Adam' | 'AdamW';
  kwargs: { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number; betas?: [number, number]; eps?: number; amsgrad?: boolean };
  params: Golden[];
  grads: Golden[][];
  params_after: Golden[][];
}

const cases = fixture<{ kind: string }[]>('torch_nn.json').filter(
  (c): c is OptCase => c.kind === 'optimizer',
);

type AnyOptimizer = gg.optim.SGD | gg.optim.Adam | gg.optim.AdamW;
function build(c: OptCase, params: gg.Tensor[]): AnyOptimizer {
  const k = c.kwargs;
  if (c.module === 'SGD') return new gg.optim.SGD(params, k);
  if (c.module === 'Adam') return new gg.optim.Adam(params, k);
  return new gg.optim.AdamW(params, k);
}

describe('optim: PyTorch goldens (float64, cpu)', () => {
  it('covers SGD, Adam and AdamW cases', () => {
    expect(cases.filter((c) => c.module === 'SGD').length).to.be.at.least(6);
    expect(cases.filter((c) => c.module === 'Adam').length).to.be.at.least(3);
    expect(cases.filter((c) => c.module === 'AdamW').length).to.be.at.least(2);
  });
  for (const c of cases) {
    it(c.name, () => {
      const params = c.params.map((p) => golden64(p, true));
      const opt = build(c, params);
      c.grads.forEach((grads, step) => {
        opt.zeroGrad();
        params.forEach((p, i) => (p.grad = golden64(grads[i] as Golden)));
        opt.step();
        params.forEach((p, i) => expectGolden(p, (c.params_after[step] as Golden[])[i] as Golden, `step ${step} param ${i}`));
      });
    });
  }
});

describe('optim: behaviour', () => {
  const setup = (): { w: gg.Tensor; b: gg.Tensor; loss: () => gg.Tensor } => {
    gg.manualSeed(9);
    const w = gg.randn([4, 3], { dtype: 'float64', requiresGrad: true });
    const b = gg.zeros([3], { dtype: 'float64', requiresGrad: true });
    const x = gg.randn([5, 4], { dtype: 'float64' });
    const y = gg.randn([5, 3], { dtype: 'float64' });
    return { w, b, loss: () => gg.nn.functional.mseLoss(x.matmul(w).add(b), y) };
  };

  it('steps keep parameter identity, decrease a loss, and keep device memory flat', () => {
    for (const make of [
      (p: gg.Tensor[]) => new gg.optim.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true }),
      (p: gg.Tensor[]) => new gg.optim.Adam(p, { lr: 0.05, amsgrad: true }),
      (p: gg.Tensor[]) => new gg.optim.AdamW(p, { lr: 0.05 }),
    ]) {
      const { w, b, loss } = setup();
      const opt = make([w, b]);
      const first = gg.tidy(() => loss().itemSync());
      const run = (): void =>
        gg.tidy(() => {
          opt.zeroGrad();
          loss().backward();
          opt.step();
        });
      run(); // creates the state
      opt.zeroGrad();
      const before = gg.memory().liveBuffers;
      for (let i = 0; i < 20; i++) run();
      opt.zeroGrad();
      expect(gg.memory().liveBuffers, opt.constructor.name).to.equal(before);
      expect(opt.paramGroups[0]?.params[0]).to.equal(w);
      expect(w.isLeaf && w.requiresGrad).to.equal(true);
      expect(gg.tidy(() => loss().itemSync())).to.be.below(first * 0.8);
    }
  });

  it('zeroGrad sets grads to null, or to zeros in place', () => {
    const { w, b, loss } = setup();
    const opt = new gg.optim.SGD([w, b], { lr: 0.1 });
    loss().backward();
    const g = w.grad as gg.Tensor;
    opt.zeroGrad(false);
    expect(w.grad).to.equal(g);
    expect(Array.from(g.dataSync()).every((v) => v === 0)).to.equal(true);
    opt.zeroGrad();
    expect(w.grad).to.equal(null);
    expect(b.grad).to.equal(null);
  });

  it('parameters without a gradient are left alone', () => {
    const { w, b } = setup();
    const before = Array.from(b.dataSync());
    const opt = new gg.optim.Adam([w, b], { lr: 0.1 });
    w.grad = gg.onesLike(w);
    opt.step();
    expect(Array.from(b.dataSync())).to.deep.equal(before);
    expect(opt.state.has(b)).to.equal(false);
  });

  it('parameter groups have their own options', () => {
    const a = gg.zeros([2], { dtype: 'float64', requiresGrad: true });
    const c = gg.zeros([2], { dtype: 'float64', requiresGrad: true });
    const opt = new gg.optim.SGD([{ params: [a] }, { params: [c], lr: 1 }], { lr: 0.1 });
    a.grad = gg.onesLike(a);
    c.grad = gg.onesLike(c);
    opt.step();
    expect(Array.from(a.dataSync())).to.deep.equal([-0.1, -0.1]);
    expect(Array.from(c.dataSync())).to.deep.equal([-1, -1]);
    expect(opt.paramGroups.map((g) => g.lr)).to.deep.equal([0.1, 1]);
    // changing a group's lr takes effect (schedulers do this)
    (opt.paramGroups[1] as { lr: number }).lr = 0.5;
    opt.step();
    expect(Array.from(c.dataSync())).to.deep.equal([-1.5, -1.5]);
    expect(() => opt.addParamGroup({ params: [a] })).to.throw('some parameters appear in more than one parameter group');
  });

  it('maximize ascends; amsgrad follows the max of the second moments', () => {
    const p = gg.zeros([1], { dtype: 'float64', requiresGrad: true });
    const sgd = new gg.optim.SGD([p], { lr: 0.5, maximize: true });
    p.grad = gg.ones([1], { dtype: 'float64' });
    sgd.step();
    expect(p.itemSync()).to.equal(0.5);

    // amsgrad by hand, scalar
    const q = gg.zeros([1], { dtype: 'float64', requiresGrad: true });
    const opt = new gg.optim.Adam([q], { lr: 0.1, amsgrad: true, betas: [0.9, 0.99], eps: 1e-8 });
    let m = 0;
    let v = 0;
    let vmax = 0;
    let x = 0;
    [3, 0.1, -0.5, 0.2].forEach((g, i) => {
      q.grad = gg.tensor([g], { dtype: 'float64' });
      opt.step();
      const t = i + 1;
      m = 0.9 * m + 0.1 * g;
      v = 0.99 * v + 0.01 * g * g;
      vmax = Math.max(vmax, v);
      x -= ((0.1 / (1 - 0.9 ** t)) * m) / (Math.sqrt(vmax) / Math.sqrt(1 - 0.99 ** t) + 1e-8);
      expect(q.itemSync()).to.be.closeTo(x, 1e-14);
    });
  });

  it('stateDict / loadStateDict continue identically', () => {
    const run = (opt: gg.optim.Adam, p: gg.Tensor, gs: number[]): void => {
      for (const g of gs) {
        p.grad = gg.tensor([g, -g], { dtype: 'float64' });
        opt.step();
      }
    };
    const p1 = gg.zeros([2], { dtype: 'float64', requiresGrad: true });
    const o1 = new gg.optim.Adam([p1], { lr: 0.1 });
    run(o1, p1, [1, 2]);
    const sd = o1.stateDict();
    expect(sd.paramGroups[0]?.params).to.deep.equal([0]);
    expect(Object.keys(sd.state[0] ?? {}).sort()).to.deep.equal(['exp_avg', 'exp_avg_sq', 'step']);
    const p2 = gg.tensor(p1, { dtype: 'float64', requiresGrad: true });
    const o2 = new gg.optim.Adam([p2], { lr: 0.5 });
    o2.loadStateDict(sd);
    expect(o2.paramGroups[0]?.lr).to.equal(0.1);
    run(o1, p1, [3]);
    run(o2, p2, [3]);
    expect(Array.from(p2.dataSync())).to.deep.equal(Array.from(p1.dataSync()));
  });

  it('throws PyTorch\'s errors', () => {
    const p = [gg.zeros([1], { requiresGrad: true })];
    expect(() => new gg.optim.SGD(p, { lr: -1 })).to.throw('Invalid learning rate: -1');
    expect(() => new gg.optim.SGD(p, { lr: NaN })).to.throw('Invalid learning rate: NaN');
    expect(() => new gg.optim.SGD(p, { lr: 0.1, momentum: -0.5 })).to.throw('Invalid momentum value: -0.5');
    expect(() => new gg.optim.SGD(p, { lr: 0.1, weightDecay: -1 })).to.throw('Invalid weight_decay value: -1');
    expect(() => new gg.optim.SGD(p, { lr: 0.1, nesterov: true })).to.throw('Nesterov momentum requires a momentum and zero dampening');
    expect(() => new gg.optim.SGD(p, { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 })).to.throw('Nesterov momentum requires a momentum and zero dampening');
    expect(() => new gg.optim.Adam(p, { lr: -0.1 })).to.throw('Invalid learning rate: -0.1');
    expect(() => new gg.optim.Adam(p, { eps: -1 })).to.throw('Invalid epsilon value: -1');
    expect(() => new gg.optim.Adam(p, { betas: [1, 0.9] })).to.throw('Invalid beta parameter at index 0: 1');
    expect(() => new gg.optim.AdamW(p, { betas: [0.9, -0.1] })).to.throw('Invalid beta parameter at index 1: -0.1');
    expect(() => new gg.optim.SGD([], { lr: 0.1 })).to.throw('optimizer got an empty parameter list');
    expect(() => new gg.optim.SGD([gg.zeros([1], { requiresGrad: true }).mul(2)], { lr: 0.1 })).to.throw("can't optimize a non-leaf Tensor");
  });

  it('works with module.parameters() and keeps working after module.to(float64)', () => {
    gg.manualSeed(1);
    const net = new gg.nn.Sequential(new gg.nn.Linear(3, 4), new gg.nn.Tanh(), new gg.nn.Linear(4, 1));
    const opt = new gg.optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.5 });
    net.to('float64');
    const x = gg.randn([8, 3], { dtype: 'float64' });
    const y = gg.randn([8, 1], { dtype: 'float64' });
    const l0 = gg.nn.functional.mseLoss(net.call(x), y).itemSync();
    for (let i = 0; i < 30; i++) {
      opt.zeroGrad();
      gg.nn.functional.mseLoss(net.call(x), y).backward();
      opt.step();
    }
    expect(net.parameters().every((p) => p.dtype === 'float64')).to.equal(true);
    expect(gg.nn.functional.mseLoss(net.call(x), y).itemSync()).to.be.below(l0);
  });
});
