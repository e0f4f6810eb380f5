/**
 * Forward-mode AD's state: the dual level and each tensor's tangent at it
 * (docs/notes/forward-mode.md).
 *
 * A tangent is attached to a tensor object, as PyTorch attaches its forward
 * gradient; `apply` (ops.ts) computes the tangent of every op's output from
 * its inputs' tangents with the op table's `jvp` rule. Only one level exists
 * at a time, as in PyTorch 1.13.
 */
import { keep } from './storage.js';
import type { Tensor } from './tensor.js';

/** The current level: -1 outside `dualLevel`, 0 inside (PyTorch numbers levels from 0). */
let level = -1;
/** Tangents at the current level, keyed by the tensor object that carries them. */
let tangents = new WeakMap<Tensor, Tensor>();
/** Every tangent handle this level owns, disposed when it ends. */
let owned: WeakRef<Tensor>[] = [];
/** > 0 while an op's forward or jvp rule runs: their inner ops carry no tangents. */
let suspended = 0;

/** @internal The current dual level (-1 when none). */
export function currentLevel(): number {
  return level;
}

/** @internal Whether ops must compute tangents now. */
export function forwardActive(): boolean {
  return level >= 0 && suspended === 0;
}

/** @internal Enter level 0; PyTorch 1.13 has no nested levels. */
export function enterLevel(): number {
  if (level >= 0) throw new Error('Nested forward mode AD is not supported at the moment');
  level = 0;
  return level;
}

/** @internal Leave the level: every tangent made in it is released. */
export function exitLevel(): void {
  if (level < 0) throw new Error('Trying to exit a forward AD level that was not the last one that was created. This is not supported.');
  for (const ref of owned) ref.deref()?.dispose();
  owned = [];
  tangents = new WeakMap();
  level = -1;
}

/** @internal The tangent of `t` at the current level, or null. */
export function tangentOf(t: Tensor): Tensor | null {
  return level >= 0 ? (tangents.get(t) ?? null) : null;
}

/**
 * @internal Give `t` the tangent `tan` (a handle this module now owns).
 * NOTE: tangent handles are outside every `tidy` scope: they live as long as
 * their primal (the WeakMap) or until the level ends, whichever is first.
 */
export function setTangent(t: Tensor, tan: Tensor): void {
  tangents.set(t, keep(tan));
  owned.push(new WeakRef(tan));
}

/** @internal Run `fn` with tangent propagation off (an op's own forward and jvp rule). */
export function suspendForward<T>(fn: () => T): T {
  suspended++;
  try {
    return fn();
  } finally {
    suspended--;
  }
}
