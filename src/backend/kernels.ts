/**
 * Kernel builders: every primitive's forward computation, written once in the
 * kernel IR (see kernel.ts) and run unchanged by every device.
 */
import { float, int, isContiguous, makeKernel, offsetExpr, unravel, type Kernel, type Operand } from './kernel.js';

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Per-input statements `const vI = inI[...]`, with index math only where needed. */
function reads(operands: readonly Operand[], shape: readonly number[]): string[] {
  const body: string[] = [];
  const allContiguous = operands.every((o) => isContiguous(o, shape));
  if (!allContiguous) body.push(...unravel('gid', shape, 'i'));
  operands.forEach((o, k) => {
    const at = isContiguous(o, shape) ? 'gid' : offsetExpr(o, 'i');
    body.push(`const v${k} = in${k}[${at}];`);
  });
  return body;
}

/**
 * Elementwise map over broadcast, strided operands: `expr` receives the
 * names of the input values (`v0`, `v1`, ...) and returns the output expression.
 * @example map('add', [a, b], [2, 3], ([x, y]) => `${x} + ${y}`)
 */
export function map(name: string, operands: readonly Operand[], shape: readonly number[], expr: (v: string[]) => string): Kernel {
  const names = operands.map((_, k) => `v${k}`);
  return makeKernel(name, operands.length, size(shape), reads(operands, shape), expr(names));
}

/** The elementwise formulas, shared by the forward kernels and documented once. */
export const formulas = {
  neg: ([a]: string[]) => `-${a}`,
  exp: ([a]: string[]) => `Math.exp(${a})`,
  log: ([a]: string[]) => `Math.log(${a})`,
  sqrt: ([a]: string[]) => `Math.sqrt(${a})`,
  abs: ([a]: string[]) => `Math.abs(${a})`,
  sign: ([a]: string[]) => `(${a} > 0.0 ? 1.0 : (${a} < 0.0 ? -1.0 : 0.0))`,
  // NOTE: split by sign so exp never overflows: σ(x) = 1/(1+e^-x) = e^x/(1+e^x)
  sigmoid: ([a]: string[]) => `(${a} >= 0.0 ? 1.0 / (1.0 + Math.exp(-${a})) : Math.exp(${a}) / (1.0 + Math.exp(${a})))`,
  // NOTE: tanh(x) = 1 - 2/(e^{2x}+1), clamped so e^{2x} stays finite in float32
  tanh: ([a]: string[]) => `(1.0 - 2.0 / (Math.exp(2.0 * Math.min(Math.max(${a}, -20.0), 20.0)) + 1.0))`,
  copy: ([a]: string[]) => `${a}`,
  add: ([a, b]: string[]) => `${a} + ${b}`,
  sub: ([a, b]: string[]) => `${a} - ${b}`,
  mul: ([a, b]: string[]) => `${a} * ${b}`,
  div: ([a, b]: string[]) => `${a} / ${b}`,
  pow: ([a, b]: string[]) => `Math.pow(${a}, ${b})`,
  maximum: ([a, b]: string[]) => `Math.max(${a}, ${b})`,
  minimum: ([a, b]: string[]) => `Math.min(${a}, ${b})`,
  eq: ([a, b]: string[]) => `(${a} == ${b} ? 1.0 : 0.0)`,
  ne: ([a, b]: string[]) => `(${a} != ${b} ? 1.0 : 0.0)`,
  lt: ([a, b]: string[]) => `(${a} < ${b} ? 1.0 : 0.0)`,
  le: ([a, b]: string[]) => `(${a} <= ${b} ? 1.0 : 0.0)`,
  gt: ([a, b]: string[]) => `(${a} > ${b} ? 1.0 : 0.0)`,
  ge: ([a, b]: string[]) => `(${a} >= ${b} ? 1.0 : 0.0)`,
  where: ([c, a, b]: string[]) => `(${c} != 0.0 ? ${a} : ${b})`,
} as const;

/** Names of the elementwise formulas. */
export type Formula = keyof typeof formulas;

/**
 * Reduction of one operand laid out as (kept dims..., reduced dims...).
 * `kind` sum adds, max keeps the largest (NaN wins, as in PyTorch).
 */
export function reduce(
  name: string,
  op: Operand,
  kept: readonly number[],
  reduced: readonly number[],
  kind: 'sum' | 'max',
): Kernel {
  const k = kept.length;
  const keptOp: Operand = { offset: op.offset, strides: op.strides.slice(0, k) };
  const redOp: Operand = { offset: 0, strides: op.strides.slice(k) };
  const n = size(reduced);
  const body = [...unravel('gid', kept, 'i'), `const base = ${offsetExpr(keptOp, 'i')};`];
  const init = kind === 'sum' ? '0.0' : float(-Infinity);
  body.push(`let acc = ${init};`);
  const inner = [...unravel('r', reduced, 'j'), `const v = in0[base + ${offsetExpr(redOp, 'j')}];`];
  inner.push(kind === 'sum' ? 'acc = acc + v;' : 'acc = (v > acc || v != v) ? v : acc;');
  body.push(`for (let r = 0.0; r < ${int(n)}; r = r + 1.0) { ${inner.join(' ')} }`);
  return makeKernel(name, 1, size(kept), body, 'acc');
}

/**
 * Batched matrix product: a is (batch..., M, K), b is (batch..., K, N), both
 * already broadcast to the same batch shape (strides 0 where broadcast).
 */
export function matmul(a: Operand, b: Operand, batch: readonly number[], m: number, kk: number, n: number): Kernel {
  const shape = [...batch, m, n];
  const r = batch.length;
  // a's index dims: batch..., row, (k); b's: batch..., (k), col
  const aOuter: Operand = { offset: a.offset, strides: [...a.strides.slice(0, r + 1), 0] };
  const bOuter: Operand = { offset: b.offset, strides: [...b.strides.slice(0, r), 0, b.strides[r + 1] ?? 0] };
  const aK = a.strides[r + 1] ?? 0;
  const bK = b.strides[r] ?? 0;
  const body = [
    ...unravel('gid', shape, 'i'),
    `const abase = ${offsetExpr(aOuter, 'i')};`,
    `const bbase = ${offsetExpr(bOuter, 'i')};`,
    'let acc = 0.0;',
    `for (let k = 0.0; k < ${int(kk)}; k = k + 1.0) { acc = acc + in0[abase + k * ${int(aK)}] * in1[bbase + k * ${int(bK)}]; }`,
  ];
  return makeKernel('matmul', 2, size(shape), body, 'acc');
}

/**
 * Constant padding (negative amounts crop): output dim d holds input index
 * `o - before[d]` when that is inside the input, else `value`.
 */
export function pad(op: Operand, inShape: readonly number[], outShape: readonly number[], before: readonly number[], value: number): Kernel {
  const body = unravel('gid', outShape, 'o');
  const conds: string[] = [];
  inShape.forEach((n, d) => {
    const b = before[d] ?? 0;
    body.push(`const i${d} = o${d} - ${int(b)};`);
    if (b > 0) conds.push(`i${d} >= 0.0`);
    if ((outShape[d] ?? 0) - b > n) conds.push(`i${d} < ${int(n)}`);
  });
  // NOTE: index clamped to 0 when outside, so no device reads out of bounds
  const inside = conds.length ? conds.join(' && ') : 'true';
  body.push(`const at = (${inside}) ? ${offsetExpr(op, 'i')} : 0.0;`);
  body.push('const v = in0[at];');
  return makeKernel('pad', 1, size(outShape), body, conds.length ? `(${inside}) ? v : ${float(value)}` : 'v');
}

/** A constant fill (no inputs). */
export function fill(n: number, value: number): Kernel {
  return makeKernel('fill', 0, n, [], float(value));
}
