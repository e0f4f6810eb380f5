/**
 * Linear, LazyLinear, activations, Dropout, Flatten, Sequential, ModuleList
 * and nn.init: PyTorch goldens (test/fixtures/torch_nn.json, float64 on cpu),
 * float64 gradchecks, and behaviour checks.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectGolden, fixture, golden64, type Golden } from '../helpers/compare.js';

interface ModuleCase {
  name: string;
  kind: 'module';
  module: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  spectralNorm?: unknown;
  state: Record<string, Golden>;
  train: boolean;
  steps: { input: Golden; gout: Golden; output: Golden; input_grad: Golden; param_grads: Record<string, Golden>; state_after: Record<string, Golden> }[];
}

const cases = fixture<{ kind: string; name: string }[]>('torch_nn.json')
  .filter((c): c is ModuleCase => c.kind === 'module')
  .filter((c) => /^(Linear|Dropout|Flatten|LeakyReLU)/.test(c.name) && !c.spectralNorm);

function build(c: ModuleCase): gg.nn.Module {
  const k = c.kwargs;
  switch (c.module) {
    case 'Linear':
      return new gg.nn.Linear(c.args[0] as number, c.args[1] as number, { bias: (k['bias'] as boolean | undefined) ?? true, dtype: 'float64' });
    case 'Dropout':
      return new gg.nn.Dropout(k as { p?: number });
    case 'Flatten':
      return new gg.nn.Flatten(k as { startDim?: number; endDim?: number });
    case 'LeakyReLU':
      return new gg.nn.LeakyReLU(k as { negativeSlope?: number });
    default:
      throw new Error(`no builder for ${c.module}`);
  }
}

describe('nn layers: PyTorch goldens (float64, cpu)', () => {
  it('covers the fixture cases', () => {
    expect(cases.map((c) => c.name)).to.include.members(['Linear_bias', 'Linear_no_bias', 'Linear_3d_input', 'Linear_1d_input', 'Dropout_eval', 'Flatten_default', 'Flatten_0_1', 'LeakyReLU_default', 'LeakyReLU_slope02']);
  });
  for (const c of cases) {
    it(c.name, () => {
      const m = build(c);
      m.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, golden64(v)])));
      m.train(c.train);
      const params = new Map(m.namedParameters());
      c.steps.forEach((s, i) => {
        m.zeroGrad();
        const x = golden64(s.input, true);
        const y = m.call(x);
        expectGolden(y, s.output, `step ${i} output`);
        y.backward(golden64(s.gout));
        expectGolden(x.grad, s.input_grad, `step ${i} input grad`);
        for (const [name, g] of Object.entries(s.param_grads)) expectGolden(params.get(name)?.grad, g, `step ${i} grad of ${name}`);
        const sd = m.stateDict();
        expect(Object.keys(sd)).to.deep.equal(Object.keys(s.state_after));
        for (const [key, v] of Object.entries(s.state_after)) expectGolden(sd[key], v, `step ${i} state ${key}`);
      });
    });
  }
});

describe('nn layers: gradcheck (float64)', () => {
  const { gradcheck } = gg.autograd;
  const rnd = (shape: number[], rg = true): gg.Tensor => gg.randn(shape, { dtype: 'float64', requiresGrad: rg });
  beforeEach(() => gg.manualSeed(7));

  it('linear: input, weight and bias', async () => {
    expect(await gradcheck((x, w, b) => gg.nn.functional.linear(x, w, b), [rnd([3, 4]), rnd([5, 4]), rnd([5])])).to.equal(true);
  });
  it('Linear module on a 3-d input', async () => {
    const m = new gg.nn.Linear(4, 2, { dtype: 'float64' });
    expect(await gradcheck((x) => m.call(x), [rnd([2, 3, 4])])).to.equal(true);
  });
  it('LeakyReLU, ReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Flatten, Identity', async () => {
    // keep inputs away from the kinks at 0
    const x = gg.noGrad(() => {
      const r = gg.randn([3, 4], { dtype: 'float64' });
      return r.add(r.sign().mul(0.1));
    });
    x.requiresGrad = true;
    for (const m of [new gg.nn.LeakyReLU(0.2), new gg.nn.ReLU(), new gg.nn.Sigmoid(), new gg.nn.Tanh(), new gg.nn.Softmax(1), new gg.nn.LogSoftmax(0), new gg.nn.Flatten(0), new gg.nn.Identity()]) {
      expect(await gradcheck((t) => m.call(t), [x]), m.toString()).to.equal(true);
    }
  });
  it('Dropout in training (fixed mask via the seed)', async () => {
    const d = new gg.nn.Dropout(0.3);
    expect(
      await gradcheck((t) => {
        gg.manualSeed(11);
        return d.call(t);
      }, [rnd([4, 5])]),
    ).to.equal(true);
  });
  it('Sequential of Linear, Tanh, Linear: gradients of the parameters too', async () => {
    const net = new gg.nn.Sequential(new gg.nn.Linear(3, 4, { dtype: 'float64' }), new gg.nn.Tanh(), new gg.nn.Linear(4, 2, { dtype: 'float64' }));
    const [w0, b0, w1, b1] = net.parameters() as [gg.Tensor, gg.Tensor, gg.Tensor, gg.Tensor];
    const fn = (x: gg.Tensor, a: gg.Tensor, b: gg.Tensor, c: gg.Tensor, d: gg.Tensor): gg.Tensor =>
      gg.nn.functional.linear(gg.nn.functional.linear(x, a, b).tanh(), c, d);
    expect(await gradcheck(fn, [rnd([2, 3]), w0, b0, w1, b1])).to.equal(true);
    expect(await gradcheck((x) => net.call(x), [rnd([2, 3])])).to.equal(true);
  });
  it('a wrong backward fails (the check can fail)', async () => {
    const wrong = (x: gg.Tensor): gg.Tensor => gg.nn.functional.leakyRelu(x, 0.2).add(gg.noGrad(() => x.mul(0.5)));
    expect(await gradcheck(wrong, [rnd([3])], { raiseException: false })).to.equal(false);
  });
});

describe('nn.Linear', () => {
  it('initialises weight and bias in ±1/√in_features (PyTorch default), seeded', () => {
    gg.manualSeed(1);
    const a = new gg.nn.Linear(16, 8, { dtype: 'float64' });
    const w = Array.from(a.weight.dataSync());
    const b = Array.from((a.bias as gg.Tensor).dataSync());
    const bound = 1 / 4;
    expect(Math.max(...w.map(Math.abs))).to.be.at.most(bound);
    expect(Math.max(...b.map(Math.abs))).to.be.at.most(bound);
    expect(Math.max(...w.map(Math.abs))).to.be.above(bound * 0.8); // spread over the range
    gg.manualSeed(1);
    const c = new gg.nn.Linear(16, 8, { dtype: 'float64' });
    expect(Array.from(c.weight.dataSync())).to.deep.equal(w);
  });
  it('has PyTorch shapes, keys, dtype and printed form', () => {
    const m = new gg.nn.Linear(4, 5);
    expect([...m.weight.shape]).to.deep.equal([5, 4]);
    expect(m.weight.dtype).to.equal('float32');
    expect(m.weight.requiresGrad).to.equal(true);
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'bias']);
    expect(m.toString()).to.equal('Linear(in_features=4, out_features=5, bias=True)');
    const nb = new gg.nn.Linear(4, 5, { bias: false, dtype: 'float64' });
    expect(nb.bias).to.equal(null);
    expect(nb.weight.dtype).to.equal('float64');
    expect(Object.keys(nb.stateDict())).to.deep.equal(['weight']);
    expect(nb.toString()).to.equal('Linear(in_features=4, out_features=5, bias=False)');
  });
  it('throws PyTorch\'s message for a wrong input size', () => {
    const m = new gg.nn.Linear(4, 5);
    expect(() => m.call(gg.zeros([2, 3]))).to.throw('mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)');
  });
});

describe('nn.LazyLinear', () => {
  it('infers in_features on the first forward, becomes a Linear, runs onMaterialize hooks first', () => {
    const m = new gg.nn.LazyLinear(3, { dtype: 'float64' });
    expect(m.weight).to.equal(null);
    expect(m.hasUninitializedParams()).to.equal(true);
    expect(Object.keys(m.stateDict())).to.deep.equal([]);
    expect(m.toString()).to.equal('LazyLinear(in_features=0, out_features=3, bias=True)');
    const seen: string[][] = [];
    gg.nn.onMaterialize(m, (mod, names) => {
      seen.push(names);
      expect((mod as gg.nn.Linear).weight.shape).to.deep.equal([3, 7]);
    });
    const y = m.call(gg.randn([2, 7], { dtype: 'float64' }));
    expect([...y.shape]).to.deep.equal([2, 3]);
    expect(seen).to.deep.equal([['weight', 'bias']]);
    expect(m.inFeatures).to.equal(7);
    expect(m).to.be.instanceOf(gg.nn.Linear);
    expect(m.toString()).to.equal('Linear(in_features=7, out_features=3, bias=True)');
    expect(m.weight.dtype).to.equal('float64');
    expect(m.parameters()).to.have.length(2);
    // hooks registered after materialising run at once
    let now = false;
    gg.nn.onMaterialize(m, () => (now = true));
    expect(now).to.equal(true);
  });
  it('loadStateDict materialises it with the checkpoint values', () => {
    const src = new gg.nn.Linear(6, 2, { dtype: 'float64' });
    const m = new gg.nn.LazyLinear(2, { dtype: 'float64' });
    let hooked = 0;
    gg.nn.onMaterialize(m, () => hooked++);
    m.loadStateDict(src.stateDict());
    expect(hooked).to.equal(1);
    expect(m.inFeatures).to.equal(6);
    expect(Array.from(m.weight.dataSync())).to.deep.equal(Array.from(src.weight.dataSync()));
    expect(Array.from((m.bias as gg.Tensor).dataSync())).to.deep.equal(Array.from((src.bias as gg.Tensor).dataSync()));
    const x = gg.randn([3, 6], { dtype: 'float64' });
    expect(Array.from(m.call(x).dataSync())).to.deep.equal(Array.from(src.call(x).dataSync()));
  });
  it('to(dtype) before materialising sets the dtype of the new parameters', () => {
    const m = new gg.nn.LazyLinear(2, { bias: false });
    m.to('float64');
    m.call(gg.ones([1, 3], { dtype: 'float64' }));
    expect(m.weight.dtype).to.equal('float64');
    expect(m.bias).to.equal(null);
  });
});

describe('nn.Dropout', () => {
  it('zeroes about p of the elements in training and scales the rest by 1/(1-p)', () => {
    gg.manualSeed(3);
    const d = new gg.nn.Dropout(0.25);
    const y = Array.from(d.call(gg.ones([4000], { dtype: 'float64' })).dataSync());
    const zeros = y.filter((v) => v === 0).length / y.length;
    expect(zeros).to.be.closeTo(0.25, 0.03);
    for (const v of y) if (v !== 0) expect(v).to.be.closeTo(1 / 0.75, 1e-15);
  });
  it('is reproducible with the seed, the identity in eval, and p = 1 gives zeros', () => {
    const d = new gg.nn.Dropout(0.5);
    const x = gg.randn([50], { dtype: 'float64' });
    gg.manualSeed(5);
    const a = Array.from(d.call(x).dataSync());
    gg.manualSeed(5);
    expect(Array.from(d.call(x).dataSync())).to.deep.equal(a);
    d.eval();
    expect(d.call(x)).to.equal(x);
    expect(Array.from(new gg.nn.Dropout(1).call(x).dataSync()).every((v) => v === 0)).to.equal(true);
    expect(d.toString()).to.equal('Dropout(p=0.5, inplace=False)');
  });
  it('validates p', () => {
    expect(() => new gg.nn.Dropout(1.5)).to.throw('dropout probability has to be between 0 and 1, but got 1.5');
    expect(() => gg.nn.functional.dropout(gg.ones([2]), -0.1)).to.throw('dropout probability has to be between 0 and 1, but got -0.1');
  });
});

describe('nn activations and Flatten', () => {
  it('compute their values and print like PyTorch', () => {
    const x = gg.tensor([-2, 0, 3], { dtype: 'float64' });
    expect(Array.from(new gg.nn.LeakyReLU().call(x).dataSync())).to.deep.equal([-0.02, 0, 3]);
    expect(Array.from(new gg.nn.ReLU().call(x).dataSync())).to.deep.equal([0, 0, 3]);
    expect(new gg.nn.Sigmoid().call(x).dataSync()[1]).to.equal(0.5);
    expect(new gg.nn.Tanh().call(x).dataSync()[1]).to.equal(0);
    const s = Array.from(new gg.nn.Softmax(0).call(x).dataSync());
    expect(s.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-15);
    expect(new gg.nn.LeakyReLU().toString()).to.equal('LeakyReLU(negative_slope=0.01)');
    expect(new gg.nn.LeakyReLU(1).toString()).to.equal('LeakyReLU(negative_slope=1.0)');
    expect(new gg.nn.Softmax(1).toString()).to.equal('Softmax(dim=1)');
    expect(new gg.nn.Flatten().toString()).to.equal('Flatten(start_dim=1, end_dim=-1)');
    expect([...new gg.nn.Flatten().call(gg.zeros([2, 3, 4])).shape]).to.deep.equal([2, 12]);
    expect([...new gg.nn.Flatten(0, 1).call(gg.zeros([2, 3, 4])).shape]).to.deep.equal([6, 4]);
    expect(new gg.nn.LeakyReLU(0.3).negativeSlope).to.equal(0.3);
  });
});

describe('nn.Sequential and nn.ModuleList', () => {
  it('Sequential chains modules, names children 0, 1, ..., indexes and iterates', () => {
    const a = new gg.nn.Linear(2, 3);
    const r = new gg.nn.ReLU();
    const b = new gg.nn.Linear(3, 1);
    const s = new gg.nn.Sequential(a, r, b);
    expect(s.length).to.equal(3);
    expect(s.at(0)).to.equal(a);
    expect(s.at(-1)).to.equal(b);
    expect(() => s.at(3)).to.throw('index 3 is out of range');
    expect([...s]).to.deep.equal([a, r, b]);
    expect([...s.namedChildren()].map(([n]) => n)).to.deep.equal(['0', '1', '2']);
    const x = gg.randn([4, 2]);
    expect(Array.from(s.call(x).dataSync())).to.deep.equal(Array.from(b.call(r.call(a.call(x))).dataSync()));
    s.append(new gg.nn.Sigmoid());
    expect(s.length).to.equal(4);
    expect(Object.keys(s.stateDict())).to.deep.equal(['0.weight', '0.bias', '2.weight', '2.bias']);
  });
  it('Sequential accepts an object of named modules', () => {
    const s = new gg.nn.Sequential({ fc: new gg.nn.Linear(2, 2), act: new gg.nn.Tanh() });
    expect(Object.keys(s.stateDict())).to.deep.equal(['fc.weight', 'fc.bias']);
    expect(s.toString()).to.equal('Sequential(\n  (fc): Linear(in_features=2, out_features=2, bias=True)\n  (act): Tanh()\n)');
  });
  it('ModuleList registers, appends, extends, inserts, and has no forward', () => {
    const l = new gg.nn.ModuleList([new gg.nn.Linear(2, 2)]);
    l.append(new gg.nn.ReLU()).extend([new gg.nn.Tanh()]);
    expect(l.length).to.equal(3);
    expect(l.at(1)).to.be.instanceOf(gg.nn.ReLU);
    const first = new gg.nn.Identity();
    l.insert(0, first);
    expect(l.at(0)).to.equal(first);
    expect(l.at(1)).to.be.instanceOf(gg.nn.Linear);
    expect(Object.keys(l.stateDict())).to.deep.equal(['1.weight', '1.bias']);
    expect([...l].length).to.equal(4);
    expect(() => l.call(gg.ones([1]))).to.throw('Module [ModuleList] is missing the required "forward" function');
  });
});

describe('nn.init', () => {
  const { init } = gg.nn;
  it('fan in/out and gains', () => {
    expect(init.calculateFanInAndFanOut(gg.zeros([5, 4]))).to.deep.equal([4, 5]);
    expect(init.calculateFanInAndFanOut(gg.zeros([8, 3, 2, 2]))).to.deep.equal([12, 32]);
    expect(() => init.calculateFanInAndFanOut(gg.zeros([3]))).to.throw('Fan in and fan out can not be computed for tensor with fewer than 2 dimensions');
    expect(init.calculateGain('relu')).to.equal(Math.SQRT2);
    expect(init.calculateGain('tanh')).to.equal(5 / 3);
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).to.be.closeTo(Math.sqrt(1 / 3), 1e-15);
  });
  it('fill in place, keep identity, stay within their bounds', () => {
    gg.manualSeed(2);
    const w = gg.zeros([64, 32], { dtype: 'float64' });
    w.requiresGrad = true;
    const data = (): number[] => Array.from(w.dataSync());
    expect(init.kaimingUniform_(w)).to.equal(w);
    const bound = Math.sqrt(2) * Math.sqrt(3 / 32);
    expect(Math.max(...data().map(Math.abs))).to.be.at.most(bound).and.above(bound * 0.9);
    init.kaimingUniform_(w, { mode: 'fan_out', nonlinearity: 'relu' });
    expect(Math.max(...data().map(Math.abs))).to.be.at.most(Math.sqrt(2) * Math.sqrt(3 / 64));
    init.xavierUniform_(w);
    expect(Math.max(...data().map(Math.abs))).to.be.at.most(Math.sqrt(6 / 96));
    init.kaimingNormal_(w);
    const v = data();
    const std = Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length);
    expect(std).to.be.closeTo(Math.sqrt(2 / 32), 0.02);
    init.xavierNormal_(w, 2);
    const v2 = data();
    expect(Math.sqrt(v2.reduce((a, b) => a + b * b, 0) / v2.length)).to.be.closeTo(2 * Math.sqrt(2 / 96), 0.03);
    init.normal_(w, 3, 0.5);
    expect(data().reduce((a, b) => a + b, 0) / 2048).to.be.closeTo(3, 0.05);
    init.constant_(w, 0.25);
    expect(data().every((x) => x === 0.25)).to.equal(true);
    init.zeros_(w);
    expect(data().every((x) => x === 0)).to.equal(true);
    init.ones_(w);
    expect(data().every((x) => x === 1)).to.equal(true);
    init.uniform_(w, -2, -1);
    expect(data().every((x) => x >= -2 && x < -1)).to.equal(true);
    expect(w.isLeaf && w.requiresGrad).to.equal(true);
  });
});
