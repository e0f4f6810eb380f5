/**
 * The share of the suite that runs in Chromium (test/browser/chromium.test.ts
 * drives it; scripts/build-browser.mjs bundles it into dist/browser/tests.js).
 * The files are the same ones Node runs; `forEachDevice` gives every browser
 * device (`cpu`, `gpu:webgl2`, `gpu:webgl`, `gpu:webgpu`, `gpu:cpu`) its own
 * `[device=NAME]` suite.
 *
 * - PyTorch goldens on every device: tensor/golden, nn/layers, nn/loss, tensor/everyday
 *   (rounding, norm, arange, rsub, and ndarray interop in the bundle)
 * - the cpu device's float32 WebAssembly gemm against goldens and loops: backend/gemm
 * - float64 gradcheck of every differentiable op on cpu: autograd/optable
 * - device parity against the float64 reference: browser/parity
 * - memory flat with tidy: tensor/memory (and errors: a failed call changes nothing)
 * - engine trace and anomaly mode (the forward stack inside a bundle): autograd/trace
 * - safetensors from bytes, spectral norm, optimizers
 */
import './setup.js';
import '../tensor/golden.test.js';
import '../backend/gemm.test.js';
import '../tensor/memory.test.js';
import '../tensor/errors.test.js';
import '../tensor/everyday.test.js';
import './parity.test.js';
import '../autograd/optable.test.js';
import '../autograd/trace.test.js';
import '../nn/layers.test.js';
import '../nn/loss.test.js';
import '../nn/optim.test.js';
import '../nn/spectral.test.js';
import '../support/safetensors.test.js';

/** One test's outcome, as chromium.test.ts replays it. */
export interface BrowserResult {
  title: string;
  state: 'passed' | 'failed' | 'skipped';
  reason?: string;
  error?: string;
}

interface Runnable {
  fullTitle(): string;
  parent?: Runnable;
  type?: string;
  gpugradSkipReason?: string;
}
interface Runner {
  on(event: 'pass' | 'pending', fn: (t: Runnable) => void): void;
  on(event: 'fail', fn: (t: Runnable, err: Error) => void): void;
}
interface MochaGlobal {
  run(done: (failures: number) => void): Runner;
}

const reasonOf = (r: Runnable | undefined): string | undefined => {
  for (let x = r; x; x = x.parent) if (typeof x.gpugradSkipReason === 'string') return x.gpugradSkipReason;
  return undefined;
};

/** Run the suite; resolves with every test's outcome (a test reported twice keeps its last state). */
export function runSuite(onResult?: (r: BrowserResult) => void): Promise<BrowserResult[]> {
  const mocha = (globalThis as unknown as { mocha: MochaGlobal }).mocha;
  const results = new Map<Runnable, BrowserResult>();
  const hooks: BrowserResult[] = [];
  const add = (t: Runnable, r: BrowserResult): void => {
    if (t.type === 'hook') hooks.push(r);
    else results.set(t, r);
    onResult?.(r);
  };
  return new Promise((resolve) => {
    const runner = mocha.run(() => resolve([...results.values(), ...hooks]));
    runner.on('pass', (t) => add(t, { title: t.fullTitle(), state: 'passed' }));
    runner.on('pending', (t) => {
      const reason = reasonOf(t);
      add(t, { title: t.fullTitle(), state: 'skipped', ...(reason ? { reason } : {}) });
    });
    runner.on('fail', (t, err) => add(t, { title: t.fullTitle(), state: 'failed', error: String(err?.stack ?? err) }));
  });
}

(globalThis as unknown as { gpugradRunSuite: typeof runSuite }).gpugradRunSuite = runSuite;
