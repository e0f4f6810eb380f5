/** Deterministic test data, independent of gg's own random stream. */
import * as gg from '../../src/index.js';
import { mulberry32 as rng } from '../../examples/lib/rng.js';

/** mulberry32: a tiny seeded generator of numbers in [0, 1) (the examples' own). */
export { rng };

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Kinds of values, chosen away from the kinks and poles of the ops they feed. */
export type Domain =
  | 'any' // uniform in [-2, 2]
  | 'pos' // [0.5, 2]
  | 'nonzero' // |x| in [0.3, 2], either sign
  | 'distinct' // a shuffled ramp, spaced by 0.25 (no ties, for max)
  | 'mask'; // 0 or 1

/** Values of a domain. */
export function sample(shape: readonly number[], domain: Domain, seed: number): Float64Array {
  const r = rng(seed);
  const n = numel(shape);
  switch (domain) {
    case 'any':
      return Float64Array.from({ length: n }, () => -2 + 4 * r());
    case 'pos':
      return Float64Array.from({ length: n }, () => 0.5 + 1.5 * r());
    case 'nonzero':
      return Float64Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (0.3 + 1.7 * r()));
    case 'distinct': {
      const v = Float64Array.from({ length: n }, (_, i) => (i - n / 2) * 0.25 + 0.05 * r());
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [v[i], v[j]] = [v[j] as number, v[i] as number];
      }
      return v;
    }
    case 'mask':
      return Float64Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1));
    default:
      return domain satisfies never;
  }
}

/** A leaf tensor of a domain's values. */
export function leaf(
  shape: readonly number[],
  domain: Domain = 'any',
  seed = 1,
  opts: { dtype?: gg.DType; device?: string; requiresGrad?: boolean } = {},
): gg.Tensor {
  return gg.tensor(sample(shape, domain, seed), {
    shape,
    dtype: opts.dtype ?? 'float64',
    device: opts.device ?? 'cpu',
    requiresGrad: opts.requiresGrad ?? true,
  });
}
