/**
 * The `normalize` primitive: batch, instance, layer and group norm's output
 * from the moments of nn/norm/functional.ts, with a backward of its own
 * (docs/notes/architecture.md, "The normalize primitive").
 *
 * Inputs: x, then four detached tensors in the group shape (x's shape with
 * the reduced `dims` of size 1) that `moments` computed: s (the shift),
 * k⁻¹ (1 / the scale), S₁ = Σc and S₂ = Σc² with c = (x - s)·k⁻¹; then the
 * optional weight w and bias b (broadcast against x). e = eps·k⁻² (eps an
 * attribute, a checked number written into the kernels).
 * With n values per group:
 *
 *   m = S₁/n,  d = S₂/n - m·m,  v = d clamped at 0 (NaN kept),
 *   istd = 1/sqrt(v + e)  (0 where v + e = 0 when `safe`: batch and instance norm),
 *   y = (c - m)·istd·w + b.
 *
 * These are the composed chain's formulas, the ones the layers built from
 * fused ops before (moments, invStd, normalized): m and v are functions of
 * x, and the backward differentiates through them as that chain's backward
 * did, the clamp and the zero guard included. Per group, with g the output's
 * gradient, R₁ = Σ g·w and R₂ = Σ g·w·(c - m):
 *
 *   dVe = -R₂·istd³/2 (0 where guarded),  dd = dVe where d >= 0 (or NaN), else 0,
 *   dS₂ = dd/n,  dm = -istd·R₁ - 2·m·dd,  dS₁ = dm/n,
 *   dx = (g·w·istd + dS₁ + 2·dS₂·c)·k⁻¹,  dw = Σ g·(c - m)·istd,  db = Σ g
 *
 * (dw and db summed over the dims where w and b are broadcast). So the
 * backward reads the full-size tensors in three passes (Σg, Σg·(c - m), dx)
 * where the composed chain's took about ten. With `createGraph` the sums are
 * recomputed from x with recorded fused ops, so the gradient is again a
 * function of x and double backward differentiates it exactly. The values
 * differ from the composed chain's in rounding only (test/nn/normalize.test.ts).
 */
import type { Expr } from '../backend/fusion.js';
import { fusedMap } from '../backend/fusion.js';
import { getDevice } from '../backend/registry.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { fx } from './fuse.js';
import { checkFusedGrad, fastGradFused, type FusedGrad, fastGradInput, fastGradSums, fastOutput } from './normalize-fast.js';
import { broadcastStrides, contiguousStrides, type Shape } from './shape.js';
import { Storage } from './storage.js';
import type { Tensor } from './tensor.js';
import type { BackwardCtx, JvpCtx, Produced } from './ops.js';

/** Attributes of the `normalize` primitive. */
export interface NormalizeAttrs {
  /** The reduced dims of x: each index of the other dims is one group. */
  readonly dims: readonly number[];
  /** 1/sqrt(0) gives 0 (PyTorch's batch norm kernels), not inf (its layer and group norm). */
  readonly safe: boolean;
  /** Whether a weight (input 5) and a bias (after it) are given. */
  readonly weight: boolean;
  readonly bias: boolean;
  /** The eps added to the variance (a JS number, checked before it becomes kernel text). */
  readonly eps: number;
  /** PyTorch's name of the op (`NativeBatchNorm`): the node is `${name}Backward0`, its kernels are named after it. */
  readonly name: string;
}

const { add, sub, mul, div, neg, where, c: k } = fx;
const f = fx.f;

/** Values per group. */
function groupSize(shape: Shape, dims: readonly number[]): number {
  return dims.reduce((a, d) => a * (shape[d] ?? 1), 1);
}

/** Whether `t` is constant within each group (size 1, or absent, along every reduced dim of x). */
function perGroup(t: Tensor, x: Tensor, dims: readonly number[]): boolean {
  const lead = x.ndim - t.ndim;
  // a dim before t's first (d < lead) reads index d - lead < 0: undefined, so size 1
  return dims.every((d) => (t.shape[d - lead] ?? 1) === 1);
}

/** The dims of `shape` where `target` (broadcast against it, aligned at the right) has size 1 and `shape` has not. */
function broadcastDims(shape: Shape, target: Shape): number[] {
  const lead = shape.length - target.length;
  return shape.map((_, d) => d).filter((d) => (target[d - lead] ?? 1) === 1 && shape[d] !== 1);
}

/** `t` summed over the dims where `target` (broadcast against it) has size 1, in `target`'s shape. */
function reduceTo(t: Tensor, target: Shape): Tensor {
  const dims = broadcastDims(t.shape, target);
  // reshape to the shape a tensor has is the tensor itself
  return (dims.length ? t.sum(dims) : t).reshape(...target);
}

/** A fused map (no reduced dim) over `t` and `rest`; its kind is what its backward reads when it is recorded. */
function mapOf(t: Tensor, rest: readonly Tensor[], expr: Expr, name: string): Tensor {
  // Stryker disable next-line ArrayDeclaration: a dim that is no index reduces nothing (docs/notes/mutation-testing.md)
  return t.fused(rest, { expr, dims: [], kind: 'sum', name });
}

/** Expressions remembered by the numbers and flags that fix them (`remember`). */
const remembered = new Map<string, unknown>();

/**
 * The value `build` makes for `key`, made once: the expressions of this
 * module (and nn/norm/functional.ts) depend only on a few numbers (n, eps,
 * a momentum) and flags, so a training step asks for the same ones every
 * iteration. Why: a fused kernel is remembered by its expression object
 * (backend/kernel.ts `memoKernel`, tensor/fuse.ts `compact`); a new object
 * each call wrote, compacted and hashed the kernel's text again, most of a
 * per-group kernel's cost (docs/notes/bench.md, "W3: the forward's moments
 * and output in one pass"). The text, hence every value, is the same.
 */
export function remember<T>(key: string, build: () => T): T {
  let hit = remembered.get(key) as T | undefined;
  if (hit === undefined) {
    // a bound, as memoKernel's: a long run of distinct shapes or eps values must not grow it without end
    if (remembered.size >= 1024) remembered.clear();
    hit = build();
    remembered.set(key, hit);
  }
  return hit;
}

/** A number as a key: every distinct kernel literal a distinct key (String(-0) is '0'). */
export const numKey = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

/** The per-group formulas over inputs in(0) = S₁, in(1) = S₂, in(2) = k⁻¹ (e = eps·k⁻², as moments' EpsScaled). */
function statistics(n: number, safe: boolean, eps: number): { m: Expr; d: Expr; nz: Expr; q: Expr; rs: Expr; istd: Expr } {
  return remember(`statistics|${numKey(n)}|${safe}|${numKey(eps)}`, () => statisticsNew(n, safe, eps));
}

function statisticsNew(n: number, safe: boolean, eps: number): { m: Expr; d: Expr; nz: Expr; q: Expr; rs: Expr; istd: Expr } {
  const m = div(fx.in(0), k(n));
  // E[c²] - E[c]², clamped at 0 keeping NaN (as moments' Variance kernel)
  const d = sub(div(fx.in(1), k(n)), mul(m, m));
  const v = where(f('eq', f('lt', d, k(0)), k(0)), d, k(0));
  const ve = add(v, mul(mul(fx.in(2), fx.in(2)), k(eps)));
  const nz = f('ne', ve, k(0));
  // rsqrt(t) = 1/sqrt(t), as invStd; with `safe` the zero denominator gives 0
  const q = f('sqrt', safe ? where(nz, ve, k(1)) : ve);
  const rs = div(k(1), q);
  return { m, d, nz, q, rs, istd: safe ? mul(rs, nz) : rs };
}

/** istd·w with w input 3 (a per-group weight joins istd), remembered per istd expression. */
function weighted(istd: Expr): Expr {
  let byIstd = weightedMemo.get(istd);
  if (!byIstd) weightedMemo.set(istd, (byIstd = mul(istd, fx.in(3))));
  return byIstd;
}
const weightedMemo = new WeakMap<Expr, Expr>();

/** A per-group tensor from the sums and k⁻¹ (and `rest`, inputs in(3)...). */
function perGroupOf(s1: Tensor, s2: Tensor, inv: Tensor, rest: readonly Tensor[], expr: Expr, name: string): Tensor {
  return mapOf(s1, [s2, inv, ...rest], expr, name);
}

/** m = S₁/n, named as moments' own kernel so both are one compiled kernel. */
function meanOf(s1: Tensor, n: number): Tensor {
  return mapOf(s1, [], remember(`mean|${numKey(n)}`, () => div(fx.in(0), k(n))), 'Mean');
}

/** c = (x - s)·k⁻¹ over inputs x, s, k⁻¹ at `at`. */
const centred = (at: number): Expr => mul(sub(fx.in(at), fx.in(at + 1)), fx.in(at + 2));

/** c - m over inputs x, s, k⁻¹, m. */
const CENTRED_MINUS_MEAN = sub(centred(0), fx.in(3));
/** c and c² over inputs x, s, k⁻¹ (the sums S₁ and S₂). */
const C0 = centred(0);
const C0_SQUARED = mul(C0, C0);

/** g·(c - m) over inputs x, s, k⁻¹, m, g. */
const GRAD_CENTRED = mul(fx.in(4), CENTRED_MINUS_MEAN);
/** g·w·(c - m) over inputs x, s, k⁻¹, m, g, w. */
const GRAD_CENTRED_WEIGHTED = mul(mul(fx.in(4), fx.in(5)), CENTRED_MINUS_MEAN);
/** g·(c - m)·in(5) over inputs x, s, k⁻¹, m, g, istd. */
const GRAD_CENTRED_TIMES_5 = mul(mul(fx.in(4), CENTRED_MINUS_MEAN), fx.in(5));
/** in(0)·in(1). */
const PRODUCT01 = mul(fx.in(0), fx.in(1));
/** x's gradient ((g·wi + P) + Q·c)·k⁻¹ over inputs x, s, k⁻¹, g (times w), wi, P, Q. */
const GRAD_INPUT = mul(add(add(mul(fx.in(3), fx.in(4)), fx.in(5)), mul(fx.in(6), centred(0))), fx.in(2));

/** Σ g·(c - m)·istd per group over inputs S₁, S₂, k⁻¹, Σg·(c - m), remembered per istd expression. */
function gradWeight(istd: Expr): Expr {
  let hit = gradWeightMemo.get(istd);
  if (!hit) gradWeightMemo.set(istd, (hit = mul(fx.in(3), istd)));
  return hit;
}
const gradWeightMemo = new WeakMap<Expr, Expr>();

/** The inputs by role. */
function roles(inputs: readonly Tensor[], a: NormalizeAttrs): { x: Tensor; s: Tensor; inv: Tensor; s1: Tensor; s2: Tensor; w: Tensor | null; b: Tensor | null } {
  const [x, s, inv, s1, s2] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const w = a.weight ? (inputs[5] as Tensor) : null;
  const b = a.bias ? (inputs[a.weight ? 6 : 5] as Tensor) : null;
  return { x, s, inv, s1, s2, w, b };
}

/**
 * The sums S₁, S₂: the saved ones, or, when this backward (or tangent) is
 * itself recorded and x requires grad, the same sums recomputed from x as
 * recorded fused ops, so that what is built from them depends on x.
 */
function sums(x: Tensor, s: Tensor, inv: Tensor, s1: Tensor, s2: Tensor, dims: readonly number[]): [Tensor, Tensor] {
  if (!(isGradEnabled() && x.requiresGrad)) return [s1, s2];
  return [
    x.fused([s, inv], { expr: C0, dims, kind: 'sum', name: 'CentredSum' }),
    x.fused([s, inv], { expr: C0_SQUARED, dims, kind: 'sum', name: 'CentredSquareSum' }),
  ];
}

/** Forward: two per-group kernels (m, istd·w) and one pass over x. */
export function normalizeForward(inputs: readonly Tensor[], a: NormalizeAttrs): Produced {
  const { x, s, inv, s1, s2, w, b } = roles(inputs, a);
  const n = groupSize(x.shape, a.dims);
  const st = statistics(n, a.safe, a.eps);
  const m = meanOf(s1, n);
  // a per-group weight joins istd (batch norm's order, scale = istd·w); an elementwise one multiplies last
  const joined = !w || perGroup(w, x, a.dims);
  const scale = perGroupOf(s1, s2, inv, w && joined ? [w] : [], w && joined ? weighted(st.istd) : st.istd, `${a.name}Scale`);
  const ins = [x, s, inv, m, scale];
  if (w && !joined) ins.push(w);
  if (b) ins.push(b);
  // ((c - m)·scale)(·w)(+ b), the extra inputs in that order
  const y = remember(`output|${!!w && !joined}|${!!b}`, () => {
    let e = mul(CENTRED_MINUS_MEAN, fx.in(4));
    if (w && !joined) e = mul(e, fx.in(5));
    return b ? add(e, fx.in(w && !joined ? 6 : 5)) : e;
  });
  const shape = [...x.shape];
  // the cpu device's float32 fast path runs the same formula as one SIMD loop (tensor/normalize-fast.ts)
  // (it declines a bias that is not one value per group, as layer norm's)
  // (the moments pass may have computed it already: `fastMoments` with an output, checked there)
  const fast = joined ? fastOutput(a.name, x, s, inv, m, scale, b, a.dims, s1) : null;
  const kernel = fast ? null : fusedMap(a.name, y, ins.map((t) => ({ offset: t.offset, strides: broadcastStrides(t.shape, t.strides, shape) })), shape);
  const storage = fast ?? new Storage(getDevice(x.device).run(kernel as NonNullable<typeof kernel>, ins.map((t) => t.storage.buffer), x.dtype));
  m.dispose();
  scale.dispose();
  return { storage, shape, strides: contiguousStrides(shape), offset: 0, dtype: x.dtype };
}

/** Backward: Σg and Σg·(c - m) per group, small per-group kernels, one pass for dx. */
export function normalizeBackward({ grad: g, inputs, attrs: a, needs }: BackwardCtx<NormalizeAttrs>): (Tensor | null)[] {
  const { x, s, inv, w, b, ...saved } = roles(inputs, a);
  // Stryker disable next-line ArrowFunction: undefined and null both mean no gradient to the engine
  const out: (Tensor | null)[] = inputs.map(() => null);
  const needX = needs[0] === true;
  const needW = !!w && needs[5] === true;
  const bi = a.weight ? 6 : 5;
  // input bi exists (and needs[bi] can be true) only when the bias is given
  const needB = needs[bi] === true;
  const n = groupSize(x.shape, a.dims);
  // recomputed only when x requires grad, that is when needX
  const [s1, s2] = sums(x, s, inv, saved.s1, saved.s2, a.dims);
  const st = statistics(n, a.safe, a.eps);
  const m = meanOf(s1, n);
  const dims = [...a.dims];
  const joined = !w || perGroup(w, x, a.dims);
  // the per-group sums R₁ = Σ g·w, R₂ = Σ g·w·(c - m): with a per-group w, w times Σg and Σg·(c - m)
  let r1: Tensor | null = null;
  let r2: Tensor | null = null;
  let wr = false;
  let fused: FusedGrad | null = null;
  if (joined) {
    // the cpu device's float32 fast path: both sums in one pass (tensor/normalize-fast.ts)
    // with x's gradient too when both are wanted: one pass per group (checked below, `checkFusedGrad`)
    fused = needX ? fastGradFused(x, g, s, inv, m, s1, s2, w, dims, n, a.eps, a.safe) : null;
    const both = fused ? fused.sums : needX || (needB && needW) ? fastGradSums(x, g, s, inv, m, dims) : null;
    const sg = both ? both[0] : needX || needB ? g.sum(dims, true) : null;
    const sgc = both ? both[1] : needX || needW ? x.fused([s, inv, m, g], { expr: GRAD_CENTRED, dims, kind: 'sum', name: `${a.name}GradCentredSum` }) : null;
    // dw = Σ g·(c - m)·istd, db = Σ g
    if (needW && sgc) out[5] = reduceTo(perGroupOf(s1, s2, inv, [sgc], gradWeight(st.istd), `${a.name}GradWeight`), (w as Tensor).shape);
    if (needB && sg) out[bi] = perGroup(b as Tensor, x, a.dims) ? reduceTo(sg, (b as Tensor).shape) : reduceTo(g, (b as Tensor).shape);
    [r1, r2, wr] = [sg, sgc, !!w];
  } else {
    const ww = w as Tensor;
    if (needX) {
      r1 = g.fused([ww], { expr: PRODUCT01, dims, kind: 'sum', name: `${a.name}GradSum` });
      r2 = x.fused([s, inv, m, g, ww], { expr: GRAD_CENTRED_WEIGHTED, dims, kind: 'sum', name: `${a.name}GradCentredSum` });
    }
    if (needW) {
      // Σ g·(c - m)·istd over the dims where w is broadcast, one fused reduction
      const istd = perGroupOf(s1, s2, inv, [], st.istd, `${a.name}InvStd`);
      const dw = x.fused([s, inv, m, g, istd], { expr: GRAD_CENTRED_TIMES_5, dims: broadcastDims(x.shape, ww.shape), kind: 'sum', name: `${a.name}GradWeight` });
      out[5] = dw.reshape(...ww.shape);
    }
    if (needB) out[bi] = reduceTo(g, (b as Tensor).shape);
  }
  if (needX) {
    const { p, q } = remember(`grad|${numKey(n)}|${a.safe}|${numKey(a.eps)}|${wr}`, () => {
      // inputs S₁, S₂, k⁻¹, then Σg and Σg·(c - m) (times w, input 5, when wr): the chain's backward through istd, the clamp and the mean
      const [R1, R2] = wr ? [mul(fx.in(3), fx.in(5)), mul(fx.in(4), fx.in(5))] : [fx.in(3), fx.in(4)];
      const gq = neg(mul(a.safe ? mul(R2, st.nz) : R2, div(st.rs, st.q)));
      const dve = a.safe ? where(st.nz, div(gq, mul(st.q, k(2))), k(0)) : div(gq, mul(st.q, k(2)));
      const dd = where(f('eq', f('lt', st.d, k(0)), k(0)), dve, k(0));
      return { p: div(sub(neg(mul(st.istd, R1)), add(mul(dd, st.m), mul(dd, st.m))), k(n)), q: mul(div(dd, k(n)), k(2)) };
    });
    const sides = [r1 as Tensor, r2 as Tensor, ...(wr ? [w as Tensor] : [])];
    const P = perGroupOf(s1, s2, inv, sides, p, `${a.name}GradMean`);
    const Q = perGroupOf(s1, s2, inv, sides, q, `${a.name}GradSquare`);
    // g·w·istd: a per-group weight joins istd; an elementwise one multiplies g first (8 inputs would not fit one kernel)
    const wi = perGroupOf(s1, s2, inv, w && joined ? [w] : [], w && joined ? weighted(st.istd) : st.istd, `${a.name}Scale`);
    const gw = w && !joined ? g.mul(w) : g;
    const expr = GRAD_INPUT;
    // the cpu device's float32 fast path: the same formula as one SIMD loop (tensor/normalize-fast.ts)
    const fast = fused ? checkFusedGrad(fused, x, g, s, inv, wi, P, Q, dims) : gw === g ? fastGradInput(`${a.name}GradInput`, x, g, s, inv, wi, P, Q, dims) : null;
    out[0] = fast ?? mapOf(x, [s, inv, gw, wi, P, Q], expr, `${a.name}GradInput`);
  }
  return out;
}

/** Forward mode: the tangent of y from those of x, w and b (the composed chain's jvp rules). */
export function normalizeJvp({ tangents, inputs, attrs: a }: JvpCtx<NormalizeAttrs>): Tensor | null {
  const { x, s, inv, w, ...saved } = roles(inputs, a);
  const tx = tangents[0] ?? null;
  const tw = a.weight ? tangents[5] ?? null : null;
  const tb = a.bias ? tangents[a.weight ? 6 : 5] ?? null : null;
  const n = groupSize(x.shape, a.dims);
  const dims = [...a.dims];
  const [s1, s2] = sums(x, s, inv, saved.s1, saved.s2, a.dims);
  const st = statistics(n, a.safe, a.eps);
  const m = meanOf(s1, n);
  const istd = perGroupOf(s1, s2, inv, [], st.istd, `${a.name}InvStd`);
  const terms: Tensor[] = [];
  if (tx) {
    // tangents of S₁ = Σc and S₂ = Σc² (c's tangent is tx·k⁻¹; c² gives tc·c + tc·c)
    const t1 = tx.fused([inv], { expr: mul(fx.in(0), fx.in(1)), dims, kind: 'sum', name: `${a.name}TangentSum` });
    const t2 = x.fused([s, inv, tx], { expr: mul(centred(0), mul(fx.in(3), fx.in(2))), dims, kind: 'sum', name: `${a.name}TangentCentredSum` });
    const [T1, T2] = [fx.in(3), fx.in(4)];
    const tm = div(T1, k(n));
    const td = sub(div(add(T2, T2), k(n)), add(mul(tm, st.m), mul(tm, st.m)));
    const tv = where(f('eq', f('lt', st.d, k(0)), k(0)), td, k(0));
    // d(1/q) = -(dq·(1/q))/q with dq = dve/(2q); times nz when guarded
    const trs = neg(div(mul(div(tv, mul(st.q, k(2))), st.rs), st.q));
    const tistd = a.safe ? mul(trs, st.nz) : trs;
    const TM = perGroupOf(s1, s2, inv, [t1, t2], tm, `${a.name}TangentMean`);
    const TI = perGroupOf(s1, s2, inv, [t1, t2], tistd, `${a.name}TangentInvStd`);
    // ((tc - tm)·istd + (c - m)·tistd)·w
    const part = mapOf(tx, [inv, TM, istd], mul(sub(mul(fx.in(0), fx.in(1)), fx.in(2)), fx.in(3)), `${a.name}TangentInput`);
    const expr = add(fx.in(0), mul(sub(centred(1), fx.in(4)), fx.in(5)));
    const ty = mapOf(part, [x, s, inv, m, TI], expr, `${a.name}TangentInput`);
    terms.push(w ? ty.mul(w) : ty);
  }
  if (tw) terms.push(mapOf(x, [s, inv, m, istd, tw], mul(mul(sub(centred(0), fx.in(3)), fx.in(4)), fx.in(5)), `${a.name}TangentWeight`));
  if (tb) terms.push(tb);
  let r = terms[0] ?? null;
  for (const t of terms.slice(1)) r = (r as Tensor).add(t);
  // a bias's tangent alone has the bias's shape: the op table broadcasts every tangent to the output's (Tensor's pushTangent)
  return r;
}
