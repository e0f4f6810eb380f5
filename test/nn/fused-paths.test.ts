/**
 * Fast paths that run a composed formula as one fused kernel
 * (docs/notes/architecture.md, "Fused kernels"; docs/notes/bench.md, W2),
 * against the composed formula they replace, on every device:
 * - relu (tensor/composites.ts): values as x.where(x.lt(0).eq(0), 0) (-0, NaN
 *   kept, as PyTorch), gradients as x.where(x.le(0).eq(0), 0)'s (0 at ±0),
 *   bit for bit (it only selects), one kernel and no upload where the device
 *   keeps NaN through a fused chain (the cpu), composed elsewhere;
 * - max/amax's backward (tensor/ops.ts): the mask of the maxima over its
 *   count, times the gradient, as two fused passes;
 * - matmul's gradient of a transposed 2-D operand, computed in its layout
 *   (tensor/ops.ts): no contiguous copy into Linear's W.grad;
 * - SGD's update (nn/optim.ts): p.add(d.mul(-lr)), float64 bit for bit on the
 *   cpu, float32 to rounding; one kernel per parameter, one upload per step.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose } from '../helpers/compare.js';
import { rng } from '../helpers/random.js';
import { getDevice } from '../../src/backend/registry.js';

const counts = (): { kernelRuns: number; uploads: number } => {
  const m = gg.memory();
  return { kernelRuns: m.kernelRuns, uploads: m.uploads };
};

forEachDevice((device) => {
  describe('fused fast paths against their composed formulas', () => {
    const dtypes: gg.DType[] = device === 'cpu' ? ['float64', 'float32'] : ['float32'];
    const fusesNan = getDevice(device).fusesNanExactly;

    it('relu: values as x.where(x.lt(0).eq(0), 0), gradients as x.where(x.le(0).eq(0), 0), with 0, -0, NaN and ±Infinity; one kernel, no upload', async () => {
      const r = rng(5);
      for (const dtype of dtypes) {
        const vals = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, ...Array.from({ length: 25 }, () => r() * 4 - 2)];
        const gv = Array.from({ length: vals.length }, () => r() * 2 - 1);
        const x = gg.tensor(vals, { shape: [5, 6], dtype, device, requiresGrad: true });
        const g = gg.tensor(gv, { shape: [5, 6], dtype, device });
        const before = counts();
        const y = x.relu();
        const after = counts();
        // fused where the device keeps NaN through a chain (Device.fusesNanExactly), else composed
        if (fusesNan) {
          expect(after.kernelRuns - before.kernelRuns, `${dtype}: kernels`).to.equal(1);
          expect(after.uploads - before.uploads, `${dtype}: uploads`).to.equal(0);
        }
        expect(y.gradFn?.name, 'PyTorch\'s node name').to.equal('ReluBackward0');
        y.backward(g);
        const gFused = await x.grad!.data();
        x.grad = null;
        const z = x.where(x.le(0).eq(0), 0);
        z.backward(g);
        // relu only selects: the same bits on every device and dtype (NaN as NaN, -0 as -0)
        const show = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));
        const value = await x.detach().where(x.detach().lt(0).eq(0), 0).data();
        expect([...(await y.data())].map(show), `${dtype}: values`).to.deep.equal([...value].map(show));
        expect([...gFused].map(show), `${dtype}: gradient`).to.deep.equal([...(await x.grad!.data())].map(show));
        // PyTorch 1.13: relu(+0) = +0, relu(-0) = -0 (1/torch.relu(torch.tensor([-0.])) is -inf),
        // relu(NaN) = NaN, relu(-inf) = +0; the gradient (threshold_backward) is 0 at ±0, g at NaN
        const out = await y.data();
        expect(Object.is(out[0], 0), `${dtype}: relu(+0) is +0`).to.equal(true);
        expect(Object.is(out[1], -0), `${dtype}: relu(-0) is -0`).to.equal(true);
        expect(Number.isNaN(out[2]), `${dtype}: relu(NaN) is NaN`).to.equal(true);
        expect(Object.is(out[4], 0), `${dtype}: relu(-inf) is +0`).to.equal(true);
        const gAtNan = dtype === 'float64' ? (gv[2] as number) : Math.fround(gv[2] as number);
        expect([...gFused.slice(0, 3)].map(show), `${dtype}: gradient at +0, -0, NaN`).to.deep.equal(['0', '0', String(gAtNan)]);
      }
    });

    it('relu at ±0, NaN, ±inf: the tangent (forward mode) and the double backward are 0 at ±0, as PyTorch 1.13', async () => {
      for (const dtype of dtypes) {
        const fwAD = gg.autograd.forwardAd;
        const xs = [0, -0, Number.NaN, -1, 2, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
        const x = gg.tensor(xs, { dtype, device });
        const t = gg.tensor([3, 4, 5, 6, 7, 8, 9], { dtype, device });
        // PyTorch 1.13: relu's tangent is threshold_backward(t, result, 0): 0 where the result is <= 0
        const tangent = fwAD.dualLevel(() => fwAD.unpackDual(fwAD.makeDual(x, t).relu()).tangent);
        expect([...(await tangent!.data())], `${dtype}: tangent`).to.deep.equal([0, 0, 5, 0, 7, 0, 9]);
        // d/dg of relu's backward is the same mask; d/dx of it is 0
        const xg = gg.tensor(xs, { dtype, device, requiresGrad: true });
        const g = gg.tensor([3, 4, 5, 6, 7, 8, 9], { dtype, device, requiresGrad: true });
        const [gx] = gg.autograd.grad([xg.relu()], [xg], { gradOutputs: [g], createGraph: true });
        expect([...(await gx!.data())], `${dtype}: gradient`).to.deep.equal([0, 0, 5, 0, 7, 0, 9]);
        const [gg2] = gg.autograd.grad([gx!.sum()], [g]);
        expect([...(await gg2!.data())], `${dtype}: d(gradient)/dg`).to.deep.equal([0, 0, 1, 0, 1, 0, 1]);
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

    it('max/amax backward: mask.div(mask.sum(dims)).mul(g) with ties and NaN (float64 bit for bit on the cpu); at most three kernels (composed: four to eight)', async () => {
      const r = rng(8);
      for (const dtype of dtypes) {
        // halves: ties within rows; a NaN in one row
        const vals = Array.from({ length: 24 }, (_, i) => (i === 13 ? Number.NaN : Math.round(r() * 4) / 2));
        const gv = Array.from({ length: 24 }, () => r() * 2 - 1);
        // a NaN maximum takes the gradient, over dims as over all (torch.max(x) and torch.max(x, dim))
        for (const [label, run] of [
          ['amax over dims 1, 2', (t: gg.Tensor) => t.amax([1, 2], true)],
          ['amax over dim 0', (t: gg.Tensor) => t.amax(0)],
          ['max of all', (t: gg.Tensor) => t.max()],
        ] as const) {
          const x = gg.tensor(vals, { shape: [2, 3, 4], dtype, device, requiresGrad: true });
          const y = run(x);
          const g = gg.tensor(gv.slice(0, y.numel()), { shape: [...y.shape], dtype, device });
          const before = counts();
          y.backward(g);
          const after = counts();
          if (fusesNan) expect(after.kernelRuns - before.kernelRuns, `${dtype} ${label}: kernels`).to.be.at.most(3);
          // the composed rule (ops.ts before the fused passes)
          const want = gg.noGrad(() => {
            const dims = label === 'amax over dim 0' ? [0] : label === 'amax over dims 1, 2' ? [1, 2] : [0, 1, 2];
            const ks = [2, 3, 4].map((n, d) => (dims.includes(d) ? 1 : n));
            const xd = x.detach();
            const rr = y.detach().reshape(...ks);
            const mask = xd.eq(rr).add(xd.ne(xd).mul(rr.ne(rr)));
            return mask.div(mask.sum(dims, true)).mul(g.reshape(...ks));
          });
          const got = await x.grad!.data();
          if (dtype === 'float64') expect([...got].map(String), `${label}`).to.deep.equal([...(await want.data())].map(String));
          else expectClose(got, await want.data(), { rtol: 1e-6, atol: 1e-7 }, `${dtype} ${label}`);
        }
      }
    });

    it("matmul's gradient for a transposed 2-D operand (Linear's Wᵀ) is computed in its layout: the same values, no copy into W.grad", async () => {
      const r = rng(9);
      for (const dtype of dtypes) {
        const rand = (shape: number[]): gg.Tensor => gg.tensor(Array.from({ length: shape[0]! * shape[1]! }, () => r() * 2 - 1), { shape, dtype, device });
        const x = rand([5, 7]).requiresGrad_(true);
        const w = rand([3, 7]).requiresGrad_(true);
        const v = rand([5, 3]).requiresGrad_(true);
        const g = rand([5, 3]);
        const g2 = rand([3, 7]);
        const profile = await gg.profile(() => x.matmul(w.t()).backward(g));
        // the cpu device's float32 gemm reads strided operands: no copy at all (elsewhere ops.matmul copies operands for its loop)
        if (device === 'cpu' && dtype === 'float32') expect(profile.kernels.filter((k) => k.kernel === 'copy').length, `${dtype}: copies`).to.equal(0);
        expect(w.grad!.isContiguous()).to.equal(true);
        // a transposed first operand too: vᵀ·x
        v.t().matmul(x.detach()).backward(g2);
        // the reference: the same products with dense operands
        const wantW = gg.noGrad(() => g.t().contiguous().matmul(x.detach()));
        const wantX = gg.noGrad(() => g.matmul(w.detach()));
        const wantV = gg.noGrad(() => x.detach().matmul(g2.t().contiguous()));
        const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-6 };
        expectClose(await w.grad!.data(), await wantW.data(), tol, `${dtype}: W`);
        expectClose(await x.grad!.data(), await wantX.data(), tol, `${dtype}: x`);
        expectClose(await v.grad!.data(), await wantV.data(), tol, `${dtype}: v`);
      }
    });

    it('SGD step: p.add(d.mul(-lr)) for every parameter (plain, momentum, weight decay, maximize); one kernel per parameter; -lr uploaded once, kept while it stays', async () => {
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
              expect(after.uploads - before.uploads, `${dtype} uploads`).to.equal(step === 0 ? 1 : 0);
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
            // (the lr's own tensor: test/nn/optim-foreach.test.ts, 'a changing lr')
            if (dtype === 'float64') expect([...(await ps[i]!.data())], label).to.deep.equal([...(await ref[i]!.data())]);
            else expectClose(await ps[i]!.data(), await ref[i]!.data(), { rtol: 1e-6, atol: 1e-7 }, label);
          }
        }
      }
    });
  });
});
