/**
 * The cpu device's float32 window passes (backend/window-passes.ts,
 * tensor/window-fast.ts; docs/notes/architecture.md, "The window fast
 * path") against the IR kernels they replace, on the same inputs (the
 * device's `fastWindows` on, then off): col2im over every geometry the conv
 * tests use (1d-3d, stride, dilation, padding, disjoint windows, strided
 * columns), and the max reduction over small windows with its backward
 * (pooling views and im2col columns, ties, NaN, ±∞, signed zeros, strided
 * inputs), bit for bit; where the passes must step aside (float64, a long
 * window, a recorded double backward); and a W6-shaped step against the
 * float64 reference. The PyTorch goldens of every pooling and convolution
 * module in float32 on the cpu device (conv.test.ts) run with the passes on.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { getDevice } from '../../src/backend/registry.js';
import { CpuDevice } from '../../src/backend/cpu.js';
import { apply } from '../../src/tensor/tensor.js';
import { expectClose, values } from '../helpers/compare.js';
import { rng } from '../helpers/random.js';
import { skipBecause } from '../helpers/devices.js';
import { onThenOff } from '../helpers/switches.js';

const cpu = getDevice('cpu') as CpuDevice;
const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** `fn` with the window passes (the IR kernels when off) on and then off, restoring the setting. */
const both = <R>(fn: () => Promise<R>): Promise<[R, R]> => onThenOff(cpu, 'fastWindows', fn);

/** Names of the kernels `fn` runs. */
async function kernels(fn: () => unknown): Promise<string[]> {
  const p = await gg.profile(fn);
  return p.kernels.map((k) => k.kernel);
}

/** Equal as float32 bit patterns (NaN equal to NaN, +0 not equal to -0). */
function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  expect(a.length, label).to.equal(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) expect.fail(`${label}: element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

/** Values in [-2, 2] rounded to quarters, many zeros of both signs (ties everywhere), and with `specials` NaN and ±∞. */
function data(n: number, seed: number, specials = false): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const u = r();
    if (specials && u < 0.05) return NaN;
    if (specials && u < 0.08) return -Infinity;
    if (specials && u < 0.1) return Infinity;
    if (u < 0.25) return -0;
    if (u < 0.4) return 0;
    return Math.round((r() * 4 - 2) * 4) / 4;
  });
}

const f32 = (xs: number[], shape: number[], requiresGrad = false): gg.Tensor => gg.tensor(xs, { shape, dtype: 'float32', requiresGrad });

describe("the cpu device's float32 window passes", function () {
  this.timeout(60_000);

  describe('col2im', () => {
    const geoms: { name: string; lead: number[]; g: { kernel: number[]; stride: number[]; padding: number[]; dilation: number[]; inSize: number[] } }[] = [
      { name: '1d stride 2 pad 1', lead: [2, 3], g: { kernel: [3], stride: [2], padding: [1], dilation: [1], inSize: [7] } },
      { name: '1d dilation 2', lead: [1, 2], g: { kernel: [2], stride: [1], padding: [0], dilation: [2], inSize: [8] } },
      { name: '2d 3×3 pad 1 (W6)', lead: [3, 4], g: { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], inSize: [9, 7] } },
      { name: '2d stride 2 pad 1 dil 2', lead: [1, 2], g: { kernel: [3, 2], stride: [2, 1], padding: [1, 0], dilation: [2, 1], inSize: [6, 5] } },
      { name: '2d stride 3 > kernel', lead: [1, 1], g: { kernel: [2, 2], stride: [3, 3], padding: [1, 0], dilation: [1, 1], inSize: [7, 7] } },
      { name: '2d disjoint pooling windows', lead: [2, 2], g: { kernel: [2, 3], stride: [2, 3], padding: [1, 1], dilation: [1, 1], inSize: [7, 6] } },
      { name: '3d', lead: [1, 2], g: { kernel: [2, 2, 3], stride: [1, 2, 2], padding: [1, 0, 1], dilation: [1, 1, 1], inSize: [4, 3, 5] } },
      { name: '1d kernel 1', lead: [1, 3], g: { kernel: [1], stride: [1], padding: [0], dilation: [1], inSize: [5] } },
    ];
    const outOf = (g: (typeof geoms)[number]['g']): number[] =>
      g.inSize.map((n, d) => Math.floor((n + 2 * g.padding[d]! - g.dilation[d]! * (g.kernel[d]! - 1) - 1) / g.stride[d]!) + 1);

    for (const { name, lead, g } of geoms) {
      it(`equals the IR kernel bit for bit (${name})`, async () => {
        const geom = { ...g, outSize: outOf(g) };
        const shape = [...lead, ...g.kernel, ...geom.outSize];
        const cols = f32(data(size(shape), 11, true), shape);
        const [fast, ir] = await both(async () => values(apply('col2im', [cols], geom)));
        expectSame(fast, ir, name);
        // and the float64 reference, to float32 rounding
        const ref = await values(apply('col2im', [cols.double()], geom));
        expectClose(fast.map((v) => (Number.isNaN(v) ? 0 : v)), ref.map((v) => (Number.isNaN(v) ? 0 : v)), { rtol: 1e-6, atol: 1e-6 }, 'float64');
      });
    }

    it('reads strided columns and a view with an offset', async () => {
      const geom = { kernel: [2, 2], stride: [1, 1], padding: [1, 0], dilation: [1, 1], inSize: [5, 2], outSize: [6, 1] };
      const base = f32(data(2 * 4 * 2 * 2 * 6, 12), [2, 4, 2, 2, 6, 1]);
      const views = [base.transpose(2, 3), base.narrow(0, 1, 1), base.transpose(0, 1).narrow(0, 1, 2).transpose(0, 1)];
      for (const [i, y] of views.entries()) {
        const [fast, ir] = await both(async () => values(apply('col2im', [y], geom)));
        expectSame(fast, ir, `view ${i}`);
        expectSame(fast, await values(apply('col2im', [y.contiguous()], geom)), `view ${i} against its contiguous copy`);
      }
    });

    it('is one col2im kernel; float64 keeps the IR kernel (same name, same count)', async () => {
      const geom = { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], inSize: [6, 6], outSize: [6, 6] };
      for (const dtype of ['float32', 'float64'] as const) {
        const cols = gg.tensor(data(2 * 9 * 36, 13), { shape: [1, 2, 3, 3, 6, 6], dtype });
        expect(await kernels(() => apply('col2im', [cols], geom))).to.deep.equal(['col2im']);
      }
    });
  });

  describe('max over small windows, forward and backward', () => {
    /** y = x.amax(dims) and x's gradient for the output gradient g, as float32 values. */
    async function maxStep(xs: number[], shape: number[], dims: number[], view?: (t: gg.Tensor) => gg.Tensor): Promise<number[][]> {
      const x = f32(xs, shape, true);
      const v = view ? view(x) : x;
      const y = v.amax(dims);
      const g = f32(data(y.numel(), 21), [...y.shape]);
      y.backward(g);
      return [await values(y), await values(x.grad!)];
    }

    const cases: { name: string; shape: number[]; dims: number[]; view?: (t: gg.Tensor) => gg.Tensor }[] = [
      // MaxPool2d(2)'s tiling view (N, C, H/2, 2, W/2, 2) reduced over the window dims
      { name: 'pooling view 2×2', shape: [3, 4, 6, 2, 5, 2], dims: [3, 5] },
      { name: '3×3 pooling over im2col columns (N, C, 3, 3, out, out)', shape: [2, 2, 3, 3, 4, 5], dims: [2, 3] },
      { name: 'one dim', shape: [5, 7], dims: [1] },
      { name: 'leading dim', shape: [4, 3, 5], dims: [0] },
      { name: 'dims out of order', shape: [2, 3, 2, 4], dims: [2, 0] },
      { name: 'a strided (transposed) input', shape: [6, 4, 5], dims: [1], view: (t) => t.transpose(0, 2) },
      { name: 'every dim (a window of 24)', shape: [2, 3, 4], dims: [0, 1, 2] },
    ];
    for (const { name, shape, dims, view } of cases) {
      it(`equals the IR kernels bit for bit, ties, NaN, ±∞ and signed zeros included (${name})`, async () => {
        const xs = data(size(shape), 31, true);
        const [fast, ir] = await both(() => maxStep(xs, shape, dims, view));
        expectSame(fast[0]!, ir[0]!, `${name}: values`);
        expectSame(fast[1]!, ir[1]!, `${name}: gradient`);
      });
    }

    it('2×2 windows that tile the image run in WebAssembly SIMD, bit for bit the JavaScript passes and the IR kernels (rows of 1-14 windows, an offset view, special values in x and g)', async function () {
      if (!cpu.windowSimd) skipBecause(this, 'no WebAssembly SIMD here (gg.deviceInfo(\'cpu\').notes says why)');
      const simd = cpu.windowSimd;
      const shapes = [[2, 3, 2, 2], [1, 2, 4, 6], [2, 2, 6, 8], [3, 1, 2, 16], [2, 4, 14, 28], [1, 1, 8, 10]];
      for (const [i, shape] of shapes.entries()) {
        const xs = data(size(shape) + 40, 50 + i, true);
        const step = async (): Promise<number[][]> => {
          const base = f32(xs, [size(shape) + 40]);
          // an offset view of a dense array: the passes read from its offset
          const x = base.narrow(0, 40, size(shape)).reshape(...shape).detach().requiresGrad_(true);
          const y = gg.nn.functional.maxPool2d(x, 2);
          const g = f32(data(y.numel(), 60 + i, true), [...y.shape]);
          y.backward(g);
          return [await values(y), await values(x.grad!)];
        };
        const before = simd.runs;
        const [fast, ir] = await both(step);
        expect(simd.runs - before, `SIMD passes for ${shape.join('×')}`).to.equal(2);
        cpu.windowSimd = null;
        try {
          const js = await step();
          expectSame(fast[0]!, js[0]!, `${shape.join('×')}: values, SIMD vs JavaScript`);
          expectSame(fast[1]!, js[1]!, `${shape.join('×')}: gradient, SIMD vs JavaScript`);
        } finally {
          cpu.windowSimd = simd;
        }
        expectSame(fast[0]!, ir[0]!, `${shape.join('×')}: values, SIMD vs IR`);
        expectSame(fast[1]!, ir[1]!, `${shape.join('×')}: gradient, SIMD vs IR`);
      }
    });

    it('runs one forward kernel and one backward kernel where the IR runs max, MaxCount and MaxBackward', async () => {
      const x = f32(data(2 * 3 * 8 * 8, 41), [2, 3, 8, 8], true);
      const names = await kernels(() => gg.nn.functional.maxPool2d(x, 2).sum().backward());
      expect(names.filter((k) => k === 'MaxCount'), names.join(' ')).to.deep.equal([]);
      expect(names.filter((k) => k === 'MaxBackward' || k === 'max'), names.join(' ')).to.deep.equal(['max', 'MaxBackward']);
    });

    it('steps aside for float64, a window over 32 elements and a recorded double backward', async () => {
      const x64 = gg.tensor(data(2 * 3 * 8 * 8, 42), { shape: [2, 3, 8, 8], dtype: 'float64', requiresGrad: true });
      expect(await kernels(() => gg.nn.functional.maxPool2d(x64, 2).sum().backward())).to.include('MaxCount');
      const long = f32(data(4 * 33, 43), [4, 33], true);
      expect(await kernels(() => long.amax(1).sum().backward())).to.include('MaxCount');
      // createGraph: the gradient must be recorded ops, so the IR's fused kernels run, and their own gradient exists
      const x = f32(data(2 * 8 * 8, 44), [1, 2, 8, 8], true);
      const y = gg.nn.functional.maxPool2d(x, 2);
      const [gx] = await gg.autograd.grad([y.square().sum()], [x], { createGraph: true });
      expect(gx!.requiresGrad).to.equal(true);
      const names = await kernels(() => gx!.sum().backward());
      expect(names.length).to.be.greaterThan(0);
      expect(x.grad).to.not.equal(null);
    });

    it('max pooling on the float64 reference gives the same values and gradients, to rounding', async () => {
      const r = rng(45);
      const xs = Array.from({ length: 3 * 4 * 10 * 12 }, () => r() * 4 - 2);
      const res: number[][] = [];
      for (const dtype of ['float64', 'float32'] as const) {
        const x = gg.tensor(xs, { shape: [3, 4, 10, 12], dtype, requiresGrad: true });
        const y = gg.nn.functional.maxPool2d(x, 2).add(gg.nn.functional.maxPool2d(x, 3, { stride: 2, padding: 1 }).sum());
        y.backward(gg.tensor(xs.slice(0, y.numel()), { shape: y.shape, dtype }));
        res.push(await values(y), await values(x.grad!));
      }
      expectClose(res[2]!, res[0]!, { rtol: 1e-5, atol: 1e-5 }, 'values');
      expectClose(res[3]!, res[1]!, { rtol: 1e-5, atol: 1e-5 }, 'gradient');
    });
  });

  it('a W6-shaped step (conv, BatchNorm, ReLU, max pooling twice, linear) is the same with the passes on and off', async () => {
    const r = rng(51);
    const xs = Array.from({ length: 4 * 1 * 12 * 12 }, () => r());
    const step = async (): Promise<number[][]> => {
      gg.manualSeed(5);
      const model = new gg.nn.Sequential(
        new gg.nn.Conv2d(1, 4, 3, { padding: 1 }), new gg.nn.BatchNorm2d(4), new gg.nn.ReLU(), new gg.nn.MaxPool2d(2),
        new gg.nn.Conv2d(4, 6, 3, { padding: 1 }), new gg.nn.BatchNorm2d(6), new gg.nn.ReLU(), new gg.nn.MaxPool2d(2),
        new gg.nn.Flatten(), new gg.nn.Linear(6 * 3 * 3, 5),
      );
      const x = gg.tensor(xs, { shape: [4, 1, 12, 12] });
      const loss = new gg.nn.CrossEntropyLoss().forward(model.call(x) as gg.Tensor, gg.tensor([0, 1, 2, 3], { dtype: 'int64' }));
      loss.backward();
      const params = [...model.parameters()];
      return [await values(loss), ...(await Promise.all(params.map((p) => values(p.grad!))))];
    };
    const [fast, ir] = await both(step);
    fast.forEach((v, i) => expectSame(v, ir[i]!, `tensor ${i}`));
  });
});
