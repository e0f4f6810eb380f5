/**
 * The `normalize` primitive (tensor/normalize.ts): batch, instance, layer
 * and group norm's output with its own backward, against the composed chain
 * it replaces (moments, invStd and the fused `normalized` map of
 * nn/norm/functional.ts, whose gradients the engine derives op by op), on
 * every device: values, the gradients of x, weight and bias, the forward-mode
 * tangent; the clamp of a negative variance and the eps = 0 guard included.
 * On the cpu in float64 also gradcheck (with forward mode) and gradgradcheck.
 * The layers' PyTorch goldens are in normalization.test.ts and norm-extremes.test.ts.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { invStd, moments, normalized, normalizeOver } from '../../src/nn/norm/functional.js';
import { numKey, remember } from '../../src/tensor/normalize.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose, type Tol } from '../helpers/compare.js';

type T = gg.Tensor;

interface Case {
  name: string;
  x: number[];
  dims: number[];
  /** Shapes of weight and bias (broadcast against x), or null for none. */
  w: number[] | null;
  b: number[] | null;
  safe: boolean;
  eps: number;
  /** Make group 0 constant (with eps = 0: the zero guard; otherwise a zero variance). */
  constant?: boolean;
}

const cases: Case[] = [
  { name: 'batch norm (per-channel weight and bias)', x: [4, 3, 2, 3], dims: [0, 2, 3], w: [1, 3, 1, 1], b: [1, 3, 1, 1], safe: true, eps: 1e-5 },
  { name: 'batch norm, eps = 0 and a constant channel (the zero guard)', x: [3, 2, 5], dims: [0, 2], w: [1, 2, 1], b: [1, 2, 1], safe: true, eps: 0, constant: true },
  { name: 'instance norm (groups per sample and channel, weight per channel)', x: [2, 3, 4, 2], dims: [2, 3], w: [1, 3, 1, 1], b: [1, 3, 1, 1], safe: true, eps: 1e-3 },
  { name: 'layer norm (elementwise weight and bias over the groups)', x: [3, 2, 4], dims: [1, 2], w: [2, 4], b: [2, 4], safe: false, eps: 1e-5 },
  { name: 'group norm (weight varying inside a group)', x: [2, 2, 3, 4], dims: [2, 3], w: [1, 2, 3, 1], b: [1, 2, 3, 1], safe: false, eps: 1e-5 },
  { name: 'no weight, no bias, a constant group (zero variance, eps > 0)', x: [5, 2, 3], dims: [0, 2], w: null, b: null, safe: true, eps: 1e-2, constant: true },
  { name: 'weight only', x: [4, 3], dims: [0], w: [3], b: null, safe: true, eps: 1e-5 },
];

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const wave = (n: number, seed: number, scale = 2): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * scale + 0.3);

function inputs(k: Case, device: string, dtype: 'float32' | 'float64'): T[] {
  const xs = wave(size(k.x), 1, 3);
  if (k.constant) {
    // group 0 (index 0 along every kept dim) all equal
    xs.forEach((_, i) => {
      let rest = i;
      let first = true;
      for (let d = k.x.length - 1; d >= 0; d--) {
        const n = k.x[d] ?? 1;
        if (!k.dims.includes(d) && rest % n !== 0) first = false;
        rest = Math.floor(rest / n);
      }
      if (first) xs[i] = 0.75;
    });
  }
  const out = [gg.tensor(xs, { shape: k.x, device, dtype, requiresGrad: true })];
  if (k.w) out.push(gg.tensor(wave(size(k.w), 2).map((v) => v + 1), { shape: k.w, device, dtype, requiresGrad: true }));
  if (k.b) out.push(gg.tensor(wave(size(k.b), 3), { shape: k.b, device, dtype, requiresGrad: true }));
  return out;
}

function split(k: Case, ts: T[]): { x: T; w: T | null; b: T | null } {
  const [x, ...rest] = ts as [T, ...T[]];
  return { x, w: k.w ? (rest[0] as T) : null, b: k.b ? (rest[k.w ? 1 : 0] as T) : null };
}

/** The primitive, as the layers call it. */
function primitive(k: Case, ts: T[]): T {
  const { x, w, b } = split(k, ts);
  const m = gg.noGrad(() => moments(x.detach(), k.dims, { eps: k.eps }));
  return normalizeOver(x, m, w, b, k.safe, 'Test', k.dims);
}

/** The composed chain: recorded moments, invStd, then ((x - s)·k⁻¹ - m)·istd·w + b as one fused map. */
function composed(k: Case, ts: T[]): T {
  const { x, w, b } = split(k, ts);
  const m = moments(x, k.dims, { eps: k.eps });
  const is = invStd(m.var, m.epsScaled, k.safe);
  return normalized(m, m.centredMean, [is, ...(w ? [w] : [])], b);
}

/** Output, every input's gradient and the forward-mode tangent. */
async function run(k: Case, fn: (k: Case, ts: T[]) => T, device: string, dtype: 'float32' | 'float64'): Promise<number[][]> {
  const ts = inputs(k, device, dtype);
  const y = fn(k, ts);
  const gout = gg.tensor(wave(size(k.x), 9), { shape: k.x, device, dtype });
  y.mul(gout).sum().backward();
  const out = [Array.from(await y.data())];
  for (const t of ts) out.push(Array.from(await (t.grad as T).data()));
  const fw = gg.autograd.forwardAd;
  const tangent = fw.dualLevel(() => {
    const duals = ts.map((t, i) => fw.makeDual(t.detach(), gg.tensor(wave(size(t.shape), 20 + i), { shape: t.shape, device, dtype })));
    return fw.unpackDual(fn(k, duals)).tangent as T;
  });
  out.push(Array.from(await tangent.data()));
  return out;
}

describe('the normalize primitive\'s expressions are made once (remember)', () => {
  it('one value per key, made on the first call; numbers as keys keep -0 apart from 0', () => {
    let built = 0;
    const make = (): object => ({ n: ++built });
    const a = remember('test|remember|1', make);
    expect(remember('test|remember|1', make)).to.equal(a);
    expect(remember('test|remember|2', make)).to.not.equal(a);
    expect(built).to.equal(2);
    // kernel literals differ for -0 and 0 (backend/kernel.ts `float`), so their keys must
    expect(numKey(-0)).to.not.equal(numKey(0));
    expect([numKey(1e-5), numKey(NaN), numKey(Infinity)]).to.deep.equal(['0.00001', 'NaN', 'Infinity']);
  });

  it('a second BatchNorm2d step builds no expression: the per-group kernels are the ones of the first step', async () => {
    const bn = new gg.nn.BatchNorm2d(3);
    const x = gg.tensor(wave(2 * 3 * 4 * 4, 7), { shape: [2, 3, 4, 4], requiresGrad: true });
    const step = async (): Promise<string[]> => {
      for (const t of [x, ...bn.parameters()]) t.grad = null;
      return (await gg.profile(() => bn.forward(x).backward(gg.onesLike(x)), { source: true })).kernels.map((k) => `${k.kernel}: ${k.source ?? ''}`);
    };
    const first = await step();
    let built = 0;
    // every key of the step's expressions is taken now: a new key would call this builder
    const spy = <T>(k: string, b: () => T): T => remember(k, () => (built++, b()));
    expect(spy('statistics|32|true|0.00001', () => null)).to.not.equal(null);
    expect(built).to.equal(0);
    expect(await step()).to.deep.equal(first);
  });
});

describe('the normalize primitive: the composed chain, three passes backward', function () {
  this.timeout(120_000);
  forEachDevice((device) => {
    const dtypes = gg.deviceInfo(device).dtypes.includes('float64') ? (['float32', 'float64'] as const) : (['float32'] as const);
    for (const k of cases) {
      for (const dtype of dtypes) {
        it(`${k.name} (${dtype}): output, gradients and tangent as composed`, async () => {
          const tol: Tol = dtype === 'float64' ? { rtol: 1e-10, atol: 1e-10 } : { rtol: 1e-4, atol: 1e-4 };
          const [got, want] = [await run(k, primitive, device, dtype), await run(k, composed, device, dtype)];
          const labels = ['output', 'grad of x', ...(k.w ? ['grad of weight'] : []), ...(k.b ? ['grad of bias'] : []), 'tangent'];
          want.forEach((w, i) => expectClose(got[i] as number[], w, tol, `${k.name} on ${device}: ${labels[i]}`));
          if (k.constant && k.safe) for (const v of got.flat()) expect(Number.isFinite(v), 'finite where guarded').to.equal(true);
        });
      }
    }

    it('BatchNorm2d training step: the x passes are one forward map and three backward passes', async () => {
      const bn = new gg.nn.BatchNorm2d(3).to(device);
      const x = gg.tensor(wave(2 * 3 * 4 * 4, 5), { shape: [2, 3, 4, 4], device, requiresGrad: true });
      const p = await gg.profile(() => bn.forward(x).backward(gg.onesLike(x)));
      // the cpu device's WebAssembly engine maps y with the moments (MomentsOutput: 4·3 statistics and 96 values) and dx
      // with the backward's sums (NormGradFused: 2·3 sums and 96 values), one pass per group each
      const full = p.kernels.filter((r) => (r.elements === x.numel() || r.kernel === 'NormGradFused' || r.kernel === 'MomentsOutput') && r.kernel !== 'fill').map((r) => r.kernel);
      expect(full).to.deep.equal([full.includes('MomentsOutput') ? 'MomentsOutput' : 'NativeBatchNorm', full.includes('NormGradFused') ? 'NormGradFused' : 'NativeBatchNormGradInput']);
      expect(x.grad?.shape).to.deep.equal([2, 3, 4, 4]);
    });
  });

  describe('float64 on the cpu: gradcheck (with forward mode) and gradgradcheck', () => {
    // a constant group with eps = 0 is where the function jumps (finite differences see 0/0)
    for (const k of cases.filter((c) => !(c.constant && c.eps === 0))) {
      it(k.name, async () => {
        const ts = inputs(k, 'cpu', 'float64');
        const fn = (...xs: T[]) => primitive(k, xs);
        expect(await gg.autograd.gradcheck(fn, ts, { checkForwardAd: true })).to.equal(true);
        expect(await gg.autograd.gradgradcheck(fn, ts)).to.equal(true);
      });
    }
  });

  it('the node has PyTorch\'s name for each layer', () => {
    const x = gg.randn([2, 3, 4], { requiresGrad: true });
    expect(gg.nn.functional.batchNorm(x, null, null, null, null, true).gradFn?.name).to.equal('NativeBatchNormBackward0');
    expect(gg.nn.functional.layerNorm(x, [4]).gradFn?.name).to.equal('NativeLayerNormBackward0');
  });
});
