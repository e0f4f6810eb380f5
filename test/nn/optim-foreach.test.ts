/**
 * SGD with `foreach: true` (nn/optim.ts `updateGroup`, PyTorch's
 * `_multi_tensor_sgd`): each line of the update over all of a group's
 * parameters before the next. Checked against
 * - the PyTorch goldens of the per-parameter SGD (torch_nn.json; torch
 *   1.13's foreach gives the same float64 values as its single-tensor SGD);
 * - the per-parameter update, bit for bit, on every device: plain, momentum
 *   (first-step buffer, dampening, nesterov), weight decay, maximize, groups
 *   mixing foreach and not, parameters without a gradient, the state it
 *   leaves, and device memory flat across steps;
 * - its option checks and the state dict;
 * and Adam and AdamW with `foreach: true` (a group's parameters in one
 * scope, the same ops) against their goldens and their per-parameter
 * values, bit for bit.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectGolden, fixture, golden64, type Golden } from '../helpers/compare.js';
import { getDevice } from '../../src/backend/registry.js';

interface OptCase {
  name: string;
  kind: 'optimizer';
  module: string;
  kwargs: { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number };
  params: Golden[];
  grads: Golden[][];
  params_after: Golden[][];
}
const all = fixture<{ kind: string; module?: string }[]>('torch_nn.json').filter((c): c is OptCase => c.kind === 'optimizer');
const cases = all.filter((c) => c.module === 'SGD');
const adamCases = all.filter((c) => c.module === 'Adam' || c.module === 'AdamW');

/** The values' bits: Object.is per element, any NaN matching NaN. */
function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  expect(a.length, label).to.equal(b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (!(Number.isNaN(x) && Number.isNaN(y)) && !Object.is(x, y)) expect.fail(`${label}: element ${i} is ${x}, expected ${y}`);
  }
}

describe('SGD foreach: PyTorch goldens (float64, cpu)', () => {
  it('has the SGD cases', () => expect(cases.length).to.be.at.least(6));
  for (const c of cases) {
    it(c.name, () => {
      const params = c.params.map((p) => golden64(p, true));
      const opt = new gg.optim.SGD(params, { ...c.kwargs, foreach: true });
      c.grads.forEach((grads, step) => {
        opt.zeroGrad();
        params.forEach((p, i) => (p.grad = golden64(grads[i] as Golden)));
        opt.step();
        params.forEach((p, i) => expectGolden(p, (c.params_after[step] as Golden[])[i] as Golden, `step ${step} param ${i}`));
      });
    });
  }
});

type Opts = Partial<gg.optim.SGDOptions> & { lr: number };
const combos: Opts[] = [
  { lr: 0.1 },
  { lr: 0.1, momentum: 0.9 },
  { lr: 0.05, momentum: 0.8, dampening: 0.5 },
  { lr: 0.1, momentum: 0.9, nesterov: true },
  { lr: 0.1, weightDecay: 0.01 },
  { lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0.1, maximize: true },
  { lr: 0.3, maximize: true, momentum: 0.7, dampening: 0.1, weightDecay: 0.2 },
];

forEachDevice((device) => {
  describe('SGD foreach: the per-parameter update, bit for bit', function () {
    this.timeout(60_000);
    const dtypes = getDevice(device).dtypes.includes('float64') ? (['float32', 'float64'] as const) : (['float32'] as const);
    for (const dtype of dtypes) {
      it(`(${dtype}) every option, groups, parameters without a gradient, state and memory`, async () => {
        const shapes = [[7, 5], [5], [3, 2, 4], [1], [9]];
        const run = async (opts: Opts, foreach: boolean): Promise<{ params: number[][]; state: number[][]; live: number }> => {
          gg.manualSeed(3);
          const ps = shapes.map((s) => gg.randn(s, { dtype, device, requiresGrad: true }));
          // the third parameter in a group of its own, with another lr and never foreach
          const opt = new gg.optim.SGD([{ params: [ps[0]!, ps[1]!, ps[3]!, ps[4]!], foreach }, { params: [ps[2]!], lr: opts.lr * 2 }], opts);
          let live = 0;
          for (let step = 0; step < 4; step++) {
            opt.zeroGrad();
            ps.forEach((p, i) => {
              // the fifth parameter has no gradient on the first two steps (its buffer starts late)
              if (i === 4 && step < 2) return;
              p.grad = gg.tidy(() => gg.randn(p.shape, { dtype, device }).mul(step === 2 && i === 1 ? Infinity : 1));
            });
            opt.step();
            if (step === 2) live = gg.memory().liveBuffers;
          }
          const state = await Promise.all(ps.map(async (p) => {
            const b = opt.state.get(p)?.['momentum_buffer'];
            return b && typeof b !== 'number' ? Array.from(await b.data()) : [];
          }));
          const params = await Promise.all(ps.map(async (p) => Array.from(await p.data())));
          expect(gg.memory().liveBuffers - live, 'buffers made by the fourth step').to.be.at.most(0);
          return { params, state, live };
        };
        for (const opts of combos) {
          const on = await run(opts, true);
          const off = await run(opts, false);
          const label = `${device} ${dtype} ${JSON.stringify(opts)}`;
          on.params.forEach((p, i) => expectSame(p, off.params[i]!, `${label} param ${i}`));
          on.state.forEach((s, i) => expectSame(s, off.state[i]!, `${label} momentum buffer ${i}`));
          if (opts.momentum) expect(on.state.every((s) => s.length > 0), `${label} buffers`).to.equal(true);
        }
      });
    }
  });
});

describe('SGD: the -lr tensor kept from step to step', () => {
  it('a changing lr (as a scheduler sets it) is used at once, one upload per change, memory flat; lr 0 and -0 apart', async () => {
    for (const foreach of [false, true]) {
      const w = gg.tensor([-0, 1, -2], { dtype: 'float64', requiresGrad: true });
      const opt = new gg.optim.SGD([w], { lr: 0.5, foreach });
      const expected = [-0, 1, -2];
      const lrs = [0.5, 0.5, 0.25, 0.25, 0.125, 0, 0];
      let live = 0;
      for (const [step, lr] of lrs.entries()) {
        (opt.paramGroups[0] as { lr: number }).lr = lr;
        w.grad?.dispose();
        w.grad = gg.tensor([1, -3, 0.5], { dtype: 'float64' });
        const before = gg.memory().uploads;
        opt.step();
        const uploads = gg.memory().uploads - before;
        expect(uploads, `step ${step} uploads`).to.equal(step === 0 || lrs[step - 1] !== lr ? 1 : 0);
        [1, -3, 0.5].forEach((g, i) => (expected[i] = expected[i]! + g * -lr));
        expectSame(Array.from(await w.data()), expected, `foreach ${foreach} step ${step}`);
        if (step === 1) live = gg.memory().liveBuffers;
      }
      w.grad?.dispose();
      w.grad = null;
      expect(gg.memory().liveBuffers, 'live buffers').to.be.at.most(live);
    }
  });
});

describe('SGD foreach: options', () => {
  const p = (): gg.Tensor[] => [gg.zeros([2], { requiresGrad: true })];
  it('is null by default (per parameter, as PyTorch on the CPU), checked as a bool, and kept in the state dict', () => {
    expect(new gg.optim.SGD(p(), { lr: 0.1 }).defaults.foreach).to.equal(null);
    const opt = new gg.optim.SGD(p(), { lr: 0.1, foreach: true });
    expect(opt.stateDict().paramGroups[0]?.foreach).to.equal(true);
    expect(() => new gg.optim.SGD(p(), { lr: 0.1, foreach: 1 as unknown as boolean })).to.throw(TypeError, /foreach/);
    expect(() => opt.addParamGroup({ params: p(), foreach: 'yes' as unknown as boolean })).to.throw(TypeError, /foreach/);
  });
  it("leaves the gradients alone with nesterov (torch 1.13's foreach wrote them)", async () => {
    const w = gg.ones([3], { requiresGrad: true });
    const opt = new gg.optim.SGD([w], { lr: 0.1, momentum: 0.9, nesterov: true, foreach: true });
    w.grad = gg.tensor([1, 2, 3], { dtype: 'float32' });
    opt.step();
    opt.step();
    expect(Array.from(await w.grad.data())).to.deep.equal([1, 2, 3]);
  });
});

describe('Adam and AdamW foreach: PyTorch goldens (float64, cpu)', () => {
  it('has the Adam and AdamW cases', () => expect(adamCases.length).to.be.at.least(5));
  for (const c of adamCases) {
    it(c.name, () => {
      const params = c.params.map((p) => golden64(p, true));
      const Opt = c.module === 'Adam' ? gg.optim.Adam : gg.optim.AdamW;
      const opt = new Opt(params, { ...(c.kwargs as Partial<gg.optim.AdamOptions>), foreach: true });
      c.grads.forEach((grads, step) => {
        opt.zeroGrad();
        params.forEach((p, i) => (p.grad = golden64(grads[i] as Golden)));
        opt.step();
        params.forEach((p, i) => expectGolden(p, (c.params_after[step] as Golden[])[i] as Golden, `step ${step} param ${i}`));
      });
    });
  }
});

forEachDevice((device) => {
  describe('Adam and AdamW foreach: the per-parameter update, bit for bit', function () {
    this.timeout(60_000);
    it('(float32) plain, weight decay, amsgrad, maximize; a parameter without a gradient; option checks', async () => {
      const adamCombos: Partial<gg.optim.AdamOptions>[] = [{ lr: 0.01 }, { lr: 0.01, weightDecay: 0.1 }, { lr: 0.01, amsgrad: true }, { lr: 0.02, maximize: true, weightDecay: 0.05, betas: [0.8, 0.9] }];
      for (const Opt of [gg.optim.Adam, gg.optim.AdamW]) {
        for (const opts of adamCombos) {
          const run = async (foreach: boolean): Promise<number[][]> => {
            gg.manualSeed(5);
            const ps = [[5, 3], [4], [2]].map((s) => gg.randn(s, { device, requiresGrad: true }));
            const opt = new Opt(ps, { ...opts, foreach });
            for (let step = 0; step < 3; step++) {
              opt.zeroGrad();
              ps.forEach((p, i) => {
                if (i === 2 && step === 0) return;
                p.grad = gg.randn(p.shape, { device });
              });
              opt.step();
            }
            return Promise.all(ps.map(async (p) => Array.from(await p.data())));
          };
          const on = await run(true);
          const off = await run(false);
          on.forEach((p, i) => expectSame(p, off[i]!, `${device} ${Opt.name} ${JSON.stringify(opts)} param ${i}`));
        }
      }
      const p = [gg.zeros([2], { device, requiresGrad: true })];
      expect(new gg.optim.Adam(p).defaults.foreach).to.equal(null);
      expect(() => new gg.optim.AdamW(p, { foreach: 0 as unknown as boolean })).to.throw(TypeError, /foreach/);
    });
  });
});

describe('a step that fails changes nothing (found by the probe: a foreach step left a momentum buffer behind)', () => {
  const f64 = (v: number[]): gg.Tensor => gg.tensor(v, { dtype: 'float64' });
  /** Two parameters with gradients; the second's gradient is disposed or its state loaded wrong by `spoil`. */
  function failAfter(make: (ps: gg.Tensor[]) => gg.optim.Optimizer<never>, spoil: (o: gg.optim.Optimizer<never>, b: gg.Tensor) => void) {
    const a = gg.nn.parameter(f64([1, 2]));
    const b = gg.nn.parameter(f64([3, 4]));
    a.grad = f64([0.5, 0.5]);
    b.grad = f64([1, -1]);
    const o = make([a, b]);
    spoil(o, b);
    const before = JSON.stringify(o.stateDict().state, (_k, v: unknown) => (v instanceof gg.Tensor ? v.arraySync() : v));
    expect(() => o.step()).to.throw();
    return { a, b, o, before };
  }
  const state = (o: gg.optim.Optimizer<never>): string => JSON.stringify(o.stateDict().state, (_k, v: unknown) => (v instanceof gg.Tensor ? v.arraySync() : v));
  for (const foreach of [true, false]) {
    it(`SGD (momentum, foreach ${foreach}): a disposed gradient leaves parameters and buffers as they were, and the next step is a first step`, () => {
      const make = (ps: gg.Tensor[]) => new gg.optim.SGD(ps, { lr: 0.1, momentum: 0.9, foreach }) as unknown as gg.optim.Optimizer<never>;
      const { a, b, o, before } = failAfter(make, (_o, p) => p.grad!.dispose());
      expect(a.arraySync()).to.deep.equal([1, 2]);
      expect(b.arraySync()).to.deep.equal([3, 4]);
      expect(state(o)).to.equal(before);
      b.grad = f64([1, -1]);
      o.step();
      // a first step: p - lr·g (torch.optim.SGD gives [0.95, 1.95] and [2.9, 4.1])
      expect(a.arraySync()).to.deep.equal([0.95, 1.95]);
      expect(b.arraySync()).to.deep.equal([2.9, 4.1]);
    });
    for (const Opt of ['Adam', 'AdamW'] as const) {
      it(`${Opt} (foreach ${foreach}): a loaded exp_avg of the wrong shape is refused before any parameter or step count moves`, () => {
        const make = (ps: gg.Tensor[]) => new gg.optim[Opt](ps, { lr: 0.1, foreach }) as unknown as gg.optim.Optimizer<never>;
        const { a, b, o, before } = failAfter(make, (opt, p) => {
          opt.step();
          p.grad = f64([1, -1]);
          const sd = opt.stateDict();
          (sd.state[1] as Record<string, unknown>)['exp_avg'] = gg.zeros([3], { dtype: 'float64' });
          opt.loadStateDict(sd);
        });
        const aNow = a.arraySync();
        expect(state(o)).to.equal(before);
        expect(a.arraySync()).to.deep.equal(aNow);
        expect(b.arraySync()).to.not.deep.equal([3, 4]); // the first (good) step moved it
      });
    }
  }
});
