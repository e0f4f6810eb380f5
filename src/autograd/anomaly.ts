/**
 * Anomaly mode (PyTorch's `torch.autograd.detect_anomaly`): nodes record the
 * forward stack that made them (autograd/graph.ts), and the engine hands each
 * node's output gradients to `checkGradients` here, which throws PyTorch's
 * message with that stack when one holds a NaN.
 * See docs/notes/seeing-autograd.md for the cost.
 */
import { isAnomalyEnabled, setDetectAnomaly } from './grad-mode.js';
import type { Node } from './graph.js';
import type { Tensor } from '../tensor/tensor.js';

/** Checks still reading gradients back from devices that answer later (webgpu, webasm). */
let pending: Promise<void>[] = [];

/** PyTorch's error for a NaN in output `i` of `node`'s backward, then the forward stack. */
function anomalyError(node: Node, i: number): Error {
  const head = `Function '${node.name}' returned nan values in its ${i}th output.`;
  const e = new Error(node.forwardStack ? `${head}\n\n${node.forwardStack}` : head);
  e.name = 'AnomalyError';
  return e;
}

function hasNaN(data: ArrayLike<number>): boolean {
  for (let k = 0; k < data.length; k++) if (Number.isNaN(data[k])) return true;
  return false;
}

/**
 * @internal Called by the engine in anomaly mode with the gradients a node's
 * backward returned. Throws on devices read synchronously; on the others the
 * check is queued and `detectAnomaly` reports it when its function settles.
 */
export function checkGradients(node: Node, grads: readonly (Tensor | null)[]): void {
  grads.forEach((g, i) => {
    if (!g) return;
    if (g.storage.device.syncRead) {
      if (hasNaN(g.dataSync())) throw anomalyError(node, i);
    } else {
      pending.push(g.data().then((d) => {
        if (hasNaN(d)) throw anomalyError(node, i);
      }));
    }
  });
}

/** Wait for the queued checks; the first NaN found rejects. */
async function settleChecks(): Promise<void> {
  const checks = pending;
  pending = [];
  await Promise.all(checks);
}

/**
 * Run `fn` with anomaly mode on (PyTorch's `with torch.autograd.detect_anomaly():`),
 * restoring the previous mode after. Inside, every op records the stack of
 * its forward call, and a backward whose node returns a NaN gradient throws
 * `Function 'SqrtBackward0' returned nan values in its 0th output.` followed
 * by `Traceback of forward call that caused the error:` and that stack.
 *
 * `fn` may be async: then the mode stays on until its promise settles (do not
 * run other graph work concurrently), and on devices whose reads are
 * asynchronous (`gpu:webgpu`, `gpu:webasm`) the NaN checks are awaited before
 * the returned promise resolves. A synchronous `fn` on such a device gets no
 * check (use the async form there).
 *
 * Cost: see `setDetectAnomaly` (a stack per op, a read per backward node).
 * @throws the anomaly error above, or whatever `fn` throws
 * @example
 * const x = gg.tensor([0, 1], { requiresGrad: true });
 * gg.autograd.detectAnomaly(() => x.sqrt().mul(0).sum().backward());
 * // Error: Function 'SqrtBackward0' returned nan values in its 0th output.
 */
export function detectAnomaly<T>(fn: () => T): T {
  const prev = isAnomalyEnabled();
  setDetectAnomaly(true);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    setDetectAnomaly(prev);
    pending = [];
    throw e;
  }
  if (!(result instanceof Promise)) {
    setDetectAnomaly(prev);
    pending = [];
    return result;
  }
  return result.then(
    async (v: unknown) => {
      setDetectAnomaly(prev);
      await settleChecks();
      return v;
    },
    async (e: unknown) => {
      setDetectAnomaly(prev);
      pending = [];
      throw e;
    },
  ) as T;
}
