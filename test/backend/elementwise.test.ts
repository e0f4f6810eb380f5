/**
 * The cpu device's float32 elementwise fast path (src/backend/wasm/elementwise.ts,
 * docs/notes/architecture.md "The elementwise fast path"): ReLU, its backward
 * and SGD's update run on elementwise.wat's SIMD passes.
 * - against the device's own loops (`elementwise` set to null) on the same
 *   inputs, bit for bit, over sizes around the 4-float vectors and special
 *   values (±0, ±Infinity, NaN, subnormals), with the passes counted (they ran);
 * - PyTorch goldens through the public API: f32/relu of
 *   test/fixtures/torch_special.json (make_special.py), values and gradient,
 *   and SGD_plain of torch_nn.json (make_fixtures.py; float64 goldens, float32
 *   to rounding);
 * - spectral norm's passes (W5): W/σ and the backward bit for bit against the
 *   loops, Σ g·W and the matrix–vector products (float64 sums in another
 *   order) equal to the loops on values whose sums are exact, and a spectral
 *   Conv2d step in float32 against the same step in float64 (the reference
 *   loop); the products also run torch_matmul.json's vector cases in
 *   gemm.test.ts;
 * - only the exact generated kernels are taken (`elementwiseKind`), float64
 *   never is, and a pass that does not fit its memory declines (the loop runs).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { CpuDevice } from '../../src/backend/cpu.js';
import { getDevice } from '../../src/backend/registry.js';
import * as K from '../../src/backend/kernels.js';
import type { Operand } from '../../src/backend/kernel.js';
import { elementwiseKind, openWasmElementwise } from '../../src/backend/wasm/elementwise.js';
import { expectClose, fixture } from '../helpers/compare.js';
import { decodeAll, type SpecialGolden } from '../helpers/special.js';
import { rng } from '../helpers/random.js';
import { skipBecause } from '../helpers/devices.js';

const cpu = getDevice('cpu') as CpuDevice;
const engine = cpu.elementwise;

/** Bits of a float32 array as text (NaN as NaN whatever its payload; -0 kept). */
const bits = (a: ArrayLike<number>): string[] => Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v)));

/** Values with the special ones first: ±0, ±Infinity, NaN, float32 subnormals, then random ones. */
function values(n: number, seed: number): number[] {
  const r = rng(seed);
  const special = [0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-40, 1e-45, -1e-45];
  return Array.from({ length: n }, (_, i) => (i < special.length && n > 12 ? (special[i] as number) : r() * 4 - 2));
}

/** Run `fn` with the pass engine on (the default) and off; returns both results and the passes run with it on. */
async function both(fn: () => Promise<number[][]>): Promise<{ fast: number[][]; loop: number[][]; passes: number }> {
  if (!engine) throw new Error('unreachable');
  const before = engine.runs;
  const fast = await fn();
  const passes = engine.runs - before;
  cpu.elementwise = null;
  try {
    return { fast, loop: await fn(), passes };
  } finally {
    cpu.elementwise = engine;
  }
}

describe('float32 elementwise fast path (WebAssembly SIMD: ReLU, SGD, spectral norm)', function () {
  before(function () {
    if (!engine) skipBecause(this, 'no WebAssembly SIMD here: the loops run (gg.deviceInfo(\'cpu\').notes says why)');
  });

  it('relu and its gradient: the loop\'s bits, sizes 1 to 4099 with special values; two passes per step', async () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 17, 64, 1001, 4099]) {
      const xs = values(n, n);
      const gs = values(n, n + 100).reverse();
      const { fast, loop, passes } = await both(async () => {
        const x = gg.tensor(xs, { shape: [n], dtype: 'float32', requiresGrad: true });
        const y = x.relu();
        y.backward(gg.tensor(gs, { shape: [n], dtype: 'float32' }));
        return [[...(await y.data())], [...(await x.grad!.data())]];
      });
      expect(passes, `n=${n}: passes`).to.equal(2);
      expect(bits(fast[0] as number[]), `n=${n}: relu`).to.deep.equal(bits(loop[0] as number[]));
      expect(bits(fast[1] as number[]), `n=${n}: gradient`).to.deep.equal(bits(loop[1] as number[]));
    }
  });

  it('relu keeps -0 and NaN in the vectors and in the scalar tail (pmax, as where(x < 0, 0, x) and PyTorch)', () => {
    // 7 floats: one 4-float vector, then a 3-float tail, each with -0, +0, NaN and a negative
    const x = new Float32Array([-0, 0, Number.NaN, -1, -0, Number.NaN, -2]);
    const out = new Float32Array(7).fill(5);
    expect(engine!.run('relu', out, [x])).to.equal(true);
    expect(bits(out)).to.deep.equal(['-0', '0', 'NaN', '0', '-0', 'NaN', '0']);
    const g = new Float32Array([1, 2, 3, 4, 5, 6, 7]);
    expect(engine!.run('reluBackward', out, [x, g])).to.equal(true);
    expect(bits(out)).to.deep.equal(['0', '0', '3', '0', '0', '6', '0']);
  });

  it('SGD: p + g·(-lr) rounded once to float32, the loop\'s bits; one pass per parameter', async () => {
    for (const n of [2, 3, 5, 1001, 4099]) {
      const ps = values(n, 7 * n).map((v) => (Number.isFinite(v) ? v : 0.5));
      const gs = values(n, 7 * n + 1);
      const { fast, loop, passes } = await both(async () => {
        const p = gg.tensor(ps, { shape: [n], dtype: 'float32', requiresGrad: true });
        p.grad = gg.tensor(gs, { shape: [n], dtype: 'float32' });
        new gg.optim.SGD([p], { lr: 0.0123 }).step();
        return [[...(await p.data())]];
      });
      expect(passes, `n=${n}: passes`).to.equal(1);
      expect(bits(fast[0] as number[]), `n=${n}: update`).to.deep.equal(bits(loop[0] as number[]));
    }
  });

  it('an MLP step (Linear, ReLU, cross-entropy, SGD) gives the loop\'s parameters bit for bit', async () => {
    const r = rng(3);
    const xs = Array.from({ length: 6 * 20 }, () => r() * 2 - 1);
    const { fast, loop, passes } = await both(async () => {
      gg.manualSeed(11);
      const model = new gg.nn.Sequential(new gg.nn.Linear(20, 16), new gg.nn.ReLU(), new gg.nn.Linear(16, 3));
      const opt = new gg.optim.SGD(model.parameters(), { lr: 0.1 });
      const target = gg.tensor([0, 1, 2, 1, 0, 2], { dtype: 'int64' });
      for (let step = 0; step < 3; step++) {
        opt.zeroGrad();
        new gg.nn.CrossEntropyLoss().forward(model.forward(gg.tensor(xs, { shape: [6, 20], dtype: 'float32' })), target).backward();
        opt.step();
      }
      return Promise.all(model.parameters().map(async (p) => [...(await p.data())]));
    });
    // per step: relu, its backward, four parameter updates, two bias-gradient column sums (the bias
    // adds are the gemm's epilogue: Linear is addmm, docs/notes/architecture.md)
    expect(passes).to.equal(3 * 8);
    fast.forEach((p, i) => expect(bits(p), `parameter ${i}`).to.deep.equal(bits(loop[i] as number[])));
  });

  it('a bias added to every row and the column sums of its gradient: the loop\'s bits, odd sizes; strided views run the loop', async () => {
    const r = rng(8);
    for (const [rows, cols] of [[3, 5], [7, 4], [128, 10], [5, 257], [2, 3]] as const) {
      const xs = Array.from({ length: rows * cols }, () => r() * 8 - 4);
      const bs = Array.from({ length: cols }, () => r() * 2 - 1);
      const gs = Array.from({ length: rows * cols }, () => r() * 2 - 1);
      const { fast, loop, passes } = await both(async () => {
        const x = gg.tensor(xs, { shape: [rows, cols], dtype: 'float32' });
        const b = gg.tensor(bs, { shape: [cols], dtype: 'float32', requiresGrad: true });
        const y = x.add(b);
        y.backward(gg.tensor(gs, { shape: [rows, cols], dtype: 'float32' }));
        return [[...(await y.data())], [...(await b.grad!.data())]];
      });
      expect(passes, `${rows}×${cols}: passes`).to.equal(2);
      expect(bits(fast[0] as number[]), `${rows}×${cols}: x + b`).to.deep.equal(bits(loop[0] as number[]));
      expect(bits(fast[1] as number[]), `${rows}×${cols}: Σ rows`).to.deep.equal(bits(loop[1] as number[]));
    }
    // a transposed x: strided reads, the loop runs
    const before = engine!.runs;
    const xt = gg.tensor(Array.from({ length: 12 }, (_, i) => i), { shape: [4, 3], dtype: 'float32' }).t();
    expect([...(await xt.add(gg.tensor([1, 2, 3, 4], { dtype: 'float32' })).data())]).to.deep.equal([1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]);
    expect(engine!.runs - before, 'strided add passes').to.equal(0);
  });

  it('a convolution bias\'s gradient, Σ over the batch and the positions per channel (planeSum): the loop\'s bits, odd sizes, special values', async () => {
    const r = rng(18);
    // [outer, groups, inner]: groups mod 4 from 0 to 3, W6's first one, special values in the third
    for (const [outer, groups, inner, special] of [[2, 5, 7, false], [3, 4, 2, false], [64, 16, 784, false], [4, 9, 33, true], [5, 6, 3, false]] as const) {
      const xs = Array.from({ length: outer * groups * inner }, () => (r() * 8 - 4) * 2 ** Math.floor(r() * 40 - 20));
      if (special) {
        // NaN and ±inf in channel 0, inf - inf in channel 1, only -0 in channel 2, cancellation in channel 3
        const at = (o: number, c: number, l: number): number => (o * groups + c) * inner + l;
        xs[at(1, 0, 3)] = NaN;
        xs[at(2, 1, 0)] = Infinity;
        xs[at(3, 1, 5)] = -Infinity;
        for (let o = 0; o < outer; o++) for (let l = 0; l < inner; l++) xs[at(o, 2, l)] = -0;
        xs[at(0, 3, 0)] = 3e38;
        xs[at(3, 3, 32)] = -3e38;
      }
      const { fast, loop, passes } = await both(async () => {
        const x = gg.tensor(xs, { shape: [outer, groups, inner], dtype: 'float32' });
        return [[...(await x.sum([0, 2]).data())]];
      });
      expect(passes, `${outer}×${groups}×${inner}: passes`).to.equal(1);
      expect(bits(fast[0] as number[]), `${outer}×${groups}×${inner}`).to.deep.equal(bits(loop[0] as number[]));
    }
    // the same sum from a Conv2d's bias gradient (the engine's sum of the output's gradient)
    const x = gg.randn([3, 2, 7, 6], { dtype: 'float32' });
    const conv = new gg.nn.Conv2d(2, 5, 3, { padding: 1 });
    const { fast, loop } = await both(async () => {
      conv.zeroGrad();
      conv.forward(x).mul(conv.forward(x)).sum().backward();
      return [[...(await conv.bias!.grad!.data())]];
    });
    expect(bits(fast[0] as number[]), 'Conv2d bias gradient').to.deep.equal(bits(loop[0] as number[]));
    // GPUGRAD_PLANE_SUM=0: the loop
    engine!.planeSums = false;
    try {
      const before = engine!.runs;
      await gg.tensor(Array.from({ length: 24 }, (_, i) => i), { shape: [2, 3, 4], dtype: 'float32' }).sum([0, 2]).data();
      expect(engine!.runs - before, 'turned off').to.equal(0);
    } finally {
      engine!.planeSums = true;
    }
  });

  it('PyTorch: f32/relu on special values (torch_special.json), values and gradient', async () => {
    const c = fixture<(SpecialGolden & { name: string; inputs: SpecialGolden[]; output: SpecialGolden; grads: SpecialGolden[] })[]>('torch_special.json').find((e) => e.name === 'f32/relu');
    if (!c) throw new Error('torch_special.json has no f32/relu');
    const x = gg.tensor(decodeAll(c.inputs[0] as SpecialGolden), { dtype: 'float32', requiresGrad: true });
    const before = engine!.runs;
    const y = x.relu();
    // (a full-size gradient: the ones of sum().backward() are a broadcast, which the loop reads)
    y.backward(gg.onesLike(y));
    expect(engine!.runs - before, 'passes').to.equal(2);
    const want = decodeAll(c.output);
    const got = await y.data();
    // PyTorch's relu(-0) is -0 (its value is where(x < 0, 0, x)): bit for bit, the sign of zero included
    expect(want.some((v) => Object.is(v, -0)), 'the golden holds a -0').to.equal(true);
    expect(bits(got), 'relu').to.deep.equal(bits(want.map(Math.fround)));
    expect(bits(await x.grad!.data()), 'gradient').to.deep.equal(bits(decodeAll(c.grads[0] as SpecialGolden).map(Math.fround)));
  });

  it('PyTorch: SGD_plain (torch_nn.json), three steps in float32', async () => {
    interface Step { shape: number[]; data: number[] }
    const c = fixture<{ name: string; kwargs: { lr: number }; params: Step[]; grads: Step[][]; params_after: Step[][] }[]>('torch_nn.json').find((e) => e.name === 'SGD_plain');
    if (!c) throw new Error('torch_nn.json has no SGD_plain');
    const ps = c.params.map((p) => gg.tensor(p.data, { shape: p.shape, dtype: 'float32', requiresGrad: true }));
    const opt = new gg.optim.SGD(ps, { lr: c.kwargs.lr });
    const before = engine!.runs;
    for (let s = 0; s < c.grads.length; s++) {
      ps.forEach((p, i) => (p.grad = gg.tensor((c.grads[s]?.[i] as Step).data, { shape: p.shape, dtype: 'float32' })));
      opt.step();
      for (let i = 0; i < ps.length; i++) expectClose(await (ps[i] as gg.Tensor).data(), (c.params_after[s]?.[i] as Step).data, { rtol: 1e-6, atol: 1e-6 }, `step ${s} param ${i}`);
    }
    expect(engine!.runs - before, 'passes').to.equal(c.grads.length * ps.length);
  });

  it('matrix–vector products (rows and columns of the matrix, either side, strided vector, tails): the loop\'s values', () => {
    const r = rng(21);
    // values on a 1/64 grid: every float64 sum is exact, so any order gives the loop's float32
    const grid = (len: number): Float32Array => Float32Array.from({ length: len }, () => Math.round((r() * 4 - 2) * 64) / 64);
    const loop = new CpuDevice({ wasm: false });
    const check = (a: Float32Array, ao: Operand, b: Float32Array, bo: Operand, m: number, k: number, n: number, label: string): void => {
      const kernel = K.matmul(ao, bo, [], m, k, n);
      const want = loop.readSync(loop.run(kernel, [loop.upload(a, 'float32'), loop.upload(b, 'float32')], 'float32'));
      const out = new Float32Array(m * n).fill(NaN);
      const before = engine!.runs;
      expect(engine!.gemv(out, a, b, kernel.gemm!), `${label}: taken`).to.equal(true);
      expect(engine!.runs - before).to.equal(1);
      expect([...out], label).to.deep.equal([...want]);
    };
    for (const [rows, k] of [[256, 2304], [5, 7], [9, 1], [1, 13], [33, 6]] as const) {
      const w = grid(rows * k);
      const x = grid(2 * k + 1);
      // W·v (rows along k), Wᵀ·u (columns), vᵀ·Wᵀ and uᵀ·W (m = 1), a vector read at stride 2
      check(w, { offset: 0, strides: [k, 1] }, x, { offset: 0, strides: [1, 1] }, rows, k, 1, `W·v ${rows}×${k}`);
      check(w, { offset: 0, strides: [1, k] }, x, { offset: 1, strides: [2, 1] }, k, rows, 1, `Wᵀ·u ${k}×${rows}`);
      check(x, { offset: 0, strides: [1, 1] }, w, { offset: 0, strides: [1, k] }, 1, k, rows, `vᵀ·Wᵀ ${k}×${rows}`);
      check(x, { offset: 1, strides: [1, 2] }, w, { offset: 0, strides: [rows, 1] }, 1, k, rows, `uᵀ·W ${k}×${rows}`);
    }
    // declined: a batch, a matrix that is a small slice of a large buffer, not a vector product
    const big = grid(100 * 100);
    const v = grid(100);
    const out = new Float32Array(4);
    expect(engine!.gemv(out, big, v, K.matmul({ offset: 0, strides: [5000, 1] }, { offset: 0, strides: [1, 1] }, [], 2, 4, 1).gemm!)).to.equal(false);
    expect(engine!.gemv(out, big, v, K.matmul({ offset: 0, strides: [8, 4, 1] }, { offset: 0, strides: [0, 1, 1] }, [2], 2, 4, 1).gemm!)).to.equal(false);
    expect(engine!.gemv(new Float32Array(4), big, v, K.matmul({ offset: 0, strides: [4, 1] }, { offset: 0, strides: [2, 1] }, [], 2, 4, 2).gemm!)).to.equal(false);
  });

  it('spectral norm (W5): W/σ and the backward as the loop computes them, bit for bit (odd sizes); Σ g·W exact on grid values', () => {
    const r = rng(19);
    for (const [rows, cols] of [[7, 9], [3, 1], [4, 8], [1, 5]] as const) {
      const n = rows * cols;
      const w = Float32Array.from({ length: n }, () => r() * 4 - 2);
      const g = Float32Array.from({ length: n }, () => r() * 4 - 2);
      const u = Float32Array.from({ length: rows }, () => r() * 2 - 1);
      const v = Float32Array.from({ length: cols }, () => r() * 2 - 1);
      const sigma = Math.fround(1.37);
      const c = Math.fround(-0.61);
      const out = new Float32Array(n);
      expect(engine!.run('divScalar', out, [w, Float32Array.of(sigma)])).to.equal(true);
      // the loop: the float64 quotient, rounded once on the float32 store
      expect(bits(out), `W/σ ${rows}×${cols}`).to.deep.equal(bits(w.map((x) => x / sigma)));
      expect(engine!.run('spectralBackward', out, [g, Float32Array.of(c), Float32Array.of(sigma), u, v], [rows, cols])).to.equal(true);
      const f0 = 1 / sigma;
      const f3 = c / sigma / sigma;
      const want = g.map((x, i) => x * f0 - f3 * (u[Math.floor(i / cols)] as number) * (v[i % cols] as number));
      expect(bits(out), `backward ${rows}×${cols}`).to.deep.equal(bits(want));
      // Σ g·W on a 1/64 grid: exact in float64 whatever the order
      const a = w.map((x) => Math.round(x * 64) / 64);
      const b = g.map((x) => Math.round(x * 64) / 64);
      const dot = new Float32Array(1);
      const kernel = { grid: { shape: [], prefix: 'i', body: ['const b0 = 0.0;', 'const b1 = 0.0;', 'let acc = 0.0;', `for (let j0 = 0.0; j0 < ${n}.0; j0 += 1.0) { const v0 = in0[b0 + j0]; const v1 = in1[b1 + j0]; const f0 = v0 * v1; acc = acc + f0; }`] } };
      const k = { name: 'SpectralNormDot', inputs: 2, size: 1, body: [], result: 'acc', key: '', ...kernel };
      expect(elementwiseKind(k)).to.equal('dot');
      expect(engine!.runKernel('dot', k, dot, [a, b])).to.equal(true);
      expect(dot[0], `Σ g·W ${n}`).to.equal(Math.fround(a.reduce((acc, x, i) => acc + x * (b[i] as number), 0)));
    }
  });

  it('a spectral-norm Conv2d step in float32 with the passes: close to the loops and to float64', async () => {
    const r = rng(9);
    const [out, cin, k] = [12, 5, 3];
    const w0 = Array.from({ length: out * cin * k * k }, () => r() * 0.4 - 0.2);
    const gOut = Array.from({ length: out * cin * k * k }, () => r() * 2 - 1);
    const step = async (dtype: gg.DType): Promise<number[][]> => {
      gg.manualSeed(5);
      const conv = new gg.nn.Conv2d(cin, out, k, { dtype });
      gg.noGrad(() => (conv.weight as gg.Tensor).copy_(gg.tensor(w0, { shape: [out, cin, k, k], dtype })));
      gg.nn.utils.parametrizations.spectralNorm(conv);
      const w = conv.weight as gg.Tensor;
      w.backward(gg.tensor(gOut, { shape: [out, cin, k, k], dtype }));
      const orig = conv.parameters().find((p) => p.shape.length === 4);
      return [[...(await w.data())], [...(await orig!.grad!.data())]];
    };
    const { fast, loop, passes } = await both(() => step('float32'));
    // W·v, Wᵀ·u, σ's W·v, W/σ, Σ g·W, the backward (and the first call's power iterations)
    expect(passes, 'passes').to.be.at.least(6);
    const ref = await step('float64');
    for (const [label, i] of [['W/σ', 0], ['gradient', 1]] as const) {
      expectClose(fast[i] as number[], loop[i] as number[], { rtol: 1e-5, atol: 1e-6 }, `${label} against the loops`);
      expectClose(fast[i] as number[], ref[i] as number[], { rtol: 1e-4, atol: 1e-5 }, `${label} against float64`);
    }
  });

  it('keeps copies of large inputs per device buffer: a second W5-like step copies nothing; a freed key is copied again', async () => {
    const r = rng(4);
    const [out, cin, k] = [16, 128, 3];
    const gv = Array.from({ length: out * cin * k * k }, () => r() * 2 - 1);
    // two steps of one spectral-norm Conv2d (its u and v move each step); the copies counted in the second
    const twoSteps = async (): Promise<{ grad: number[]; copies: number; passes: number }> => {
      gg.manualSeed(6);
      const conv = new gg.nn.Conv2d(cin, out, k);
      gg.nn.utils.parametrizations.spectralNorm(conv);
      const g = gg.tensor(gv, { shape: [out, cin, k, k] });
      const orig = conv.parameters().find((p) => p.shape.length === 4)!;
      (conv.weight as gg.Tensor).backward(g);
      orig.grad = null;
      const [runs, copies] = [engine!.runs, engine!.copies];
      (conv.weight as gg.Tensor).backward(g);
      return { grad: [...(await orig.grad!.data())], copies: engine!.copies - copies, passes: engine!.runs - runs };
    };
    const kept = await twoSteps();
    expect(kept.passes, 'passes').to.be.at.least(6);
    expect(kept.copies, 'copies of W and g').to.equal(0);
    cpu.elementwise = null;
    try {
      expectClose(kept.grad, (await twoSteps()).grad, { rtol: 1e-5, atol: 1e-6 }, 'against the loops');
    } finally {
      cpu.elementwise = engine;
    }
    // a key is a buffer: live, its copy is reused (even if the array were changed: buffers are never written);
    // freed, the array may hold another tensor's values, so it is copied again
    const x = Float32Array.from({ length: 20000 }, (_, i) => (i % 3) - 1);
    const key = { freed: false };
    const o = new Float32Array(x.length);
    const before = engine!.copies;
    expect(engine!.run('relu', o, [x], [x.length], 0, [key])).to.equal(true);
    expect(engine!.run('relu', o, [x], [x.length], 0, [key])).to.equal(true);
    expect(engine!.copies - before, 'one copy while the key lives').to.equal(1);
    x.fill(5);
    const freed = { freed: true };
    expect(engine!.run('relu', o, [x], [x.length], 0, [freed])).to.equal(true);
    expect(engine!.copies - before, 'copied again for a freed key').to.equal(2);
    expect(o.every((v) => v === 5)).to.equal(true);
  });

  it('takes only the exact generated kernels; float64 runs the loop; a pass past its memory declines', async () => {
    // float64: the same kernel text, the loop runs (the pass is float32 only)
    const before = engine!.runs;
    const x = gg.tensor([1, -2, 3], { dtype: 'float64', requiresGrad: true });
    x.relu().sum().backward();
    expect(engine!.runs - before, 'float64 passes').to.equal(0);
    // other kernels are not taken: a plain map, relu of a transposed view (strided reads)
    expect(elementwiseKind(K.map('Relu', [{ strides: [1], offset: 0 }], [4], (v) => `${v[0] as string} + 1.0`))).to.equal(null);
    const t = gg.tensor([1, -2, 3, -4, 5, -6], { shape: [2, 3], dtype: 'float32' }).t();
    const y = t.relu();
    expect(engine!.runs - before, 'strided relu passes').to.equal(0);
    expect([...(await y.data())]).to.deep.equal([1, 0, 0, 5, 3, 0]);
    // a small engine declines what does not fit and writes nothing
    const small = openWasmElementwise(2 ** 16);
    if (!small) throw new Error('unreachable: the shared engine opened');
    const out = new Float32Array(10000).fill(7);
    expect(small.run('relu', out, [new Float32Array(10000).fill(-1)])).to.equal(false);
    expect(out.every((v) => v === 7)).to.equal(true);
    expect(small.run('relu', out.subarray(0, 100), [new Float32Array(100).fill(-1)])).to.equal(true);
    expect(out.subarray(0, 100).every((v) => v === 0)).to.equal(true);
  });

  it('a cpu device opened without WebAssembly runs the loops and says so', () => {
    const off = new CpuDevice({ wasm: false });
    expect(off.elementwise).to.equal(null);
    expect((off.info().notes ?? []).join(' ')).to.match(/ReLU and SGD passes: JavaScript loops/);
    expect((cpu.info().notes ?? []).join(' ')).to.match(/ReLU and SGD passes: WebAssembly SIMD/);
  });
});
