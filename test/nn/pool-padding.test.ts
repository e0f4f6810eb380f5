/**
 * Pooling where windows reach past the input, against PyTorch 1.13
 * (test/fixtures/torch_pool_pad.json, make_pool_pad.py): max pooling 1d-3d
 * with padding, ceil-mode tails and dilation over windows of -∞, NaN and
 * tied zeros (values, gradients, forward-mode tangents), average pooling's
 * divisors at those windows, and the whole-tensor max/min/argmax/argmin over
 * ties; and `maxPool1d/2d/3dWithIndices` against PyTorch's return_indices.
 * Before the fix a window of -∞ tied with its padded cells and gave
 * them shares of the gradient that were dropped (docs/notes/special-values.md,
 * "Max pooling with padding over a window of -inf"): 1/9 per element where
 * the even split over the input elements is 1/4.
 *
 * gpugrad splits a window's gradient evenly between tied maxima (item 4 of
 * that note); the fixture's `grad` is that rule computed with PyTorch over
 * each window's input elements, and equals PyTorch's own max_pool gradient
 * (`torchGrad`, also checked here) wherever no window is tied.
 *
 * Every device; float64 and float32 on the cpu, whose float32 runs with its
 * window passes on and off (backend/window-passes.ts); float32 on each gpu.js
 * device (the fused MaxCount/MaxBackward kernels, or the composed rule where
 * a fused chain may lose NaN).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { getDevice } from '../../src/backend/registry.js';
import { CpuDevice } from '../../src/backend/cpu.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose, fixture } from '../helpers/compare.js';
import { nums, type ToolTensor } from '../helpers/tools-fixture.js';
import { onThenOff } from '../helpers/switches.js';

const F = gg.nn.functional;
const fwAD = gg.autograd.forwardAd;

interface PoolCase {
  name: string;
  op: 'maxPool1d' | 'maxPool2d' | 'maxPool3d' | 'avgPool1d' | 'avgPool2d' | 'avgPool3d';
  dtype: 'float64' | 'float32';
  kwargs: { kernelSize: number | number[]; stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number };
  input: ToolTensor;
  output: ToolTensor;
  gout: ToolTensor;
  grad: ToolTensor;
  indices?: ToolTensor;
  torchGrad?: ToolTensor;
  tied?: boolean;
  tangent?: ToolTensor;
  jvp?: ToolTensor;
}
interface ReductionCase {
  name: string;
  op: 'max' | 'min';
  dtype: 'float64' | 'float32';
  input: ToolTensor;
  grad: ToolTensor;
  arg: number;
  value: ToolTensor;
}
const golden = fixture<{ torch: string; pool: PoolCase[]; reductions: ReductionCase[] }>('torch_pool_pad.json');

/** Devices whose arithmetic keeps the sign of zero (test/tensor/special-values.test.ts). */
const IEEE_ZERO_DEVICES = /^(cpu|gpu:cpu|gpu:webasm)$/;

function run(c: PoolCase, x: gg.Tensor): gg.Tensor {
  const { kernelSize, ...opts } = c.kwargs;
  switch (c.op) {
    case 'maxPool1d':
      return F.maxPool1d(x, kernelSize, opts);
    case 'maxPool2d':
      return F.maxPool2d(x, kernelSize, opts);
    case 'maxPool3d':
      return F.maxPool3d(x, kernelSize, opts);
    case 'avgPool1d':
      return F.avgPool1d(x, kernelSize, opts);
    case 'avgPool2d':
      return F.avgPool2d(x, kernelSize, opts);
    case 'avgPool3d':
      return F.avgPool3d(x, kernelSize, opts);
  }
}

/** NaN at NaN, infinities equal, numbers to the dtype's rounding; with `signed`, zeros by sign too. */
function expectValues(got: ArrayLike<number>, want: ToolTensor, dtype: string, label: string, signed = false): void {
  const w = nums(want);
  const g = Array.from(got);
  expect(g.map((v) => Number.isNaN(v)), `${label}: NaN positions`).to.deep.equal(w.map((v) => Number.isNaN(v)));
  const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-15 } : { rtol: 2e-6, atol: 2e-7 };
  expectClose(g.map((v) => (Number.isNaN(v) ? 0 : v)), w.map((v) => (Number.isNaN(v) ? 0 : v)), tol, label);
  if (signed) {
    g.forEach((v, i) => {
      const e = w[i] as number;
      if (e === 0 && !Object.is(v, e)) expect.fail(`${label}: element ${i} is ${Object.is(v, -0) ? '-0' : v}, PyTorch's ${Object.is(e, -0) ? '-0' : '+0'}`);
    });
  }
}

/** Output, gradient of sum(out · gout) and (max pooling) the tangent, on `device`. */
async function check(c: PoolCase, device: string): Promise<void> {
  const opts = { shape: c.input.shape, dtype: c.dtype, device };
  const x = gg.tensor(nums(c.input), { ...opts, requiresGrad: true });
  const y = run(c, x);
  expect(y.shape, 'output shape').to.deep.equal(c.output.shape);
  const max = c.op.startsWith('max');
  // max pooling selects an input (zeros keep their sign on every device measured); an average's zero is arithmetic
  expectValues(await y.data(), c.output, c.dtype, 'output', max || IEEE_ZERO_DEVICES.test(device));
  y.backward(gg.tensor(nums(c.gout), { shape: c.gout.shape, dtype: c.dtype, device }));
  expectValues(await x.grad!.data(), c.grad, c.dtype, 'gradient');
  if (max && !c.tied) expectValues(await x.grad!.data(), c.torchGrad!, c.dtype, "gradient (PyTorch's own, no ties)");
  if (max && c.tangent && c.jvp) {
    const tangent = gg.tensor(nums(c.tangent), opts);
    const t = fwAD.dualLevel(() => fwAD.unpackDual(run(c, fwAD.makeDual(gg.tensor(nums(c.input), opts), tangent))).tangent);
    expect(t, 'tangent').to.not.equal(null);
    expectValues(await t!.data(), c.jvp, c.dtype, 'tangent');
  }
}

forEachDevice((device) => {
  describe('pooling where windows reach past the input (padding, ceil mode, dilation) against PyTorch', function () {
    this.timeout(60_000);
    const dtypes = device === 'cpu' ? ['float64', 'float32'] : ['float32'];
    for (const c of golden.pool) {
      if (!dtypes.includes(c.dtype)) continue;
      it(c.name, async () => {
        if (device === 'cpu' && c.dtype === 'float32') {
          // the window passes (backward: maxBackwardPass with the valid mask), then the IR kernels
          await onThenOff(getDevice('cpu') as CpuDevice, 'fastWindows', () => check(c, device));
        } else {
          await check(c, device);
        }
      });
    }

    for (const c of golden.pool) {
      if (!dtypes.includes(c.dtype) || !c.indices) continue;
      it(`${c.name}: ${c.op}WithIndices gives PyTorch's indices (return_indices=True)`, async () => {
        const { kernelSize, ...opts } = c.kwargs;
        const fn = { maxPool1d: F.maxPool1dWithIndices, maxPool2d: F.maxPool2dWithIndices, maxPool3d: F.maxPool3dWithIndices }[c.op as 'maxPool1d' | 'maxPool2d' | 'maxPool3d'];
        const x = gg.tensor(nums(c.input), { shape: c.input.shape, dtype: c.dtype, device, requiresGrad: true });
        const [y, i] = fn(x, kernelSize, opts);
        expect(i.dtype).to.equal('int64');
        expect(i.shape).to.deep.equal(c.indices!.shape);
        expect(i.requiresGrad).to.equal(false);
        expect([...(await i.data())]).to.deep.equal(nums(c.indices!));
        expectValues(await y.data(), c.output, c.dtype, 'output', true);
        // the values' gradient is maxPool's
        y.backward(gg.tensor(nums(c.gout), { shape: c.gout.shape, dtype: c.dtype, device }));
        expectValues(await x.grad!.data(), c.grad, c.dtype, 'gradient');
      });
    }

    it('maxPool2dWithIndices checks as maxPool2d (the same messages), unbatched input too', async () => {
      const x = gg.ones([1, 1, 4, 4], { device });
      const msg = (fn: () => unknown): string => {
        try {
          fn();
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      };
      for (const opts of [{ stride: 0 }, { padding: 2 }, { ceilMode: 1 as unknown as boolean }, { returnIndices: true } as object]) {
        const want = msg(() => F.maxPool2d(x, 2, opts));
        expect(want).to.not.equal('no error');
        expect(msg(() => F.maxPool2dWithIndices(x, 2, opts))).to.equal(want);
      }
      const [y, i] = F.maxPool2dWithIndices(gg.tensor([[[1, 4], [3, 2]]], { device }), 2);
      expect(y.shape).to.deep.equal([1, 1, 1]);
      expect([...(await i.data())]).to.deep.equal([1]);
    });

    it("the defect's case: maxPool2d(full([1,1,2,2], -inf), 3, {stride: 2, padding: 1}) sends the whole gradient to x", async () => {
      const x = gg.full([1, 1, 2, 2], -Infinity, { device, requiresGrad: true });
      const y = F.maxPool2d(x, 3, { stride: 2, padding: 1 });
      expect([...(await y.data())]).to.deep.equal([-Infinity]);
      y.sum().backward();
      // gpugrad's even split over the four tied input elements (PyTorch: 1 to the first); before: 1/9 each
      expect([...(await x.grad!.data())]).to.deep.equal([0.25, 0.25, 0.25, 0.25]);
    });

    it('a recorded (createGraph) gradient is the same, and its own gradient exists', async () => {
      const c = golden.pool.find((p) => p.name.endsWith('maxPool2d/someInf/k3s1p1') && dtypes.includes(p.dtype))!;
      const x = gg.tensor(nums(c.input), { shape: c.input.shape, dtype: c.dtype, device, requiresGrad: true });
      const gout = gg.tensor(nums(c.gout), { shape: c.gout.shape, dtype: c.dtype, device, requiresGrad: true });
      const [gx] = gg.autograd.grad([run(c, x).mul(gout).sum()], [x], { createGraph: true });
      expectValues(await gx!.data(), c.grad, c.dtype, 'gradient');
      // d(Σ gx)/d gout: each window's share sums to 1 over its input elements
      const [gg2] = gg.autograd.grad([gx!.sum()], [gout]);
      expect([...(await gg2!.data())].every((v) => Math.abs(v - 1) < 1e-6)).to.equal(true);
    });
  });

  describe('whole-tensor max/min over ties: the gradient split evenly, argmax/argmin and the value the first', () => {
    const dtypes = device === 'cpu' ? ['float64', 'float32'] : ['float32'];
    for (const c of golden.reductions) {
      if (!dtypes.includes(c.dtype)) continue;
      it(c.name, async () => {
        const x = gg.tensor(nums(c.input), { shape: c.input.shape, dtype: c.dtype, device, requiresGrad: true });
        const y = c.op === 'max' ? x.max() : x.min();
        expectValues(await y.data(), c.value, c.dtype, 'value', true);
        y.backward(gg.tensor(3, { dtype: c.dtype, device }));
        expectValues(await x.grad!.data(), c.grad, c.dtype, 'gradient');
        const arg = c.op === 'max' ? x.argmax() : x.argmin();
        expect(Number((await arg.data())[0])).to.equal(c.arg);
      });
    }
  });
});
