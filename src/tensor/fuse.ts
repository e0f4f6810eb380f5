/**
 * Fused expressions: building them, and their derivatives as fused
 * expressions again (docs/notes/architecture.md, "Fused kernels").
 *
 * A fused op (the op table's `fused` entry) runs a DAG of elementwise
 * formulas over broadcast inputs, optionally summed over some dims, as ONE
 * kernel. Its backward and forward-mode rules are derived here from the op
 * table's own rules, node by node: each formula's derivative below is the
 * same expression the table's backward (or jvp) rule computes with tensor
 * ops (ops.ts), so a fused chain gives the gradient of the composed chain,
 * only without the intermediate tensors. The derivative is itself a fused
 * op, so double backward works the same way.
 *
 * pow has no rule here (its PyTorch conventions need more than a line):
 * differentiating through it throws, so it is not used in fused chains.
 */
import { checkExpr, type Expr } from '../backend/fusion.js';
import type { Formula } from '../backend/kernels.js';
import type { Tensor } from './tensor.js';

/** Builders of fused expressions (input k, a constant, a formula). */
export const fx = {
  in: (k: number): Expr => ({ op: 'in', k }),
  c: (v: number): Expr => ({ op: 'const', v }),
  f: (op: Formula, ...args: Expr[]): Expr => ({ op, args }),
  add: (a: Expr, b: Expr): Expr => ({ op: 'add', args: [a, b] }),
  sub: (a: Expr, b: Expr): Expr => ({ op: 'sub', args: [a, b] }),
  mul: (a: Expr, b: Expr): Expr => ({ op: 'mul', args: [a, b] }),
  div: (a: Expr, b: Expr): Expr => ({ op: 'div', args: [a, b] }),
  neg: (a: Expr): Expr => ({ op: 'neg', args: [a] }),
  where: (c: Expr, a: Expr, b: Expr): Expr => ({ op: 'where', args: [c, a, b] }),
};

const { add, mul, div, neg, where, c: k } = fx;
const f = fx.f;

/** Every node of `e` once, each after all nodes that use it (root first). */
function topo(e: Expr): Expr[] {
  const post: Expr[] = [];
  const seen = new Set<Expr>();
  // iterative post-order, so deep chains do not overflow the stack
  const stack: [Expr, number][] = [[e, 0]];
  seen.add(e);
  while (stack.length) {
    const top = stack[stack.length - 1] as [Expr, number];
    const [n, i] = top;
    const args = n.op === 'in' || n.op === 'const' ? [] : n.args;
    if (i < args.length) {
      top[1]++;
      const a = args[i] as Expr;
      if (!seen.has(a)) {
        seen.add(a);
        stack.push([a, 0]);
      }
    } else {
      stack.pop();
      post.push(n);
    }
  }
  return post.reverse();
}

/** Which nodes depend on an input for which `wanted(k)` holds. */
function reaching(order: readonly Expr[], wanted: (k: number) => boolean): Set<Expr> {
  const out = new Set<Expr>();
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as Expr;
    if (n.op === 'in' ? wanted(n.k) : n.op !== 'const' && n.args.some((a) => out.has(a))) out.add(n);
  }
  return out;
}

/**
 * The contribution of the adjoint `g` of node `n` to each of its operands,
 * as ops.ts's backward rules compute it (null: no gradient).
 */
function backRule(n: Exclude<Expr, { op: 'in' | 'const' }>, g: Expr): (Expr | null)[] {
  const [a, b] = n.args as [Expr, Expr];
  switch (n.op) {
    case 'neg': return [neg(g)];
    case 'exp': return [mul(g, n)];
    case 'log': return [div(g, a)];
    case 'sqrt': return [div(g, mul(n, k(2)))];
    case 'abs': return [mul(g, f('sign', a))];
    case 'sigmoid': return [mul(g, mul(n, add(neg(n), k(1))))];
    case 'tanh': return [mul(g, add(neg(mul(n, n)), k(1)))];
    case 'copy': return [g];
    case 'add': return [g, g];
    case 'sub': return [g, neg(g)];
    case 'mul': return [mul(g, b), mul(g, a)];
    // -g·(a/b)/b, as the table
    case 'div': return [div(g, b), neg(mul(g, div(div(a, b), b)))];
    case 'maximum': return winner(g, a, b, f('lt', a, b), f('gt', a, b));
    case 'minimum': return winner(g, a, b, f('gt', a, b), f('lt', a, b));
    case 'where': return [null, where(a, g, k(0)), where(f('eq', a, k(0)), g, k(0))];
    case 'sign': case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge':
      return n.args.map(() => null);
    // the table's zeros_like(grad): an exact zero, not g·0 (which is NaN for an infinite g)
    case 'floor': case 'ceil': case 'round':
      return [k(0)];
    case 'pow': case 'trunc':
      throw new Error(`internal: ${n.op} has no fused derivative rule`);
  }
}

/** ops.ts `toWinner`: the gradient to the winner, halved on a tie. */
function winner(g: Expr, a: Expr, b: Expr, aLoses: Expr, bLoses: Expr): Expr[] {
  const half = add(mul(f('eq', a, b), k(-0.5)), k(1));
  return [mul(where(f('eq', aLoses, k(0)), g, k(0)), half), mul(where(f('eq', bLoses, k(0)), g, k(0)), half)];
}

/**
 * Reverse mode: the gradient of each wanted input of `e` as an expression
 * of the same inputs and `seed` (the output's gradient). Contributions to a
 * node used twice are added, as the engine adds them. Inputs without a path
 * are absent from the result.
 */
export function adjoints(e: Expr, wanted: (k: number) => boolean, seed: Expr): Map<number, Expr> {
  const order = topo(e);
  const live = reaching(order, wanted);
  const adj = new Map<Expr, Expr>();
  const out = new Map<number, Expr>();
  if (live.has(e)) adj.set(e, seed);
  for (const n of order) {
    const g = adj.get(n);
    if (!g || !live.has(n)) continue;
    if (n.op === 'in') {
      const prev = out.get(n.k);
      out.set(n.k, prev ? add(prev, g) : g);
      continue;
    }
    if (n.op === 'const') continue;
    const parts = backRule(n, g);
    n.args.forEach((a, i) => {
      const p = parts[i];
      if (!p || !live.has(a)) return;
      const prev = adj.get(a);
      adj.set(a, prev ? add(prev, p) : p);
    });
  }
  return out;
}

/** The sum of the terms present (a missing tangent is zero); null when none is. */
function plus(...terms: (Expr | null)[]): Expr | null {
  let out: Expr | null = null;
  for (const t of terms) if (t) out = out ? add(out, t) : t;
  return out;
}

/**
 * Forward mode: the tangent of `e` from the tangents of its inputs
 * (`tangent(k)`: an expression, or null for a zero tangent), with ops.ts's
 * jvp rules. Null when no input with a tangent reaches `e`.
 */
export function tangentOf(e: Expr, tangent: (k: number) => Expr | null): Expr | null {
  const order = topo(e);
  const tan = new Map<Expr, Expr | null>();
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as Expr;
    if (n.op === 'in') tan.set(n, tangent(n.k));
    else if (n.op === 'const') tan.set(n, null);
    else tan.set(n, forwardRule(n, n.args.map((a) => tan.get(a) ?? null)));
  }
  return tan.get(e) ?? null;
}

/** ops.ts's jvp rule of node `n` from its operands' tangents. */
function forwardRule(n: Exclude<Expr, { op: 'in' | 'const' }>, t: (Expr | null)[]): Expr | null {
  const [a, b] = n.args as [Expr, Expr];
  const [ta, tb, tc] = t as [Expr | null, Expr | null, Expr | null];
  const times = (x: Expr | null, y: Expr): Expr | null => (x ? mul(x, y) : null);
  switch (n.op) {
    case 'neg': return ta && neg(ta);
    case 'exp': return times(ta, n);
    case 'log': return ta && div(ta, a);
    case 'sqrt': return ta && div(ta, mul(n, k(2)));
    case 'abs': return times(ta, f('sign', a));
    case 'sigmoid': return times(ta, mul(n, add(neg(n), k(1))));
    case 'tanh': return times(ta, add(neg(mul(n, n)), k(1)));
    case 'copy': return ta;
    case 'add': return plus(ta, tb);
    case 'sub': return plus(ta, tb && neg(tb));
    case 'mul': return plus(times(ta, b), times(tb, a));
    case 'div': return plus(ta && div(ta, b), tb && neg(div(mul(tb, n), b)));
    case 'maximum': case 'minimum': {
      // ops.ts `fromWinner`: the winner's tangent, the mean of both on a tie
      const share = add(f(n.op === 'maximum' ? 'gt' : 'lt', a, b), mul(f('eq', a, b), k(0.5)));
      return plus(times(ta, share), times(tb, add(neg(share), k(1))));
    }
    case 'where': return plus(tb && where(a, tb, k(0)), tc && where(f('eq', a, k(0)), tc, k(0)));
    // piecewise constant: a zero tangent
    case 'sign': case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge':
      return null;
    // the table's zeros_like(result), when an input carries a tangent
    case 'floor': case 'ceil': case 'round':
      return ta && k(0);
    case 'pow': case 'trunc':
      if (ta || tb) throw new Error(`internal: ${n.op} has no fused derivative rule`);
      return null;
  }
}

/**
 * The most inputs one fused kernel reads.
 * NOTE: WebGPU's default `maxStorageBuffersPerShaderStage` is 8 (gpu.js binds the output as one
 * more storage buffer) and WebGL 1 guarantees only 8 texture units: 7 inputs fit every device.
 * A chain over more inputs runs composed (`composed` below), with the same values and gradients.
 */
export const MAX_FUSED_INPUTS = 7;

/**
 * `e` with only the inputs it reads, renumbered from 0; `used[i]` is the old index of new input i.
 * With `given`, the inputs are renumbered as `given` lists them (another expression's `used`: a
 * fused op's `diffExpr` follows its `expr`); an input `given` lacks is an internal error.
 */
export function compact(e: Expr, inputs: number, given?: readonly number[]): { readonly expr: Expr; readonly used: readonly number[] } {
  // remembered per expression: a step makes the same fused ops every iteration, and the same
  // compacted expression is what lets the kernel be remembered too (backend/kernel.ts `memoKernel`)
  const key = given ? `${inputs}|${given.join(',')}` : `${inputs}`;
  let byKey = compacted.get(e);
  if (!byKey) compacted.set(e, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const r = compactNew(e, inputs, given);
  if (byKey.size >= 64) byKey.clear();
  byKey.set(key, r);
  return r;
}

const compacted = new WeakMap<Expr, Map<string, { readonly expr: Expr; readonly used: readonly number[] }>>();

/**
 * `adjoints(e, k => needs[k], in(n))` (input n the output's gradient), remembered per expression
 * and `needs`: a fused op's backward asks for the same derivative expressions every step, and
 * the same objects let their compacted forms and kernels be remembered (`compact`).
 */
export function adjointsFor(e: Expr, needs: readonly boolean[], n: number): ReadonlyMap<number, Expr> {
  const key = `${n}|${needs.map((b) => (b ? 1 : 0)).join('')}`;
  let byKey = derived.get(e);
  if (!byKey) derived.set(e, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const r = adjoints(e, (k) => needs[k] === true, fx.in(n));
  if (byKey.size >= 64) byKey.clear();
  byKey.set(key, r);
  return r;
}

const derived = new WeakMap<Expr, Map<string, ReadonlyMap<number, Expr>>>();

function compactNew(e: Expr, inputs: number, given?: readonly number[]): { expr: Expr; used: number[] } {
  checkExpr(e, inputs);
  const order = topo(e);
  const used = given ? [...given] : [...new Set(order.flatMap((n) => (n.op === 'in' ? [n.k] : [])))].sort((a, b) => a - b);
  const slot = new Map(used.map((k, i) => [k, i]));
  const memo = new Map<Expr, Expr>();
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as Expr;
    if (n.op === 'in') {
      const at = slot.get(n.k);
      if (at === undefined) throw new Error(`internal: a fused diffExpr reads input ${n.k}, which its expr does not`);
      memo.set(n, fx.in(at));
    }
    else if (n.op === 'const') memo.set(n, n);
    else memo.set(n, { op: n.op, args: n.args.map((a) => memo.get(a) as Expr) });
  }
  return { expr: memo.get(e) as Expr, used };
}

/**
 * The chain as the composed tensor ops it fuses (the reference the fused kernel
 * is tested against, and the path for chains over more than MAX_FUSED_INPUTS inputs).
 */
export function composed(e: Expr, ts: readonly Tensor[], shape: readonly number[], dims: readonly number[], kind: 'sum' | 'max'): Tensor {
  const order = topo(e);
  const val = new Map<Expr, Tensor>();
  const any = ts[0] as Tensor;
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as Expr;
    if (n.op === 'in') val.set(n, ts[n.k] as Tensor);
    else if (n.op === 'const') val.set(n, any.scalar(n.v));
    else {
      const [a, b, c] = n.args.map((x) => val.get(x) as Tensor) as [Tensor, Tensor, Tensor];
      switch (n.op) {
        case 'copy': val.set(n, a); break;
        case 'trunc': throw new Error('internal: trunc (integer casts) is not a fused chain formula');
        case 'where': val.set(n, b.where(a, c)); break;
        case 'neg': case 'exp': case 'log': case 'sqrt': case 'abs': case 'sign': case 'sigmoid': case 'tanh': case 'floor': case 'ceil': case 'round':
          val.set(n, a[n.op]()); break;
        default: val.set(n, a[n.op](b));
      }
    }
  }
  let r = val.get(e) as Tensor;
  if (r.shape.join() !== shape.join()) r = r.expand(...shape);
  if (dims.length) r = kind === 'sum' ? r.sum([...dims], true) : r.max([...dims], true);
  return r;
}
