/**
 * Fused kernels: a chain of elementwise formulas, optionally ending in a sum
 * or max over some dims, as ONE kernel (docs/notes/architecture.md, "Fused
 * kernels"). The chain is an expression DAG over the kernel's inputs whose
 * nodes are the same formulas the one-op kernels use (kernels.ts `formulas`),
 * and whose constants are JS numbers written with `float()`: nothing but
 * checked numbers and those formula texts becomes kernel text.
 *
 * Nothing here knows about gradients: the tensor layer differentiates an
 * expression (tensor/fuse.ts) into new expressions, which compile here again.
 */
import { coalesce, float, int, isContiguous, makeGridKernel, makeKernel, memoKernel, offsetExpr, type Kernel, type Operand } from './kernel.js';
import { formulas, type Formula } from './kernels.js';

/** A node of a fused expression: an input, a constant, or a formula applied to nodes. Shared sub-nodes are computed once. */
export type Expr =
  | { readonly op: 'in'; readonly k: number }
  | { readonly op: 'const'; readonly v: number }
  | { readonly op: Formula; readonly args: readonly Expr[] };

/** How many operands each formula takes. */
const ARITY: { readonly [F in Formula]: number } = {
  neg: 1, exp: 1, log: 1, sqrt: 1, abs: 1, sign: 1, sigmoid: 1, tanh: 1, copy: 1, floor: 1, ceil: 1, round: 1, trunc: 1,
  add: 2, sub: 2, mul: 2, div: 2, pow: 2, maximum: 2, minimum: 2,
  eq: 2, ne: 2, lt: 2, le: 2, gt: 2, ge: 2,
  where: 3,
};

/**
 * Check an expression before it becomes text: input indices are integers
 * below `inputs`, constants are numbers, formulas are known with their arity.
 * Returns the number of distinct nodes (a sanity bound on kernel size).
 */
export function checkExpr(e: Expr, inputs: number): number {
  const seen = new Set<Expr>();
  const visit = (n: Expr): void => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.op === 'in') {
      int(n.k);
      if (n.k < 0 || n.k >= inputs) throw new Error(`internal: fused expression reads input ${n.k} of ${inputs}`);
    } else if (n.op === 'const') {
      float(n.v);
    } else {
      if (!Object.prototype.hasOwnProperty.call(formulas, n.op)) throw new Error(`internal: unknown formula in a fused expression`);
      if (n.args.length !== ARITY[n.op]) throw new Error(`internal: ${n.op} takes ${ARITY[n.op]} operands in a fused expression`);
      n.args.forEach(visit);
    }
  };
  visit(e);
  if (seen.size > 512) throw new Error('internal: fused expression too large');
  return seen.size;
}

/**
 * The expression as statements: each formula node becomes `const fN = ...;`
 * once (shared nodes are reused), inputs read as `v{k}`. `invariant(k)` says
 * whether input k is the same for every step of a reduction loop; nodes that
 * depend only on invariant inputs and constants go to `pre` (computed before
 * the loop), the rest to `inner`.
 */
function render(e: Expr, invariant: (k: number) => boolean): { pre: string[]; inner: string[]; result: string; varies: boolean } {
  const names = new Map<Expr, { text: string; varies: boolean }>();
  const pre: string[] = [];
  const inner: string[] = [];
  let next = 0;
  const visit = (n: Expr): { text: string; varies: boolean } => {
    const hit = names.get(n);
    if (hit) return hit;
    let out: { text: string; varies: boolean };
    if (n.op === 'in') out = { text: `v${String(n.k)}`, varies: !invariant(n.k) };
    else if (n.op === 'const') out = { text: float(n.v), varies: false };
    else {
      const args = n.args.map(visit);
      const varies = args.some((a) => a.varies);
      const name = `f${next++}`;
      (varies ? inner : pre).push(`const ${name} = ${formulas[n.op](args.map((a) => a.text))};`);
      out = { text: name, varies };
    }
    names.set(n, out);
    return out;
  };
  const r = visit(e);
  return { pre, inner, result: r.text, varies: r.varies };
}

/**
 * An elementwise fused kernel over broadcast, strided operands (one thread
 * per output element), like `map` in kernels.ts but with a whole expression.
 */
export function fusedMap(name: string, expr: Expr, operands: readonly Operand[], shape: readonly number[]): Kernel {
  // the expression object fixes the text: remembered per expression (kernel.ts `memoKernel`)
  return memoKernel(expr, `map|${name}`, [shape, ...operands], () => buildFusedMap(name, expr, operands, shape));
}

function buildFusedMap(name: string, expr: Expr, operands: readonly Operand[], shape: readonly number[]): Kernel {
  checkExpr(expr, operands.length);
  for (const n of shape) int(n);
  for (const o of operands) [o.offset, ...o.strides].forEach(int);
  const { pre, inner, result } = render(expr, () => false);
  const stmts = [...pre, ...inner];
  const n = shape.reduce((a, b) => a * b, 1);
  if (operands.every((o) => isContiguous(o, shape))) {
    return makeKernel(name, operands.length, n, [...operands.map((_, k) => `const v${k} = in${k}[gid];`), ...stmts], result);
  }
  const c = coalesce(shape, operands);
  const reads = c.operands.map((o, k) => `const v${k} = in${k}[${isContiguous(o, c.shape) ? 'gid' : offsetExpr(o, 'i')}];`);
  return makeGridKernel(name, operands.length, c.shape, 'i', [...reads, ...stmts], result);
}

/**
 * A fused reduction: every operand is laid out as (kept..., reduced...)
 * (strides in that order; 0 where broadcast); the output element at a kept
 * index is the sum (or max, NaN winning) of `expr` over the reduced dims.
 * Operands that do not vary over the reduced dims, and every node that
 * depends only on them, are computed once per output element.
 */
export function fusedReduce(name: string, expr: Expr, operands: readonly Operand[], kept: readonly number[], reduced: readonly number[], kind: 'sum' | 'max'): Kernel {
  return memoKernel(expr, `${kind}|${name}`, [kept, reduced, ...operands], () => buildFusedReduce(name, expr, operands, kept, reduced, kind));
}

function buildFusedReduce(name: string, expr: Expr, operands: readonly Operand[], kept: readonly number[], reduced: readonly number[], kind: 'sum' | 'max'): Kernel {
  checkExpr(expr, operands.length);
  for (const n of [...kept, ...reduced]) int(n);
  for (const o of operands) [o.offset, ...o.strides].forEach(int);
  const k = kept.length;
  const keptC = coalesce(kept, operands.map((o) => ({ offset: o.offset, strides: o.strides.slice(0, k) })));
  const redC = coalesce(reduced, operands.map((o) => ({ offset: 0, strides: o.strides.slice(k) })));
  const invariant = (i: number): boolean => (redC.operands[i] as Operand).strides.every((s) => s === 0);
  const { pre, inner, result, varies } = render(expr, invariant);
  const body: string[] = [];
  const loopReads: string[] = [];
  keptC.operands.forEach((o, i) => {
    const base = offsetExpr(o, 'i');
    if (invariant(i)) body.push(`const v${i} = in${i}[${base}];`);
    else {
      body.push(`const b${i} = ${base};`);
      loopReads.push(`const v${i} = in${i}[b${i} + ${offsetExpr(redC.operands[i] as Operand, 'j')}];`);
    }
  });
  body.push(...pre);
  body.push(`let acc = ${kind === 'sum' ? '0.0' : float(-Infinity)};`);
  const update = kind === 'sum' ? `acc = acc + ${result};` : `acc = (${result} > acc || ${result} != ${result}) ? ${result} : acc;`;
  // NOTE: a term that does not vary is still added once per reduced element, as a sum kernel would
  const step = [...loopReads, ...(varies ? inner : []), update].join(' ');
  let code = step;
  for (let d = redC.shape.length - 1; d >= 0; d--) {
    code = `for (let j${d} = 0.0; j${d} < ${int(redC.shape[d] ?? 1)}; j${d} += 1.0) { ${code} }`;
  }
  body.push(code);
  return makeGridKernel(name, operands.length, keptC.shape, 'i', body, 'acc');
}
