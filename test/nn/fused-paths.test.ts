/**
 * Fast paths that run a composed formula as one fused kernel
 * (docs/notes/architecture.md, "Fused kernels"; docs/notes/bench.md, W2),
 * against the composed formula they replace, on every device:
 * - relu (tensor/composites.ts): x.where(x.le(0).eq(0), 0), values and
 *   gradients bit for bit (it only selects), one kernel and no upload;
 * - SGD's update (nn/optim.ts): p.add(d.mul(-lr)), float64 bit for bit on the
 *   cpu, float32 to rounding; one kernel per parameter, one upload per step.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose } from '../helpers/compare.js';
import { rng } from '../helpers/random.js';

const counts = (): { kernelRuns: number; uploads: number } => {
  const m = gg.memory();
  return { kernelRuns: m.kernelRuns, uploads: m.uploads };
};

forEachDevice((device) => {
  describe('fused fast paths against their composed formulas', () => {
    const dtypes: gg.DType[] = device === 'cpu' ? ['float64', 'float32'] : ['float32'];

    it('relu: values and gradients as x.where(x.le(0).eq(0), 0), with 0, -0, NaN and ±Infinity; one kernel, no upload', async () => {
      const r = rng(5);
      for (const dtype of dtypes) {
        const vals = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, ...Array.from({ length: 25 }, () => r() * 4 - 2)];
        const gv = Array.from({ length: vals.length }, () => r() * 2 - 1);
        const x = gg.tensor(vals, { shape: [5, 6], dtype, device, requiresGrad: true });
        const g = gg.tensor(gv, { shape: [5, 6], dtype, device });
        const before = counts();
        const y = x.relu();
        const after = counts();
        expect(after.kernelRuns - before.kernelRuns, `${dtype}: kernels`).to.equal(1);
        expect(after.uploads - before.uploads, `${dtype}: uploads`).to.equal(0);
        y.backward(g);
        const gFused = await x.grad!.data();
        x.grad = null;
        const z = x.where(x.le(0).eq(0), 0);
        z.backward(g);
        // relu only selects: the same bits on every device and dtype (NaN as NaN)
        expect([...(await y.data())].map(String), `${dtype}: values`).to.deep.equal([...(await z.data())].map(String));
        expect([...gFused].map(String), `${dtype}: gradient`).to.deep.equal([...(await x.grad!.data())].map(String));
        // PyTorch: relu(NaN) = NaN, relu(-0) = 0
        const out = await y.data();
        expect(Number.isNaN(out[2])).to.equal(true);
        expect(Object.is(out[1], 0)).to.equal(true);
      }
    });

    it('relu: a view input (transposed), and the double backward', async () => {
      const r = rng(6);
      for (const dtype of dtypes) {
        const x = gg.tensor(Array.from({ length: 12 }, () => r() * 2 - 1), { shape: [3, 4], dtype, device, requiresGrad: true });
        const [gx] = gg.autograd.grad([x.t().relu().mul(x.t()).sum()], [x], { createGraph: true });
        const want = await x.detach().where(x.detach().gt(0), 0).mul(2).data();
        expectClose(await gx!.data(), want, { rtol: 1e-6, atol: 1e-6 }, `${dtype}: d/dx sum(relu(x)·x)`);
        const [gg2] = gg.autograd.grad([gx!.sum()], [x]);
        expectClose(await gg2!.data(), await x.detach().gt(0).mul(2).data(), { rtol: 1e-6, atol: 1e-6 }, `${dtype}: second derivative`);
      }
    });

    it('SGD step: p.add(d.mul(-lr)) for every parameter (plain, momentum, weight decay, maximize); one kernel per parameter and one upload per step', async () => {
      const r = rng(7);
      for (const dtype of dtypes) {
        const all: { lr: number; momentum?: number; weightDecay?: number; maximize?: boolean }[] = [{ lr: 0.1 }, { lr: 0.05, momentum: 0.9, weightDecay: 0.01 }, { lr: 0.3, maximize: true }];
        for (const opts of all) {
          const shapes = [[4, 3], [3], [2, 2, 2]];
          const init = shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
          const grads = shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
          const ps = shapes.map((s, i) => gg.tensor(init[i]!, { shape: s, dtype, device, requiresGrad: true }));
          const opt = new gg.optim.SGD(ps, opts);
          // two steps, so momentum's buffer is used
          const ref = shapes.map((s, i) => gg.tensor(init[i]!, { shape: s, dtype, device }));
          const bufs: (gg.Tensor | null)[] = shapes.map(() => null);
          for (let step = 0; step < 2; step++) {
            ps.forEach((p, i) => (p.grad = gg.tensor(grads[i]!, { shape: shapes[i]!, dtype, device })));
            const before = counts();
            opt.step();
            const after = counts();
            if (opts.momentum === undefined && opts.maximize === undefined) {
              expect(after.kernelRuns - before.kernelRuns, `${dtype} kernels`).to.equal(shapes.length);
              expect(after.uploads - before.uploads, `${dtype} uploads`).to.equal(1);
            }
            // the composed reference (PyTorch's _single_tensor_sgd, as optim.ts wrote it before)
            gg.noGrad(() => {
              ref.forEach((p, i) => {
                let d = gg.tensor(grads[i]!, { shape: shapes[i]!, dtype, device });
                if (opts.maximize) d = d.neg();
                if (opts.weightDecay !== undefined) d = d.add(p.mul(opts.weightDecay));
                if (opts.momentum !== undefined) {
                  const mom = opts.momentum;
                  bufs[i] = bufs[i] ? bufs[i]!.mul(mom).add(d) : d.clone();
                  d = bufs[i]!;
                }
                ref[i] = p.add(d.mul(-opts.lr));
              });
            });
          }
          for (let i = 0; i < shapes.length; i++) {
            const label = `${dtype} ${JSON.stringify(opts)} param ${i}`;
            if (dtype === 'float64') expect([...(await ps[i]!.data())], label).to.deep.equal([...(await ref[i]!.data())]);
            else expectClose(await ps[i]!.data(), await ref[i]!.data(), { rtol: 1e-6, atol: 1e-7 }, label);
          }
        }
      }
    });
  });
});
