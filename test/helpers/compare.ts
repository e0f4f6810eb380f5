/** Numeric comparison helpers for tests. */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as gg from '../../src/index.js';

/** Tolerances: |actual - expected| <= atol + rtol·|expected|. */
export interface Tol {
  rtol: number;
  atol: number;
}

/** float64 on the cpu reference against PyTorch's float64. */
export const F64: Tol = { rtol: 1e-10, atol: 1e-12 };
/** float32 devices against float64 references. */
export const F32: Tol = { rtol: 1e-4, atol: 1e-5 };

/** Assert elementwise closeness (NaN only matches NaN), naming the first bad index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, label = ''): void {
  expect(actual.length, `${label}: length`).to.equal(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue; // infinities
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    const a = actual[worst] as number;
    const e = expected[worst] as number;
    expect.fail(
      `${label}: element ${worst} is ${a}, expected ${e} (|diff| ${Math.abs(a - e).toExponential(3)} > atol ${tol.atol} + rtol ${tol.rtol}·|expected|)\n` +
        `actual:   [${Array.from(actual).slice(0, 24).join(', ')}${actual.length > 24 ? ', ...' : ''}]\n` +
        `expected: [${Array.from(expected).slice(0, 24).join(', ')}${expected.length > 24 ? ', ...' : ''}]`,
    );
  }
}

/** Values of a tensor as a plain number array (waits for async devices). */
export async function values(t: gg.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** A JSON file under test/fixtures (tests run from dist/test/...). */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

/** A tensor of the PyTorch goldens (test/fixtures/torch_nn.json). */
export interface Golden {
  shape: number[];
  data: number[];
}

/** One forward/backward step of a golden module case. */
export interface GoldenStep {
  input: Golden;
  gout: Golden;
  output: Golden;
  input_grad: Golden;
  param_grads: Record<string, Golden>;
  state_after: Record<string, Golden>;
}

/** A golden as a float64 tensor on the cpu, a leaf that requires grad when asked. */
export function golden64(t: Golden, requiresGrad = false): gg.Tensor {
  return gg.tensor(t.data, { shape: t.shape, dtype: 'float64', requiresGrad });
}

/** A golden as a tensor with these options (float64 unless told). */
export function goldenTensor(t: Golden, opts: gg.TensorOptions = { dtype: 'float64' }): gg.Tensor {
  return gg.tensor(Float64Array.from(t.data), { ...opts, shape: t.shape });
}

/** Assert a tensor (present, of the golden's shape) matches a golden: |v - e| <= tol·(1 + |e|). */
export function expectGolden(actual: gg.Tensor | null | undefined, expected: Golden, label: string, tol = 1e-10): void {
  expect(actual, `${label}: missing`).to.be.instanceOf(gg.Tensor);
  const a = actual as gg.Tensor;
  expect([...a.shape], `${label}: shape`).to.deep.equal(expected.shape);
  const got = a.dataSync();
  expected.data.forEach((e, i) => {
    const v = got[i] as number;
    if (!(Math.abs(v - e) <= tol * (1 + Math.abs(e)))) expect.fail(`${label}[${i}]: got ${v}, expected ${e}`);
  });
}

/** A synchronous tensor's values as plain numbers. */
export function valuesSync(t: gg.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** The message `p` rejects with (fails when it resolves): `errorOf` for promises. */
export async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

/** The message of the error `fn` throws (fails when it throws none). */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}
