/**
 * float64 accuracy sweep (issue 13): every unary formula and the composite
 * reductions within a few ulp of PyTorch 1.13 over log-spaced inputs from
 * 1e-300 to 1e300 and their negatives (test/fixtures/torch_accuracy.json),
 * on the cpu device. The norm layers' moments are covered at extreme
 * magnitudes by test/nn/norm-extremes.test.ts.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { fixture } from '../helpers/compare.js';
import { decodeAll, type SpecialGolden } from '../helpers/special.js';

interface Pair {
  output: SpecialGolden;
  grad: SpecialGolden;
  gout?: SpecialGolden;
}
const fx = fixture<Record<string, SpecialGolden | Pair>>('torch_accuracy.json');

const MIN_NORMAL = 2.2250738585072014e-308;

/**
 * Distance in units in the last place of `scale` (default `e`); 0 when both
 * are the same non-finite value, and when both are subnormal: PyTorch's
 * sigmoid and pow flush results below 2.2e-308 to 0 where gpugrad keeps the
 * subnormal value (docs/notes/special-values.md).
 */
export function ulps(a: number, e: number, scale = e): number {
  if (Number.isNaN(e) || Number.isNaN(a)) return Number.isNaN(e) && Number.isNaN(a) ? 0 : Infinity;
  if (a === e) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(e)) return Infinity;
  if (Math.abs(a) < MIN_NORMAL && Math.abs(e) < MIN_NORMAL) return 0;
  const mag = Math.max(Math.abs(scale), Math.abs(e), MIN_NORMAL);
  const ulp = 2 ** (Math.floor(Math.log2(mag)) - 52);
  return Math.abs(a - e) / ulp;
}

/**
 * The largest error in ulps; with `rowLength`, in ulps of the row's largest
 * expected magnitude (gradients of reductions cancel within a row, and
 * PyTorch's value carries that rounding too).
 */
function worst(got: ArrayLike<number>, want: number[], rowLength = 0, floor = 0, scaleOf: number[] = want): { ulps: number; at: number } {
  let w = { ulps: 0, at: -1 };
  const rowMax = (i: number): number => {
    const start = i - (i % rowLength);
    return Math.max(...scaleOf.slice(start, start + rowLength).filter(Number.isFinite).map(Math.abs));
  };
  want.forEach((e, i) => {
    const u = ulps(got[i] as number, e, Math.max(rowLength ? rowMax(i) : e, floor));
    if (u > w.ulps) w = { ulps: u, at: i };
  });
  return w;
}

const x = decodeAll(fx['x'] as SpecialGolden);

/** gpugrad's version of each swept function (the same input transforms as the script). */
const UNARY: Record<string, (t: gg.Tensor) => gg.Tensor> = {
  tanh: (t) => t.tanh(),
  sigmoid: (t) => t.sigmoid(),
  exp: (t) => t.exp(),
  log: (t) => t.abs().log(),
  sqrt: (t) => t.abs().sqrt(),
  pow2: (t) => t.pow(2),
  'pow0.5': (t) => t.abs().pow(0.5),
  pow3: (t) => t.pow(3),
  powNeg1: (t) => t.pow(-1),
};

/** Allowed ulps per function: [output, gradient]. */
const MAX_ULPS: Record<string, [number, number]> = {
  tanh: [2, 4],
  sigmoid: [2, 4],
  exp: [1, 1],
  log: [1, 1],
  sqrt: [1, 1],
  pow2: [1, 1],
  'pow0.5': [1, 2],
  pow3: [1, 2],
  powNeg1: [1, 2],
  logsumexp: [4, 4],
  softmax: [4, 8],
  var: [4, 8],
  std: [4, 8],
  var_biased: [4, 8],
};

describe('float64 accuracy sweep against PyTorch (1e-300 .. 1e300 and negatives)', () => {
  it(`covers ${x.length} inputs`, () => {
    expect(x.length).to.be.greaterThan(60);
    expect(Math.min(...x.map(Math.abs))).to.be.at.most(1e-300);
    expect(Math.max(...x)).to.be.at.least(1e300);
  });
  for (const [name, fn] of Object.entries(UNARY)) {
    it(`${name}: output and gradient within ${MAX_ULPS[name]!.join(' / ')} ulp`, async () => {
      const want = fx[name] as Pair;
      const t = gg.tensor(x, { dtype: 'float64', requiresGrad: true });
      const y = fn(t);
      y.sum().backward();
      const wo = worst(await y.data(), decodeAll(want.output));
      // 1 - tanh² and σ(1 - σ) cancel near saturation: an ulp of difference in the output (PyTorch
      // uses its own vectorised tanh) is an ulp of 1 in the gradient, so those are measured in ulps of 1
      const floor = name === 'tanh' || name === 'sigmoid' ? 1 : 0;
      const wg = worst(await (t.grad as gg.Tensor).data(), decodeAll(want.grad), 0, floor);
      const [maxOut, maxGrad] = MAX_ULPS[name]!;
      expect(wo.ulps, `${name} output at x=${x[wo.at]}`).to.be.at.most(maxOut);
      expect(wg.ulps, `${name} grad at x=${x[wg.at]}`).to.be.at.most(maxGrad);
    });
  }
  const rows = fx['rows'] as SpecialGolden;
  const REDUCE: Record<string, (t: gg.Tensor) => gg.Tensor> = {
    logsumexp: (t) => t.logsumexp(1),
    softmax: (t) => t.softmax(1),
    var: (t) => t.var(1),
    std: (t) => t.std(1),
    var_biased: (t) => t.var(1, { unbiased: false }),
  };
  for (const [name, fn] of Object.entries(REDUCE)) {
    it(`${name} over rows of one magnitude each: output and gradient within ${MAX_ULPS[name]!.join(' / ')} ulp`, async () => {
      const want = fx[name] as Pair;
      const t = gg.tensor(decodeAll(rows), { shape: rows.shape, dtype: 'float64', requiresGrad: true });
      const y = fn(t);
      y.backward(gg.tensor(decodeAll(want.gout as SpecialGolden), { shape: y.shape, dtype: 'float64' }));
      const wo = worst(await y.data(), decodeAll(want.output));
      // the gradients cancel within a row (softmax: y·(g - Σ g·y)): ulps of the row's largest gradient
      // term, |gout| for softmax, the gradient itself for the others
      const gout = decodeAll(want.gout as SpecialGolden);
      const scaleOf = name === 'softmax' ? gout : decodeAll(want.grad);
      const wg = worst(await (t.grad as gg.Tensor).data(), decodeAll(want.grad), rows.shape[1], 0, scaleOf);
      const [maxOut, maxGrad] = MAX_ULPS[name]!;
      expect(wo.ulps, `${name} output at ${wo.at}`).to.be.at.most(maxOut);
      expect(wg.ulps, `${name} grad at ${wg.at}`).to.be.at.most(maxGrad);
    });
  }
});
