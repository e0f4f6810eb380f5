/**
 * logSoftmax as two fused kernels with a two-pass backward (composites.ts
 * `fusedLogSoftmax`, `LogSoftmaxShortcut`) against the composed chain it
 * replaces ((x - m) - log Σ e^(x - m), m the detached max): values, the
 * gradient with and without createGraph, second derivatives, forward-mode
 * tangents and special values, on every device; gradcheck and gradgradcheck
 * in float64 on the cpu.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose, type Tol } from '../helpers/compare.js';

type T = gg.Tensor;

/** The composed chain (composites.ts before the fused form). */
function composed(x: T, d: number): T {
  const m = gg.noGrad(() => x.max(d, true));
  const shifted = x.sub(m);
  return shifted.sub(shifted.exp().sum(d, true).log());
}

const wave = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * 3);
const values = async (t: T): Promise<number[]> => Array.from(await t.data());

describe('logSoftmax: fused, with a two-pass backward', function () {
  this.timeout(120_000);

  forEachDevice((device) => {
    const dtypes = gg.deviceInfo(device).dtypes.includes('float64') ? (['float32', 'float64'] as const) : (['float32'] as const);
    for (const dtype of dtypes) {
      it(`(${dtype}) output, gradient, createGraph gradient, second derivative and tangent as composed, over dims 0, 1, -1`, async () => {
        const exact = dtype === 'float64' && device === 'cpu';
        const tol: Tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-5 };
        const same = (a: number[], b: number[], label: string): void => {
          if (exact) expect(a, label).to.deep.equal(b);
          else expectClose(a, b, tol, label);
        };
        for (const [shape, dim] of [[[5, 7], 1], [[5, 7], 0], [[2, 3, 4], -1]] as const) {
          const n = shape.reduce((a, b) => a * b, 1);
          const x = gg.tensor(wave(n, 1), { shape: [...shape], dtype, device, requiresGrad: true });
          const g = gg.tensor(wave(n, 2), { shape: [...shape], dtype, device });
          const label = `${device} ${dtype} ${shape.join('x')} dim ${dim}`;
          const y = x.logSoftmax(dim);
          const r = composed(x, dim < 0 ? dim + shape.length : dim);
          same(await values(y), await values(r), `${label} values`);
          // without createGraph: the shortcut
          const [gy] = gg.autograd.grad(y, [x], { gradOutputs: g, retainGraph: true });
          const [gr] = gg.autograd.grad(r, [x], { gradOutputs: g, retainGraph: true });
          same(await values(gy!), await values(gr!), `${label} gradient`);
          // with createGraph: the recorded rules, and a second derivative through them
          const [cy] = gg.autograd.grad(y, [x], { gradOutputs: g, createGraph: true });
          const [cr] = gg.autograd.grad(r, [x], { gradOutputs: g, createGraph: true });
          same(await values(cy!), await values(cr!), `${label} createGraph gradient`);
          const [hy] = gg.autograd.grad(cy!.mul(g).sum(), [x]);
          const [hr] = gg.autograd.grad(cr!.mul(g).sum(), [x]);
          expectClose(await values(hy!), await values(hr!), dtype === 'float64' ? { rtol: 1e-10, atol: 1e-10 } : { rtol: 1e-4, atol: 1e-4 }, `${label} second derivative`);
          // forward mode
          const fw = gg.autograd.forwardAd;
          const tangent = (fn: (t: T) => T): T =>
            fw.dualLevel(() => fw.unpackDual(fn(fw.makeDual(x.detach(), gg.tensor(wave(n, 3), { shape: [...shape], dtype, device })))).tangent as T);
          expectClose(await values(tangent((t) => t.logSoftmax(dim))), await values(tangent((t) => composed(t, dim < 0 ? dim + shape.length : dim))), tol, `${label} tangent`);
        }
      });

      it(`(${dtype}) special values as composed: -inf entries, a row of -inf, +inf, NaN`, async () => {
        const inf = Infinity;
        const rows = [
          [1, -inf, 2, 0.5],
          [-inf, -inf, -inf, -inf],
          [1, inf, 2, 0],
          [1, NaN, 2, 0],
        ];
        const x = gg.tensor(rows.flat(), { shape: [4, 4], dtype, device, requiresGrad: true });
        const g = gg.tensor(wave(16, 4), { shape: [4, 4], dtype, device });
        const y = x.logSoftmax(1);
        const r = composed(x, 1);
        const [gy] = gg.autograd.grad(y, [x], { gradOutputs: g });
        const [gr] = gg.autograd.grad(r, [x], { gradOutputs: g });
        const nanSame = (a: number[], b: number[], label: string): void => {
          a.forEach((v, i) => {
            const e = b[i] as number;
            if (Number.isNaN(e) || !Number.isFinite(e)) expect(Object.is(v, e) || (Number.isNaN(v) && Number.isNaN(e)), `${label}[${i}]: ${v} vs ${e}`).to.equal(true);
            else expect(Math.abs(v - e), `${label}[${i}]`).to.be.at.most(1e-5 * (1 + Math.abs(e)));
          });
        };
        nanSame(await values(y), await values(r), `${device} ${dtype} values`);
        nanSame(await values(gy!), await values(gr!), `${device} ${dtype} gradient`);
      });
    }
  });

  it('records LogSoftmaxBackward0 over x and log(SumExp); four kernels forward, two backward (cpu)', async () => {
    const x = gg.tensor(wave(12, 5), { shape: [3, 4], requiresGrad: true });
    const fwd = await gg.profile(() => x.logSoftmax(1));
    const y = fwd.result;
    // the detached max, Σ e^(x - m), its log, the output
    expect(fwd.kernels.map((k) => k.kernel).slice(1)).to.deep.equal(['SumExp', 'log', 'LogSoftmax']);
    expect(fwd.kernels.length).to.equal(4);
    expect(y.gradFn?.name).to.equal('LogSoftmaxBackward0');
    expect(y.gradFn!.nextFunctions.map(([n]) => n?.name ?? null)).to.deep.equal(['AccumulateGrad', null, 'LogBackward0']);
    expect(y.gradFn!.nextFunctions[2]![0]!.nextFunctions[0]![0]!.name).to.equal('SumExpBackward0');
    const g = gg.onesLike(y);
    const bwd = await gg.profile(() => y.backward(g));
    expect(bwd.kernels.map((k) => k.kernel)).to.deep.equal(['LogSoftmaxBackwardSum', 'LogSoftmaxBackward']);
  });

  it('gradcheck and gradgradcheck (float64)', async () => {
    const x = gg.tensor(wave(15, 6), { shape: [3, 5], dtype: 'float64', requiresGrad: true });
    expect(await gg.autograd.gradcheck((t: T) => t.logSoftmax(1), [x])).to.equal(true);
    expect(await gg.autograd.gradgradcheck((t: T) => t.logSoftmax(0), [x])).to.equal(true);
  });
});
