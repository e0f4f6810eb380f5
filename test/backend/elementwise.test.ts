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
 * - only the exact generated kernels are taken (`elementwiseKind`), float64
 *   never is, and a pass that does not fit its memory declines (the loop runs).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { CpuDevice } from '../../src/backend/cpu.js';
import { getDevice } from '../../src/backend/registry.js';
import * as K from '../../src/backend/kernels.js';
import { elementwiseKind, openWasmElementwise } from '../../src/backend/wasm/elementwise.js';
import { expectClose, fixture } from '../helpers/compare.js';
import { decodeAll, type SpecialGolden } from '../helpers/special.js';
import { rng } from '../helpers/random.js';

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

describe('float32 elementwise fast path (WebAssembly SIMD ReLU and SGD)', function () {
  before(function () {
    if (!engine) this.skip(); // the runtime lacks WebAssembly SIMD: the loops run (info().notes says why)
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
    // per step: relu, its backward, four parameter updates
    expect(passes).to.equal(3 * 6);
    fast.forEach((p, i) => expect(bits(p), `parameter ${i}`).to.deep.equal(bits(loop[i] as number[])));
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
    // PyTorch's relu(-0) is -0; ours is +0 (where(x <= 0, 0, x), docs/notes/special-values.md): compare as numbers
    expectClose(got, want, { rtol: 0, atol: 0 }, 'relu');
    expectClose(await x.grad!.data(), decodeAll(c.grads[0] as SpecialGolden), { rtol: 0, atol: 0 }, 'gradient');
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
