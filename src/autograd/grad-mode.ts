/**
 * The grad mode: whether ops record the autograd graph right now
 * (PyTorch's `torch.no_grad` / `torch.enable_grad`). One flag, switched for
 * the length of a callback.
 */

let gradEnabled = true;

/** Whether ops record the graph right now. @example gg.noGrad(() => gg.isGradEnabled()) // false */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** @internal Run `fn` with recording switched `on` or off, restoring the mode after. */
export function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = on;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Run `fn` without recording the graph (like `torch.no_grad()`); returns what `fn` returns.
 * @example const y = gg.noGrad(() => w.mul(2)); // y.requiresGrad === false
 */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/**
 * Run `fn` with recording on, even inside `noGrad`; returns what `fn` returns.
 * @example gg.noGrad(() => gg.enableGrad(() => w.mul(2))).requiresGrad // true
 */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
