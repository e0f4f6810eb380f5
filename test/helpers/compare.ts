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
