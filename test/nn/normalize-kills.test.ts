/**
 * The normalize primitive's kernel plan (src/tensor/normalize.ts), written from the survivors of
 * the mutation run over it (`MUTATION_SET=normalize`, docs/notes/mutation-testing.md): which of
 * its kernels run (gg.profile) for batch norm (a per-channel weight joined with istd) and layer
 * norm (an elementwise weight), when the input, the parameters or both need a gradient, and in
 * forward mode. Only the primitive's own kernels (named after its node, `Native…`) are compared;
 * its values and gradients are pinned by normalize.test.ts and the layers' PyTorch goldens.
 *
 * Run: npx tsc -p tsconfig.json && GPUGRAD_TEST_DEVICES=cpu node scripts/run-tests.mjs dist/test/nn/normalize-kills.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

const f64 = { dtype: 'float64' as const };
/** A fixed [4, 3, 5] input (the plan does not depend on the values). */
const input = (): gg.Tensor => gg.tensor(Array.from({ length: 60 }, (_, i) => Math.sin(i)), { ...f64, shape: [4, 3, 5] });

/** The primitive's kernels that `fn` runs, in order. */
async function own(fn: () => unknown): Promise<string[]> {
  return (await gg.profile(fn)).kernels.map((k) => k.kernel).filter((k) => k.startsWith('Native'));
}

const layers = {
  // forward: istd·w per group, then one pass; backward: Σg (a plain sum) and Σg·(c - m), dw, the
  // per-group terms of dx, istd·w again, one pass for dx
  batch: {
    make: () => new gg.nn.BatchNorm1d(3, f64),
    forward: ['NativeBatchNormScale', 'NativeBatchNorm'],
    both: ['NativeBatchNormGradCentredSum', 'NativeBatchNormGradWeight', 'NativeBatchNormGradMean', 'NativeBatchNormGradSquare', 'NativeBatchNormScale', 'NativeBatchNormGradInput'],
    params: ['NativeBatchNormGradCentredSum', 'NativeBatchNormGradWeight'],
    input: ['NativeBatchNormGradCentredSum', 'NativeBatchNormGradMean', 'NativeBatchNormGradSquare', 'NativeBatchNormScale', 'NativeBatchNormGradInput'],
  },
  // an elementwise weight: Σg·w and Σg·w·(c - m) as their own reductions, dw through istd
  layer: {
    make: () => new gg.nn.LayerNorm([5], f64),
    forward: ['NativeLayerNormScale', 'NativeLayerNorm'],
    both: ['NativeLayerNormGradSum', 'NativeLayerNormGradCentredSum', 'NativeLayerNormInvStd', 'NativeLayerNormGradWeight', 'NativeLayerNormGradMean', 'NativeLayerNormGradSquare', 'NativeLayerNormScale', 'NativeLayerNormGradInput'],
    params: ['NativeLayerNormInvStd', 'NativeLayerNormGradWeight'],
    input: ['NativeLayerNormGradSum', 'NativeLayerNormGradCentredSum', 'NativeLayerNormGradMean', 'NativeLayerNormGradSquare', 'NativeLayerNormScale', 'NativeLayerNormGradInput'],
  },
};

describe('normalize primitive: its kernels (float64 on the cpu)', () => {
  for (const [name, l] of Object.entries(layers)) {
    it(`${name} norm: forward, and backward for the input and parameters, the parameters only, the input only`, async () => {
      const m = l.make();
      const x = input().requiresGrad_(true);
      let y: gg.Tensor | null = null;
      expect(await own(() => (y = m.forward(x)))).to.deep.equal(l.forward);
      const out = y as unknown as gg.Tensor;
      expect(out.gradFn?.name).to.equal(name === 'batch' ? 'NativeBatchNormBackward0' : 'NativeLayerNormBackward0');
      expect(await own(() => out.sum().backward()), 'both').to.deep.equal(l.both);
      const y2 = m.forward(x.detach());
      expect(await own(() => y2.sum().backward()), 'parameters only').to.deep.equal(l.params);
      for (const p of m.parameters()) p.requiresGrad_(false);
      const y3 = m.forward(x);
      expect(await own(() => y3.sum().backward()), 'input only').to.deep.equal(l.input);
    });
  }

  it('forward mode: the tangent of layer norm from those of x and the weight', async () => {
    const m = layers.layer.make();
    const fwAD = gg.autograd.forwardAd;
    const x = input();
    const ks = await own(() =>
      fwAD.dualLevel(() => {
        const y = m.forward(fwAD.makeDual(x, gg.onesLike(x)));
        const t = fwAD.unpackDual(y).tangent;
        expect(t?.shape).to.deep.equal([4, 3, 5]);
        return t;
      }),
    );
    expect(ks).to.deep.equal(['NativeLayerNormScale', 'NativeLayerNorm', 'NativeLayerNormInvStd', 'NativeLayerNormTangentSum', 'NativeLayerNormTangentCentredSum', 'NativeLayerNormTangentMean', 'NativeLayerNormTangentInvStd', 'NativeLayerNormTangentInput', 'NativeLayerNormTangentInput']);
  });
});
