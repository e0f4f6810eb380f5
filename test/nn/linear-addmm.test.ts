/**
 * Linear on 2-D input as PyTorch's addmm, and the gemm's bias epilogue
 * (docs/notes/architecture.md, "The gemm's bias epilogue"):
 * - PyTorch goldens (test/fixtures/torch_addmm.json, make_addmm.py) on every
 *   device: output, the three gradients, the node AddmmBackward0 and its
 *   next functions (bias, input, the weight's transpose);
 * - on the cpu, the one-kernel addmm (float32 on the WebAssembly gemm with
 *   its `biasAdd` epilogue; float64 on the fused loop) against the two
 *   kernels it replaces (`gemmBias = false`: the product, then the add), bit
 *   for bit, with one kernel fewer per Linear;
 * - the gemm's epilogue itself: a bias per column (Linear's) and per row (a
 *   convolution's), straight and turned products (Cᵀ = Bᵀ·Aᵀ), batches and
 *   k = 0, against the product without bias plus a float32 addition;
 * - a matrix–vector product (left to the loop) keeps the two kernels.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice, skipBecause } from '../helpers/devices.js';
import { expectClose, fixture, type Tol } from '../helpers/compare.js';
import { rng } from '../helpers/random.js';
import { getDevice } from '../../src/backend/registry.js';
import type { CpuDevice } from '../../src/backend/cpu.js';
import * as K from '../../src/backend/kernels.js';
import type { GemmSpec } from '../../src/backend/kernel.js';
import { wasmGemm } from '../../src/backend/wasm/gemm.js';

interface T {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  dtype: 'float32' | 'float64';
  x: T;
  w: T;
  b: T;
  output: T;
  gout: T;
  grads: [T, T, T];
  node: string;
  next: (string | null)[];
}

const cases = fixture<{ cases: Case[] }>('torch_addmm.json').cases;
/** float32 sums of k products of O(1) values. */
const tolFor = (dtype: string, k: number): Tol => (dtype === 'float64' ? { rtol: 1e-10, atol: 1e-12 } : { rtol: 1e-4, atol: 2e-6 * Math.max(8, k) });
const bits = (xs: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(xs).buffer));
const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

forEachDevice((device) => {
  describe('Linear as addmm: PyTorch goldens', () => {
    const dtypes = getDevice(device).dtypes;
    for (const c of cases) {
      it(`${c.name}: output, gradients and node as torch 1.13`, async function () {
        if (!dtypes.includes(c.dtype)) skipBecause(this, `${device} has no ${c.dtype} (docs/notes/dtypes.md)`);
        const opts = { dtype: c.dtype, device, requiresGrad: true };
        const x = gg.tensor(c.x.data, { ...opts, shape: c.x.shape });
        const w = gg.tensor(c.w.data, { ...opts, shape: c.w.shape });
        const b = gg.tensor(c.b.data, { ...opts, shape: c.b.shape });
        const y = gg.nn.functional.linear(x, w, b);
        const [m, k] = c.x.shape as [number, number];
        const n = c.w.shape[0] as number;
        expect(y.shape).to.deep.equal(c.output.shape);
        expect(y.gradFn?.name).to.equal(c.node);
        // PyTorch's next functions: the bias's AccumulateGrad, the input's, the weight's transpose (ours PermuteBackward0 or TBackward0)
        const next = y.gradFn!.nextFunctions.map(([node]) => node?.name ?? null);
        expect(next.slice(0, 2)).to.deep.equal(c.next.slice(0, 2));
        expect(next[2]).to.match(/^(TBackward0|PermuteBackward0|TransposeBackward0)$/);
        expectClose(await y.data(), c.output.data, tolFor(c.dtype, k), `${c.name} output`);
        y.backward(gg.tensor(c.gout.data, { shape: c.gout.shape, dtype: c.dtype, device }));
        expectClose(await x.grad!.data(), c.grads[0].data, tolFor(c.dtype, n), `${c.name} grad of x`);
        expectClose(await w.grad!.data(), c.grads[1].data, tolFor(c.dtype, m), `${c.name} grad of w`);
        expectClose(await b.grad!.data(), c.grads[2].data, tolFor(c.dtype, m), `${c.name} grad of b`);
      });
    }
  });
});

describe('Linear as addmm: one kernel against the two it replaces (cpu)', () => {
  const cpu = (): CpuDevice => getDevice('cpu') as CpuDevice;

  /** A Linear's output and three gradients, and the kernels its forward ran. */
  async function linearStep(dtype: gg.DType, m: number, k: number, n: number, seed: number): Promise<{ values: number[][]; kernels: number }> {
    const r = rng(seed);
    const vals = (len: number): number[] => Array.from({ length: len }, () => r() * 2 - 1);
    const x = gg.tensor(vals(m * k), { shape: [m, k], dtype, requiresGrad: true });
    const w = gg.tensor(vals(n * k), { shape: [n, k], dtype, requiresGrad: true });
    const b = gg.tensor(vals(n), { shape: [n], dtype, requiresGrad: true });
    const before = gg.memory().kernelRuns;
    const y = gg.nn.functional.linear(x, w, b);
    const kernels = gg.memory().kernelRuns - before;
    y.backward(gg.tensor(vals(m * n), { shape: [m, n], dtype }));
    const values = [await y.data(), await x.grad!.data(), await w.grad!.data(), await b.grad!.data()].map((v) => [...v]);
    return { values, kernels };
  }

  const shapes: [number, number, number][] = [[5, 7, 3], [128, 784, 256], [33, 300, 10], [9, 16, 17], [3, 5, 1], [2, 40, 6], [1, 24, 5]];
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: bit for bit the product's kernel then the add's, one kernel where fused`, async () => {
      const dev = cpu();
      const saved = dev.gemmBias;
      try {
        for (const [m, k, n] of shapes) {
          dev.gemmBias = true;
          const fused = await linearStep(dtype, m, k, n, m * 1000 + n);
          dev.gemmBias = false;
          const two = await linearStep(dtype, m, k, n, m * 1000 + n);
          fused.values.forEach((v, i) => expect(same(v, two.values[i] as number[]), `${dtype} ${m}×${k}·${k}×${n}: value ${i}`).to.equal(true));
          // matrix–vector products (m or n at most 2, k ≥ 16) are left to the loop in float32: two kernels
          const fuses = dtype === 'float64' || (wasmGemm() !== null && !((m <= 2 || n <= 2) && k >= 16));
          expect(two.kernels, `${m}×${k}·${k}×${n}: two kernels`).to.equal(2);
          expect(fused.kernels, `${m}×${k}·${k}×${n}: fused`).to.equal(fuses ? 1 : 2);
        }
      } finally {
        dev.gemmBias = saved;
      }
    });
  }

  it('a batch of inputs (3-D) keeps matmul and add (PyTorch views it into an addmm, ViewBackward0: not followed)', () => {
    const y = gg.nn.functional.linear(gg.ones([2, 3, 4], { requiresGrad: true }), gg.ones([5, 4]), gg.ones([5]));
    expect(y.gradFn?.name).to.equal('AddBackward0');
  });

  it('no bias: a plain product (MmBackward0)', () => {
    expect(gg.nn.functional.linear(gg.ones([2, 4], { requiresGrad: true }), gg.ones([5, 4])).gradFn?.name).to.equal('MmBackward0');
  });

  it('mismatched shapes and dtypes still raise matmul\'s and add\'s errors', () => {
    expect(() => gg.nn.functional.linear(gg.ones([2, 4]), gg.ones([5, 3]), gg.ones([5]))).to.throw(/cannot be multiplied/);
    expect(() => gg.nn.functional.linear(gg.ones([2, 4]), gg.ones([5, 4]), gg.ones([4]))).to.throw();
    expect(() => gg.nn.functional.linear(gg.ones([2, 4]), gg.ones([5, 4], { dtype: 'float64' }), gg.ones([5]))).to.throw(/dtype/);
  });
});

describe('the gemm\'s bias epilogue (float32, cpu)', function () {
  before(function () {
    if (!wasmGemm()) skipBecause(this, 'no WebAssembly gemm here (gg.deviceInfo(\'cpu\').notes says why)');
  });

  /** out = a·b (batched) + bias, computed as the gemm without bias plus a float32 addition per element. */
  function reference(a: Float32Array, b: Float32Array, c: Float32Array, spec: GemmSpec, bias: { offset: number; strides: number[] }): Float32Array {
    const plain = K.matmul(spec.a, spec.b, spec.batch, spec.m, spec.k, spec.n).gemm!;
    const count = spec.batch.reduce((x, y) => x * y, 1);
    const out = new Float32Array(count * spec.m * spec.n);
    expect(wasmGemm()!.run(out, a, b, plain)).to.equal(true);
    const r = spec.batch.length;
    for (let t = 0; t < count; t++) {
      for (let i = 0; i < spec.m; i++) {
        for (let j = 0; j < spec.n; j++) {
          const at = bias.offset + i * (bias.strides[r] ?? 0) + j * (bias.strides[r + 1] ?? 0);
          const o = (t * spec.m + i) * spec.n + j;
          out[o] = (out[o] as number) + (c[at] as number);
        }
      }
    }
    return out;
  }

  const r = rng(21);
  const vals = (len: number): Float32Array => Float32Array.from({ length: len }, () => r() * 2 - 1);
  const layouts: { name: string; m: number; k: number; n: number; batch: number[]; aT: boolean; perRow: boolean }[] = [
    { name: 'Linear-like, bias per column', m: 37, k: 70, n: 21, batch: [], aT: false, perRow: false },
    { name: 'bias per row (a convolution\'s channels)', m: 19, k: 45, n: 50, batch: [], aT: false, perRow: true },
    { name: 'turned product (Aᵀ read in place), bias per column', m: 200, k: 300, n: 8, batch: [], aT: true, perRow: false },
    { name: 'turned product, bias per row', m: 200, k: 300, n: 8, batch: [], aT: true, perRow: true },
    { name: 'a batch of 3, bias per row', m: 12, k: 30, n: 40, batch: [3], aT: false, perRow: true },
    { name: 'k = 0: the bias alone', m: 6, k: 0, n: 5, batch: [], aT: false, perRow: false },
  ];
  for (const l of layouts) {
    it(`${l.name}: the product plus a float32 addition, bit for bit`, () => {
      const count = l.batch.reduce((x, y) => x * y, 1);
      const a = vals(count * l.m * l.k);
      const b = vals(count * l.k * l.n);
      const c = vals(l.perRow ? l.m + 3 : l.n + 3);
      const aOp = { offset: 0, strides: [...l.batch.map(() => l.m * l.k), ...(l.aT ? [1, l.m] : [l.k, 1])] };
      const bOp = { offset: 0, strides: [...l.batch.map(() => l.k * l.n), l.n, 1] };
      // an offset and a stride on the bias: any view of a vector
      const bias = { offset: 1, strides: [...l.batch.map(() => 0), ...(l.perRow ? [1, 0] : [0, 1])] };
      const kernel = K.matmul(aOp, bOp, l.batch, l.m, l.k, l.n, 0, bias);
      expect(kernel.name).to.equal('addmm');
      const g = wasmGemm()!;
      const turned = g.turnedRuns;
      const out = new Float32Array(count * l.m * l.n).fill(Number.NaN);
      expect(g.run(out, a, b, kernel.gemm!, c)).to.equal(true);
      if (l.aT) expect(g.turnedRuns - turned, 'turned').to.equal(1);
      expect(bits(out)).to.deep.equal(bits(reference(a, b, c, { a: aOp, b: bOp, batch: l.batch, m: l.m, k: l.k, n: l.n }, bias)));
      // the cpu device runs the kernel on the gemm with its epilogue: the same values
      const dev = getDevice('cpu');
      const up = (x: Float32Array) => dev.upload(x, 'float32');
      expect(bits(dev.readSync(dev.run(kernel, [up(a), up(b), up(c)], 'float32')))).to.deep.equal(bits(out));
    });
  }

  it('a bias over both dims (not a row or column vector) is declined: the loop runs', () => {
    const kernel = K.matmul({ offset: 0, strides: [4, 1] }, { offset: 0, strides: [5, 1] }, [], 6, 4, 5, 0, { offset: 0, strides: [5, 1] });
    expect(wasmGemm()!.run(new Float32Array(30), vals(24), vals(20), kernel.gemm!, vals(30))).to.equal(false);
  });
});
