/**
 * Property-based tests (fast-check) against a tiny independent reference:
 * every view and broadcast is an index map (output element j reads input
 * element map[j]), built with plain loops over flat row-major arrays and never
 * with strides. Forward: out[j] = x[map[j]]; backward: gx[map[j]] += g[j].
 *
 * Covered: broadcasting of binary ops (values and reduced gradients),
 * reductions over random dim sets with keepdim, chains of views
 * (permute/transpose/narrow/expand/reshape/squeeze/unsqueeze) fed
 * non-contiguous into elementwise ops, with gradients.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import * as gg from '../../src/index.js';
import { expectClose, F32, F64, type Tol } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';

// ---- the reference ------------------------------------------------------------------------

type Shape = number[];
const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Multi-index of flat index `i` in a row-major shape. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] as number;
    idx[d] = rest % n;
    rest = Math.floor(rest / n);
  }
  return idx;
}
/** Flat index of a multi-index in a row-major shape. */
function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * (shape[d] as number) + (idx[d] as number);
  return flat;
}

/** A view of a source tensor: element j of `shape` reads source element map[j]. */
interface RefView {
  shape: Shape;
  map: number[];
}
const identity = (shape: Shape): RefView => ({ shape, map: Array.from({ length: numel(shape) }, (_, i) => i) });
/** A view whose element (multi-index j) reads the old view's element `from(j)`. */
function gather(v: RefView, shape: Shape, from: (j: number[]) => number[]): RefView {
  const map = Array.from({ length: numel(shape) }, (_, j) => v.map[ravel(from(unravel(j, shape)), v.shape)] as number);
  return { shape, map };
}
const refPermute = (v: RefView, dims: number[]): RefView =>
  gather(v, dims.map((d) => v.shape[d] as number), (j) => {
    const old = new Array<number>(dims.length);
    dims.forEach((d, k) => (old[d] = j[k] as number));
    return old;
  });
const refNarrow = (v: RefView, dim: number, start: number, length: number): RefView =>
  gather(v, v.shape.map((s, d) => (d === dim ? length : s)), (j) => j.map((x, d) => (d === dim ? x + start : x)));
const refExpand = (v: RefView, shape: Shape): RefView => {
  const lead = shape.length - v.shape.length;
  return gather(v, shape, (j) => v.shape.map((s, d) => (s === 1 ? 0 : (j[d + lead] as number))));
};
const refReshape = (v: RefView, shape: Shape): RefView => ({ shape, map: [...v.map] });

/** Forward through a view. */
const read = (x: ArrayLike<number>, v: RefView): number[] => v.map.map((k) => x[k] as number);
/** Backward through a view: scatter-add. */
function scatter(g: ArrayLike<number>, v: RefView, n: number): number[] {
  const out = new Array<number>(n).fill(0);
  v.map.forEach((k, j) => (out[k] = (out[k] as number) + (g[j] as number)));
  return out;
}

/** Broadcast shape by the NumPy rule (null when incompatible). */
function refBroadcast(a: Shape, b: Shape): Shape | null {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Reduce `x` (of `shape`) over `dims` with `kind`. */
function refReduce(x: ArrayLike<number>, shape: Shape, dims: number[], keepdim: boolean, kind: 'sum' | 'mean' | 'max'): { shape: Shape; data: number[]; owner: number[] } {
  const keptShape = shape.map((s, d) => (dims.includes(d) ? 1 : s));
  const out = new Array<number>(numel(keptShape)).fill(kind === 'max' ? -Infinity : 0);
  const owner = new Array<number>(numel(keptShape)).fill(-1); // argmax, for the gradient
  const count = dims.reduce((a, d) => a * (shape[d] as number), 1);
  for (let i = 0; i < numel(shape); i++) {
    const idx = unravel(i, shape).map((v, d) => (dims.includes(d) ? 0 : v));
    const o = ravel(idx, keptShape);
    const v = x[i] as number;
    if (kind === 'max') {
      if (v > (out[o] as number)) {
        out[o] = v;
        owner[o] = i;
      }
    } else out[o] = (out[o] as number) + v;
  }
  const data = kind === 'mean' ? out.map((v) => v / count) : out;
  return { shape: keepdim ? keptShape : shape.filter((_, d) => !dims.includes(d)), data, owner };
}

// ---- arbitraries --------------------------------------------------------------------------

const dimSize = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank: number, maxRank: number): fc.Arbitrary<Shape> => fc.array(dimSize, { minLength: minRank, maxLength: maxRank });
/** Small integers: sums and products stay exact in float32. */
const valuesFor = (shape: Shape, seed: number): Float64Array => {
  let a = seed >>> 0;
  return Float64Array.from({ length: numel(shape) }, () => {
    a = (Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return (a % 17) - 8;
  });
};

/** Two shapes that broadcast: suffixes of one output shape with some dims set to 1. */
const broadcastPair = fc
  .tuple(shapeArb(0, 4), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), fc.nat(4), fc.nat(4))
  .map(([out, ones, cutA, cutB]) => {
    const a = out.slice(Math.min(cutA, out.length)).map((s, i) => (ones[i] ? 1 : s));
    const b = out.slice(Math.min(cutB, out.length)).map((s, i) => (ones[i + 4] ? 1 : s));
    return { a, b };
  });

/** One view step, interpreted against the current shape (so every chain is valid). */
interface Step {
  kind: 'permute' | 'transpose' | 'narrow' | 'expand' | 'reshape' | 'squeeze' | 'unsqueeze';
  r: number[];
}
const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom('permute', 'transpose', 'narrow', 'expand', 'reshape', 'squeeze', 'unsqueeze'),
  r: fc.array(fc.nat(1000), { minLength: 6, maxLength: 6 }),
});

/** Apply a step to both the tensor and the reference; returns a description for failure messages. */
function applyStep(t: gg.Tensor, v: RefView, s: Step): { t: gg.Tensor; v: RefView; what: string } {
  const rank = v.shape.length;
  const r = (k: number): number => s.r[k] as number;
  switch (s.kind) {
    case 'permute': {
      if (rank === 0) return { t, v, what: 'permute()' };
      const dims = v.shape.map((_, d) => d).sort((x, y) => ((x * 7919 + r(0)) % 101) - ((y * 7919 + r(0)) % 101) || x - y);
      return { t: t.permute(dims), v: refPermute(v, dims), what: `permute(${dims})` };
    }
    case 'transpose': {
      if (rank < 2) return { t, v, what: 'transpose skipped' };
      const a = r(0) % rank;
      const b = r(1) % rank;
      const dims = v.shape.map((_, d) => (d === a ? b : d === b ? a : d));
      // negative dims half of the time
      const da = r(2) % 2 ? a - rank : a;
      return { t: t.transpose(da, b), v: refPermute(v, dims), what: `transpose(${da}, ${b})` };
    }
    case 'narrow': {
      if (rank === 0) return { t, v, what: 'narrow skipped' };
      const dim = r(0) % rank;
      const n = v.shape[dim] as number;
      const length = 1 + (r(1) % n);
      const start = r(2) % (n - length + 1);
      return { t: t.narrow(dim, start, length), v: refNarrow(v, dim, start, length), what: `narrow(${dim}, ${start}, ${length})` };
    }
    case 'expand': {
      if (numel(v.shape) * 9 > 400 || rank > 4) return { t, v, what: 'expand skipped' };
      const lead = r(0) % 2 ? [1 + (r(1) % 3)] : [];
      const shape = [...lead, ...v.shape.map((sz, d) => (sz === 1 ? 1 + (r(2 + (d % 4)) % 3) : sz))];
      const arg = shape.map((sz, d) => (d >= lead.length && v.shape[d - lead.length] === sz && r(5) % 2 ? -1 : sz));
      return { t: t.expand(arg), v: refExpand(v, shape), what: `expand(${arg})` };
    }
    case 'reshape': {
      // split the total into up to 3 factors, or flatten
      const total = numel(v.shape);
      const shape: number[] = [];
      let rest = total;
      for (let k = 0; k < 2 && rest > 1; k++) {
        const divisors = Array.from({ length: rest }, (_, i) => i + 1).filter((d) => rest % d === 0);
        const d = divisors[r(k) % divisors.length] as number;
        shape.push(d);
        rest /= d;
      }
      shape.push(rest);
      const arg = r(3) % 2 ? shape.map((sz, i) => (i === r(4) % shape.length ? -1 : sz)) : shape;
      return { t: t.reshape(arg), v: refReshape(v, shape), what: `reshape(${arg})` };
    }
    case 'squeeze': {
      const ones = v.shape.map((sz, d) => (sz === 1 ? d : -1)).filter((d) => d >= 0);
      if (r(0) % 2 || ones.length === 0) {
        const shape = v.shape.filter((sz) => sz !== 1);
        return { t: t.squeeze(), v: refReshape(v, shape), what: 'squeeze()' };
      }
      const dim = ones[r(1) % ones.length] as number;
      return { t: t.squeeze(dim), v: refReshape(v, v.shape.filter((_, d) => d !== dim)), what: `squeeze(${dim})` };
    }
    case 'unsqueeze': {
      if (rank >= 5) return { t, v, what: 'unsqueeze skipped' };
      const dim = r(0) % (rank + 1);
      const shape = [...v.shape];
      shape.splice(dim, 0, 1);
      return { t: t.unsqueeze(dim), v: refReshape(v, shape), what: `unsqueeze(${dim})` };
    }
    default:
      return s.kind satisfies never;
  }
}

// ---- the properties -------------------------------------------------------------------------

const dtypeOf = (device: string): gg.DType => (device === 'cpu' ? 'float64' : 'float32');
const tolOf = (device: string): Tol => (device === 'cpu' ? F64 : F32);
const runsOf = (device: string): number => (device === 'cpu' ? 100 : 12);

describe('properties (fast-check) against a loop reference', function () {
  this.timeout(300_000);

  forEachDevice((device) => {
    const dtype = dtypeOf(device);
    const tol = tolOf(device);
    const mk = (data: Float64Array, shape: Shape, requiresGrad = false): gg.Tensor => gg.tensor(data, { shape, dtype, device, requiresGrad });

    it('broadcasting binary ops: values and gradients reduced to each input', async () => {
      await fc.assert(
        fc.asyncProperty(broadcastPair, fc.constantFrom('add' as const, 'sub' as const, 'mul' as const, 'maximum' as const), fc.nat(), async ({ a: sa, b: sb }, op, seed) => {
          const out = refBroadcast(sa, sb) as Shape;
          expect(out, `${sa} and ${sb} broadcast`).to.not.equal(null);
          const xa = valuesFor(sa, seed);
          const xb = valuesFor(sb, seed + 1).map((v) => v + 0.5); // no ties for maximum
          const a = mk(xa, sa, true);
          const b = mk(xb, sb, true);
          const y = a[op](b);
          expect(y.shape).to.deep.equal(out);
          const va = refExpand(identity(sa), out);
          const vb = refExpand(identity(sb), out);
          const ra = read(xa, va);
          const rb = read(xb, vb);
          const f: (p: number, q: number) => number = { add: (p: number, q: number) => p + q, sub: (p: number, q: number) => p - q, mul: (p: number, q: number) => p * q, maximum: Math.max }[op];
          expectClose(await y.data(), ra.map((p, j) => f(p, rb[j] as number)), tol, `${sa} ${op} ${sb}`);
          // gradients: d/da and d/db of Σ g·y, summed back over the broadcast dims
          const g = valuesFor(out, seed + 2);
          y.backward(mk(g, out));
          const da: (p: number, q: number) => number = { add: () => 1, sub: () => 1, mul: (_p: number, q: number) => q, maximum: (p: number, q: number) => (p > q ? 1 : 0) }[op];
          const db: (p: number, q: number) => number = { add: () => 1, sub: () => -1, mul: (p: number) => p, maximum: (p: number, q: number) => (q > p ? 1 : 0) }[op];
          const ga = g.map((gj, j) => gj * da(ra[j] as number, rb[j] as number));
          const gb = g.map((gj, j) => gj * db(ra[j] as number, rb[j] as number));
          expectClose(await (a.grad as gg.Tensor).data(), scatter(ga, va, xa.length), tol, `grad a (${sa} ${op} ${sb})`);
          expectClose(await (b.grad as gg.Tensor).data(), scatter(gb, vb, xb.length), tol, `grad b (${sa} ${op} ${sb})`);
        }),
        { numRuns: runsOf(device) },
      );
    });

    it('incompatible shapes throw PyTorch\'s message', () => {
      fc.assert(
        fc.property(shapeArb(1, 3), fc.nat(2), fc.integer({ min: 2, max: 4 }), (s, at, extra) => {
          const d = at % s.length;
          const other = s.map((n, i) => (i === d ? (n === 1 ? extra : n + 1) : n));
          if ((s[d] as number) === 1) return; // a 1 broadcasts
          const a = gg.zeros(s, { dtype, device });
          const b = gg.zeros(other, { dtype, device });
          expect(() => a.add(b)).to.throw(`The size of tensor a (${s[d]}) must match the size of tensor b (${other[d]}) at non-singleton dimension ${d}`);
        }),
        { numRuns: 30 },
      );
    });

    it('reductions over random dim sets, with keepdim', async () => {
      const arb = fc.record({
        shape: shapeArb(1, 4),
        pick: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        negative: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        keepdim: fc.boolean(),
        kind: fc.constantFrom('sum' as const, 'mean' as const, 'max' as const),
        seed: fc.nat(),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ shape, pick, negative, keepdim, kind, seed }) => {
          let dims = shape.map((_, d) => d).filter((d) => pick[d]);
          if (dims.length === 0) dims = [shape.length - 1];
          const given = dims.map((d) => (negative[d] ? d - shape.length : d));
          // distinct values, so the max is unique and its gradient goes to one element
          const raw = valuesFor(shape, seed);
          const x = raw.map((v, i) => v + i / (4 * raw.length));
          const t = mk(x, shape, true);
          const y = t[kind](given.length === 1 ? given[0] : given, keepdim);
          const ref = refReduce(x, shape, dims, keepdim, kind);
          expect(y.shape, `${kind}(${given}, keepdim=${keepdim}) of ${shape}`).to.deep.equal(ref.shape);
          expectClose(await y.data(), ref.data, tol, `${kind}(${given}, keepdim=${keepdim}) of [${shape}]`);
          const g = valuesFor(ref.shape, seed + 3);
          y.backward(mk(g, ref.shape));
          const count = dims.reduce((a, d) => a * (shape[d] as number), 1);
          const keptShape = shape.map((s, d) => (dims.includes(d) ? 1 : s));
          const want = Array.from(x, (_, i) => {
            const o = ravel(unravel(i, shape).map((v, d) => (dims.includes(d) ? 0 : v)), keptShape);
            const go = g[o] as number;
            return kind === 'sum' ? go : kind === 'mean' ? go / count : ref.owner[o] === i ? go : 0;
          });
          expectClose(await (t.grad as gg.Tensor).data(), want, tol, `grad of ${kind}(${given}, keepdim=${keepdim}) of [${shape}]`);
        }),
        { numRuns: runsOf(device) },
      );
    });

    it('view chains, fed non-contiguous into elementwise ops, with gradients', async () => {
      const arb = fc.record({ shape: shapeArb(1, 4), steps: fc.array(stepArb, { minLength: 1, maxLength: 5 }), seed: fc.nat() });
      await fc.assert(
        fc.asyncProperty(arb, async ({ shape, steps, seed }) => {
          const x = valuesFor(shape, seed);
          const xt = mk(x, shape, true);
          let t = xt;
          let v = identity(shape);
          const done: string[] = [];
          for (const s of steps) {
            const r = applyStep(t, v, s);
            t = r.t;
            v = r.v;
            done.push(r.what);
          }
          const what = `[${shape}] → ${done.join(' → ')}`;
          expect(t.shape, what).to.deep.equal(v.shape);
          const rx = read(x, v);
          expectClose(await t.data(), rx, tol, `${what}: values`);
          // a non-contiguous view into a binary op with a contiguous operand, and into a unary op
          const w = valuesFor(v.shape, seed + 5);
          const y = t.mul(mk(w, v.shape)).add(t.neg().exp().mul(0));
          expectClose(await y.data(), rx.map((p, j) => p * (w[j] as number)), tol, `${what}: view · w`);
          const g = valuesFor(v.shape, seed + 7);
          y.backward(mk(g, v.shape));
          expectClose(await (xt.grad as gg.Tensor).data(), scatter(Array.from(g, (gj, j) => gj * (w[j] as number)), v, x.length), tol, `${what}: grad`);
          // and contiguous() of the view reads the same values
          expectClose(await t.contiguous().data(), rx, tol, `${what}: contiguous()`);
        }),
        { numRuns: runsOf(device) },
      );
    });
  });

  it('empty tensors: broadcasting and sums over zero-size dims (cpu)', async () => {
    const a = gg.zeros([0, 3], { dtype: 'float64' });
    const b = gg.ones([3], { dtype: 'float64' });
    expect(a.add(b).shape).to.deep.equal([0, 3]);
    expect(Array.from(await a.add(b).data())).to.deep.equal([]);
    expect(Array.from(await a.sum(0).data())).to.deep.equal([0, 0, 0]);
    expect(Array.from(await a.sum(1).data())).to.deep.equal([]);
    expect(() => a.max()).to.throw(/Expected reduction dim to be specified for input.numel\(\) == 0/);
  });
});
