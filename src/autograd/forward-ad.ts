/**
 * `gg.autograd.forwardAd`: forward-mode automatic differentiation with
 * PyTorch's API (`torch.autograd.forward_ad`), in TypeScript casing.
 *
 * Inside `dualLevel`, a dual tensor made by `makeDual(primal, tangent)`
 * carries its tangent through every op: each primitive's output gets the
 * tangent its op table `jvp` rule gives (tensor/ops.ts), and composites
 * (softmax, the norm layers, conv, ...) get theirs by composition.
 * `unpackDual` reads it back: the Jacobian-vector product J·tangent. See
 * docs/notes/forward-mode.md.
 */
import { apply, type Tensor } from '../tensor/tensor.js';
import { currentLevel, enterLevel, exitLevel, setTangent, suspendForward, tangentOf } from '../tensor/dual.js';
import { fmt } from '../tensor/shape.js';

/** What `unpackDual` returns (PyTorch's `UnpackedDualTensor`). */
export interface UnpackedDual {
  /** A view of the tensor's value, without the tangent. */
  primal: Tensor;
  /** The tangent at the current level, or null when it has none. */
  tangent: Tensor | null;
}

const isFloating = (dtype: string): boolean => dtype === 'float32' || dtype === 'float64';

/** A new tensor object over the same data, recorded for backward (PyTorch's make_dual and _fw_primal are views). */
function viewOf(t: Tensor): Tensor {
  return apply('expand', [t], { shape: [...t.shape] });
}

/**
 * Enter a forward AD level (PyTorch's `enter_dual_level`); prefer `dualLevel`.
 * Returns the level (0).
 * @throws `Nested forward mode AD is not supported at the moment` inside another level (PyTorch 1.13).
 * @example const level = gg.autograd.forwardAd.enterDualLevel(); // ... gg.autograd.forwardAd.exitDualLevel();
 */
export function enterDualLevel(): number {
  return enterLevel();
}

/**
 * Leave the current level (PyTorch's `exit_dual_level`): every tangent made in
 * it is released, and tensors made in it no longer carry one.
 * @throws when no level is open.
 * @example gg.autograd.forwardAd.exitDualLevel();
 */
export function exitDualLevel(): void {
  exitLevel();
}

/**
 * Run `fn` inside a forward AD level (PyTorch's `with dual_level():`) and
 * return what it returns. An async `fn` keeps the level open until its
 * promise settles. Levels do not nest, as in PyTorch 1.13.
 * @throws `Nested forward mode AD is not supported at the moment` inside another level.
 * @example
 * const fwAD = gg.autograd.forwardAd;
 * const jvp = fwAD.dualLevel(() => {
 *   const x = fwAD.makeDual(gg.tensor([1, 2], { dtype: 'float32' }), gg.tensor([1, 0], { dtype: 'float32' }));
 *   return fwAD.unpackDual(x.mul(x).sum()).tangent; // 2·x·v = 2
 * });
 */
export function dualLevel<T>(fn: () => T): T {
  enterLevel();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    exitLevel();
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => exitLevel()) as T;
  }
  exitLevel();
  return result;
}

/**
 * A dual tensor: `primal`'s value with `tangent` attached at the current level
 * (PyTorch's `make_dual`). The result is a new tensor over primal's data;
 * backward flows through it to `primal`, and through the tangent's uses to
 * `tangent`.
 *
 * Shapes: `tangent` must have primal's shape. Dtypes: both floating point; a
 * tangent of the other float dtype is converted to primal's (NOTE: PyTorch
 * keeps it and promotes later; gpugrad's ops take one dtype, so converting
 * here gives the same values downstream).
 * @throws outside `dualLevel` (`Trying to create a dual Tensor for forward AD but no level exists, ...`),
 *   on a shape mismatch (`Trying to set a forward gradient that has a different size ...`), when primal
 *   already has a tangent at this level, or when the devices differ.
 * @example
 * gg.autograd.forwardAd.dualLevel(() => {
 *   const x = gg.autograd.forwardAd.makeDual(gg.tensor([3], { dtype: 'float32' }), gg.tensor([1], { dtype: 'float32' }));
 *   gg.autograd.forwardAd.unpackDual(x.exp()).tangent; // [e³]
 * });
 */
export function makeDual(primal: Tensor, tangent: Tensor): Tensor {
  const level = currentLevel();
  if (level < 0) throw new Error('Trying to create a dual Tensor for forward AD but no level exists, make sure to enter_dual_level() first.');
  primal.checkAlive();
  tangent.checkAlive();
  if (!isFloating(primal.dtype)) throw new Error(`Expected primal to be floating point or complex, but got: ${primal.dtype}`);
  if (!isFloating(tangent.dtype)) throw new Error(`Expected tangent to be floating point or complex, but got: ${tangent.dtype}`);
  if (fmt(primal.shape) !== fmt(tangent.shape)) {
    throw new Error(
      `Trying to set a forward gradient that has a different size than that of the original Tensor, this is not supported. Tensor is of size ${fmt(primal.shape)} while the given forward gradient is of size ${fmt(tangent.shape)}.`,
    );
  }
  if (tangentOf(primal)) {
    throw new Error(`Making a dual Tensor based on a Tensor that already has a forward gradient at the same level ${level} is not supported.`);
  }
  if (tangent.device !== primal.device) {
    throw new Error(`Expected the tangent to be on the primal's device '${primal.device}', but it is on '${tangent.device}'.`);
  }
  const out = suspendForward(() => viewOf(primal));
  // the level owns a handle of its own, so disposing the caller's tangent (or the level ending) frees nothing of the other
  const own = tangent.dtype === primal.dtype ? tangent.alias() : tangent.to(primal.dtype);
  setTangent(out, own);
  return out;
}

/**
 * The value and the tangent of a (dual) tensor at the current level (PyTorch's
 * `unpack_dual`). Outside a level, `{ primal: t, tangent: null }`. Inside,
 * `primal` is a new view without the tangent and `tangent` is a handle of the
 * tangent that stays valid after the level ends.
 * @example
 * gg.autograd.forwardAd.dualLevel(() => {
 *   const { primal, tangent } = gg.autograd.forwardAd.unpackDual(y);
 * });
 */
export function unpackDual(t: Tensor): UnpackedDual {
  if (currentLevel() < 0) return { primal: t, tangent: null };
  t.checkAlive();
  const tan = tangentOf(t);
  // both are new views: a `tidy` scope frees them like any tensor made inside it, and the
  // tangent's view outlives the level's own handle
  return suspendForward(() => ({ primal: viewOf(t), tangent: tan ? viewOf(tan) : null }));
}
