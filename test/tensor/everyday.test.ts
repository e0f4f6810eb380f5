/**
 * The everyday tools of a PyTorch port (issue 15) against PyTorch 1.13
 * (test/fixtures/make_tools.py, torch_tools.json): floor, ceil, round (half
 * to even) with their zero gradients and tangents, norm over p and dims with
 * its gradient (0 where the norm is 0), arange(start, end, step) in
 * PyTorch's argument order with its length rule and messages, and rsub.
 * float64 on the cpu, and float32 on every device present.
 * Then ndarray interop: gg.tensor of every kind of scijs view and
 * t.ndarray() / t.ndarraySync() back.
 */
import { expect } from 'chai';
import ndarray from 'ndarray';
import * as gg from '../../src/index.js';
import { num, nums, tools, type ToolTensor } from '../helpers/tools-fixture.js';
import { forEachDevice, syncReadable } from '../helpers/devices.js';

function t64(t: ToolTensor, requiresGrad = false): gg.Tensor {
  return gg.tensor(Float64Array.from(nums(t)), { shape: t.shape, dtype: 'float64', requiresGrad });
}
/** Equal within `tol` relative (0: exactly), NaN matching NaN. */
function close(got: ArrayLike<number>, want: readonly number[], what: string, tol = 1e-12): void {
  expect(got.length, what).to.equal(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as number;
    const g = got[i] as number;
    if (Number.isNaN(w)) expect(Number.isNaN(g), `${what}[${i}] NaN`).to.equal(true);
    else if (tol === 0 || !Number.isFinite(w)) expect(g, `${what}[${i}]`).to.equal(w);
    else expect(g, `${what}[${i}]`).to.be.closeTo(w, tol * (1 + Math.abs(w)));
  }
}

describe('everyday tools (PyTorch 1.13 goldens, float64 on the cpu)', () => {
  describe('floor, ceil, round', () => {
    for (const c of tools().rounding) {
      it(`${c.op}: values (ties to even for round) and PyTorch's zero gradient`, () => {
        const x = t64(c.input, true);
        const y = x[c.op]();
        expect(y.dtype).to.equal('float64');
        expect(y.gradFn?.name).to.equal(`${c.op[0]!.toUpperCase()}${c.op.slice(1)}Backward0`);
        close(y.dataSync(), nums(c.output), c.op, 0);
        y.mul(t64(c.gout)).sum().backward();
        close(x.grad!.dataSync(), nums(c.grad), `${c.op} grad`, 0);
      });
    }

    it('round: ties to even where Math.round goes up, and zero keeps the sign (-0 as PyTorch)', () => {
      const y = gg.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -0.3, -0, 0.49999999999999994, 4503599627370495.5], { dtype: 'float64' }).round().dataSync();
      expect(Array.from(y)).to.deep.equal([0, 2, 2, -0, -2, -2, -0, -0, 0, 4503599627370496]);
      expect(Object.is(y[3], -0) && Object.is(y[6], -0) && Object.is(y[7], -0), 'signed zeros').to.equal(true);
      expect(Object.is(y[0], 0), '+0 for 0.5').to.equal(true);
      const z = gg.tensor([Infinity, -Infinity, NaN], { dtype: 'float64' });
      for (const op of ['floor', 'ceil', 'round'] as const) {
        const v = z[op]().dataSync();
        expect([v[0], v[1], Number.isNaN(v[2] as number)], op).to.deep.equal([Infinity, -Infinity, true]);
      }
      expect(Object.is(gg.tensor([-0.5], { dtype: 'float64' }).ceil().dataSync()[0], -0), 'ceil(-0.5) is -0').to.equal(true);
    });

    for (const c of tools().roundDecimals.filter((r) => r.dtype === 'float64')) {
      it(`round({ decimals: ${c.decimals} }): PyTorch's round(x·10^d) / 10^d, with a zero gradient`, () => {
        const x = gg.tensor(Float64Array.from(nums(c.input)), { dtype: 'float64', requiresGrad: true });
        const y = x.round({ decimals: c.decimals });
        close(y.dataSync(), nums(c.output), `round decimals=${c.decimals}`, 0);
        expect(Object.is(y.dataSync()[14], -0), '-0 stays -0').to.equal(true);
        y.sum().backward();
        expect(Array.from(x.grad!.dataSync()).every((v) => v === 0)).to.equal(true);
      });
    }

    it('round checks decimals (a whole number, in an options object)', () => {
      const x = gg.tensor([1.25]);
      expect(() => x.round({ decimals: 1.5 })).to.throw(TypeError, "round(): argument 'decimals' must be int");
      expect(() => x.round(2 as unknown as { decimals: number })).to.throw(TypeError, 'options');
      expect(Array.from(x.round({ decimals: 0 }).dataSync())).to.deep.equal([1]);
    });

    it('forward mode: a zero tangent, as PyTorch', () => {
      const { dualLevel, makeDual, unpackDual } = gg.autograd.forwardAd;
      for (const op of ['floor', 'ceil', 'round'] as const) {
        const tangent = dualLevel(() => unpackDual(makeDual(gg.tensor([0.3, -1.7], { dtype: 'float64' }), gg.tensor([1, 2], { dtype: 'float64' }))[op]()).tangent);
        expect(Array.from(tangent!.dataSync()), op).to.deep.equal([0, 0]);
      }
    });
  });

  describe('norm', () => {
    for (const c of tools().norms) {
      it(`${c.name}: p=${String(c.p)}, dim=${JSON.stringify(c.dim)}, keepdim=${c.keepdim}, and its gradient`, () => {
        const x = t64(c.input, true);
        const p = c.p === 'fro' ? 'fro' : num(c.p);
        const dim = c.dim ?? undefined;
        const y = x.norm(p, dim, c.keepdim);
        expect(y.shape).to.deep.equal(c.output.shape);
        // PyTorch 1.13's own float64 norm for p = 0.3 is 1e-7 (relative) off (Σ|x|^p)^(1/p) computed in float64
        const loose = p === 0.3 ? 1e-6 : 0;
        close(y.dataSync(), nums(c.output), 'norm', loose || 1e-12);
        y.mul(t64(c.gout)).sum().backward();
        close(x.grad!.dataSync(), nums(c.grad), 'norm grad', loose || 1e-10);
        close(gg.norm(t64(c.input), p, dim, c.keepdim).dataSync(), nums(c.output), 'gg.norm', loose || 1e-12);
      });
    }

    it('defaults to the 2-norm of every element; checks p, keepdim and dims as PyTorch', () => {
      const x = gg.tensor([[3, 4], [0, 0]], { dtype: 'float64' });
      expect(x.norm().itemSync()).to.equal(5);
      expect(() => x.norm(NaN)).to.throw("norm: p must be a number or 'fro', got NaN");
      expect(() => x.norm('nuc' as 'fro')).to.throw("norm: p must be a number or 'fro', got nuc");
      expect(() => x.norm(2, 1, 1 as unknown as boolean)).to.throw(TypeError, 'keepdim');
      expect(() => x.norm(2, 2)).to.throw(/Dimension out of range/);
      expect(() => gg.norm([3, 4] as unknown as gg.Tensor)).to.throw(TypeError, "argument 'input'");
    });

    it('gradcheck and gradgradcheck of the 2-norm and the 3-norm', async () => {
      const a = gg.randn([3, 4], { dtype: 'float64', requiresGrad: true });
      expect(await gg.autograd.gradcheck((t) => t.norm(2, 1), [a])).to.equal(true);
      expect(await gg.autograd.gradgradcheck((t) => t.norm(3, 1), [a])).to.equal(true);
    });
  });

  describe('arange', () => {
    for (const c of tools().aranges) {
      it(`arange(${c.args.join(', ')})${c.error ? ` throws "${c.error}"` : ''}`, () => {
        const [a, b, s] = c.args as [number, number?, number?];
        const make = (): gg.Tensor =>
          b === undefined ? gg.arange(a, { dtype: 'float64' }) : s === undefined ? gg.arange(a, b, { dtype: 'float64' }) : gg.arange(a, b, s, { dtype: 'float64' });
        if (c.error) {
          expect(make).to.throw(RangeError, c.error);
          return;
        }
        const y = make();
        expect(y.shape).to.deep.equal(c.output!.shape);
        close(y.dataSync(), nums(c.output!), 'arange', 0);
      });
    }

    it("PyTorch's other checks, in its order, with its messages", () => {
      expect(() => gg.arange(0, 1, 0)).to.throw(RangeError, 'step must be nonzero');
      expect(() => gg.arange(0, 1, NaN)).to.throw(RangeError, 'step must be nonzero');
      expect(() => gg.arange(NaN, 1, 0)).to.throw(RangeError, 'step must be nonzero');
      expect(() => gg.arange(0, Infinity)).to.throw(RangeError, 'unsupported range: 0 -> inf');
      expect(() => gg.arange(-Infinity, 1, -1)).to.throw(RangeError, 'unsupported range: -inf -> 1');
      expect(() => gg.arange(NaN, 1)).to.throw(RangeError, 'unsupported range: nan -> 1');
      expect(() => gg.arange(1, 0)).to.throw(RangeError, 'upper bound and larger bound inconsistent with step sign');
      expect(() => gg.arange(0, 1, -1)).to.throw(RangeError, 'upper bound and larger bound inconsistent with step sign');
      expect(() => gg.arange(0, 1e30, 1e-30)).to.throw(RangeError, 'too many');
      // an infinite step gives PyTorch's empty result
      expect(gg.arange(0, 1, Infinity).shape).to.deep.equal([0]);
      expect(gg.arange(2, 2, -1).shape).to.deep.equal([0]);
    });

    it('names the argument that is not a number, as PyTorch: end alone, else start, end, step', () => {
      expect(() => gg.arange('3' as unknown as number)).to.throw(TypeError, "arange(): argument 'end' must be Number, not str");
      expect(() => gg.arange('0' as unknown as number, 3)).to.throw(TypeError, "argument 'start'");
      expect(() => gg.arange(0, [3] as unknown as number)).to.throw(TypeError, "argument 'end'");
      expect(() => gg.arange(0, 3, '1' as unknown as number)).to.throw(TypeError, "argument 'step'");
      expect(() => (gg.arange as (...a: unknown[]) => gg.Tensor)()).to.throw(TypeError, 'takes 1 to 3 numbers');
      expect(() => (gg.arange as (...a: unknown[]) => gg.Tensor)(0, 1, 2, 3)).to.throw(TypeError, 'takes 1 to 3 numbers');
    });

    it('keeps its options form, arange(end, { start, step }), and refuses both forms at once', () => {
      expect(Array.from(gg.arange(7, { start: 1, step: 2 }).dataSync())).to.deep.equal([1, 3, 5]);
      expect(() => gg.arange(1, 7, { step: 2 } as gg.TensorOptions)).to.throw(TypeError, 'leave them out of the options');
      const t = gg.arange(1, 3, 0.5, { dtype: 'float64', requiresGrad: true });
      expect([t.dtype, t.requiresGrad, Array.from(t.dataSync())]).to.deep.equal(['float64', true, [1, 1.5, 2, 2.5]]);
      expect([gg.arange(3).dtype, gg.arange(7, { start: 1, step: 2 }).dtype, gg.arange(3, { step: 0.5 }).dtype]).to.deep.equal(['int64', 'int64', 'float32']);
    });
  });

  describe('rsub', () => {
    it('other - alpha·x as gg.rsub and x.rsub, with its gradient', () => {
      const c = tools().rsub;
      const x = t64(c.input, true);
      const y = x.rsub(c.other, { alpha: c.alpha });
      close(y.dataSync(), nums(c.output), 'rsub');
      y.mul(t64(c.gout)).sum().backward();
      close(x.grad!.dataSync(), nums(c.grad), 'rsub grad');
      close(gg.rsub(t64(c.input), c.other, { alpha: c.alpha }).dataSync(), nums(c.output), 'gg.rsub');
    });

    it('1 - x, a broadcast tensor other (which gets its gradient), and checked arguments', () => {
      expect(Array.from(gg.tensor([1, 2]).rsub(1).dataSync())).to.deep.equal([0, -1]);
      const o = gg.tensor([[10], [20]], { requiresGrad: true });
      const y = gg.tensor([1, 2]).rsub(o);
      expect(Array.from(y.dataSync())).to.deep.equal([9, 8, 19, 18]);
      y.sum().backward();
      expect(Array.from(o.grad!.dataSync())).to.deep.equal([2, 2]);
      const x = gg.tensor([1]);
      expect(() => x.rsub('1' as unknown as number)).to.throw(TypeError, "rsub(): argument 'other' must be Tensor or Number, not str");
      expect(() => x.rsub(1, 2 as unknown as { alpha: number })).to.throw(TypeError, 'options');
      expect(() => x.rsub(1, { alpha: '2' as unknown as number })).to.throw(TypeError, "argument 'alpha'");
      expect(() => gg.rsub(1 as unknown as gg.Tensor, x)).to.throw(TypeError, "argument 'input'");
    });

    it("matmul and mm refuse a non-tensor operand with PyTorch's TypeError (torch 1.13: matmul(): argument 'other' (position 1) must be Tensor, not list)", () => {
      const x = gg.ones([2, 2]);
      expect(() => x.matmul([1, 2] as unknown as gg.Tensor)).to.throw(TypeError, "matmul(): argument 'other' must be Tensor, not list");
      expect(() => x.matmul(null as unknown as gg.Tensor)).to.throw(TypeError, "matmul(): argument 'other' must be Tensor, not None");
      expect(() => x.mm([1, 2] as unknown as gg.Tensor)).to.throw(TypeError, "mm(): argument 'mat2' must be Tensor, not list");
      expect(() => gg.matmul(x, [1, 2] as unknown as gg.Tensor)).to.throw(TypeError, "matmul(): argument 'other' must be Tensor, not list");
    });
  });
});

forEachDevice((device) => {
  describe('everyday tools in float32', () => {
    it('floor, ceil and round agree with PyTorch (ties to even) on the device', async () => {
      for (const c of tools().rounding) {
        // |x| < 2^23, where float32 holds the halves exactly
        const keep = nums(c.input).map((v, i) => [v, i] as const).filter(([v]) => Math.abs(v) < 1e6);
        const x = gg.tensor(keep.map(([v]) => v), { device });
        const want = keep.map(([, i]) => nums(c.output)[i] as number);
        close(await x[c.op]().data(), want, `${c.op} on ${device}`, 0);
      }
      const halves = gg.tensor([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 1e6 + 0.5, 2 ** 23 - 0.5, 2 ** 23 + 1], { device });
      close(await halves.round().data(), [0, 2, 2, 4, -0, -2, -2, 1e6, 2 ** 23, 2 ** 23 + 1], `round ties on ${device}`, 0);
    });

    it('round({ decimals }) agrees with PyTorch in float32 on the device', async () => {
      for (const c of tools().roundDecimals.filter((r) => r.dtype === 'float32')) {
        const got = await gg.tensor(nums(c.input), { device }).round({ decimals: c.decimals }).data();
        // float32 steps, exact on the cpu; a GPU's float32 division may be off by an ulp or two (WGSL allows 2.5)
        close(got, nums(c.output), `round decimals=${c.decimals} on ${device}`, device === 'cpu' ? 0 : 5e-7);
      }
    });

    it('norm, arange and rsub agree with PyTorch on the device', async () => {
      for (const name of ['dims-2', 'all-3', 'dims-inf-keep', 'all-1']) {
        const n = tools().norms.find((c) => c.name === name)!;
        const p = n.p === 'fro' ? 'fro' : num(n.p);
        const got = await gg.tensor(nums(n.input), { shape: n.input.shape, device }).norm(p, n.dim ?? undefined, n.keepdim).data();
        close(got, nums(n.output), `norm ${name} on ${device}`, 1e-5);
      }
      close(await gg.arange(0, 1, 0.25, { device }).data(), [0, 0.25, 0.5, 0.75], `arange on ${device}`, 0);
      const r = tools().rsub;
      close(await gg.tensor(nums(r.input), { device }).rsub(r.other, { alpha: r.alpha }).data(), nums(r.output), `rsub on ${device}`, 1e-6);
    });

    it('ndarray in (a transposed, stepped view) and out (await t.ndarray())', async () => {
      const base = ndarray(Float64Array.from({ length: 12 }, (_, i) => i), [3, 4]);
      const t = gg.tensor(base.step(1, -2).transpose(1, 0), { device });
      expect(t.shape).to.deep.equal([2, 3]);
      expect(t.device).to.equal(device);
      const nd = await t.ndarray();
      expect([nd.shape, nd.dtype, Array.from(nd.data)]).to.deep.equal([[2, 3], 'float32', [3, 7, 11, 1, 5, 9]]);
      expect(nd.get(1, 2)).to.equal(9);
      if (syncReadable(device)) expect(t.ndarraySync().get(0, 1)).to.equal(7);
      else expect(() => t.ndarraySync()).to.throw(/use 'await t.data\(\)'/);
    });
  });
});

describe("the README's everyday-tools snippet says what it shows", () => {
  it('round, floor, ceil, norm, arange, rsub, alpha, JSON and the ndarray view', async () => {
    const arr = async (t: gg.Tensor): Promise<number[]> => Array.from(await t.data());
    const r = await arr(gg.tensor([0.5, 1.5, 2.5, -0.5]).round());
    expect(r).to.deep.equal([0, 2, 2, -0]);
    expect(Object.is(r[3], -0)).to.equal(true);
    expect(await arr(gg.tensor([-1.5, 1.2]).floor())).to.deep.equal([-2, 1]);
    expect(await arr(gg.tensor([-1.5, 1.2]).ceil())).to.deep.equal([-1, 2]);
    expect(await arr(gg.tensor([[3, 4], [6, 8]]).norm(2, 1))).to.deep.equal([5, 10]);
    expect(await arr(gg.arange(2, 7))).to.deep.equal([2, 3, 4, 5, 6]);
    expect(await arr(gg.tensor([0.25, 1]).rsub(1))).to.deep.equal([0.75, 0]);
    expect(await arr(gg.rsub(gg.tensor([1, 2]), 10, { alpha: 2 }))).to.deep.equal([8, 6]);
    expect(await arr(gg.tensor([1, 1]).add(gg.tensor([1, 2]), { alpha: 2 }))).to.deep.equal([3, 5]);
    expect(JSON.stringify(gg.tensor([[1, 2]]))).to.equal('{"dtype":"int64","shape":[1,2],"device":"cpu","data":[[1,2]]}');
    expect([gg.arange(5).dtype, gg.arange(2, 7).dtype, gg.arange(0, 1, 0.25, { dtype: 'float64' }).dtype, gg.full([2], 3).dtype]).to.deep.equal(['int64', 'int64', 'float64', 'int64']);
    expect([gg.full([2], 3, { dtype: 'float32' }).dtype, gg.arange(5, { dtype: 'float32' }).dtype]).to.deep.equal(['float32', 'float32']);
    const grid = ndarray(new Float64Array([0, 1, 2, 3, 4, 5]), [2, 3]);
    expect(await gg.tensor(grid.transpose(1, 0).step(-1, 1)).array()).to.deep.equal([[2, 5], [1, 4], [0, 3]]);
    const t = gg.randn([2, 3]);
    const nd = await t.ndarray();
    expect(nd.get(1, 2)).to.equal((await t.data())[5]);
  });
});

describe('ndarray interop (scijs ndarray)', () => {
  // 0 1 2 3 / 4 5 6 7 / 8 9 10 11, in float64
  const grid = (): ndarray.NdArray<Float64Array> => ndarray(Float64Array.from({ length: 12 }, (_, i) => i), [3, 4]);
  const values = (t: gg.Tensor): number[] => Array.from(t.dataSync());

  it('a plain ndarray: its shape and row-major values', () => {
    const t = gg.tensor(grid(), { dtype: 'float64' });
    expect(t.shape).to.deep.equal([3, 4]);
    expect(values(t)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('a transposed view (.transpose): strides honoured', () => {
    const t = gg.tensor(grid().transpose(1, 0), { dtype: 'float64' });
    expect(t.shape).to.deep.equal([4, 3]);
    expect(values(t)).to.deep.equal([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    const cube = ndarray(Float32Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]).transpose(2, 0, 1);
    expect(values(gg.tensor(cube))).to.deep.equal(values(gg.arange(24).reshape(2, 3, 4).permute(2, 0, 1)));
  });

  it('a sliced view (.lo, .hi): the offset honoured', () => {
    const t = gg.tensor(grid().lo(1, 1).hi(2, 2), { dtype: 'float64' });
    expect(t.shape).to.deep.equal([2, 2]);
    expect(values(t)).to.deep.equal([5, 6, 9, 10]);
  });

  it('a stepped view (.step(2)) and negative steps (reversed dims)', () => {
    expect(values(gg.tensor(grid().step(2, 2)))).to.deep.equal([0, 2, 8, 10]);
    const rev = grid().step(-1, 1);
    expect(rev.stride[0]).to.be.below(0);
    expect(values(gg.tensor(rev))).to.deep.equal([8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3]);
    expect(values(gg.tensor(grid().step(-2, -3)))).to.deep.equal([11, 8, 3, 0]);
  });

  it('a picked view (.pick), a 0-d one, and empty ones', () => {
    expect(values(gg.tensor(grid().pick(null, 2)))).to.deep.equal([2, 6, 10]);
    const zeroD = gg.tensor(grid().pick(2, 3));
    expect([zeroD.shape, values(zeroD)]).to.deep.equal([[], [11]]);
    const empty = gg.tensor(grid().hi(0, 4));
    expect([empty.shape, values(empty)]).to.deep.equal([[0, 4], []]);
  });

  it('a hand-made view and data that is a plain array or has get(i)', () => {
    // shape [2, 2], stride [-1, 3], offset 1 over [a b c d e]: (0,0)=1 (0,1)=4 (1,0)=0 (1,1)=3
    const data = [10, 11, 12, 13, 14];
    expect(values(gg.tensor({ data, shape: [2, 2], stride: [-1, 3], offset: 1 }))).to.deep.equal([11, 14, 10, 13]);
    const generic = { length: 5, get: (i: number) => data[i] as number };
    expect(values(gg.tensor({ data: generic, shape: [5], stride: [1], offset: 0 }))).to.deep.equal(data);
  });

  it('requires a matching opts.shape, and keeps dtype, device and requiresGrad options', () => {
    const t = gg.tensor(grid(), { shape: [3, 4], dtype: 'float64', requiresGrad: true });
    expect([t.dtype, t.requiresGrad]).to.deep.equal(['float64', true]);
    expect(gg.tensor(grid()).dtype).to.equal('float32');
    expect(() => gg.tensor(grid(), { shape: [4, 3] })).to.throw('shape [4,3] given for an ndarray of shape [3,4]');
  });

  it('refuses malformed views, naming what is wrong, and reads nothing outside the data', () => {
    const data = new Float32Array(4);
    expect(() => gg.tensor({ data, shape: [5], stride: [1], offset: 0 })).to.throw(RangeError, 'reaches positions 0..4 of data of length 4');
    expect(() => gg.tensor({ data, shape: [2], stride: [-1], offset: 0 })).to.throw(RangeError, 'reaches positions -1..0');
    expect(() => gg.tensor({ data, shape: [2], stride: [1], offset: 0.5 })).to.throw(TypeError, "the ndarray's offset must be a whole number");
    expect(() => gg.tensor({ data, shape: [2], stride: ['1' as unknown as number], offset: 0 })).to.throw(TypeError, 'stride[0]');
    expect(() => gg.tensor({ data, shape: [-1], stride: [1], offset: 0 })).to.throw(RangeError, 'shape[0] is negative');
    expect(() => gg.tensor({ data, shape: [2, 2], stride: [1], offset: 0 })).to.throw(TypeError, 'has 2 dims but 1 strides');
    expect(() => gg.tensor({ data: [1, '2' as unknown as number], shape: [2], stride: [1], offset: 0 })).to.throw(TypeError, "element at [1] is str");
    expect(() => gg.tensor({ data: new BigInt64Array(2) as unknown as Float32Array, shape: [2], stride: [1], offset: 0 })).to.throw(TypeError, 'BigInt64Array');
    expect(() => gg.tensor({ data: 'abcd' as unknown as Float32Array, shape: [2], stride: [1], offset: 0 })).to.throw(TypeError, "the ndarray's data must be");
  });

  it('t.ndarray() / ndarraySync(): an ndarray of the shape over a copy, typed as the dtype', async () => {
    const t = gg.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    const nd = await t.ndarray();
    expect(nd.data).to.be.instanceOf(Float64Array);
    expect([nd.shape, nd.stride, nd.offset, nd.dtype, nd.size]).to.deep.equal([[2, 3], [3, 1], 0, 'float64', 6]);
    expect([nd.get(1, 0), nd.transpose(1, 0).get(2, 1), nd.pick(null, 1).get(1)]).to.deep.equal([4, 6, 5]);
    nd.set(0, 0, 100);
    expect(values(t)[0], 'the tensor is unchanged').to.equal(1);
    // views of the tensor come out row-major
    const v = t.t().ndarraySync();
    expect([v.shape, Array.from(v.data)]).to.deep.equal([[3, 2], [1, 4, 2, 5, 3, 6]]);
    const s = gg.tensor(7).ndarraySync();
    expect([s.shape, s.get()]).to.deep.equal([[], 7]);
    expect(gg.zeros([0, 3]).ndarraySync().shape).to.deep.equal([0, 3]);
  });

  it('integer dtypes from an ndarray: truncated toward zero, and refused (not wrapped) out of range', () => {
    const src = ndarray(new Float64Array([1.7, -2.7, 3, -0.2]), [2, 2]);
    const i64 = gg.tensor(src, { dtype: 'int64' });
    expect([i64.dtype, values(i64)]).to.deep.equal(['int64', [1, -2, 3, 0]]);
    const i32 = gg.tensor(src.transpose(1, 0), { dtype: 'int32' });
    expect([i32.dtype, values(i32)]).to.deep.equal(['int32', [1, 3, -2, 0]]);
    // int32 would wrap 2^40 to 0: refused with PyTorch's overflow message instead
    expect(() => gg.tensor(ndarray(new Float64Array([2 ** 40]), [1]), { dtype: 'int32' })).to.throw(RangeError, 'value cannot be converted to type int without overflow');
    expect(() => gg.tensor(ndarray(new Float64Array([NaN]), [1]), { dtype: 'int64' })).to.throw(RangeError);
    expect(() => gg.tensor(ndarray(new Float64Array([2 ** 60]), [1]), { dtype: 'int64' })).to.throw(RangeError, 'beyond 2^53');
    // without a dtype an ndarray gives the default float dtype, whatever its data's type
    expect(gg.tensor(ndarray(new Int32Array([1, 2]), [2])).dtype).to.equal('float32');
  });

  it('float dtypes from an ndarray: float64 data rounds to float32, float32 data widens exactly', () => {
    const f32 = gg.tensor(ndarray(new Float64Array([0.1, 1 / 3]), [2]));
    expect(values(f32)).to.deep.equal([Math.fround(0.1), Math.fround(1 / 3)]);
    const f64 = gg.tensor(ndarray(new Float32Array([0.1]), [1]), { dtype: 'float64' });
    expect(values(f64)).to.deep.equal([Math.fround(0.1)]);
  });

  it('gg.tensor(nd) copies: writing to the ndarray afterwards leaves the tensor as it was', () => {
    const data = new Float64Array([1, 2, 3, 4]);
    const nd = ndarray(data, [2, 2]);
    const t = gg.tensor(nd, { dtype: 'float64' });
    nd.set(0, 0, 100);
    data[3] = -1;
    expect(values(t)).to.deep.equal([1, 2, 3, 4]);
  });

  it('a tensor made from an ndarray is a leaf that gets gradients', () => {
    const x = gg.tensor(ndarray(new Float64Array([1, 2, 3, 4]), [2, 2]).transpose(1, 0), { dtype: 'float64', requiresGrad: true });
    expect(x.isLeaf).to.equal(true);
    x.mul(x).sum().backward();
    // x = [[1, 3], [2, 4]]: d/dx sum(x²) = 2x
    expect(values(x.grad!)).to.deep.equal([2, 6, 4, 8]);
  });

  it('t.ndarray() of integer tensors, views with an offset, and a disposed tensor', async () => {
    const i32 = gg.tensor([[1, 2], [3, 4]], { dtype: 'int32' }).ndarraySync();
    expect([i32.data.constructor.name, i32.dtype, i32.get(1, 0)]).to.deep.equal(['Int32Array', 'int32', 3]);
    // int64 values come in a Float64Array (exact up to 2^53, the range gpugrad's int64 holds)
    const i64 = (await gg.tensor([2 ** 53, -5]).ndarray());
    expect([i64.data.constructor.name, Array.from(i64.data)]).to.deep.equal(['Float64Array', [2 ** 53, -5]]);
    // a narrowed, stepped view: its own values, row-major, offset 0
    const base = gg.arange(12, { dtype: 'float64' }).reshape(3, 4);
    const v = base.narrow(1, 1, 2).narrow(0, 1, 2).ndarraySync();
    expect([v.shape, v.stride, v.offset, Array.from(v.data)]).to.deep.equal([[2, 2], [2, 1], 0, [5, 6, 9, 10]]);
    const d = gg.ones([2]);
    d.dispose();
    expect(() => d.ndarraySync()).to.throw();
    let rejected = false;
    await d.ndarray().catch(() => (rejected = true));
    expect(rejected, 'ndarray() of a disposed tensor rejects').to.equal(true);
  });

  it('round trip: a tensor through ndarray views and back', () => {
    const t = gg.randn([3, 5], { dtype: 'float64' });
    const nd = t.ndarraySync();
    expect(values(gg.tensor(nd, { dtype: 'float64' }))).to.deep.equal(values(t));
    expect(values(gg.tensor(nd.transpose(1, 0), { dtype: 'float64' }))).to.deep.equal(values(t.t()));
    // rows 1..2, columns 4, 3, 2
    const all = values(t);
    expect(values(gg.tensor(nd.lo(1, 2).step(1, -1), { dtype: 'float64' }))).to.deep.equal([9, 8, 7, 14, 13, 12].map((i) => all[i]));
  });
});
