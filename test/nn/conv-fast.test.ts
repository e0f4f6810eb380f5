/**
 * The convolution step's fast paths (docs/notes/conv.md, "Fast paths";
 * docs/notes/bench.md, W6), against what they replace:
 * - matmul's `sum` attribute (tensor/ops.ts `productTo`): the gradient of an
 *   operand broadcast over batch dims (a convolution's weight) as one product
 *   that also sums over those dims, taken where the device packs its operands
 *   (the cpu device's float32 gemm). Its rule is gradchecked, gradgradchecked
 *   and forward-mode checked in float64; the float32 weight gradients match
 *   the float64 reference, with one matmul and no sum kernel for them;
 * - pooling over windows that tile the image (MaxPool2d(2) on an even image):
 *   a view reduced in place, no im2col or col2im pass; float64 values and
 *   gradients bit for bit those of the im2col path, ties, -∞ and NaN included.
 * The PyTorch goldens of every convolution and pooling module in float32 on
 * the cpu device are in conv.test.ts.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import * as F from '../../src/nn/conv.js';
import { apply } from '../../src/tensor/tensor.js';
import { expectClose, values } from '../helpers/compare.js';
import { leaf, rng } from '../helpers/random.js';

const { gradcheck, gradgradcheck } = gg.autograd;

describe('conv fast paths', function () {
  describe("matmul's sum attribute (a broadcast operand's gradient in one product)", function () {
    it('float64: forward = the product summed over the last batch dims; gradcheck, gradgradcheck, forward AD', async () => {
      const a = leaf([2, 3, 4, 5], 'any', 301);
      const b = leaf([3, 5, 2], 'any', 302);
      const y = a.matmulSum(b, 1);
      expect(y.shape).to.deep.equal([2, 4, 2]);
      expectClose(await values(y), await values(a.matmul(b).sum(1)), { rtol: 1e-12, atol: 1e-12 }, 'forward');
      const all = a.matmulSum(b.unsqueeze(0).expand(2, 3, 5, 2), 2);
      expectClose(await values(all), await values(a.matmul(b).sum([0, 1])), { rtol: 1e-12, atol: 1e-12 }, 'two dims');
      const fn = (x: gg.Tensor, w: gg.Tensor) => x.matmulSum(w, 1);
      expect(await gradcheck(fn, [leaf([2, 2, 3, 2], 'any', 303), leaf([2, 2, 2], 'any', 304)])).to.equal(true);
      expect(await gradgradcheck(fn, [leaf([2, 2, 3, 2], 'any', 305), leaf([2, 2, 2], 'any', 306)])).to.equal(true);
      expect(await gradcheck(fn, [leaf([2, 2, 3, 2], 'any', 307), leaf([2, 2, 2], 'any', 308)], { checkForwardAd: true, checkBackwardAd: false })).to.equal(true);
    });

    it('float32 on the cpu device: a broadcast weight gradient is one matmul and no sum kernel, equal to float64 to rounding', async () => {
      const r = rng(41);
      const xs = Array.from({ length: 6 * 2 * 7 * 9 }, () => r() * 2 - 1);
      const ws = Array.from({ length: 2 * 4 * 7 }, () => r() * 2 - 1);
      const gs = Array.from({ length: 6 * 2 * 4 * 9 }, () => r() * 2 - 1);
      const grads: number[][] = [];
      for (const dtype of ['float64', 'float32'] as const) {
        const x = gg.tensor(xs, { shape: [6, 2, 7, 9], dtype, requiresGrad: true });
        const w = gg.tensor(ws, { shape: [2, 4, 7], dtype, requiresGrad: true });
        const y = w.matmul(x);
        const g = gg.tensor(gs, { shape: [6, 2, 4, 9], dtype });
        const p = await gg.profile(() => y.backward(g));
        const names = p.kernels.map((k) => k.kernel);
        if (dtype === 'float32') {
          // w's gradient summed over the batch inside the product; x's gradient one product
          expect(names.filter((k) => k === 'matmul').length, names.join(' ')).to.equal(2);
          expect(names.filter((k) => k === 'sum').length, names.join(' ')).to.equal(0);
        } else {
          // float64 keeps the reference path: one product per entry, then the engine's sum
          expect(names.filter((k) => k === 'sum').length, names.join(' ')).to.equal(1);
        }
        grads.push(await values(w.grad!), await values(x.grad!));
      }
      expectClose(grads[2]!, grads[0]!, { rtol: 1e-5, atol: 1e-5 }, 'weight grad');
      expectClose(grads[3]!, grads[1]!, { rtol: 1e-5, atol: 1e-5 }, 'input grad');
    });

    it('float32 on the cpu device: a Conv2d-BatchNorm-ReLU-MaxPool stack (W6) matches the float64 reference', async () => {
      const r = rng(43);
      const xs = Array.from({ length: 5 * 3 * 12 * 10 }, () => r() * 2 - 1);
      const results: number[][] = [];
      for (const dtype of ['float64', 'float32'] as const) {
        gg.manualSeed(3);
        const model = new gg.nn.Sequential(
          new gg.nn.Conv2d(3, 6, 3, { padding: 1, dtype }), new gg.nn.BatchNorm2d(6, { dtype }), new gg.nn.ReLU(), new gg.nn.MaxPool2d(2),
          new gg.nn.Conv2d(6, 4, 3, { padding: 1, dtype }), new gg.nn.ReLU(), new gg.nn.MaxPool2d(2),
        );
        const x = gg.tensor(xs, { shape: [5, 3, 12, 10], dtype, requiresGrad: true });
        const y = model.call(x);
        expect(y.shape).to.deep.equal([5, 4, 3, 2]);
        y.mul(y).sum().backward();
        results.push(await values(y), await values(x.grad!));
        for (const p of model.parameters()) results.push(await values(p.grad!));
      }
      const half = results.length / 2;
      for (let i = 0; i < half; i++) expectClose(results[half + i]!, results[i]!, { rtol: 1e-4, atol: 1e-4 }, `result ${i}`);
    });
  });

  describe('pooling over windows that tile the image: a view, no im2col/col2im', function () {
    /** Values with ties, -∞ and NaN in some windows. */
    function input(shape: number[], seed: number): number[] {
      const r = rng(seed);
      const n = shape.reduce((a, b) => a * b, 1);
      return Array.from({ length: n }, (_, i) => (i % 11 === 0 ? Number.NEGATIVE_INFINITY : i % 17 === 0 ? Number.NaN : i % 5 === 0 ? 0.5 : Math.round(r() * 8) / 4));
    }

    /** The im2col path, written out: the windows as columns (N, C, *kernel, *out), reduced over the kernel dims. */
    const viaIm2col = (x: gg.Tensor, kernel: number[], value: number): gg.Tensor => {
      const r = kernel.length;
      const inSize = x.shape.slice(-r);
      const cols = apply('im2col', [x], { kernel, stride: kernel, padding: kernel.map(() => 0), dilation: kernel.map(() => 1), inSize, outSize: inSize.map((n, d) => n / (kernel[d] ?? 1)), value });
      const dims = kernel.map((_, d) => x.ndim - r + d);
      return value === 0 ? cols.sum(dims) : cols.max(dims);
    };
    const cases: [string, number[], (x: gg.Tensor) => gg.Tensor, (x: gg.Tensor) => gg.Tensor][] = [
      ['maxPool2d(2)', [2, 3, 6, 8], (x) => F.maxPool2d(x, 2), (x) => viaIm2col(x, [2, 2], -Infinity)],
      ['maxPool2d([2, 4])', [2, 2, 4, 8], (x) => F.maxPool2d(x, [2, 4]), (x) => viaIm2col(x, [2, 4], -Infinity)],
      ['maxPool1d(3)', [2, 3, 9], (x) => F.maxPool1d(x, 3), (x) => viaIm2col(x, [3], -Infinity)],
      ['maxPool3d(2), unbatched', [2, 4, 2, 6], (x) => F.maxPool3d(x, 2), (x) => viaIm2col(x, [2, 2, 2], -Infinity)],
      ['avgPool2d(2)', [2, 3, 6, 8], (x) => F.avgPool2d(x, 2), (x) => viaIm2col(x, [2, 2], 0).div(4)],
      ['avgPool2d(3, divisorOverride 2)', [1, 2, 6, 9], (x) => F.avgPool2d(x, 3, { divisorOverride: 2 }), (x) => viaIm2col(x, [3, 3], 0).div(2)],
    ];
    /** Bits, except the sign of a zero: a zero gradient is +0 after col2im's sum and may be -0 (0·g, g < 0) without it. */
    const bits = async (t: gg.Tensor): Promise<number[]> => Array.from(await t.data(), (v) => (v === 0 ? 0 : v));
    for (const [label, shape, fn, reference] of cases) {
      it(`${label}: float64 values and gradients bit for bit the im2col path's`, async () => {
        const vals = input(shape, shape.length * 7);
        const r = rng(9);
        const gv = Array.from({ length: 400 }, () => r() * 2 - 1);
        const run = async (f: (x: gg.Tensor) => gg.Tensor) => {
          const x = gg.tensor(vals, { shape, dtype: 'float64', requiresGrad: true });
          const p = await gg.profile(() => {
            const y = f(x);
            y.backward(gg.tensor(gv.slice(0, y.numel()), { shape: y.shape, dtype: 'float64' }));
            return y;
          });
          return { names: p.kernels.map((k) => k.kernel), y: await bits(p.result), g: await bits(x.grad!) };
        };
        const fast = await run(fn);
        const ref = await run(reference);
        expect(fast.names, fast.names.join(' ')).to.not.include('im2col');
        expect(fast.names, fast.names.join(' ')).to.not.include('col2im');
        expect(ref.names).to.include('col2im');
        expect(fast.y).to.deep.equal(ref.y);
        expect(fast.g).to.deep.equal(ref.g);
      });
    }

    it('windows that do not tile (odd size, stride ≠ kernel, padding) keep im2col', async () => {
      for (const fn of [(x: gg.Tensor) => F.maxPool2d(x, 2), (x: gg.Tensor) => F.maxPool2d(x, 2, { stride: 1 }), (x: gg.Tensor) => F.maxPool2d(x, 2, { padding: 1 })]) {
        const x = gg.rand([1, 2, 5, 6], { dtype: 'float64' });
        const p = await gg.profile(() => fn(x));
        expect(p.kernels.map((k) => k.kernel)).to.include('im2col');
      }
    });
  });
});
