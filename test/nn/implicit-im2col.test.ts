/**
 * Implicit im2col on the cpu device (docs/notes/architecture.md, "Implicit
 * im2col"): a float32 im2col result is left unwritten and the WebAssembly
 * gemm writes the columns it reads from the image (gemm.wat's `im2col`), or
 * they are written out whole where anything else reads them. Every result
 * here is compared with the same computation with the path off (the im2col
 * kernel's columns), bit for bit: convolution values and all three gradients
 * over 1-d and 2-d geometries (stride, padding, dilation, groups, odd sizes),
 * columns read by other kernels (average pooling, a sum), a freed image,
 * special values; where the path steps aside (3-d, a strided image, padding
 * other than zero, float64), and a W6-shaped step, which writes its columns
 * only inside the gemm. The PyTorch goldens of every convolution module in
 * float32 on the cpu device (conv.test.ts) run with the path on.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import * as F from '../../src/nn/conv.js';
import { getDevice } from '../../src/backend/registry.js';
import { columnsLoop, CpuDevice } from '../../src/backend/cpu.js';
import { Columns, wasmGemm } from '../../src/backend/wasm/gemm.js';
import { apply } from '../../src/tensor/tensor.js';
import { rng } from '../helpers/random.js';
import { expectClose, fixture, goldenTensor, type Golden, type GoldenStep } from '../helpers/compare.js';
import { skipBecause } from '../helpers/devices.js';
import { decode, type FixtureNumber } from '../helpers/special.js';
import { onThenOff } from '../helpers/switches.js';

/** Why the WebAssembly paths are absent (the device's notes say the cause). */
const NO_GEMM = 'no WebAssembly gemm here (gg.deviceInfo(\'cpu\').notes says why)';

/** A module case of test/fixtures/torch_nn.json (make_fixtures.py). */
interface GoldenModule {
  name: string;
  module: string;
  args: (number | number[])[];
  kwargs: Record<string, number | number[] | boolean | null>;
  state: Record<string, Golden>;
  steps: GoldenStep[];
}

const cpu = getDevice('cpu') as CpuDevice;
const gemm = wasmGemm();

/** `fn` with implicit columns (the im2col kernel when off) on and then off, restoring the setting. */
const both = <R>(fn: () => Promise<R>): Promise<[R, R]> => onThenOff(cpu, 'implicitIm2col', fn);

/** Equal as float32 bit patterns (NaN equal to NaN, +0 not equal to -0). */
function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  expect(a.length, label).to.equal(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) expect.fail(`${label}: element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const randoms = (n: number, seed: number): number[] => {
  const r = rng(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
};
const f32 = (xs: number[], shape: readonly number[], requiresGrad = false): gg.Tensor => gg.tensor(xs, { shape: [...shape], dtype: 'float32', requiresGrad });

/** Counters of the gemm's implicit columns. */
const counters = (): { written: number; materialized: number } => ({ written: gemm?.columnsWritten ?? 0, materialized: gemm?.materialized ?? 0 });

interface Case {
  name: string;
  r: 1 | 2;
  x: number[];
  w: number[];
  opts: F.ConvOptions;
}

const cases: Case[] = [
  { name: '2d 3×3 pad 1 (W6)', r: 2, x: [4, 3, 9, 7], w: [5, 3, 3, 3], opts: { padding: 1 } },
  { name: '2d stride 2 pad 1 dilation 2', r: 2, x: [2, 2, 11, 9], w: [3, 2, 3, 2], opts: { stride: [2, 1], padding: [1, 0], dilation: [2, 1] } },
  { name: '2d stride 3 > kernel, pad 2', r: 2, x: [3, 2, 8, 10], w: [4, 2, 2, 3], opts: { stride: 3, padding: 2 } },
  { name: '2d groups 2, padding same', r: 2, x: [2, 4, 6, 5], w: [6, 2, 3, 3], opts: { groups: 2, padding: 'same' } },
  { name: '2d 1 channel, 28×28 (the first W6 layer, 11 outputs)', r: 2, x: [3, 1, 28, 28], w: [11, 1, 3, 3], opts: { padding: 1 } },
  { name: '2d unit stride, rows of 5 (vector copies and tails)', r: 2, x: [2, 3, 5, 13], w: [9, 3, 2, 4], opts: { padding: [0, 3] } },
  { name: '2d dilation 2 padding 2 (same size: whole rows of padding per tap)', r: 2, x: [2, 3, 4, 6], w: [4, 3, 3, 3], opts: { dilation: 2, padding: 2 } },
  { name: '2d same size, asymmetric kernel 2×5', r: 2, x: [2, 2, 7, 9], w: [3, 2, 2, 5], opts: { padding: 'same' } },
  { name: '1d same size (rows of height 1)', r: 1, x: [2, 3, 10], w: [4, 3, 5], opts: { padding: 2 } },
  { name: '1d stride 2 pad 1', r: 1, x: [3, 4, 17], w: [6, 4, 3], opts: { stride: 2, padding: 1 } },
  { name: '1d dilation 3', r: 1, x: [2, 2, 20], w: [5, 2, 4], opts: { dilation: 3 } },
];

describe('implicit im2col (cpu device, float32)', function () {
  this.timeout(60_000);

  before(function () {
    if (!gemm || !cpu.wasmGemm) skipBecause(this, NO_GEMM);
  });

  for (const c of cases) {
    it(`${c.name}: the output and the gradients of input, weight and bias bit for bit the im2col kernel's`, async () => {
      const xs = randoms(size(c.x), 11);
      const ws = randoms(size(c.w), 12);
      const before = counters();
      const [fast, ir] = await both(async () => {
        const x = f32(xs, c.x, true);
        const w = f32(ws, c.w, true);
        const b = f32(randoms(c.w[0] as number, 13), [c.w[0] as number], true);
        const y = c.r === 2 ? F.conv2d(x, w, b, c.opts) : F.conv1d(x, w, b, c.opts);
        const g = f32(randoms(size(y.shape), 14), y.shape);
        y.backward(g);
        return [await y.data(), await x.grad!.data(), await w.grad!.data(), await b.grad!.data()];
      });
      const after = counters();
      // the forward and the weight gradient wrote their columns inside the gemm, never whole
      expect(after.written - before.written, 'columns written in the gemm').to.be.greaterThan(0);
      expect(after.materialized - before.materialized, 'columns written out whole').to.equal(0);
      ['output', 'input grad', 'weight grad', 'bias grad'].forEach((label, i) => expectSame(fast[i] as Float32Array, ir[i] as Float32Array, label));
    });
  }

  it('columns read by other kernels (average pooling, a sum, a copy out) are written out whole, the same values', async () => {
    const xs = randoms(2 * 3 * 7 * 6, 21);
    const before = counters();
    const [fast, ir] = await both(async () => {
      const x = f32(xs, [2, 3, 7, 6], true);
      const pooled = F.avgPool2d(x, 3, { stride: 2, padding: 1 });
      pooled.backward(f32(randoms(size(pooled.shape), 22), pooled.shape));
      const cols = x.detach().im2col({ kernel: [2, 3], stride: [1, 2], padding: [1, 1], dilation: [2, 1], inSize: [7, 6], outSize: [6, 3], value: 0 });
      return [await pooled.data(), await x.grad!.data(), await cols.data(), await cols.sum([2, 3]).data()];
    });
    expect(counters().materialized - before.materialized, 'written out whole').to.be.greaterThan(0);
    ['avg pool', 'its gradient', 'columns', 'a sum of them'].forEach((label, i) => expectSame(fast[i] as Float32Array, ir[i] as Float32Array, label));
  });

  it('special values pass as they are: NaN, ±∞, -0 in the image, +0 in the padding', async () => {
    const xs = randoms(2 * 2 * 5 * 6, 31).map((v, i) => (i % 7 === 0 ? -0 : i % 11 === 0 ? NaN : i % 13 === 0 ? -Infinity : i % 17 === 0 ? Infinity : v));
    const geom = { kernel: [3, 3], stride: [1, 1], padding: [1, 2], dilation: [1, 1], inSize: [5, 6], outSize: [5, 8], value: 0 };
    const [fast, ir] = await both(async () => {
      const cols = f32(xs, [2, 2, 5, 6]).im2col(geom);
      const w = f32(randoms(3 * 18, 32), [3, 18]);
      // through the gemm (columns written there) and read whole
      const y = w.matmul(cols.reshape(2, 18, 40));
      return [await y.data(), await cols.data()];
    });
    expectSame(fast[1] as Float32Array, ir[1] as Float32Array, 'columns');
    expectSame(fast[0] as Float32Array, ir[0] as Float32Array, 'product');
    const cols = fast[1] as Float32Array;
    expect(Object.is(cols[0], 0), 'padding is +0').to.equal(true);
  });

  it('products over a part of the columns (rows and columns sliced, an offset inside a plane) read the same values', async () => {
    const xs = randoms(3 * 2 * 5 * 6, 81);
    const geom = { kernel: [2, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], inSize: [5, 6], outSize: [6, 6], value: 0 };
    const before = counters();
    const [fast, ir] = await both(async () => {
      const cols = f32(xs, [3, 2, 5, 6]).im2col(geom).reshape(3, 12, 36);
      const part = cols.narrow(1, 5, 6).narrow(2, 3, 30);
      const w = f32(randoms(4 * 6, 82), [4, 6]);
      return [await w.matmul(part).data(), await w.matmul(cols.narrow(1, 1, 6)).data(), await part.transpose(1, 2).matmul(w.transpose(0, 1)).data()];
    });
    expect(counters().written - before.written, 'columns written in the gemm').to.be.greaterThan(0);
    fast.forEach((v, i) => expectSame(v as Float32Array, ir[i] as Float32Array, `product ${i}`));
  });

  it('the JavaScript loop that writes columns where the gemm memory cannot hold them gives the same columns', async () => {
    if (!gemm) return;
    const geoms = [
      { planes: 3, h: 5, w: 6, kh: 3, kw: 2, sh: 1, sw: 2, ph: 1, pw: 2, dh: 2, dw: 1, oh: 3, ow: 4 },
      { planes: 2, h: 1, w: 9, kh: 1, kw: 3, sh: 1, sw: 1, ph: 0, pw: 1, dh: 1, dw: 1, oh: 1, ow: 9 },
    ];
    for (const g of geoms) {
      const c = new Columns(new Float32Array(randoms(g.planes * g.h * g.w, 91)), g);
      expectSame(columnsLoop(c, new Float32Array(c.length)), gemm.materialize(c) as Float32Array, 'loop vs gemm.wat');
    }
  });

  it("the image's buffer freed before the columns are read: the columns keep their own copy", async () => {
    const xs = randoms(3 * 2 * 6 * 6, 41);
    const ws = randoms(4 * 18, 42);
    const [fast, ir] = await both(async () => {
      const x = f32(xs, [3, 2, 6, 6]);
      const cols = x.im2col({ kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], inSize: [6, 6], outSize: [6, 6], value: 0 });
      x.dispose();
      // a new array of the image's size takes its place in the device's pool
      const other = f32(xs.map((v) => v + 1), [3, 2, 6, 6]).mul(2);
      const y = f32(ws, [4, 18]).matmul(cols.reshape(3, 18, 36));
      const out = await y.data();
      other.dispose();
      return out;
    });
    expectSame(fast, ir, 'product');
  });

  it('the kernel runs instead for 3-d windows, a strided image, non-zero padding values and float64', async () => {
    const before = counters();
    const x3 = f32(randoms(2 * 2 * 4 * 5 * 3, 51), [2, 2, 4, 5, 3]);
    const [a3, b3] = await both(async () => F.conv3d(x3, f32(randoms(3 * 2 * 2 * 2 * 2, 52), [3, 2, 2, 2, 2]), null, { padding: 1 }).data());
    expectSame(a3, b3, '3d');
    const xt = f32(randoms(2 * 3 * 6 * 5, 53), [2, 3, 5, 6]).transpose(2, 3);
    const [at, bt] = await both(async () => F.conv2d(xt, f32(randoms(4 * 3 * 9, 54), [4, 3, 3, 3]), null, { padding: 1 }).data());
    expectSame(at, bt, 'strided image');
    const xm = f32(randoms(2 * 2 * 7 * 7, 55), [2, 2, 7, 7]);
    const [am, bm] = await both(async () => F.maxPool2d(xm, 3, { stride: 2, padding: 1 }).data());
    expectSame(am, bm, 'max pooling (padding -∞)');
    const xd = gg.tensor(randoms(2 * 2 * 5 * 5, 56), { shape: [2, 2, 5, 5], dtype: 'float64' });
    await F.conv2d(xd, gg.tensor(randoms(3 * 2 * 9, 57), { shape: [3, 2, 3, 3], dtype: 'float64' }), null, { padding: 1 }).data();
    const after = counters();
    expect(after.written - before.written, 'no implicit columns').to.equal(0);
    expect(after.materialized - before.materialized).to.equal(0);
  });

  it('a W6-shaped training step: every convolution product reads columns written in the gemm, none written out whole', async () => {
    const run = async (): Promise<Float32Array[]> => {
      gg.manualSeed(7);
      const model = new gg.nn.Sequential(
        new gg.nn.Conv2d(1, 4, 3, { padding: 1 }), new gg.nn.BatchNorm2d(4), new gg.nn.ReLU(), new gg.nn.MaxPool2d(2),
        new gg.nn.Conv2d(4, 8, 3, { padding: 1 }), new gg.nn.BatchNorm2d(8), new gg.nn.ReLU(), new gg.nn.MaxPool2d(2),
        new gg.nn.Flatten(), new gg.nn.Linear(8 * 3 * 3, 5),
      );
      const x = f32(randoms(6 * 12 * 12, 61), [6, 1, 12, 12]);
      const y = gg.tensor([0, 1, 2, 3, 4, 0], { dtype: 'int64' });
      const opt = new gg.optim.SGD(model.parameters(), { lr: 0.1 });
      const out: Float32Array[] = [];
      for (let s = 0; s < 2; s++) {
        opt.zeroGrad();
        const loss = gg.nn.functional.crossEntropy(model.forward(x) as gg.Tensor, y);
        loss.backward();
        opt.step();
        out.push((await loss.data()) as Float32Array);
      }
      for (const p of model.parameters()) out.push((await p.data()) as Float32Array);
      return out;
    };
    const before = counters();
    const [fast, ir] = await both(run);
    const after = counters();
    expect(after.written - before.written).to.be.greaterThan(0);
    expect(after.materialized - before.materialized, 'columns written out whole').to.equal(0);
    fast.forEach((v, i) => expectSame(v, ir[i] as Float32Array, `value ${i}`));
  });

  it('the columns primitive itself (apply) on the cpu is counted as the im2col kernel', async () => {
    const x = f32(randoms(2 * 3 * 4, 71), [1, 2, 3, 4]);
    const p = await gg.profile(() => apply('im2col', [x], { kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1], inSize: [3, 4], outSize: [2, 3], value: 0 }));
    expect(p.kernels.map((k) => k.kernel)).to.deep.equal(['im2col']);
  });
});

/** `fn` with the implicit col2im (the product, then col2im, when off) on and then off, restoring the setting. */
const bothCol2im = <R>(fn: () => Promise<R>): Promise<[R, R]> => onThenOff(cpu, 'implicitCol2im', fn);

/** |a - b| <= atol + rtol·|b| everywhere (NaN where the other is NaN). */
function expectNear(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, label: string): void {
  expect(a.length, label).to.equal(b.length);
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i] as number, b[i] as number];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) expect.fail(`${label}: element ${i}: ${x} vs ${y}`);
  }
}

describe('implicit col2im (cpu device, float32): a convolution input gradient as one transposed convolution', function () {
  this.timeout(60_000);

  before(function () {
    if (!gemm || !cpu.wasmGemm) skipBecause(this, NO_GEMM);
  });

  const taken: Case[] = [
    { name: '2d 3×3 pad 1 (W6)', r: 2, x: [4, 3, 9, 7], w: [5, 3, 3, 3], opts: { padding: 1 } },
    { name: '2d no padding', r: 2, x: [2, 4, 6, 8], w: [3, 4, 3, 2], opts: {} },
    { name: '2d dilation 2 padding 1 (less than dilation·(k-1))', r: 2, x: [2, 2, 9, 8], w: [4, 2, 3, 3], opts: { dilation: 2, padding: 1 } },
    { name: "2d padding 'same', kernel 2×5", r: 2, x: [3, 2, 7, 9], w: [3, 2, 2, 5], opts: { padding: 'same' } },
    { name: '2d one output channel, 28×28', r: 2, x: [2, 3, 28, 28], w: [1, 3, 3, 3], opts: { padding: 1 } },
    { name: '1d padding 2, dilation 2', r: 1, x: [3, 4, 17], w: [6, 4, 3], opts: { padding: 2, dilation: 2 } },
  ];
  for (const c of taken) {
    it(`${c.name}: the input gradient to float32 rounding of the product-then-col2im path and of float64; output and weight gradient bit for bit`, async () => {
      const xs = randoms(size(c.x), 101);
      const ws = randoms(size(c.w), 102);
      const run = async (dtype: 'float32' | 'float64'): Promise<ArrayLike<number>[]> => {
        const x = gg.tensor(xs, { shape: [...c.x], dtype, requiresGrad: true });
        const w = gg.tensor(ws, { shape: [...c.w], dtype, requiresGrad: true });
        const y = c.r === 2 ? F.conv2d(x, w, null, c.opts) : F.conv1d(x, w, null, c.opts);
        y.backward(gg.tensor(randoms(size(y.shape), 103), { shape: y.shape, dtype }));
        return [await x.grad!.data(), await y.data(), await w.grad!.data()];
      };
      const before = cpu.transposedConvs;
      const [fast, ir] = await bothCol2im(() => run('float32'));
      expect(cpu.transposedConvs - before, 'transposed convolutions').to.equal(1);
      const ref = await run('float64');
      // each input gradient element sums Cout·kh·kw products of values in [-1, 1]
      const terms = (c.w[0] as number) * size(c.w.slice(2));
      const atol = terms * 2 ** -22;
      expectNear(fast[0] as Float32Array, ir[0] as Float32Array, 1e-5, atol, 'against the product, then col2im');
      expectNear(fast[0] as Float32Array, ref[0] as Float64Array, 1e-5, atol, 'against float64');
      expectSame(fast[1] as Float32Array, ir[1] as Float32Array, 'output');
      expectSame(fast[2] as Float32Array, ir[2] as Float32Array, 'weight gradient');
    });
  }

  it('PyTorch goldens (test/fixtures/torch_nn.json): the stride-1 convolutions in float32 through the transposed convolution', async () => {
    const names = ['Conv1d_basic', 'Conv1d_no_bias', 'Conv2d_basic', 'Conv2d_dilation2', 'Conv2d_no_bias'];
    const goldens = fixture<GoldenModule[]>('torch_nn.json').filter((c) => names.includes(c.name));
    expect(goldens.map((c) => c.name).sort()).to.deep.equal([...names].sort());
    const tol = { rtol: 2e-4, atol: 2e-4 };
    const before = cpu.transposedConvs;
    for (const c of goldens) {
      const kw = { ...c.kwargs, dtype: 'float32' } as unknown as Record<string, never>;
      const [a0, a1, a2] = c.args as [number, number, number];
      const m = c.module === 'Conv1d' ? new gg.nn.Conv1d(a0, a1, a2, kw) : new gg.nn.Conv2d(a0, a1, a2, kw);
      const sd: Record<string, gg.Tensor> = {};
      for (const [k, v] of Object.entries(c.state)) sd[k] = goldenTensor(v, { dtype: 'float32' });
      m.loadStateDict(sd);
      for (const s of c.steps) {
        const x = goldenTensor(s.input, { dtype: 'float32', requiresGrad: true });
        const out = m.call(x);
        out.backward(goldenTensor(s.gout, { dtype: 'float32' }));
        expectClose(Array.from(await x.grad!.data()), s.input_grad.data, tol, `${c.name} input grad`);
      }
    }
    expect(cpu.transposedConvs - before).to.equal(names.length);
  });

  it('where it steps aside (stride 2, groups 2, padding past dilation·(kernel-1), 3-d) the gradients are bit for bit the product-then-col2im path', async () => {
    const declined: { x: number[]; w: number[]; opts: F.ConvOptions; r: 2 | 3 }[] = [
      { r: 2, x: [2, 3, 8, 7], w: [4, 3, 3, 3], opts: { stride: 2, padding: 1 } },
      { r: 2, x: [2, 4, 6, 6], w: [6, 2, 3, 3], opts: { groups: 2, padding: 1 } },
      { r: 2, x: [2, 2, 5, 5], w: [3, 2, 3, 3], opts: { padding: 3 } },
      { r: 3, x: [2, 2, 4, 4, 3], w: [3, 2, 2, 2, 2], opts: { padding: 1 } },
    ];
    const before = cpu.transposedConvs;
    for (const [i, c] of declined.entries()) {
      const xs = randoms(size(c.x), 110 + i);
      const ws = randoms(size(c.w), 120 + i);
      const [fast, ir] = await bothCol2im(async () => {
        const x = f32(xs, c.x, true);
        const y = (c.r === 2 ? F.conv2d : F.conv3d)(x, f32(ws, c.w), null, c.opts);
        y.backward(f32(randoms(size(y.shape), 130 + i), y.shape));
        return x.grad!.data();
      });
      expectSame(fast, ir, `case ${i}`);
    }
    expect(cpu.transposedConvs - before).to.equal(0);
  });

  it('a deferred product read by anything else is the product, bit for bit, even after its operands were freed', async () => {
    const ws = randoms(5 * 7, 141);
    const xs = randoms(6 * 7 * 9, 142);
    const [fast, ir] = await bothCol2im(async () => {
      const w = f32(ws, [5, 7]);
      const x = f32(xs, [6, 7, 9]);
      // a broadcast A over a batch of 6: deferred where the path is on
      const y = w.matmul(x);
      w.dispose();
      x.dispose();
      // new arrays of the operands' sizes take their places in the pool
      const junk = [f32(randoms(5 * 7, 143), [5, 7]).mul(3), f32(randoms(6 * 7 * 9, 144), [6, 7, 9]).mul(3)];
      const out = [await y.data(), await y.sum(1).data()];
      junk.forEach((j) => j.dispose());
      return out;
    });
    expectSame(fast[0] as Float32Array, ir[0] as Float32Array, 'product');
    expectSame(fast[1] as Float32Array, ir[1] as Float32Array, 'its sum');
  });

  it('special values: NaN and ±∞ in the output gradient reach the same pixels', async () => {
    const gs = randoms(2 * 3 * 6 * 5, 151).map((v, i) => (i === 7 ? NaN : i === 40 ? Infinity : i === 77 ? -Infinity : v));
    const [fast, ir] = await bothCol2im(async () => {
      const x = f32(randoms(2 * 2 * 6 * 5, 152), [2, 2, 6, 5], true);
      const y = F.conv2d(x, f32(randoms(3 * 2 * 9, 153), [3, 2, 3, 3]), null, { padding: 1 });
      y.backward(f32(gs, y.shape));
      return x.grad!.data();
    });
    for (let i = 0; i < fast.length; i++) {
      const [a, b] = [fast[i] as number, ir[i] as number];
      if (Number.isNaN(b) || !Number.isFinite(b)) expect(Object.is(a, b), `element ${i}: ${a} vs ${b}`).to.equal(true);
    }
    expectNear(fast, ir, 1e-5, 2 ** -18, 'finite elements');
  });
});


describe('implicit col2im steps aside for a weight holding inf or NaN (PyTorch goldens, test/fixtures/torch_conv_special.json)', function () {
  before(function () {
    if (!gemm || !cpu.wasmGemm) skipBecause(this, NO_GEMM);
  });

  interface SpecialCase {
    name: string;
    dim: 1 | 2;
    x: { shape: number[]; data: FixtureNumber[] };
    w: { shape: number[]; data: FixtureNumber[] };
    padding: number;
    dilation: number;
    grad: { shape: number[]; data: FixtureNumber[] };
  }
  const cases = fixture<{ cases: SpecialCase[] }>('torch_conv_special.json').cases;
  for (const c of cases) {
    it(`${c.name}: x's gradient is PyTorch's (the zeros around G are never multiplied by the weight)`, async () => {
      const [fast, ir] = await bothCol2im(async () => {
        const x = gg.tensor(c.x.data.map(decode), { shape: c.x.shape, requiresGrad: true });
        const w = gg.tensor(c.w.data.map(decode), { shape: c.w.shape });
        const opts = { padding: c.padding, dilation: c.dilation };
        (c.dim === 2 ? F.conv2d(x, w, null, opts) : F.conv1d(x, w, null, opts)).sum().backward();
        return Array.from(await x.grad!.data());
      });
      const want = c.grad.data.map(decode);
      for (const got of [fast, ir]) {
        got.forEach((v, i) => {
          const e = want[i] as number;
          const ok = Number.isFinite(e) ? Math.abs(v - e) <= 1e-6 * (1 + Math.abs(e)) : Object.is(v, e);
          expect(ok, `${c.name}[${i}]: got ${v}, torch ${e}`).to.equal(true);
        });
      }
    });
  }
});
