/**
 * Inputs shared by the option-argument tests (test/safety/options.test.ts
 * and unknown-options.test.ts): each call makes fresh tensors, so a test that
 * counts live buffers sees only what the call under test made.
 */
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
