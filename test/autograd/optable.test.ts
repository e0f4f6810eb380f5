/**
 * Every primitive of the op table (`ops` in src/tensor/ops.ts, iterated with
 * Object.keys so a new op is covered, or flagged, automatically): a float64
 * gradcheck and gradgradcheck on cpu, with inputs away from kinks, and the
 * forward-mode check (the `jvp` rule's Jacobian against finite differences).
 * Then the composites built from them (no gradient code of their own).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { ops, type OpName } from '../../src/tensor/ops.js';
import { apply } from '../../src/tensor/tensor.js';
import { fx } from '../../src/tensor/fuse.js';
import { moments, normalizeOver } from '../../src/nn/norm/functional.js';
import type { Node } from '../../src/autograd/graph.js';
import { availableDevices, syncReadable } from '../helpers/devices.js';
import { leaf } from '../helpers/random.js';

const { gradcheck, gradgradcheck, forwardAd: fwAD } = gg.autograd;
type Opts = Parameters<typeof gradcheck>[2];

interface Recipe {
  /** Fresh float64 cpu inputs (those that require grad are checked). */
  inputs: () => gg.Tensor[];
  fn: (...xs: gg.Tensor[]) => gg.Tensor;
  /** Outputs carry no gradient (comparisons, sign). */
  nondifferentiable?: true;
  opts?: Opts;
  /** Why the recipe cannot run here (checked when the test runs). */
  unavailable?: () => string | null;
}

/** A device other than cpu that reads synchronously (toDevice moves back with a synchronous read). */
const otherDevice = availableDevices.find((d) => d !== 'cpu' && syncReadable(d));

/** Call a primitive by name (for ops without a public method of their own). */
const raw = apply as (op: string, inputs: readonly gg.Tensor[], attrs: unknown) => gg.Tensor;

const unaryAny = (f: (x: gg.Tensor) => gg.Tensor, domain: 'any' | 'pos' | 'nonzero' = 'any'): Recipe => ({
  inputs: () => [leaf([2, 3], domain, 11)],
  fn: f,
});
const binary = (f: (a: gg.Tensor, b: gg.Tensor) => gg.Tensor, bDomain: 'any' | 'pos' | 'nonzero' = 'any', aDomain: 'any' | 'pos' = 'any'): Recipe => ({
  // broadcast on purpose: the engine reduces b's gradient back to [3]
  inputs: () => [leaf([2, 3], aDomain, 21), leaf([3], bDomain, 22)],
  fn: f,
});
const comparison = (f: (a: gg.Tensor, b: gg.Tensor) => gg.Tensor): Recipe => ({
  inputs: () => [leaf([2, 3], 'any', 31), leaf([3], 'any', 32)],
  fn: f,
  nondifferentiable: true,
});
/** Two inputs at least 0.1 apart everywhere (no ties for maximum/minimum). */
const separated = (): gg.Tensor[] => {
  const a = leaf([2, 3], 'any', 41);
  const gap = leaf([2, 3], 'nonzero', 42, { requiresGrad: false });
  const b = gg.noGrad(() => a.add(gap.mul(0.5).add(gap.sign().mul(0.1)))).detach().requiresGrad_();
  return [a, b];
};

const window1d = { kernel: [3], stride: [2], padding: [1], dilation: [1], inSize: [5], outSize: [3] };
const window2d = { kernel: [2, 2], stride: [1, 2], padding: [1, 0], dilation: [1, 1], inSize: [3, 4], outSize: [4, 2] };

/** One recipe per primitive; a primitive missing here fails its test with a pointer to this table. */
const recipes: Record<string, Recipe> = {
  neg: unaryAny((x) => x.neg()),
  exp: unaryAny((x) => x.exp()),
  log: unaryAny((x) => x.log(), 'pos'),
  sqrt: unaryAny((x) => x.sqrt(), 'pos'),
  abs: unaryAny((x) => x.abs(), 'nonzero'),
  sign: { ...unaryAny((x) => x.sign(), 'nonzero'), nondifferentiable: true },
  sigmoid: unaryAny((x) => x.sigmoid()),
  tanh: unaryAny((x) => x.tanh()),
  // piecewise constant: a zero Jacobian (random inputs are far from the integers and halves where they jump)
  floor: unaryAny((x) => x.mul(3).floor()),
  ceil: unaryAny((x) => x.mul(3).ceil()),
  round: unaryAny((x) => x.mul(3).round()),
  contiguous: { inputs: () => [leaf([3, 4], 'any', 12)], fn: (x) => x.transpose(0, 1).contiguous() },
  add: binary((a, b) => a.add(b)),
  sub: binary((a, b) => a.sub(b)),
  mul: binary((a, b) => a.mul(b)),
  div: binary((a, b) => a.div(b), 'nonzero'),
  pow: binary((a, b) => a.pow(b), 'any', 'pos'),
  maximum: { inputs: separated, fn: (a, b) => a.maximum(b) },
  minimum: { inputs: separated, fn: (a, b) => a.minimum(b) },
  eq: comparison((a, b) => a.eq(b)),
  ne: comparison((a, b) => a.ne(b)),
  lt: comparison((a, b) => a.lt(b)),
  le: comparison((a, b) => a.le(b)),
  gt: comparison((a, b) => a.gt(b)),
  ge: comparison((a, b) => a.ge(b)),
  where: {
    inputs: () => [leaf([2, 1], 'mask', 51, { requiresGrad: false }), leaf([2, 3], 'any', 52), leaf([3], 'any', 53)],
    fn: (c, a, b) => gg.where(c, a, b),
  },
  sum: { inputs: () => [leaf([2, 3, 2], 'any', 61)], fn: (x) => x.sum([0, 2]) },
  amax: { inputs: () => [leaf([3, 4], 'distinct', 62)], fn: (x) => x.max(1, true) },
  matmul: { inputs: () => [leaf([2, 2, 3], 'any', 63), leaf([3, 2], 'any', 64)], fn: (a, b) => a.matmul(b) },
  addmm: { inputs: () => [leaf([2], 'any', 180), leaf([3, 4], 'any', 181), leaf([4, 2], 'any', 182)], fn: (c, a, b) => c.addmm(a, b) },
  reshape: { inputs: () => [leaf([2, 3], 'any', 65)], fn: (x) => x.reshape(3, 2) },
  permute: { inputs: () => [leaf([2, 3, 2], 'any', 66)], fn: (x) => x.permute(2, 0, 1) },
  expand: { inputs: () => [leaf([3, 1], 'any', 67)], fn: (x) => x.expand(2, 3, 4) },
  narrow: { inputs: () => [leaf([4, 3], 'any', 68)], fn: (x) => x.narrow(0, 1, 2) },
  pad: { inputs: () => [leaf([2, 3], 'any', 69)], fn: (x) => x.pad([1, 0], [0, 2], 0.5) },
  // through float32 and back: exact in float32's precision, hence the larger step
  cast: { inputs: () => [leaf([2, 3], 'any', 70)], fn: (x) => x.to('float32').to('float64'), opts: { eps: 1e-2 } },
  toDevice: {
    inputs: () => [leaf([2, 3], 'any', 71)],
    fn: (x) => x.to('float32').to(otherDevice ?? 'cpu').to('cpu').to('float64'),
    opts: { eps: 1e-2 },
    unavailable: () => (otherDevice ? null : 'no device other than cpu with synchronous reads is available'),
  },
  // a transposed 2x3 region of a 4x4 tensor (columns 1..2, rows 0..2), and writing one into it
  asStrided: { inputs: () => [leaf([4, 4], 'any', 13)], fn: (x) => raw('asStrided', [x], { shape: [2, 3], strides: [1, 4], offset: 1 }) },
  scatter: {
    inputs: () => [leaf([4, 4], 'any', 14), leaf([2, 3], 'any', 15)],
    fn: (x, v) => raw('scatter', [x, v], { shape: [2, 3], strides: [1, 4], offset: 1 }),
  },
  im2col: {
    inputs: () => [leaf([1, 2, 5], 'any', 72)],
    fn: (x) => raw('im2col', [x], { ...window1d, value: 0 }),
  },
  col2im: {
    inputs: () => [leaf([2, 2, 2, 4, 2], 'any', 73)],
    fn: (x) => raw('col2im', [x], window2d),
  },
  // a chain summed over a dim (test/tensor/fused.test.ts checks every formula against its composed form)
  fused: {
    inputs: () => [leaf([2, 3], 'any', 74), leaf([3], 'pos', 75)],
    fn: (a, b) => a.fused([b], { expr: fx.mul(fx.f('exp', fx.in(0)), fx.div(fx.in(0), fx.add(fx.in(1), fx.c(1)))), dims: [0], kind: 'sum', name: 'Chain' }),
  },
  // batch norm's output from its moments (test/nn/normalize.test.ts checks it against the composed chain)
  normalize: {
    inputs: () => [leaf([3, 2, 4], 'any', 76), leaf([1, 2, 1], 'pos', 77), leaf([1, 2, 1], 'any', 78)],
    fn: (x, w, b) => normalizeOver(x, gg.noGrad(() => moments(x.detach(), [0, 2], { eps: 1e-5 })), w, b, true, 'NativeBatchNorm', [0, 2]),
  },
};

/** The primitives recorded in the graph behind `t` (an op node's `op`; other nodes by name). */
function nodeOps(t: gg.Tensor): Set<string> {
  const seen = new Set<Node>();
  const stack = t.gradFn ? [t.gradFn] : [];
  while (stack.length) {
    const n = stack.pop() as Node;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const e of n.next) if (e) stack.push(e.node);
  }
  return new Set([...seen].map((n) => ('op' in n && typeof n.op === 'string' ? n.op : n.name)));
}

describe('op table: gradcheck of every primitive (float64, cpu)', function () {
  this.timeout(120_000);
  const names = Object.keys(ops) as OpName[];

  it('covers every entry of the table', () => {
    const missing = names.filter((n) => !(n in recipes));
    expect(missing, `primitives without a recipe in test/autograd/optable.test.ts: ${missing.join(', ')}`).to.deep.equal([]);
  });

  for (const name of names) {
    describe(name, () => {
      const recipe = (ctx: Mocha.Context): Recipe => {
        const r = recipes[name];
        if (!r) throw new Error(`no gradcheck recipe for primitive '${name}': add one to the recipes table in test/autograd/optable.test.ts`);
        const why = r.unavailable?.();
        if (why) {
          Object.assign(ctx.test ?? {}, { gpugradSkipReason: why });
          ctx.skip();
        }
        return r;
      };

      if (ops[name].nondifferentiable) {
        it('passes no gradient', function () {
          const r = recipe(this);
          const xs = r.inputs();
          const y = r.fn(...xs);
          expect(y.requiresGrad).to.equal(false);
          expect(y.gradFn).to.equal(null);
          expect(() => y.sum().backward()).to.throw('element 0 of tensors does not require grad and does not have a grad_fn');
        });
        it('carries no tangent (comparisons) or a zero one (sign), as PyTorch', function () {
          const r = recipe(this);
          const xs = r.inputs();
          const tangent = fwAD.dualLevel(() => fwAD.unpackDual(r.fn(...xs.map((x) => fwAD.makeDual(x.detach(), gg.onesLike(x))))).tangent?.arraySync() ?? null);
          if (name === 'sign') expect((tangent as number[][]).flat()).to.deep.equal([0, 0, 0, 0, 0, 0]);
          else expect(tangent).to.equal(null);
        });
        return;
      }

      it(`records a ${name} node`, function () {
        const r = recipe(this);
        expect(r.nondifferentiable, 'the recipe says nondifferentiable but the table does not').to.equal(undefined);
        const y = r.fn(...r.inputs());
        expect([...nodeOps(y)]).to.include(name);
      });

      it('gradcheck', async function () {
        const r = recipe(this);
        expect(await gradcheck(r.fn, r.inputs(), r.opts)).to.equal(true);
      });

      it('gradgradcheck', async function () {
        const r = recipe(this);
        expect(await gradgradcheck(r.fn, r.inputs(), r.opts)).to.equal(true);
      });

      it('checkForwardAd (its jvp rule)', async function () {
        const r = recipe(this);
        expect(await gradcheck(r.fn, r.inputs(), { ...r.opts, checkForwardAd: true, checkBackwardAd: false })).to.equal(true);
      });
    });
  }
});

/** Composites: built from primitives, so their gradients come for free; check they are right. */
const composites: Record<string, Recipe> = {
  relu: unaryAny((x) => x.relu(), 'nonzero'),
  'softmax(dim=1)': { inputs: () => [leaf([2, 4], 'any', 81)], fn: (x) => x.softmax(1) },
  'softmax(dim=0) of a 3-d tensor': { inputs: () => [leaf([3, 2, 2], 'any', 82)], fn: (x) => x.softmax(0) },
  'logSoftmax(dim=-1)': { inputs: () => [leaf([2, 4], 'any', 83)], fn: (x) => x.logSoftmax(-1) },
  'var(dim=1), unbiased': { inputs: () => [leaf([2, 4], 'any', 84)], fn: (x) => x.var(1) },
  'var(all), biased, keepdim': { inputs: () => [leaf([2, 3], 'any', 85)], fn: (x) => x.var(null, { unbiased: false, keepdim: true }) },
  'std(dim=0)': { inputs: () => [leaf([3, 2], 'any', 86)], fn: (x) => x.std(0) },
  'mean(dims [0, 2], keepdim)': { inputs: () => [leaf([2, 3, 2], 'any', 87)], fn: (x) => x.mean([0, 2], true) },
  'clamp(-0.5, 0.5)': {
    // values kept 0.05 away from the bounds, where the gradient jumps
    inputs: () => [gg.tensor([[-1.2, -0.3, 0.1, 0.45], [0.7, -0.6, 0.2, 1.5]], { dtype: 'float64', requiresGrad: true })],
    fn: (x) => x.clamp(-0.5, 0.5),
  },
  'clamp(min only)': unaryAny((x) => x.clamp(0.5 * 0 + 0.03), 'nonzero'),
  'min(dim=0)': { inputs: () => [leaf([3, 4], 'distinct', 88)], fn: (x) => x.min(0) },
  'max() of everything': { inputs: () => [leaf([3, 4], 'distinct', 89)], fn: (x) => x.max() },
  'logsumexp(dim=1)': { inputs: () => [leaf([2, 3], 'any', 90)], fn: (x) => x.logsumexp(1) },
  'cat(dim=1)': { inputs: () => [leaf([2, 1], 'any', 91), leaf([2, 3], 'any', 92)], fn: (a, b) => gg.cat([a, b], 1) },
  'cat(dim=0) of three': { inputs: () => [leaf([1, 2], 'any', 93), leaf([2, 2], 'any', 94), leaf([1, 2], 'any', 95)], fn: (a, b, c) => gg.cat([a, b, c], 0) },
  'stack(dim=0)': { inputs: () => [leaf([2, 3], 'any', 96), leaf([2, 3], 'any', 97)], fn: (a, b) => gg.stack([a, b], 0) },
  'stack(dim=-1)': { inputs: () => [leaf([3], 'any', 98), leaf([3], 'any', 99)], fn: (a, b) => gg.stack([a, b], -1) },
  'matmul, broadcast batch dims': { inputs: () => [leaf([2, 1, 2, 3], 'any', 100), leaf([3, 3, 2], 'any', 101)], fn: (a, b) => a.matmul(b) },
  'matmul, vector · matrix': { inputs: () => [leaf([3], 'any', 102), leaf([3, 2], 'any', 103)], fn: (a, b) => a.matmul(b) },
  'matmul, batched matrix · vector': { inputs: () => [leaf([2, 2, 3], 'any', 104), leaf([3], 'any', 105)], fn: (a, b) => a.matmul(b) },
  'matmul, dot product': { inputs: () => [leaf([4], 'any', 106), leaf([4], 'any', 107)], fn: (a, b) => a.matmul(b) },
  'matmul of transposed operands': { inputs: () => [leaf([3, 2], 'any', 108), leaf([2, 3], 'any', 109)], fn: (a, b) => a.t().matmul(b.t()) },
  'rsqrt, reciprocal, square': unaryAny((x) => x.rsqrt().add(x.reciprocal()).add(x.square()), 'pos'),
  'flatten, squeeze, unsqueeze': { inputs: () => [leaf([2, 1, 3], 'any', 110)], fn: (x) => x.squeeze(1).unsqueeze(0).flatten().mul(x.flatten()) },
  'expandAs, then a reduction': { inputs: () => [leaf([1, 3], 'any', 111), leaf([2, 3], 'any', 112)], fn: (a, b) => a.expandAs(b).mul(b).sum(0) },
  'narrow of a permuted view into mul': { inputs: () => [leaf([3, 4], 'any', 113)], fn: (x) => x.permute(1, 0).narrow(0, 1, 2).mul(x.narrow(1, 1, 2).t()) },
  'sigmoid and tanh on a shared input': unaryAny((x) => x.sigmoid().mul(x.tanh()).sum(1)),
  'x^3 via pow(number)': unaryAny((x) => x.pow(3)),
  'pow(number) of a positive base': unaryAny((x) => x.pow(2.5), 'pos'),
  'norm(2) of everything': unaryAny((x) => x.norm()),
  'norm(3, dim=1)': unaryAny((x) => x.norm(3, 1), 'nonzero'),
  'norm(1, dims [0, 1], keepdim)': unaryAny((x) => x.norm(1, [0, 1], true), 'nonzero'),
  'norm(inf, dim=0)': { inputs: () => [leaf([3, 4], 'distinct', 114)], fn: (x) => x.norm(Infinity, 0) },
  'rsub(number, alpha)': unaryAny((x) => x.rsub(1.5, { alpha: 2 })),
  'gg.rsub(x, tensor): both get a gradient': { inputs: () => [leaf([2, 3], 'any', 115), leaf([3], 'any', 116)], fn: (a, b) => gg.rsub(a, b) },
};

describe('composites: gradcheck and gradgradcheck (float64, cpu)', function () {
  this.timeout(120_000);
  for (const [name, r] of Object.entries(composites)) {
    it(`${name}: gradcheck`, async () => {
      expect(await gradcheck(r.fn, r.inputs(), r.opts)).to.equal(true);
    });
    it(`${name}: gradgradcheck`, async () => {
      expect(await gradgradcheck(r.fn, r.inputs(), r.opts)).to.equal(true);
    });
    it(`${name}: checkForwardAd (tangents by composition)`, async () => {
      expect(await gradcheck(r.fn, r.inputs(), { ...r.opts, checkForwardAd: true, checkBackwardAd: false })).to.equal(true);
    });
  }
});
