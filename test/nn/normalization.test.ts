/**
 * Normalisation layers against PyTorch 1.13 goldens (test/fixtures/torch_nn.json)
 * at float64 on the cpu, gradcheck of every layer, docs/spec/normalization.md#batchnorm rules,
 * error messages, and float32 parity on the other devices.
 *
 * Run: npx tsc -p tsconfig.json && node scripts/with-display.mjs node_modules/.bin/mocha dist/test/nn/normalization.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { batchNorm, groupNorm, instanceNorm, layerNorm } from '../../src/nn/normalization.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose, fixture, goldenTensor, values, F64, type Golden, type GoldenStep, type Tol } from '../helpers/compare.js';

const nn = gg.nn;
type Module = gg.nn.Module;
const f64 = { dtype: 'float64' as const };

export interface ModuleCase {
  name: string;
  kind: string;
  module: string;
  args: (number | number[])[];
  kwargs: Record<string, number | boolean | null>;
  state: Record<string, Golden>;
  train: boolean;
  steps: GoldenStep[];
}

export const NORM_PREFIXES = ['BatchNorm1d_', 'BatchNorm2d_', 'BatchNorm3d_', 'InstanceNorm2d_', 'LayerNorm_', 'GroupNorm_', 'SwitchableNorm2d_', 'SwitchNorm2d_'];

/** Build a fixture's module (float64 unless told). */
export function build(c: Pick<ModuleCase, 'module' | 'args' | 'kwargs'>, factory: { dtype?: gg.DType; device?: string } = f64): Module {
  const kw = { ...c.kwargs, ...factory } as Record<string, unknown>;
  const a = c.args;
  switch (c.module) {
    case 'BatchNorm1d':
      return new nn.BatchNorm1d(a[0] as number, kw);
    case 'BatchNorm2d':
      return new nn.BatchNorm2d(a[0] as number, kw);
    case 'BatchNorm3d':
      return new nn.BatchNorm3d(a[0] as number, kw);
    case 'InstanceNorm2d':
      return new nn.InstanceNorm2d(a[0] as number, kw);
    case 'LayerNorm':
      return new nn.LayerNorm(a[0] as number | number[], kw);
    case 'GroupNorm':
      return new nn.GroupNorm(a[0] as number, a[1] as number, kw);
    case 'SwitchableNorm2d':
      return new nn.SwitchableNorm2d(a[0] as number, kw);
    case 'SwitchNorm2d':
      return new nn.SwitchNorm2d(a[0] as number, kw);
    default:
      throw new Error(`no module ${c.module}`);
  }
}

const cases = fixture<ModuleCase[]>('torch_nn.json').filter((c) => c.kind === 'module' && NORM_PREFIXES.some((p) => c.name.startsWith(p)));

/** Run one fixture case and compare everything it records. */
export async function runCase(c: ModuleCase, tol: Tol): Promise<void> {
  const m = build(c);
  const sd: Record<string, gg.Tensor> = {};
  for (const [k, v] of Object.entries(c.state)) sd[k] = goldenTensor(v);
  m.loadStateDict(sd);
  m.train(c.train);
  for (const [i, s] of c.steps.entries()) {
    const label = `${c.name} step ${i}`;
    const x = goldenTensor(s.input);
    x.requiresGrad = true;
    m.zeroGrad();
    const out = m.call(x);
    out.mul(goldenTensor(s.gout)).sum().backward();
    expect(out.shape).to.deep.equal(s.output.shape);
    expectClose(await values(out), s.output.data, tol, `${label} output`);
    expectClose(await values(x.grad as gg.Tensor), s.input_grad.data, tol, `${label} input_grad`);
    const params = new Map(m.namedParameters());
    expect([...params.keys()].sort()).to.deep.equal(Object.keys(s.param_grads).sort());
    for (const [n, g] of Object.entries(s.param_grads)) {
      const p = params.get(n) as gg.Tensor;
      const got = p.grad ? await values(p.grad) : new Array<number>(g.data.length).fill(0);
      expectClose(got, g.data, tol, `${label} grad ${n}`);
    }
    for (const [n, b] of m.namedBuffers()) expect(b.requiresGrad, `${label} buffer ${n} requires grad`).to.equal(false);
    const state = m.stateDict();
    expect(Object.keys(state), `${label} state keys`).to.deep.equal(Object.keys(s.state_after));
    for (const [k, v] of Object.entries(s.state_after)) {
      const t = state[k] as gg.Tensor;
      expect(t.shape, `${label} ${k} shape`).to.deep.equal(v.shape);
      expectClose(await values(t), v.data, tol, `${label} state ${k}`);
    }
  }
}

describe('normalization: PyTorch goldens (float64, cpu)', () => {
  it('has every listed family in the fixtures', () => {
    for (const p of NORM_PREFIXES) expect(cases.some((c) => c.name.startsWith(p)), p).to.equal(true);
  });
  for (const c of cases.filter((c) => !c.module.startsWith('Switch'))) {
    it(c.name, async () => runCase(c, F64));
  }
});

/** Values of a float64 randn tensor, deterministic. */
function randn(shape: number[], seed: number, scale = 1, shift = 0): gg.Tensor {
  gg.manualSeed(seed);
  return gg.randn(shape, f64).mul(scale).add(shift);
}
const leaf = (t: gg.Tensor): gg.Tensor => t.detach().requiresGrad_(true);

describe('normalization: backward equals the closed form of docs/spec/normalization.md#batchnorm', () => {
  it('training: dx = γ·invstd/m·(m·g - Σg - x̂·Σ(g·x̂)), dγ = Σg·x̂, dβ = Σg', async () => {
    const [n, c, h, w] = [3, 4, 2, 3];
    const m = n * h * w;
    const x = leaf(randn([n, c, h, w], 1, 2, 0.5));
    const gamma = leaf(randn([c], 2, 0.5, 1));
    const beta = leaf(randn([c], 3));
    const g = randn([n, c, h, w], 4);
    const eps = 1e-5;
    const y = batchNorm(x, null, null, gamma, beta, true, 0.1, eps);
    y.mul(g).sum().backward();
    // closed form from plain arrays
    const xs = await values(x);
    const gs = await values(g);
    const gam = await values(gamma);
    const idx = (ni: number, ci: number, k: number): number => (ni * c + ci) * h * w + k;
    const dx = new Array<number>(xs.length).fill(0);
    const dgamma: number[] = [];
    const dbeta: number[] = [];
    for (let ci = 0; ci < c; ci++) {
      let mu = 0;
      for (let ni = 0; ni < n; ni++) for (let k = 0; k < h * w; k++) mu += xs[idx(ni, ci, k)] as number;
      mu /= m;
      let v = 0;
      for (let ni = 0; ni < n; ni++) for (let k = 0; k < h * w; k++) v += ((xs[idx(ni, ci, k)] as number) - mu) ** 2;
      v /= m;
      const invstd = 1 / Math.sqrt(v + eps);
      let sg = 0;
      let sgx = 0;
      for (let ni = 0; ni < n; ni++) {
        for (let k = 0; k < h * w; k++) {
          const i = idx(ni, ci, k);
          sg += gs[i] as number;
          sgx += (gs[i] as number) * ((xs[i] as number) - mu) * invstd;
        }
      }
      for (let ni = 0; ni < n; ni++) {
        for (let k = 0; k < h * w; k++) {
          const i = idx(ni, ci, k);
          const xhat = ((xs[i] as number) - mu) * invstd;
          dx[i] = (((gam[ci] as number) * invstd) / m) * (m * (gs[i] as number) - sg - xhat * sgx);
        }
      }
      dgamma.push(sgx);
      dbeta.push(sg);
    }
    expectClose(await values(x.grad as gg.Tensor), dx, { rtol: 1e-10, atol: 1e-12 }, 'dx');
    expectClose(await values(gamma.grad as gg.Tensor), dgamma, F64, 'dgamma');
    expectClose(await values(beta.grad as gg.Tensor), dbeta, F64, 'dbeta');
  });

  it('eval: dx = g·γ/sqrt(running_var + eps)', async () => {
    const x = leaf(randn([2, 3, 2, 2], 5));
    const rm = randn([3], 6);
    const rv = randn([3], 7).abs().add(0.5);
    const gamma = randn([3], 8);
    const g = randn([2, 3, 2, 2], 9);
    batchNorm(x, rm, rv, gamma, null, false, 0.1, 1e-3).mul(g).sum().backward();
    const expected = g.mul(gamma.div(rv.add(1e-3).sqrt()).reshape(1, 3, 1, 1));
    expectClose(await values(x.grad as gg.Tensor), await values(expected), F64, 'dx');
  });
});

/** Swap a module's parameters for gradcheck's inputs during `fn`. */
function withParams<R>(m: Module, names: string[], ts: gg.Tensor[], fn: () => R): R {
  const slots = m as unknown as Record<string, gg.Tensor | null>;
  const saved = names.map((n) => slots[n] ?? null);
  names.forEach((n, i) => (slots[n] = ts[i] ?? null));
  try {
    return fn();
  } finally {
    names.forEach((n, i) => (slots[n] = saved[i] ?? null));
  }
}

interface GradSpec {
  name: string;
  make: () => Module;
  shape: number[];
}
const gradSpecs: GradSpec[] = [
  { name: 'BatchNorm1d (2D)', make: () => new nn.BatchNorm1d(3, f64), shape: [4, 3] },
  { name: 'BatchNorm1d (3D)', make: () => new nn.BatchNorm1d(3, f64), shape: [2, 3, 3] },
  { name: 'BatchNorm2d', make: () => new nn.BatchNorm2d(3, f64), shape: [2, 3, 2, 3] },
  { name: 'BatchNorm2d no track', make: () => new nn.BatchNorm2d(3, { ...f64, trackRunningStats: false }), shape: [2, 3, 2, 2] },
  { name: 'BatchNorm3d', make: () => new nn.BatchNorm3d(2, f64), shape: [2, 2, 2, 2, 2] },
  { name: 'InstanceNorm1d affine', make: () => new nn.InstanceNorm1d(3, { ...f64, affine: true }), shape: [2, 3, 4] },
  { name: 'InstanceNorm2d affine tracked', make: () => new nn.InstanceNorm2d(3, { ...f64, affine: true, trackRunningStats: true }), shape: [2, 3, 2, 3] },
  { name: 'InstanceNorm3d', make: () => new nn.InstanceNorm3d(2, f64), shape: [2, 2, 2, 2, 2] },
  { name: 'LayerNorm', make: () => new nn.LayerNorm([3, 4], f64), shape: [2, 3, 4] },
  { name: 'GroupNorm', make: () => new nn.GroupNorm(2, 4, f64), shape: [2, 4, 3] },
  { name: 'SwitchableNorm2d', make: () => new nn.SwitchableNorm2d(3, f64), shape: [2, 3, 2, 3] },
  { name: 'SwitchableNorm2d no track', make: () => new nn.SwitchableNorm2d(3, { ...f64, trackRunningStats: false }), shape: [2, 3, 2, 2] },
  { name: 'SwitchNorm2d', make: () => new nn.SwitchNorm2d(3, f64), shape: [2, 3, 2, 3] },
  { name: 'SwitchNorm2d no BN', make: () => new nn.SwitchNorm2d(3, { ...f64, usingBn: false }), shape: [2, 3, 2, 2] },
];

/** Give parameters and buffers non-trivial values. */
function randomize(m: Module, seed: number): void {
  gg.manualSeed(seed);
  gg.noGrad(() => {
    for (const [n, p] of m.namedParameters()) {
      const r = gg.randn([...p.shape], { dtype: p.dtype });
      p.assign(n === 'weight' ? r.mul(0.3).add(1) : r.mul(0.5));
    }
    for (const [n, b] of m.namedBuffers()) {
      if (n === 'running_mean') b.assign(gg.randn([...b.shape], { dtype: b.dtype }).mul(0.5));
      if (n === 'running_var') b.assign(gg.rand([...b.shape], { dtype: b.dtype }).add(0.5));
      if (n === 'num_batches_tracked') b.assign(gg.full([], 3, { dtype: b.dtype }));
    }
  });
}

describe('normalization: gradcheck (float64)', function () {
  this.timeout(120000);
  for (const spec of gradSpecs) {
    for (const mode of ['train', 'eval'] as const) {
      it(`${spec.name} (${mode})`, async () => {
        const m = spec.make();
        randomize(m, 11);
        m.train(mode === 'train');
        const names = [...m.namedParameters()].map(([n]) => n);
        const params = names.map((n) => leaf((m as unknown as Record<string, gg.Tensor>)[n] as gg.Tensor));
        const x = leaf(randn(spec.shape, 12, 1.5, 0.3));
        const fn = (xi: gg.Tensor, ...ps: gg.Tensor[]): gg.Tensor => withParams(m, names, ps, () => m.call(xi));
        expect(await gg.autograd.gradcheck(fn, [x, ...params])).to.equal(true);
      });
    }
  }
  it('BatchNorm2d (train): gradgradcheck', async () => {
    const x = leaf(randn([2, 3, 2, 2], 13, 1.5, 0.3));
    const w = leaf(randn([3], 14, 0.3, 1));
    const b = leaf(randn([3], 15));
    const fn = (xi: gg.Tensor, wi: gg.Tensor, bi: gg.Tensor): gg.Tensor => batchNorm(xi, null, null, wi, bi, true, 0.1, 1e-5);
    expect(await gg.autograd.gradgradcheck(fn, [x, w, b])).to.equal(true);
  });
  it('SwitchableNorm2d (train): gradgradcheck', async () => {
    const m = new nn.SwitchableNorm2d(2, f64);
    randomize(m, 16);
    const names = [...m.namedParameters()].map(([n]) => n);
    const params = names.map((n) => leaf((m as unknown as Record<string, gg.Tensor>)[n] as gg.Tensor));
    const x = leaf(randn([2, 2, 2, 2], 17, 1.5, 0.3));
    const fn = (xi: gg.Tensor, ...ps: gg.Tensor[]): gg.Tensor => withParams(m, names, ps, () => m.call(xi));
    expect(await gg.autograd.gradgradcheck(fn, [x, ...params])).to.equal(true);
  });
  it('functional forms: instanceNorm, layerNorm, groupNorm', async () => {
    const x = leaf(randn([2, 4, 3], 18, 1.5, 0.3));
    const w = leaf(randn([4], 19, 0.3, 1));
    const b = leaf(randn([4], 20));
    expect(await gg.autograd.gradcheck((xi, wi, bi) => instanceNorm(xi, null, null, wi, bi), [x, w, b])).to.equal(true);
    expect(await gg.autograd.gradcheck((xi, wi, bi) => groupNorm(xi, 2, wi, bi), [x, w, b])).to.equal(true);
    const w2 = leaf(randn([4, 3], 21, 0.3, 1));
    expect(await gg.autograd.gradcheck((xi, wi) => layerNorm(xi, [4, 3], wi), [x, w2])).to.equal(true);
  });
});

const sameValues = async (a: gg.Tensor, b: gg.Tensor, tol: Tol = F64, label = ''): Promise<void> => {
  expect(a.shape).to.deep.equal(b.shape);
  expectClose(await values(a), await values(b), tol, label);
};

describe('BatchNorm: docs/spec/normalization.md#batchnorm rules', () => {
  it('state keys, shapes, initial values, camelCase getters, buffers never require grad', async () => {
    const bn = new nn.BatchNorm2d(4);
    expect(Object.keys(bn.stateDict())).to.deep.equal(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(bn.runningMean).to.equal(bn._buffers.get('running_mean'));
    expect(bn.runningVar).to.equal(bn._buffers.get('running_var'));
    expect(bn.numBatchesTracked?.shape).to.deep.equal([]);
    expect(gg.nn.integerTensors.has(bn.numBatchesTracked as gg.Tensor)).to.equal(true);
    expect(await values(bn.runningVar as gg.Tensor)).to.deep.equal([1, 1, 1, 1]);
    expect(bn.buffers().every((b) => !b.requiresGrad)).to.equal(true);
    expect(bn.parameters()).to.have.length(2);
    bn.call(gg.randn([2, 4, 2, 2], { requiresGrad: true }));
    expect(bn.buffers().every((b) => !b.requiresGrad && b.isLeaf)).to.equal(true);
    expect(Object.keys(new nn.BatchNorm2d(4, { affine: false }).stateDict())).to.deep.equal(['running_mean', 'running_var', 'num_batches_tracked']);
    expect(Object.keys(new nn.BatchNorm2d(4, { trackRunningStats: false }).stateDict())).to.deep.equal(['weight', 'bias']);
    expect(new nn.BatchNorm2d(4, { trackRunningStats: false }).runningMean).to.equal(null);
  });

  it('extraRepr / toString as PyTorch', () => {
    expect(new nn.BatchNorm2d(4).toString()).to.equal('BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)');
    expect(new nn.BatchNorm1d(4, { momentum: null, eps: 1e-3 }).extraRepr()).to.equal('4, eps=0.001, momentum=None, affine=True, track_running_stats=True');
    expect(new nn.InstanceNorm2d(3).toString()).to.equal('InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)');
    expect(new nn.LayerNorm([3, 4]).toString()).to.equal('LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)');
    expect(new nn.LayerNorm(5).toString()).to.equal('LayerNorm((5,), eps=1e-05, elementwise_affine=True)');
    expect(new nn.GroupNorm(2, 4).toString()).to.equal('GroupNorm(2, 4, eps=1e-05, affine=True)');
    expect(new nn.SwitchableNorm2d(4).toString()).to.equal('SwitchableNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)');
  });

  it('momentum null: the first batch overwrites, then the cumulative average', async () => {
    const bn = new nn.BatchNorm2d(2, { ...f64, momentum: null });
    const a = randn([3, 2, 2, 2], 30, 2, 1);
    const b = randn([3, 2, 2, 2], 31, 1, -1);
    bn.call(a);
    await sameValues(bn.runningMean as gg.Tensor, a.mean([0, 2, 3]));
    await sameValues(bn.runningVar as gg.Tensor, a.var([0, 2, 3]));
    bn.call(b);
    await sameValues(bn.runningMean as gg.Tensor, a.mean([0, 2, 3]).add(b.mean([0, 2, 3])).div(2));
    await sameValues(bn.runningVar as gg.Tensor, a.var([0, 2, 3]).add(b.var([0, 2, 3])).div(2));
    expect(await (bn.numBatchesTracked as gg.Tensor).item()).to.equal(2);
  });

  it('eval uses the buffers and updates nothing; trackRunningStats false uses batch stats in eval', async () => {
    const bn = new nn.BatchNorm2d(2, f64);
    randomize(bn, 32);
    bn.eval();
    const before = await Promise.all(bn.buffers().map(values));
    const x = randn([2, 2, 3, 3], 33);
    const y = bn.call(x);
    const rm = (bn.runningMean as gg.Tensor).reshape(1, 2, 1, 1);
    const rv = (bn.runningVar as gg.Tensor).reshape(1, 2, 1, 1);
    const expected = x.sub(rm).div(rv.add(1e-5).sqrt()).mul((bn.weight as gg.Tensor).reshape(1, 2, 1, 1)).add((bn.bias as gg.Tensor).reshape(1, 2, 1, 1));
    await sameValues(y, expected);
    expect(await Promise.all(bn.buffers().map(values))).to.deep.equal(before);
    const nt = new nn.BatchNorm2d(2, { ...f64, trackRunningStats: false, affine: false }).eval();
    await sameValues(nt.call(x), x.sub(x.mean([0, 2, 3], true)).div(x.var([0, 2, 3], { unbiased: false, keepdim: true }).add(1e-5).sqrt()));
  });

  it('empty batch: empty output, stats untouched (the counter counts it, as PyTorch)', async () => {
    const bn = new nn.BatchNorm2d(3, f64);
    randomize(bn, 34);
    const before = await Promise.all([bn.runningMean, bn.runningVar].map((t) => values(t as gg.Tensor)));
    const x = gg.zeros([0, 3, 2, 2], { ...f64, requiresGrad: true });
    const y = bn.call(x);
    expect(y.shape).to.deep.equal([0, 3, 2, 2]);
    y.sum().backward();
    expect(await Promise.all([bn.runningMean, bn.runningVar].map((t) => values(t as gg.Tensor)))).to.deep.equal(before);
    expect(await (bn.numBatchesTracked as gg.Tensor).item()).to.equal(4);
  });

  it('eps = 0 with a constant channel gives β (not NaN), with finite gradients', async () => {
    for (const v of [2, 0.1]) {
      const bn = new nn.BatchNorm2d(3, { ...f64, eps: 0 });
      gg.noGrad(() => (bn.bias as gg.Tensor).assign(gg.tensor([1, 2, 3], f64)));
      const x = gg.full([2, 3, 2, 2], v, { ...f64, requiresGrad: true });
      const y = bn.call(x);
      const out = await values(y);
      expect(out.slice(0, 4)).to.deep.equal([1, 1, 1, 1]);
      expect(out.slice(4, 8)).to.deep.equal([2, 2, 2, 2]);
      y.mul(randn([2, 3, 2, 2], 35)).sum().backward();
      expect((await values(x.grad as gg.Tensor)).every((g) => g === 0)).to.equal(true);
      expect(await values((bn.weight as gg.Tensor).grad as gg.Tensor)).to.deep.equal([0, 0, 0]);
      const inorm = new nn.InstanceNorm2d(3, { ...f64, eps: 0 });
      expect((await values(inorm.call(x))).every((g) => g === 0)).to.equal(true);
    }
  });

  it('error messages, and num_batches_tracked counted as PyTorch does', async () => {
    const bn = new nn.BatchNorm2d(3, f64);
    const nbt = async (): Promise<number> => (bn.numBatchesTracked as gg.Tensor).item();
    expect(() => bn.call(gg.zeros([2, 3, 4], f64))).to.throw('expected 4D input (got 3D input)');
    expect(await nbt()).to.equal(0);
    expect(() => bn.call(gg.zeros([1, 3, 1, 1], f64))).to.throw('Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]');
    expect(await nbt()).to.equal(1);
    expect(() => bn.call(gg.zeros([2, 4, 2, 2], f64))).to.throw('running_mean should contain 4 elements not 3');
    expect(await nbt()).to.equal(2);
    expect(() => new nn.BatchNorm2d(3, { trackRunningStats: false }).call(gg.zeros([2, 4, 2, 2]))).to.throw('weight should contain 4 elements not 3');
    expect(() => new nn.BatchNorm2d(3, { trackRunningStats: false }).eval().call(gg.zeros([1, 3, 1, 1]))).to.throw('Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]');
    expect(() => new nn.BatchNorm1d(3).call(gg.zeros([2, 3, 4, 4]))).to.throw('expected 2D or 3D input (got 4D input)');
    expect(() => new nn.BatchNorm1d(3).call(gg.zeros([3]))).to.throw('expected 2D or 3D input (got 1D input)');
    expect(() => new nn.BatchNorm3d(3).call(gg.zeros([2, 3, 4, 4]))).to.throw('expected 5D input (got 4D input)');
    expect(() => new nn.InstanceNorm2d(3).call(gg.zeros([2, 4]))).to.throw('expected 3D or 4D input (got 2D input)');
    expect(() => new nn.InstanceNorm1d(3).call(gg.zeros([2, 3, 1]))).to.throw('Expected more than 1 spatial element when training, got input size [2, 3, 1]');
    expect(() => new nn.InstanceNorm2d(3, { affine: true }).call(gg.zeros([2, 4, 2, 2]))).to.throw('weight should contain 8 elements not 6');
    expect(() => new nn.InstanceNorm2d(3, { trackRunningStats: true, momentum: null }).call(gg.zeros([2, 3, 2, 2]))).to.throw("argument 'momentum' (position 7) must be float, not NoneType");
    expect(() => new nn.LayerNorm(3).call(gg.zeros([2, 4]))).to.throw('Given normalized_shape=[3], expected input with shape [*, 3], but got input of size[2, 4]');
    expect(() => new nn.LayerNorm([3, 4]).call(gg.zeros([4]))).to.throw('Given normalized_shape=[3, 4], expected input with shape [*, 3, 4], but got input of size[4]');
    expect(() => new nn.GroupNorm(3, 4)).to.throw('num_channels must be divisible by num_groups');
    expect(() => new nn.GroupNorm(2, 4).call(gg.zeros([2, 6, 3]))).to.throw('Expected weight to be a vector of size equal to the number of channels in input, but got weight of shape [4] and input of shape [2, 6, 3]');
    expect(() => new nn.GroupNorm(4, 4, { affine: false }).call(gg.zeros([2, 6, 3]))).to.throw('Expected number of channels in input to be divisible by num_groups, but got input of shape [2, 6, 3] and num_groups=4');
    expect(() => new nn.SwitchableNorm2d(3).call(gg.zeros([2, 3, 4]))).to.throw('expected 4D input (got 3D input)');
    expect(() => new nn.SwitchNorm2d(3).call(gg.zeros([2, 3, 4]))).to.throw('expected 4D input (got 3D input)');
  });

  it('a failed call leaves parameters and buffers unchanged (except the counter, as PyTorch)', async () => {
    for (const make of [() => new nn.BatchNorm2d(3, f64), () => new nn.SwitchableNorm2d(3, f64)]) {
      const m = make();
      randomize(m, 36);
      const snapshot = async (): Promise<Record<string, number[]>> => {
        const out: Record<string, number[]> = {};
        for (const [k, v] of Object.entries(m.stateDict())) out[k] = await values(v);
        return out;
      };
      const before = await snapshot();
      for (const bad of [[2, 3, 4], [1, 3, 1, 1], [2, 4, 2, 2]]) {
        expect(() => m.call(gg.zeros(bad, f64))).to.throw();
      }
      const after = await snapshot();
      expect(after['num_batches_tracked']).to.deep.equal([(before['num_batches_tracked']?.[0] ?? 0) + 2]);
      delete before['num_batches_tracked'];
      delete after['num_batches_tracked'];
      expect(after).to.deep.equal(before);
    }
  });

  it('InstanceNorm: unbatched input, tracked running statistics as PyTorch', async () => {
    const x = randn([2, 3, 2, 2], 37, 2, 1);
    const m = new nn.InstanceNorm2d(3, { ...f64, trackRunningStats: true, momentum: 0.5 });
    expect(Object.keys(m.stateDict())).to.deep.equal(['running_mean', 'running_var', 'num_batches_tracked']);
    m.call(x);
    await sameValues(m.runningMean as gg.Tensor, x.mean([2, 3]).mean(0).mul(0.5));
    await sameValues(m.runningVar as gg.Tensor, x.var([2, 3]).mean(0).mul(0.5).add(0.5));
    expect(await (m.numBatchesTracked as gg.Tensor).item()).to.equal(0);
    m.eval();
    const rm = (m.runningMean as gg.Tensor).reshape(1, 3, 1, 1);
    const rv = (m.runningVar as gg.Tensor).reshape(1, 3, 1, 1);
    await sameValues(m.call(x), x.sub(rm).div(rv.add(1e-5).sqrt()));
    const plain = new nn.InstanceNorm2d(3, f64);
    await sameValues(plain.call(x.narrow(0, 1, 1).squeeze(0)), plain.call(x).narrow(0, 1, 1).squeeze(0));
  });

  it('module.to moves parameters and buffers; the counter stays an int64 buffer (PyTorch: to(dtype) casts floating point tensors only)', async () => {
    const bn = new nn.BatchNorm2d(2);
    const nbt = bn.numBatchesTracked as gg.Tensor;
    expect(nbt.dtype).to.equal('int64');
    bn.to('float64');
    expect(bn.numBatchesTracked).to.equal(nbt);
    expect(nbt.dtype).to.equal('int64');
    expect((bn.runningMean as gg.Tensor).dtype).to.equal('float64');
    expect(() => bn.to('int64')).to.throw(TypeError, 'nn.Module.to only accepts floating point or complex dtypes, but got desired dtype=torch.int64');
    expect(gg.nn.integerTensors.has(nbt)).to.equal(true);
    bn.call(gg.randn([2, 2, 2, 2], f64));
    expect(await nbt.item()).to.equal(1);
  });
});

describe('normalization: float32 parity with the float64 cpu reference', function () {
  this.timeout(300000);
  const tol: Tol = { rtol: 1e-4, atol: 1e-5 }; // measured: <= 1.2e-6 abs, <= 6e-6 rel on gpu:webasm
  const specs = gradSpecs.filter((s) => !s.name.includes('no '));
  forEachDevice(
    (device) => {
      for (const spec of specs) {
        it(`${spec.name}, train and eval: outputs, input and parameter grads, running stats`, async () => {
          for (const mode of ['train', 'eval'] as const) {
            const label = `${spec.name} ${mode} on ${device}`;
            const ref = spec.make();
            randomize(ref, 40);
            const dev = spec.make();
            dev.loadStateDict(ref.stateDict());
            dev.to('float32').to(device);
            ref.train(mode === 'train');
            dev.train(mode === 'train');
            const x64 = leaf(randn(spec.shape, 41, 1.5, 0.3));
            const g64 = randn(spec.shape, 42);
            const x32 = leaf(x64.to('float32').to(device));
            const y64 = ref.call(x64);
            const y32 = dev.call(x32);
            y64.mul(g64).sum().backward();
            y32.mul(g64.to('float32').to(device)).sum().backward();
            expectClose(await values(y32), await values(y64), tol, `${label} output`);
            expectClose(await values(x32.grad as gg.Tensor), await values(x64.grad as gg.Tensor), tol, `${label} input grad`);
            const p64 = new Map(ref.namedParameters());
            for (const [n, p] of dev.namedParameters()) {
              expectClose(await values(p.grad as gg.Tensor), await values((p64.get(n) as gg.Tensor).grad as gg.Tensor), tol, `${label} grad ${n}`);
            }
            const b64 = new Map(ref.namedBuffers());
            for (const [n, b] of dev.namedBuffers()) expectClose(await values(b), await values(b64.get(n) as gg.Tensor), tol, `${label} ${n}`);
          }
        });
      }
    },
    { skipCpu: true },
  );
});
