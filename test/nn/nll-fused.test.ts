/**
 * nllLoss / crossEntropy with class indices: the fused target pick (nn/loss.ts
 * `pickTargets`: the target mask, Σ where(mask, logp, 0), -(that·w) as three
 * kernels) against the composed chain it replaces, on every device: values and
 * gradients for every reduction, class weights, ignoreIndex, spatial input
 * and -inf log-probabilities; float64 bit for bit on the cpu, with second
 * derivatives through createGraph.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose } from '../helpers/compare.js';

type T = gg.Tensor;
type Reduction = 'none' | 'sum' | 'mean';
const F = gg.nn.functional;

/** The composed chain (loss.ts before the fused pick), class dim 1. */
function composedNll(logp: T, target: T, weight: T | null, ignoreIndex: number, reduction: Reduction): T {
  const c = logp.shape[1] ?? 0;
  const along = (t: T): T => t.reshape(...logp.shape.map((_, d) => (d === 1 ? c : 1)));
  const t = target.detach().to(logp.dtype);
  const classes = along(gg.arange(c, { dtype: logp.dtype, device: logp.device }));
  const valid = t.ne(ignoreIndex);
  const onehot = t.unsqueeze(1).eq(classes).mul(valid.unsqueeze(1));
  const w = weight ? onehot.mul(along(weight)).sum(1) : onehot.sum(1);
  const nll = logp.where(onehot, 0).sum(1).mul(w).neg();
  if (reduction === 'none') return nll;
  if (reduction === 'sum') return nll.sum();
  return nll.sum().div(w.sum());
}

function composedLogSoftmax(x: T): T {
  const m = gg.noGrad(() => x.max(1, true));
  const shifted = x.sub(m);
  return shifted.sub(shifted.exp().sum(1, true).log());
}

const wave = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + seed) * 2);
const values = async (t: T): Promise<number[]> => Array.from(await t.data());

describe('nllLoss / crossEntropy: the fused target pick is the composed chain', function () {
  this.timeout(120_000);

  forEachDevice((device) => {
    const dtypes = gg.deviceInfo(device).dtypes.includes('float64') ? (['float32', 'float64'] as const) : (['float32'] as const);
    for (const dtype of dtypes) {
      it(`(${dtype}) values and gradients: reductions, weights, ignoreIndex, spatial input, -inf log-probabilities`, async () => {
        const exact = dtype === 'float64' && device === 'cpu';
        const same = (a: number[], b: number[], label: string): void => {
          if (exact) expect(a, label).to.deep.equal(b);
          else expectClose(a, b, dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-6 }, label);
        };
        const cases: { shape: number[]; target: number[]; weight?: number[]; ignoreIndex?: number; negInf?: boolean }[] = [
          { shape: [5, 4], target: [0, 3, 1, 1, 2] },
          { shape: [5, 4], target: [0, 3, -100, 1, 2], weight: [0.5, 2, 1, 3] },
          { shape: [4, 3], target: [2, 1, 2, 0], ignoreIndex: 2 },
          { shape: [2, 3, 2, 2], target: [0, 1, 2, 0, 2, 2, 1, 0] },
          { shape: [3, 4], target: [1, 0, 3], negInf: true },
        ];
        for (const k of cases) {
          for (const reduction of ['none', 'sum', 'mean'] as const) {
            const n = k.shape.reduce((a, b) => a * b, 1);
            const raw = wave(n, 1);
            if (k.negInf) raw[2] = -Infinity; // another class's log-probability is -inf
            const logp = gg.tensor(raw, { shape: k.shape, dtype, device, requiresGrad: true });
            const tshape = [k.shape[0]!, ...k.shape.slice(2)];
            const target = gg.tensor(k.target, { shape: tshape, dtype: 'int64', device });
            const weight = k.weight ? gg.tensor(k.weight, { dtype, device }) : null;
            const ignoreIndex = k.ignoreIndex ?? -100;
            const label = `${device} ${dtype} ${k.shape.join('x')} ${reduction}${weight ? ' weighted' : ''} ignore ${ignoreIndex}`;
            const y = F.nllLoss(logp, target, { weight, ignoreIndex, reduction });
            const r = composedNll(logp, target, weight, ignoreIndex, reduction);
            same(await values(y), await values(r), `${label} values`);
            const g = gg.tensor(wave(y.numel(), 2), { shape: y.shape, dtype, device });
            const [gy] = gg.autograd.grad(y, [logp], { gradOutputs: g });
            const [gr] = gg.autograd.grad(r, [logp], { gradOutputs: g });
            same(await values(gy!), await values(gr!), `${label} gradient`);
          }
        }
      });

      it(`(${dtype}) crossEntropy: loss, gradient and second derivative as the composed chain`, async () => {
        const exact = dtype === 'float64' && device === 'cpu';
        const x = gg.tensor(wave(24, 3), { shape: [6, 4], dtype, device, requiresGrad: true });
        const target = gg.tensor([0, 3, 1, 1, 2, 0], { dtype: 'int64', device });
        const y = F.crossEntropy(x, target);
        const r = composedNll(composedLogSoftmax(x), target, null, -100, 'mean');
        const [gy] = gg.autograd.grad(y, [x], { createGraph: true });
        const [gr] = gg.autograd.grad(r, [x], { createGraph: true });
        const v = gg.tensor(wave(24, 4), { shape: [6, 4], dtype, device });
        const [hy] = gg.autograd.grad(gy!.mul(v).sum(), [x]);
        const [hr] = gg.autograd.grad(gr!.mul(v).sum(), [x]);
        const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-6 };
        // the second derivative runs the fused rules' own derivatives: the same formulas, summed in another order
        for (const [a, b, what] of [[y, r, 'loss'], [gy!, gr!, 'gradient'], [hy!, hr!, 'second derivative']] as const) {
          if (exact && what !== 'second derivative') expect(await values(a), `${device} ${what}`).to.deep.equal(await values(b));
          else expectClose(await values(a), await values(b), tol, `${device} ${dtype} ${what}`);
        }
      });
    }
  });

  it("records PyTorch's NllLossBackward0 for the per-element loss; fewer kernels than the composed chain (cpu)", async () => {
    const logp = gg.tensor(wave(20, 5), { shape: [5, 4], requiresGrad: true });
    const target = gg.tensor([0, 3, 1, 1, 2], { dtype: 'int64' });
    const y = F.nllLoss(logp, target, { reduction: 'none' });
    expect(y.gradFn?.name).to.equal('NllLossBackward0');
    const fused = await gg.profile(() => F.nllLoss(logp, target));
    const composed = await gg.profile(() => composedNll(logp, target, null, -100, 'mean'));
    expect(fused.kernels.length).to.be.below(composed.kernels.length);
  });

  it('gradcheck (float64) through crossEntropy with weights and an ignored target', async () => {
    const x = gg.tensor(wave(15, 6), { shape: [5, 3], dtype: 'float64', requiresGrad: true });
    const target = gg.tensor([0, 2, 1, 2, 1], { dtype: 'int64' });
    const weight = gg.tensor([0.3, 1.5, 2], { dtype: 'float64' });
    expect(await gg.autograd.gradcheck((t: T) => F.crossEntropy(t, target, { weight, ignoreIndex: 1 }), [x])).to.equal(true);
    expect(await gg.autograd.gradgradcheck((t: T) => F.crossEntropy(t, target, { weight }), [x])).to.equal(true);
  });
});
