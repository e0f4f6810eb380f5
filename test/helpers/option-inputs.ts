/**
 * Inputs shared by the option-argument tests (test/safety/options.test.ts
 * and unknown-options.test.ts): each call makes fresh tensors, so a test that
 * counts live buffers sees only what the call under test made; and the
 * check that bad inputs are refused safely (options.test.ts, fuzz.test.ts).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

/** A float32 [2, 3] input. */
export const x = (): gg.Tensor => gg.randn([2, 3]);
/** int64 class targets for three rows. */
export const t3 = (): gg.Tensor => gg.tensor([0, 2, 1]);
/** [3, 3] logits. */
export const logits = (): gg.Tensor => gg.randn([3, 3]);
/** A [1, 2, 4, 4] image batch. */
export const img = (): gg.Tensor => gg.ones([1, 2, 4, 4]);
/** One parameter that requires grad. */
export const p = (): gg.Tensor[] => [gg.ones([1], { requiresGrad: true })];
/** An SGD optimiser over `p()`. */
export const opt = (): gg.optim.SGD => new gg.optim.SGD(p(), { lr: 0.1 });

/** The canary a bad input would set if it ran as code (`globalThis.__gpugradCanary=7`). */
export const canary = globalThis as { __gpugradCanary?: unknown };

/**
 * Call `call` with each labelled bad value (inside gg.tidy, so a failed call's
 * tensors are freed) and check that each throws an Error whose message
 * includes `mentions` and does not match `forbidden` (an internal error or a
 * JS one leaking out), and that none ran as code (the canary stays unset).
 */
export function expectEachRefused(call: (v: never) => unknown, values: readonly (readonly [string, unknown])[], mentions: string, forbidden: RegExp): void {
  for (const [label, v] of values) {
    let err: unknown = null;
    gg.tidy(() => {
      try {
        call(v as never);
      } catch (e) {
        err = e;
      }
    });
    expect(canary.__gpugradCanary, `${label}: user code ran`).to.equal(undefined);
    expect(err, `${label}: no error`).to.be.instanceOf(Error);
    expect((err as Error).message, label).to.include(mentions);
    expect((err as Error).message, label).not.to.match(forbidden);
  }
}
