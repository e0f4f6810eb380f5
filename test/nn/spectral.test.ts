import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { errorOf, expectClose, fixture, golden64, valuesSync, type Golden, type GoldenStep } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';
import { rng } from '../helpers/random.js';
import { Module } from '../../src/nn/module.js';
import { spectralNorm, removeSpectralNorm, applySpectralNorm, SpectralNorm } from '../../src/nn/utils/spectral.js';
import { cached, isParametrized, parametrizationList, type ParametrizationList } from '../../src/nn/utils/parametrize.js';

const f64 = { dtype: 'float64' as const };
const { Linear, LazyLinear, Sequential, ReLU, Conv2d, ConvTranspose1d, ConvTranspose2d, LazyConv2d, LazyConvTranspose2d } = gg.nn;

/** A per-feature affine layer with a 1-D weight (the shape of a norm layer's weight). */
class Affine extends Module {
  declare weight: gg.Tensor;
  declare bias: gg.Tensor;
  constructor(n: number) {
    super();
    this.registerParameter('weight', gg.ones([n], f64));
    this.registerParameter('bias', gg.zeros([n], f64));
  }
  forward(x: gg.Tensor): gg.Tensor {
    return x.mul(this.weight).add(this.bias);
  }
}
type NormClass = new (n: number, opts: { dtype: 'float64' }) => Module;
/** gg.nn's BatchNorm classes (looked up by name so this file does not depend on normalization.ts's exports). */
function normClass(name: string): NormClass {
  const real = (gg.nn as unknown as Record<string, unknown>)[name];
  if (typeof real === 'function') return real as NormClass;
  // stand-in until normalization.ts is exported: skipped by the same class-name rule
  const standIn = { [name]: class extends Affine {} }[name] as NormClass;
  return standIn;
}
const BatchNorm1d = normClass('BatchNorm1d');
const BatchNorm2d = normClass('BatchNorm2d');

interface Step extends GoldenStep {
  weight: Golden;
}
interface Case {
  name: string;
  kind: string;
  module: string;
  args: number[];
  kwargs: Record<string, unknown>;
  spectralNorm?: { nPowerIterations?: number };
  state: Record<string, Golden>;
  train: boolean;
  steps: Step[];
}

const fixtures = fixture<Case[]>('torch_nn.json');
const spectralCases = fixtures.filter((c) => c.name.startsWith('SpectralNorm_'));


function maxDiff(a: gg.Tensor, b: Golden | gg.Tensor): number {
  const bs = b instanceof gg.Tensor ? b.shape : b.shape;
  expect([...a.shape], 'shape').to.deep.equal([...bs]);
  const x = valuesSync(a);
  const y = b instanceof gg.Tensor ? valuesSync(b) : b.data;
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - (y[i] as number))), 0);
}
function close(a: gg.Tensor, b: Golden | gg.Tensor, tol: number, what: string): void {
  const d = maxDiff(a, b);
  expect(d, `${what}: max |diff| = ${d}`).to.be.at.most(tol);
}
const listOf = (m: Module, name = 'weight'): ParametrizationList => parametrizationList(m, name) as ParametrizationList;
const snOf = (m: Module, name = 'weight'): SpectralNorm => listOf(m, name).chain[0] as SpectralNorm;
/** The exposed (parametrized) weight. */
const weightOf = (m: Module, name = 'weight'): gg.Tensor => (m as unknown as Record<string, gg.Tensor>)[name] as gg.Tensor;

function build(c: Case): Module {
  const [a = 0, b = 0, k = 0] = c.args;
  switch (c.module) {
    case 'Linear':
      return new Linear(a, b, { ...(c.kwargs as { bias?: boolean }), ...f64 });
    case 'Conv2d':
      return new Conv2d(a, b, k, { ...(c.kwargs as { padding?: number }), ...f64 });
    case 'ConvTranspose2d':
      return new ConvTranspose2d(a, b, k, { ...(c.kwargs as { stride?: number }), ...f64 });
    default:
      throw new Error(`no builder for ${c.module}`);
  }
}

/** Largest singular value of a (h, w) matrix, by many power iterations in plain JS. */
function topSingularValue(m: number[], h: number, w: number): number {
  let v = Array.from({ length: w }, (_, i) => 1 + i * 0.1);
  let s = 0;
  for (let it = 0; it < 2000; it++) {
    const u = Array.from({ length: h }, (_, i) => v.reduce((acc, vj, j) => acc + (m[i * w + j] as number) * vj, 0));
    const nu = Math.hypot(...u);
    const nv = Array.from({ length: w }, (_, j) => u.reduce((acc, ui, i) => acc + (m[i * w + j] as number) * ui, 0) / nu);
    s = Math.hypot(...nv);
    v = nv.map((x) => x / s);
  }
  return s;
}

describe('nn.utils spectral norm', () => {
  beforeEach(() => gg.manualSeed(0));

  it('is exported as gg.nn.utils.parametrizations.spectralNorm, removeSpectralNorm, applySpectralNorm', () => {
    expect(gg.nn.utils.parametrizations.spectralNorm).to.equal(spectralNorm);
    expect(gg.nn.utils.removeSpectralNorm).to.equal(removeSpectralNorm);
    expect(gg.nn.utils.applySpectralNorm).to.equal(applySpectralNorm);
  });

  describe('PyTorch goldens (float64, cpu)', function () {
    this.timeout(20000);
    it('has the 8 SpectralNorm cases', () => {
      expect(spectralCases.map((c) => c.name)).to.have.members([
        'SpectralNorm_Linear_train', 'SpectralNorm_Linear_eval', 'SpectralNorm_Linear_2iter_train', 'SpectralNorm_Linear_2iter_eval',
        'SpectralNorm_Conv2d_train', 'SpectralNorm_Conv2d_eval', 'SpectralNorm_ConvTranspose2d_train', 'SpectralNorm_ConvTranspose2d_eval',
      ]);
    });
    for (const c of spectralCases) {
      it(c.name, () => {
        const m = build(c);
        spectralNorm(m, c.spectralNorm ?? {});
        expect(Object.keys(m.stateDict()), 'state keys').to.deep.equal(Object.keys(c.state));
        m.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, golden64(v)])));
        m.train(c.train);
        const sn = snOf(m);
        expect(sn.dim).to.equal(c.module === 'ConvTranspose2d' ? 1 : 0);
        expect(sn.nPowerIterations).to.equal(c.spectralNorm?.nPowerIterations ?? 1);
        const original = listOf(m).original;
        const params = Object.fromEntries(m.namedParameters());
        for (const step of c.steps) {
          m.zeroGrad();
          const x = golden64(step.input, true);
          // cached: the weight the forward used is the one read right after it (no second power iteration)
          const [y, w] = cached(() => [m.call(x), weightOf(m)] as const);
          close(y, step.output, 1e-10, 'output');
          close(w, step.weight, 1e-10, 'W/sigma');
          y.backward(golden64(step.gout));
          close(x.grad as gg.Tensor, step.input_grad, 1e-10, 'input grad');
          for (const [k, g] of Object.entries(step.param_grads)) {
            const p = params[k] as gg.Tensor;
            expect(p, k).to.not.equal(undefined);
            close(p.grad as gg.Tensor, g, 1e-10, `grad of ${k}`);
          }
          expect(Object.keys(step.param_grads)).to.include('parametrizations.weight.original');
          expect((params['parametrizations.weight.original'] as gg.Tensor)).to.equal(original);
          const sd = m.stateDict();
          for (const [k, v] of Object.entries(step.state_after)) close(sd[k] as gg.Tensor, v, 1e-10, `state ${k}`);
        }
      });
    }
  });

  describe('construction', () => {
    it('registers _u (h) and _v (w) normalised, after 15 (+ n in training) power iterations', () => {
      const lin = new Linear(5, 3, f64);
      const w = lin.weight;
      spectralNorm(lin);
      const sn = snOf(lin);
      expect(sn).to.be.instanceOf(SpectralNorm);
      expect(sn._u.shape).to.deep.equal([3]);
      expect(sn._v.shape).to.deep.equal([5]);
      expect(Math.hypot(...valuesSync(sn._u))).to.be.closeTo(1, 1e-12);
      expect(Math.hypot(...valuesSync(sn._v))).to.be.closeTo(1, 1e-12);
      expect(listOf(lin).original).to.equal(w);
      expect(Object.keys(lin.stateDict())).to.deep.equal(['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v']);
      expect(sn._u.requiresGrad || sn._v.requiresGrad).to.equal(false);
    });

    it('Conv weights: dim 0 flattened to (out, in·k·k); ConvTranspose: dim 1', () => {
      const conv = spectralNorm(new Conv2d(2, 4, 3, f64));
      expect(snOf(conv)._u.shape).to.deep.equal([4]);
      expect(snOf(conv)._v.shape).to.deep.equal([18]);
      const tconv = spectralNorm(new ConvTranspose2d(2, 4, 3, f64));
      expect(snOf(tconv).dim).to.equal(1);
      expect(snOf(tconv)._u.shape).to.deep.equal([4]);
      expect(snOf(tconv)._v.shape).to.deep.equal([18]);
      expect(snOf(spectralNorm(new ConvTranspose1d(2, 4, 3, f64))).dim).to.equal(1);
      expect(snOf(spectralNorm(new ConvTranspose2d(2, 4, 3, f64), { dim: 0 })).dim).to.equal(0);
      expect(snOf(spectralNorm(new Conv2d(2, 4, 3, f64), { dim: -1 })).dim).to.equal(3);
    });

    it('1-D weights are simply normalised (no buffers)', () => {
      const ln = new Affine(4);
      ln.weight = gg.tensor([3, 0, 4, 0], f64);
      spectralNorm(ln);
      expect(valuesSync(weightOf(ln))).to.deep.equal([0.6, 0, 0.8, 0]);
      expect(Object.keys(ln.stateDict())).to.deep.equal(['bias', 'parametrizations.weight.original']);
    });

    it('power iteration: in place on every access in training (n times), never in eval', () => {
      const lin = spectralNorm(new Linear(4, 3, f64), { nPowerIterations: 3 });
      const sn = snOf(lin);
      const u = sn._u;
      const v = sn._v;
      // reference: the same iterations by hand
      const wm = listOf(lin).original;
      let uu = valuesSync(u);
      let vv = valuesSync(v);
      const W = valuesSync(wm);
      const norm = (a: number[]): number[] => {
        const n = Math.max(Math.hypot(...a), 1e-12);
        return a.map((x) => x / n);
      };
      for (let i = 0; i < 3; i++) {
        uu = norm([0, 1, 2].map((r) => [0, 1, 2, 3].reduce((s, c) => s + (W[r * 4 + c] as number) * (vv[c] as number), 0)));
        vv = norm([0, 1, 2, 3].map((c) => [0, 1, 2].reduce((s, r) => s + (W[r * 4 + c] as number) * (uu[r] as number), 0)));
      }
      const sigma = [0, 1, 2].reduce((s, r) => s + (uu[r] as number) * [0, 1, 2, 3].reduce((t, c) => t + (W[r * 4 + c] as number) * (vv[c] as number), 0), 0);
      const ws = weightOf(lin);
      expect(sn._u).to.equal(u); // same buffer objects, updated in place
      expect(maxDiff(sn._u, gg.tensor(uu, f64))).to.be.below(1e-12);
      expect(maxDiff(sn._v, gg.tensor(vv, f64))).to.be.below(1e-12);
      expect(maxDiff(ws, gg.tensor(W.map((x) => x / sigma), { ...f64, shape: [3, 4] }))).to.be.below(1e-12);
      lin.eval();
      const [u0, v0] = [valuesSync(u), valuesSync(v)];
      void weightOf(lin);
      lin.call(gg.randn([2, 4], f64));
      expect(valuesSync(u)).to.deep.equal(u0);
      expect(valuesSync(v)).to.deep.equal(v0);
      // powerIterOnEval keeps iterating in eval
      const lin2 = spectralNorm(new Linear(4, 3, f64), { powerIterOnEval: true }).eval();
      const before = valuesSync(snOf(lin2)._u);
      gg.manualSeed(1);
      listOf(lin2).original.assign(gg.randn([3, 4], f64));
      void weightOf(lin2);
      expect(valuesSync(snOf(lin2)._u)).to.not.deep.equal(before);
    });

    // the power iteration normalises with two fused kernels (spectral.ts `normalizeNoGrad`):
    // the composed t / clamp(sqrt(sum(t*t)), eps), bit for bit in float64, eps clamp included
    forEachDevice((device) => {
      it('power iteration: the fused normalisation is the composed one (float64 bit for bit on the cpu; a zero weight gives zeros)', async () => {
        const dtypes: gg.DType[] = device === 'cpu' ? ['float64', 'float32'] : ['float32'];
        const r = rng(31);
        for (const dtype of dtypes) {
          for (const scale of [1, 0]) {
            const W = gg.tensor(Array.from({ length: 5 * 7 }, () => (r() * 2 - 1) * scale), { shape: [5, 7], dtype, device });
            const sn = new SpectralNorm(W, 1, 0);
            const v0 = sn._v.clone();
            sn.powerMethod(W, 1);
            const eps = sn.eps;
            const norm = (t: gg.Tensor): gg.Tensor => t.div(t.mul(t).sum().sqrt().clamp(eps));
            const u = norm(W.matmul(v0));
            const v = norm(W.t().matmul(u));
            const label = `${device} ${dtype} scale ${scale}`;
            const values = async (t: gg.Tensor): Promise<number[]> => Array.from(await t.data());
            const [gu, gv, eu, ev] = await Promise.all([values(sn._u), values(sn._v), values(u), values(v)]);
            if (dtype === 'float64') {
              expect(gu, label).to.deep.equal(eu);
              expect(gv, label).to.deep.equal(ev);
            } else {
              expectClose(gu, eu, { rtol: 1e-5, atol: 1e-6 }, label);
              expectClose(gv, ev, { rtol: 1e-5, atol: 1e-6 }, label);
            }
            if (scale === 0) expect(gu.every((x) => x === 0), label).to.equal(true);
          }
        }
      });
    });

    it('W/sigma has largest singular value 1 after many iterations', function () {
      this.timeout(30000);
      const lin = spectralNorm(new Linear(6, 5, f64));
      for (let i = 0; i < 200; i++) void weightOf(lin);
      const ws = weightOf(lin);
      expect(topSingularValue(valuesSync(ws), 5, 6)).to.be.closeTo(1, 1e-9);
      // and sigma matches the top singular value of W
      const w = listOf(lin).original;
      const sigma = snOf(lin).sigma(w).itemSync();
      expect(sigma).to.be.closeTo(topSingularValue(valuesSync(w), 5, 6), 1e-9);
      const conv = spectralNorm(new Conv2d(3, 4, 3, f64));
      for (let i = 0; i < 300; i++) void weightOf(conv);
      expect(topSingularValue(valuesSync(weightOf(conv)), 4, 27)).to.be.closeTo(1, 1e-8);
    });
  });

  describe('gradients', () => {
    it('dL/dW = G/sigma - (sum G*W)/sigma^2 u v^T, gradients through W only', () => {
      for (const [shape, dim] of [[[3, 5], 0], [[4, 2, 3, 3], 0], [[2, 4, 3, 3], 1]] as const) {
        const W = gg.randn([...shape], { ...f64, requiresGrad: true });
        const sn = new SpectralNorm(W, 1, dim);
        sn.eval();
        const G = gg.randn([...shape], f64);
        sn.forward(W).mul(G).sum().backward();
        const sigma = sn.sigma(W.detach()).itemSync();
        const u = valuesSync(sn._u);
        const v = valuesSync(sn._v);
        // closed form on the matrix view, mapped back to W's layout
        const Gm = valuesSync(sn.toMatrix(G).contiguous());
        const Wm = valuesSync(sn.toMatrix(W.detach()).contiguous());
        const dot = Gm.reduce((s, g, i) => s + g * (Wm[i] as number), 0);
        const h = u.length;
        const w = v.length;
        const expectedM = Gm.map((g, i) => g / sigma - (dot / sigma ** 2) * (u[Math.floor(i / w)] as number) * (v[i % w] as number));
        expect(expectedM.length).to.equal(h * w);
        const gradM = valuesSync(sn.toMatrix(W.grad as gg.Tensor).contiguous());
        const d = gradM.reduce((m, g, i) => Math.max(m, Math.abs(g - (expectedM[i] as number))), 0);
        expect(d, `shape ${shape}`).to.be.below(1e-12);
        expect(sn._u.grad).to.equal(null);
      }
    });

    // W/sigma runs as one fused kernel (spectral.ts `divideBySigma`): an optimisation of the
    // composed weight.div(sigma), tested against it on every device
    forEachDevice((device) => {
      it('W/sigma is the composed weight.div(sigma): values and gradients (float64 bit for bit on the cpu)', async () => {
        const dtypes: gg.DType[] = device === 'cpu' ? ['float64', 'float32'] : ['float32'];
        const r = rng(77);
        for (const dtype of dtypes) {
          for (const [shape, dim] of [[[6, 5], 0], [[8, 3, 3, 3], 0], [[3, 4, 2, 2], 1]] as const) {
            const n = shape.reduce((a, b) => a * b, 1);
            const W = gg.tensor(Array.from({ length: n }, () => r() * 2 - 1), { shape: [...shape], dtype, device, requiresGrad: true });
            const G = gg.tensor(Array.from({ length: n }, () => r() * 2 - 1), { shape: [...shape], dtype, device });
            const sn = new SpectralNorm(W, 1, dim);
            sn.eval();
            const fusedOut = sn.forward(W);
            const kernels = await gg.profile(() => fusedOut.backward(G));
            const fusedGrad = W.grad as gg.Tensor;
            W.grad = null;
            const composedOut = W.div(sn.sigma(W));
            composedOut.backward(G);
            const composedGrad = W.grad as unknown as gg.Tensor;
            const label = `${device} ${dtype} ${shape.join('x')}`;
            if (dim === 0) {
              // dim 0: the one-pass backward (spectral.ts `SpectralShortcut`): one reduction, one pass,
              // nothing else (sigma's chain receives no gradient); the composed rule's gradient to 1e-12
              expect(kernels.kernels.map((k) => k.kernel), label).to.deep.equal(['SpectralNormDot', 'SpectralNormBackward']);
              if (dtype === 'float64') {
                expect(await fusedOut.data(), `${label} values`).to.deep.equal(await composedOut.data());
                expectClose(await fusedGrad.data(), await composedGrad.data(), { rtol: 1e-12, atol: 1e-14 }, `${label} gradient`);
              } else {
                expectClose(await fusedOut.data(), await composedOut.data(), { rtol: 1e-5, atol: 1e-6 }, `${label} values`);
                expectClose(await fusedGrad.data(), await composedGrad.data(), { rtol: 1e-4, atol: 1e-5 }, `${label} gradient`);
              }
              continue;
            }
            // the backward of the division: g/sigma and one sum for sigma (the composed rule: 6 passes)
            expect(kernels.kernels.filter((k) => k.kernel.startsWith('SpectralDivide')).length, label).to.equal(2);
            if (dtype === 'float64') {
              expect(await fusedOut.data(), `${label} values`).to.deep.equal(await composedOut.data());
              expect(await fusedGrad.data(), `${label} gradient`).to.deep.equal(await composedGrad.data());
            } else {
              expectClose(await fusedOut.data(), await composedOut.data(), { rtol: 1e-5, atol: 1e-6 }, `${label} values`);
              expectClose(await fusedGrad.data(), await composedGrad.data(), { rtol: 1e-4, atol: 1e-5 }, `${label} gradient`);
            }
          }
        }
      });
    });

    // gradcheck needs a pure function of its inputs. In training mode every
    // evaluation runs a power iteration that moves _u and _v, so finite
    // differences would mix W's effect with the buffers' drift (and PyTorch's
    // gradient treats u and v as constants anyway). So the check runs in eval
    // mode, where u and v are fixed: exactly the function whose gradient the
    // training-mode backward computes for the u and v of that step.
    it('gradcheck (float64, eval mode) of a spectral-normed Linear and Conv2d, wrt input and weight', async function () {
      this.timeout(60000);
      const cases: [Module, gg.Tensor][] = [
        [new Linear(4, 3, f64), gg.randn([2, 4], f64)],
        [new Conv2d(2, 3, 3, { padding: 1, ...f64 }), gg.randn([1, 2, 4, 4], f64)],
        [new ConvTranspose2d(2, 3, 2, { stride: 2, ...f64 }), gg.randn([1, 2, 2, 2], f64)],
      ];
      for (const [m, x0] of cases) {
        spectralNorm(m);
        m.eval();
        const list = listOf(m);
        const original = list.original;
        const x = x0.detach().requiresGrad_(true);
        const w = original.detach().clone().requiresGrad_(true);
        // the module reads its weight through the chain from `original`: point that slot at gradcheck's input
        const fn = (xi: gg.Tensor, wi: gg.Tensor): gg.Tensor => {
          list._parameters.set('original', wi);
          try {
            return m.call(xi);
          } finally {
            list._parameters.set('original', original);
          }
        };
        expect(await gg.autograd.gradcheck(fn, [x, w]), m.constructor.name).to.equal(true);
      }
    });
  });

  // the one-pass backward of W/sigma (spectral.ts `SpectralShortcut`) runs only when no graph is
  // created; the recorded graph is the same either way
  describe('the one-pass backward of W/sigma', () => {
    const setup = (seed: number): { W: gg.Tensor; G: gg.Tensor; sn: SpectralNorm } => {
      const r = rng(seed);
      const W = gg.tensor(Array.from({ length: 4 * 2 * 3 * 3 }, () => r() * 2 - 1), { shape: [4, 2, 3, 3], ...f64, requiresGrad: true });
      const G = gg.tensor(Array.from({ length: 4 * 2 * 3 * 3 }, () => r() * 2 - 1), { shape: [4, 2, 3, 3], ...f64 });
      const sn = new SpectralNorm(W, 1, 0);
      sn.eval();
      return { W, G, sn };
    };

    it('records the same graph: SpectralDivideBackward0 over W and sigma = SumBackward0(MulBackward0(...))', () => {
      const { W, sn } = setup(5);
      const y = sn.forward(W);
      expect(y.gradFn?.name).to.equal('SpectralDivideBackward0');
      const next = y.gradFn!.nextFunctions;
      expect(next.map(([n]) => n?.name)).to.deep.equal(['AccumulateGrad', 'SumBackward0']);
      const mul = next[1]![0]!.nextFunctions[0]![0]!;
      expect(mul.name).to.equal('MulBackward0');
      expect(mul.nextFunctions.map(([n]) => n?.name)).to.deep.equal([undefined, 'ViewBackward0']);
    });

    it('with createGraph the recorded rule runs (second derivatives as the composed W.div(sigma)), and retainGraph keeps the shortcut', () => {
      const { W, G, sn } = setup(6);
      const y = sn.forward(W);
      const [gFast] = gg.autograd.grad(y, [W], { gradOutputs: G, retainGraph: true });
      const [gGraph] = gg.autograd.grad(y, [W], { gradOutputs: G, createGraph: true });
      const composed = W.div(sn.sigma(W));
      const [gComposed] = gg.autograd.grad(composed, [W], { gradOutputs: G, createGraph: true });
      expect(gGraph!.requiresGrad).to.equal(true);
      expectClose(valuesSync(gFast!), valuesSync(gComposed!), { rtol: 1e-12, atol: 1e-14 }, 'first derivative');
      expect(valuesSync(gGraph!)).to.deep.equal(valuesSync(gComposed!));
      // a second derivative through the recorded graph: d/dW sum(grad · G)
      const [hh] = gg.autograd.grad(gGraph!.mul(G).sum(), [W]);
      const [hc] = gg.autograd.grad(gComposed!.mul(G).sum(), [W]);
      expect(valuesSync(hh!)).to.deep.equal(valuesSync(hc!));
    });

    it("a post hook on the division's node sees the recorded rule's gradients (g/sigma and dsigma), not the shortcut's", () => {
      const { W, G, sn } = setup(10);
      const y = sn.forward(W);
      const seen: (gg.Tensor | null)[][] = [];
      y.gradFn!.postHooks.push((gradInputs) => {
        seen.push(gradInputs.map((g) => g?.detach().clone() ?? null));
      });
      y.backward(G);
      const sigma = sn.sigma(W).detach();
      expect(seen.length).to.equal(1);
      const [gw, gs] = seen[0]!;
      expect(gs, 'sigma gets its gradient').to.not.equal(null);
      expect(maxDiff(gw!, G.div(sigma))).to.be.below(1e-12);
      const composed = W.div(sn.sigma(W));
      const [gc] = gg.autograd.grad(composed, [W], { gradOutputs: G });
      expect(maxDiff(W.grad as gg.Tensor, gc!)).to.be.below(1e-12);
    });

    it("a hook or a retained gradient on sigma's node declines the shortcut: it sees sigma's gradient, -sum(g·W)/sigma²", () => {
      for (const kind of ['pre hook', 'post hook', 'retained'] as const) {
        const { W, G, sn } = setup(11);
        const y = sn.forward(W);
        const sigmaNode = y.gradFn!.nextFunctions[1]![0]!;
        const seen: number[] = [];
        const holder = gg.zeros([], f64);
        if (kind === 'pre hook') sigmaNode.preHooks.set(0, [(g) => void seen.push(valuesSync(g)[0]!)]);
        if (kind === 'post hook') sigmaNode.postHooks.push((_, gradOutputs) => void seen.push(valuesSync(gradOutputs[0]!)[0]!));
        if (kind === 'retained') sigmaNode.retained.set(0, new WeakRef(holder));
        y.backward(G);
        if (kind === 'retained') seen.push(valuesSync(holder.grad as gg.Tensor)[0]!);
        const sigma = valuesSync(sn.sigma(W))[0]!;
        const [ws, gs] = [valuesSync(W), valuesSync(G)];
        const want = -ws.reduce((a, w, i) => a + w * gs[i]!, 0) / sigma ** 2;
        expect(seen.length, kind).to.equal(1);
        expect(Math.abs(seen[0]! - want), kind).to.be.below(1e-12);
      }
    });

    it('the power iteration in training: two fused kernels per normalisation (sum of squares, division)', async () => {
      const { W, sn } = setup(12);
      sn.train();
      const names = (await gg.profile(() => sn.forward(W))).kernels.map((k) => `${k.kernel} ${k.elements}`).filter((k) => /^[A-Z]/.test(k));
      // v = normalize(Wᵀu) (18 values), u = normalize(W v) (4), then W/sigma
      expect(names).to.deep.equal(['SquaredNorm 1', 'Normalize 4', 'SquaredNorm 1', 'Normalize 18', 'SpectralDivide 72']);
    });

    it('gradgradcheck (float64) of a spectral-normed Conv2d weight', async function () {
      this.timeout(60000);
      const { W, sn } = setup(7);
      expect(await gg.autograd.gradgradcheck((w: gg.Tensor) => sn.forward(w), [W])).to.equal(true);
    });

    it('a weight written in place after the forward is refused (the saved-tensor check runs first)', () => {
      const { W, G, sn } = setup(8);
      const w2 = W.mul(1);
      const y = sn.forward(w2);
      gg.noGrad(() => w2.mul_(2));
      expect(() => y.backward(G)).to.throw(/modified by an inplace operation/);
    });

    it('frees its copies of u and v with the graph: no tensor left after backward and dispose', () => {
      const { W, G, sn } = setup(9);
      const before = gg.memory().liveBuffers;
      gg.tidy(() => {
        sn.forward(W).backward(G);
      });
      (W.grad as gg.Tensor).dispose();
      W.grad = null;
      expect(gg.memory().liveBuffers).to.equal(before);
    });
  });

  describe('removeSpectralNorm', () => {
    it('leaves W/sigma (current u, v, no extra iteration) in the original Parameter object', () => {
      const lin = spectralNorm(new Linear(4, 3, f64));
      const w = listOf(lin).original;
      const sn = snOf(lin);
      const expected = sn.toMatrix(w).div(sn.sigma(w)).detach().clone();
      const u = valuesSync(sn._u);
      removeSpectralNorm(lin);
      expect(valuesSync(sn._u)).to.deep.equal(u);
      expect(lin.weight).to.equal(w);
      expect(maxDiff(lin.weight, expected)).to.be.below(1e-14);
      expect(isParametrized(lin)).to.equal(false);
      expect(Object.keys(lin.stateDict())).to.deep.equal(['bias', 'weight']);
      expect(sn.training).to.equal(true);
      expect(errorOf(() => removeSpectralNorm(lin))).to.equal(`spectral_norm of 'weight' not found in ${String(lin)}`);
    });

    it('a spectral norm can be registered again after removal, and a parametrized module round-trips its state', () => {
      const a = spectralNorm(new Linear(4, 3, f64));
      const b = spectralNorm(new Linear(4, 3, f64));
      b.loadStateDict(a.stateDict());
      a.eval();
      b.eval();
      const x = gg.randn([2, 4], f64);
      expect(maxDiff(a.call(x), b.call(x))).to.equal(0);
      removeSpectralNorm(a);
      spectralNorm(a);
      expect(isParametrized(a, 'weight')).to.equal(true);
    });
  });

  describe('lazy modules', () => {
    it('LazyLinear gets its spectral norm when the first forward materialises the weight', () => {
      const lazy = new LazyLinear(3, f64);
      spectralNorm(lazy);
      expect(isParametrized(lazy)).to.equal(false);
      const x = gg.randn([2, 5], f64);
      const y = lazy.call(x);
      expect(isParametrized(lazy, 'weight')).to.equal(true);
      expect(Object.keys(lazy.stateDict())).to.deep.equal(['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v']);
      // the output used the normalised weight
      lazy.eval();
      const expected = x.matmul(weightOf(lazy).t()).add(lazy.bias as gg.Tensor);
      expect(maxDiff(y, expected)).to.be.below(1e-12);
      expect(snOf(lazy)._v.shape).to.deep.equal([5]);
    });

    it('LazyConv2d and LazyConvTranspose2d (dim 1) too', () => {
      const conv = spectralNorm(new LazyConv2d(4, 3, f64));
      conv.call(gg.randn([1, 2, 5, 5], f64));
      expect(isParametrized(conv, 'weight')).to.equal(true);
      expect(snOf(conv)._u.shape).to.deep.equal([4]);
      expect(snOf(conv)._v.shape).to.deep.equal([18]);
      const tconv = spectralNorm(new LazyConvTranspose2d(4, 3, f64));
      tconv.call(gg.randn([1, 2, 5, 5], f64));
      expect(snOf(tconv).dim).to.equal(1);
      expect(snOf(tconv)._u.shape).to.deep.equal([4]);
    });

    it('removeSpectralNorm before materialisation cancels it', () => {
      const lazy = spectralNorm(new LazyLinear(3, f64));
      removeSpectralNorm(lazy);
      lazy.call(gg.randn([2, 5], f64));
      expect(isParametrized(lazy)).to.equal(false);
    });
  });

  describe('applySpectralNorm', () => {
    const model = (): gg.nn.Sequential =>
      new Sequential(
        new Conv2d(1, 2, 3, { padding: 1, ...f64 }),
        new BatchNorm2d(2, f64),
        new ReLU(),
        new Sequential(new Linear(4, 4, f64), new BatchNorm1d(4, f64), new Linear(4, 2, f64)),
        new LazyLinear(2, f64),
      );

    it('normalises every weighted layer, skipping normalisation layers', () => {
      const m = model();
      expect(applySpectralNorm(m)).to.deep.equal(['0', '3.0', '3.2', '4']);
      expect(isParametrized(m.at(1))).to.equal(false);
      expect(isParametrized((m.at(3) as gg.nn.Sequential).at(1))).to.equal(false);
      // idempotent: already normalised layers are skipped
      expect(applySpectralNorm(m)).to.deep.equal([]);
    });

    it('includeTypes, excludeTypes, excludeNames, predicate and spectral norm options', () => {
      expect(applySpectralNorm(model(), { includeTypes: [Linear] })).to.deep.equal(['3.0', '3.2', '4']);
      expect(applySpectralNorm(model(), { excludeTypes: [Conv2d] })).to.deep.equal(['3.0', '3.2', '4']);
      expect(applySpectralNorm(model(), { excludeNames: ['3', '4'] })).to.deep.equal(['0']);
      expect(applySpectralNorm(model(), { excludeNames: ['3.2'] })).to.deep.equal(['0', '3.0', '4']);
      expect(applySpectralNorm(model(), { predicate: (mod, name) => mod instanceof Linear && name !== '4' })).to.deep.equal(['3.0', '3.2']);
      // normalisation layers only when asked for by type
      const withBn = model();
      expect(applySpectralNorm(withBn, { includeTypes: [BatchNorm2d] })).to.deep.equal(['1']);
      const m = model();
      applySpectralNorm(m, { nPowerIterations: 3, eps: 1e-8 });
      expect(snOf(m.at(0)).nPowerIterations).to.equal(3);
      expect(snOf(m.at(0)).eps).to.equal(1e-8);
    });
  });

  describe('errors', () => {
    it("PyTorch's messages", () => {
      const lin = new Linear(4, 3, f64);
      expect(errorOf(() => spectralNorm(lin, { nPowerIterations: 0 }))).to.equal('Expected n_power_iterations to be positive, but got n_power_iterations=0');
      expect(errorOf(() => spectralNorm(lin, { dim: 2 }))).to.equal('Dimension out of range (expected to be in range of [-2, 1], but got 2)');
      expect(errorOf(() => spectralNorm(lin, { dim: -3 }))).to.equal('Dimension out of range (expected to be in range of [-2, 1], but got -3)');
      expect(errorOf(() => spectralNorm(lin, { name: 'foo' }))).to.equal(`Module '${String(lin)}' has no parameter or buffer with name 'foo'`);
      expect(errorOf(() => spectralNorm(new Linear(4, 3, { bias: false, ...f64 }), { name: 'bias' }))).to.match(/has no parameter or buffer with name 'bias'$/);
      expect(isParametrized(lin)).to.equal(false);
      expect(errorOf(() => spectralNorm(new LazyLinear(3, f64), { nPowerIterations: 0 }))).to.equal('Expected n_power_iterations to be positive, but got n_power_iterations=0');
    });
  });
});
