/**
 * Reading the fixtures of test/fixtures/make_special.py, which write
 * non-finite numbers as the strings "nan", "inf" and "-inf".
 */

/** A fixture number: a JSON number, or "nan" / "inf" / "-inf". */
export type FixtureNumber = number | 'nan' | 'inf' | '-inf';

/** A tensor of those fixtures: shape and flat row-major data. */
export interface SpecialGolden {
  shape: number[];
  data: FixtureNumber[];
}

/** The number a fixture value stands for. */
export function decode(v: FixtureNumber): number {
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  return v;
}

/** A fixture tensor's data as numbers. */
export function decodeAll(t: SpecialGolden): number[] {
  return t.data.map(decode);
}
