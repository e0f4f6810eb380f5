/**
 * Vector p-norms (PyTorch's `torch.norm` with a numeric `p` or `'fro'`, i.e.
 * `torch.linalg.vector_norm` over `dim`), composed from primitive ops so that
 * autograd, double backward and every device come for free.
 */
import type { Tensor } from './tensor.js';
import type { Dims } from './shape.js';

/** What `norm` accepts as `p`: a number (Infinity and -Infinity included) or `'fro'` (= 2). */
export type NormOrd = number | 'fro';

/** `s ** (1/p)` whose gradient is 0 (not NaN) where `s` is 0, as PyTorch's norm backward masks it. */
function safeRoot(s: Tensor, p: number): Tensor {
  // NOTE: the double `where`: the root only ever sees s != 0, so neither its value
  // nor its gradient is inf/NaN at 0; there the result is 0 with zero gradient
  const nonzero = s.ne(0);
  const safe = s.where(nonzero, 1);
  return (p === 2 ? safe.sqrt() : safe.pow(1 / p)).where(nonzero, 0);
}

/**
 * The p-norm of `x` over `dim` (all elements by default): (Σ|x|^p)^(1/p);
 * `Infinity` is max |x|, `-Infinity` min |x|, 0 counts the non-zeros.
 *
 * Shapes: `dim` removed (kept as size 1 with `keepdim`). Dtype: as `x`.
 * Gradient (PyTorch 1.13's norm_backward): x·|x|^(p-2)/‖x‖^(p-1); 0 where the
 * norm is 0; for ±∞ split evenly between tied maxima (minima); none for p = 0.
 * Errors: a non-numeric `p` other than 'fro' throws.
 * @example norm(gg.tensor([3, 4])) // 5
 */
export function norm(x: Tensor, p: NormOrd = 2, dim?: Dims, keepdim = false): Tensor {
  const ord = p === 'fro' ? 2 : p;
  if (typeof ord !== 'number' || Number.isNaN(ord)) throw new Error(`norm: p must be a number or 'fro', got ${String(p)}`);
  if (ord === 0) return x.detach().ne(0).sum(dim, keepdim).to(x.dtype);
  const a = x.abs();
  if (ord === Infinity) return a.max(dim, keepdim);
  if (ord === -Infinity) return a.min(dim, keepdim);
  if (ord === 1) return a.sum(dim, keepdim);
  if (ord === 2) return safeRoot(x.mul(x).sum(dim, keepdim), 2);
  return safeRoot(a.pow(ord).sum(dim, keepdim), ord);
}
