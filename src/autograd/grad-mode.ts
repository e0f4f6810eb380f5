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

// ---- anomaly mode (docs/notes/seeing-autograd.md) ----

let anomalyEnabled = false;

/** Whether anomaly mode is on. @example gg.autograd.isAnomalyEnabled() // false */
export function isAnomalyEnabled(): boolean {
  return anomalyEnabled;
}

/**
 * Switch anomaly mode on or off (PyTorch's `torch.autograd.set_detect_anomaly`).
 * While on, every node records the stack of the forward call that made it,
 * and the engine checks each backward output for NaN, throwing PyTorch's
 * `Function 'SqrtBackward0' returned nan values in its 0th output.` followed
 * by that stack.
 *
 * Cost: one `new Error().stack` per recorded op (a few microseconds each),
 * and one read of every gradient the engine computes (a device-to-host copy
 * per node; on `cpu` about the cost of the op itself, on a GPU device a
 * synchronisation per node). Use it to find a bug, not to train.
 * @example gg.autograd.setDetectAnomaly(true); loss.backward(); gg.autograd.setDetectAnomaly(false);
 */
export function setDetectAnomaly(on: boolean): void {
  anomalyEnabled = on;
}
