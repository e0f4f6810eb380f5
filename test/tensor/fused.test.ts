/**
 * Fused kernels (the op table's `fused` entry, tensor/fuse.ts) against the
 * composed formula they replace, on every device: forward values, the
 * gradient of every input (with broadcasting and reductions), forward-mode
 * tangents; on the cpu in float64 also gradcheck and gradgradcheck (the
 * derivative of a fused op is a fused op again). Every formula with a
 * derivative rule appears in some case.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import type { Expr } from '../../src/backend/fusion.js';
import { fx } from '../../src/tensor/fuse.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose, type Tol } from '../helpers/compare.js';

type T = gg.Tensor;
const { add, sub, mul, div, neg, where, f, c } = fx;
const [A, B, C] = [fx.in(0), fx.in(1), fx.in(2)];

interface Case {
  name: string;
  shapes: number[][];
  /** Inputs rounded to halves (ties for maximum/minimum and comparisons). */
  ties?: boolean;
  /** Positive inputs (log, sqrt, div). */
  positive?: boolean;
  expr: Expr;
  composed: (t: T[]) => T;
  dims?: number[];
}

const cases: Case[] = [
  {
    name: 'exp, tanh, sigmoid, abs, div, add, mul (broadcast)',
    shapes: [[2, 3, 4], [3, 1]],
    expr: add(mul(f('exp', A), f('tanh', B)), div(f('sigmoid', A), add(f('abs', B), c(1)))),
    composed: ([a, b]) => a!.exp().mul(b!.tanh()).add(a!.sigmoid().div(b!.abs().add(1))),
  },
  {
    name: 'log, sqrt, neg, sub, copy, sign, floor, ceil, round',
    shapes: [[3, 5], [5], [3, 1]],
    positive: true,
    expr: add(sub(mul(f('log', A), neg(f('sqrt', B))), mul(f('copy', C), f('sign', sub(A, B)))), add(f('floor', mul(A, c(3))), mul(f('ceil', B), f('round', mul(C, c(2)))))),
    composed: ([a, b, cc]) => a!.log().mul(b!.sqrt().neg()).sub(cc!.contiguous().mul(a!.sub(b!).sign())).add(a!.mul(3).floor().add(b!.ceil().mul(cc!.mul(2).round()))),
  },
  {
    name: 'maximum, minimum, where and comparisons, with ties',
    shapes: [[4, 3], [4, 3], [3]],
    ties: true,
    expr: add(
      mul(f('maximum', A, B), f('minimum', B, C)),
      where(f('gt', A, C), mul(A, f('le', B, c(0))), add(mul(C, f('ge', A, B)), mul(B, add(f('eq', A, B), add(f('ne', A, C), f('lt', B, C)))))),
    ),
    composed: ([a, b, cc]) =>
      a!.maximum(b!).mul(b!.minimum(cc!)).add(a!.mul(b!.le(0)).where(a!.gt(cc!), cc!.mul(a!.ge(b!)).add(b!.mul(a!.eq(b!).add(a!.ne(cc!).add(b!.lt(cc!))))))),
  },
  {
    name: 'a shared node used twice, summed over dims 0 and 2 (a norm statistic)',
    shapes: [[3, 2, 4], [1, 2, 1], [1, 2, 1]],
    expr: mul(mul(sub(A, B), C), mul(sub(A, B), C)),
    dims: [0, 2],
    composed: ([a, b, cc]) => {
      const t = a!.sub(b!).mul(cc!);
      return t.mul(t).sum([0, 2], true);
    },
  },
  {
    // 7 inputs, the most one kernel reads (WebGPU's 8 storage buffers with the output): its
    // backward and jvp read the gradient or tangents too, and keep only the inputs they need
    name: 'seven inputs, a norm layer output: ((x - s)·k - a)·f·w + b',
    shapes: [[2, 3, 4], [2, 3, 1], [1, 1, 1], [2, 3, 1], [2, 3, 1], [1, 3, 1], [1, 3, 1]],
    expr: add(mul(mul(sub(mul(sub(A, B), C), fx.in(3)), fx.in(4)), fx.in(5)), fx.in(6)),
    composed: ([x, s, k, a, ff, w, b]) => x!.sub(s!).mul(k!).sub(a!).mul(ff!).mul(w!).add(b!),
  },
  {
    name: 'eight inputs: more than one kernel reads, so it runs composed',
    shapes: [[2, 3], [3], [3], [3], [3], [3], [3], [2, 1]],
    expr: [1, 2, 3, 4, 5, 6, 7].reduce((e, i) => add(mul(e, fx.in(i)), c(0.5)), A),
    composed: (t) => t.slice(1).reduce((e, x) => e.mul(x).add(0.5), t[0]!),
  },
  {
    name: 'a sum over everything of a broadcast product',
    shapes: [[2, 3], [3]],
    expr: mul(f('exp', neg(A)), B),
    dims: [0, 1],
    composed: ([a, b]) => a!.neg().exp().mul(b!).sum([0, 1], true),
  },
];

function data(shape: readonly number[], seed: number, k: Case): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => {
    const v = Math.sin(seed * 12.9898 + i * 78.233) * 2;
    if (k.ties) return Math.round(v * 2) / 2;
    return k.positive ? Math.abs(v) + 0.25 : v;
  });
}

function inputs(k: Case, device: string, dtype: 'float32' | 'float64'): T[] {
  return k.shapes.map((s, i) => gg.tensor(data(s, i + 1, k), { shape: s, device, dtype, requiresGrad: true }));
}

function fused(k: Case, ts: T[]): T {
  const [first, ...rest] = ts as [T, ...T[]];
  return first.fused(rest, { expr: k.expr, dims: k.dims ?? [], kind: 'sum', name: 'Test' });
}

/** Forward, every input's gradient and the forward-mode tangent of the fused op and of the composed formula. */
async function both(k: Case, device: string, dtype: 'float32' | 'float64'): Promise<{ fused: number[][]; composed: number[][] }> {
  const run = async (fn: (t: T[]) => T): Promise<number[][]> => {
    const ts = inputs(k, device, dtype);
    const y = fn(ts);
    const gout = gg.tensor(data(y.shape, 9, { ...k, ties: false, positive: false }), { shape: y.shape, device, dtype });
    y.mul(gout).sum().backward();
    const out = [Array.from(await y.data())];
    for (const t of ts) out.push(Array.from(await (t.grad as T).data()));
    const fw = gg.autograd.forwardAd;
    const tangent = fw.dualLevel(() => {
      const duals = ts.map((t, i) => fw.makeDual(t.detach(), gg.tensor(data(t.shape, 20 + i, { ...k, ties: false, positive: false }), { shape: t.shape, device, dtype })));
      return fw.unpackDual(fn(duals)).tangent as T;
    });
    out.push(Array.from(await tangent.data()));
    return out;
  };
  return { fused: await run((ts) => fused(k, ts)), composed: await run(k.composed) };
}

describe('fused kernels: the composed formula, one kernel', () => {
  forEachDevice((device) => {
    const dtypes = gg.deviceInfo(device).dtypes.includes('float64') ? (['float32', 'float64'] as const) : (['float32'] as const);
    for (const k of cases) {
      for (const dtype of dtypes) {
        it(`${k.name} (${dtype}): values, gradients and tangents as composed`, async () => {
          const tol: Tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-5 };
          const r = await both(k, device, dtype);
          const labels = ['output', ...k.shapes.map((_, i) => `grad of input ${i}`), 'tangent'];
          r.composed.forEach((want, i) => expectClose(r.fused[i] as number[], want, tol, `${k.name} on ${device}: ${labels[i]}`));
        });
      }
    }

    it('one kernel per fused op, and its backward one kernel per input', async () => {
      const k = cases[3] as Case;
      const ts = inputs(k, device, 'float32');
      const p = await gg.profile(() => {
        const y = fused(k, ts);
        y.backward(gg.onesLike(y));
      });
      // forward 1, backward 1 per input (each already reduced to its input's shape)
      expect(p.kernels.filter((r) => r.kernel.startsWith('Test')).length).to.equal(4);
    });

    it('a fused max over dims (NaN wins) as the composed max', async () => {
      const a = gg.tensor([[1, -5, 2], [Number.NaN, 3, -1]], { device });
      const b = gg.tensor([0.5, 0, -2], { device });
      const m = a.fused([b], { expr: f('abs', sub(A, B)), dims: [1], kind: 'max', name: 'Test' });
      const want = a.sub(b).abs().max(1, true);
      expect(m.shape).to.deep.equal([2, 1]);
      expectClose(Array.from(await m.data()), Array.from(await want.data()), { rtol: 0, atol: 0 }, 'max');
    });
  });

  describe('float64 on the cpu: gradcheck and gradgradcheck', () => {
    for (const k of cases.filter((x) => !x.ties)) {
      it(`${k.name}`, async () => {
        const ts = inputs(k, 'cpu', 'float64');
        const fn = (...xs: T[]) => fused(k, xs);
        expect(await gg.autograd.gradcheck(fn, ts, { checkForwardAd: true })).to.equal(true);
        expect(await gg.autograd.gradgradcheck(fn, ts)).to.equal(true);
      });
    }
  });

  it('differentiating through pow is refused (no fused rule), not wrong', () => {
    const a = gg.tensor([1, 2], { requiresGrad: true, dtype: 'float64' });
    const y = a.fused([], { expr: f('pow', A, c(2)), dims: [], kind: 'sum', name: 'Test' });
    expect(() => y.sum().backward()).to.throw('pow has no fused derivative rule');
  });

  it('a diffExpr gives the derivatives (reverse, forward), expr the values; its inputs follow expr\'s renumbering', async () => {
    // inputs 0 (unread), 1 and 2: the kernel reads two, renumbered 0 and 1, and diffExpr with them
    const unread = gg.tensor([9, 9], { dtype: 'float64' });
    const b = gg.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const cc = gg.tensor([3, 5], { dtype: 'float64', requiresGrad: true });
    // value b·c + 1, derivatives those of 2·b·c (so the gradient shows which expression was used)
    const attrs = { expr: add(mul(B, C), c(1)), diffExpr: mul(mul(B, C), c(2)), dims: [], kind: 'sum' as const, name: 'Test' };
    const y = unread.fused([b, cc], attrs);
    expect([...(await y.data())]).to.deep.equal([4, 11]);
    y.sum().backward();
    expect([...(await b.grad!.data())], 'd/db').to.deep.equal([6, 10]);
    expect([...(await cc.grad!.data())], 'd/dc').to.deep.equal([2, 4]);
    const fw = gg.autograd.forwardAd;
    const t = fw.dualLevel(() => fw.unpackDual(unread.fused([fw.makeDual(b.detach(), gg.onesLike(b)), cc.detach()], attrs)).tangent);
    expect([...(await t!.data())], 'tangent').to.deep.equal([6, 10]);
    // a diffExpr reading an input expr does not read is refused
    expect(() => unread.fused([b, cc], { ...attrs, diffExpr: mul(A, B) })).to.throw('diffExpr reads input 0');
  });

  it('an expression reading a missing input never becomes a kernel', () => {
    const a = gg.tensor([1, 2]);
    expect(() => a.fused([], { expr: add(A, B), dims: [], kind: 'sum', name: 'Test' })).to.throw('reads input 1 of 1');
    expect(() => a.fused([], { expr: add(A, c('1; evil()' as unknown as number)), dims: [], kind: 'sum', name: 'Test' })).to.throw('is not a number');
  });
});
