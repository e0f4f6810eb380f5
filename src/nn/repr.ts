/**
 * Python's repr of option values, for modules' printed forms (`extraRepr`,
 * PyTorch's `extra_repr`): floats as Python prints them (`1e-05`, `0.1`,
 * `1.0`), booleans as `True`/`False`, tuples as `(3, 3)` and `(3,)`, so a
 * printed module reads as PyTorch's.
 */

/**
 * @internal A number as Python's `repr(float)` prints it: shortest digits,
 * `.0` on integers, exponent form below 1e-4 and from 1e16 (`1e-05`, `1e+16`).
 */
export function pyFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (Object.is(v, -0)) return '-0.0';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  const a = Math.abs(v);
  if (a < 1e-4 || a >= 1e16) {
    const [mant, exp] = v.toExponential().split('e') as [string, string];
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[-+]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  return String(v);
}

/** @internal A boolean as Python prints it. */
export function pyBool(b: boolean): string {
  return b ? 'True' : 'False';
}

/** @internal A tuple of ints as Python prints it: `(3, 3)`, `(3,)`. */
export function pyTuple(xs: readonly number[]): string {
  return xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(', ')})`;
}
