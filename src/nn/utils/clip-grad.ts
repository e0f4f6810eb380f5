/**
 * Gradient clipping (PyTorch 1.13's torch/nn/utils/clip_grad.py):
 * `clipGradNorm_` scales all gradients together so that their joint norm is
 * at most `maxNorm`; `clipGradValue_` clamps each gradient element. Both
 * write the gradients in place (the trailing underscore) and record nothing.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { argError, checkNumber, checkOptionalBool, checkOptions } from '../../tensor/check.js';
import { tensor } from '../../tensor/creation.js';
import { stack } from '../../tensor/composites.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { tidy } from '../../tensor/storage.js';
import { defaults } from '../../tensor/defaults.js';
import { norm, type NormOrd } from '../../tensor/composites.js';

/** Parameters as the clipping functions take them: one tensor or any iterable (e.g. `model.parameters()`). */
export type ClipParams = Tensor | Iterable<Tensor>;

function gradsOf(params: ClipParams): Tensor[] {
  const list = isTensor(params) ? [params] : [...params];
  return list.flatMap((p) => (p.grad ? [p.grad] : []));
}
function isTensor(v: ClipParams): v is Tensor {
  return typeof v === 'object' && v !== null && 'shape' in v && 'dtype' in v;
}

/** Options of `clipGradNorm_`. */
export interface ClipGradNormOptions {
  /** The norm's order p (default 2; `Infinity` for the max norm). */
  normType?: NormOrd;
  /** Throw when the total norm is NaN or infinite (default false). Reads the norm back (`dataSync`: synchronous devices only). */
  errorIfNonfinite?: boolean;
}

/**
 * Scale the gradients of `parameters` in place so that the norm of all of
 * them together (the p-norm of the per-tensor p-norms) is at most `maxNorm`:
 * g ← g · min(1, maxNorm / (total + 1e-6)). Returns the total norm before
 * clipping, a 0-d tensor on the gradients' device (no readback). Parameters
 * without a gradient are skipped; with none at all the result is 0.
 *
 * Follows torch.nn.utils.clip_grad_norm_ (1.13). Errors: with
 * `errorIfNonfinite`, a NaN/inf total norm throws PyTorch's message
 * (`The total norm of order 2 for gradients from \`parameters\` is non-finite, ...`).
 * @example
 * loss.backward();
 * gg.nn.utils.clipGradNorm_(model.parameters(), 1.0);
 * opt.step();
 */
export function clipGradNorm_(parameters: ClipParams, maxNorm: number, opts: ClipGradNormOptions = {}): Tensor {
  checkOptions('clip_grad_norm_', opts, ['normType', 'errorIfNonfinite'] satisfies readonly (keyof ClipGradNormOptions)[]);
  checkNumber('clip_grad_norm_', 'max_norm', maxNorm);
  const p: unknown = opts.normType ?? 2;
  if (typeof p !== 'number' && p !== 'fro') throw argError('clip_grad_norm_', 'norm_type', 'float', p);
  const errorIfNonfinite = checkOptionalBool('clip_grad_norm_', 'error_if_nonfinite', opts.errorIfNonfinite, false);
  const grads = gradsOf(parameters);
  const ord = p === 'fro' ? 2 : p;
  // PyTorch's torch.tensor(0.): the default float dtype (a JS 0 alone would infer int64)
  if (grads.length === 0) return tensor(0, { dtype: defaults.dtype });
  return noGrad(() => {
    const first = grads[0] as Tensor;
    // NOTE: intermediate results are freed when it returns (README "Memory"): only the total survives
    const total = tidy(() => {
      const norms = grads.map((g) => norm(g, ord).to(first.device));
      return norms.length === 1 ? (norms[0] as Tensor) : ord === Infinity ? stack(norms).max() : norm(stack(norms), ord);
    });
    if (errorIfNonfinite) {
      const v = total.itemSync();
      if (!Number.isFinite(v)) {
        throw new Error(
          `The total norm of order ${pyFloat(ord)} for gradients from \`parameters\` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set \`error_if_nonfinite=False\``,
        );
      }
    }
    tidy(() => {
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1.0);
      for (const g of grads) g.assign(g.mul(coef.to(g.device)));
    });
    return total;
  });
}

/** Python's str(float): 2.0, inf. */
function pyFloat(v: number): string {
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

/**
 * Clamp every gradient element of `parameters` to [-clipValue, clipValue], in
 * place (torch.nn.utils.clip_grad_value_). Parameters without a gradient are
 * skipped.
 * @example gg.nn.utils.clipGradValue_(model.parameters(), 0.5);
 */
export function clipGradValue_(parameters: ClipParams, clipValue: number): void {
  checkNumber('clip_grad_value_', 'clip_value', clipValue);
  noGrad(() => {
    for (const g of gradsOf(parameters)) {
      const c = g.clamp(-clipValue, clipValue);
      g.assign(c);
      c.dispose();
    }
  });
}
