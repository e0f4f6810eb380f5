/**
 * A NaN maximum (minimum) over a dim sends its gradient to the NaN, 0
 * elsewhere, as torch.max(x, dim) and max pooling do (several NaNs share it,
 * gpugrad's tie rule, as torch.max(x) does): max/min/amax/amin over a dim and
 * maxPool1d/2d/3d against PyTorch 1.13 (test/fixtures/torch_tools.json
 * `probe.maxNan`, make_tools.py). Before, every element of such a row got NaN
 * (the mask a == max held nowhere: 0/0). Float64 and float32 on the cpu,
 * float32 on each gpu.js device (all of them hold NaN in a tensor; the
 * devices that may fold NaN comparisons in a fused chain run the composed
 * rule, Device.fusesNanExactly).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { forEachDevice } from '../helpers/devices.js';
import { expectClose } from '../helpers/compare.js';
import { nums, tools, type ToolTensor } from '../helpers/tools-fixture.js';

const F = gg.nn.functional;
const RUN: Record<string, (x: gg.Tensor, dim: number | null) => gg.Tensor> = {
  max: (x, d) => (d === -1 ? x.max(d, true).squeeze(-1) : x.max(d!)),
  min: (x, d) => x.min(d!),
  amax: (x, d) => x.amax(d!),
  amin: (x, d) => x.min(d!), // gpugrad's min is PyTorch's amin (the values)
  maxPool1d: (x) => F.maxPool1d(x, 2),
  maxPool2d: (x) => F.maxPool2d(x, 2),
  maxPool3d: (x) => F.maxPool3d(x, 2),
};

/** NaN as NaN, numbers to the dtype's rounding. */
function expectValues(got: ArrayLike<number>, want: ToolTensor, label: string): void {
  const w = nums(want);
  expect(Array.from(got, (v) => Number.isNaN(v)), `${label}: NaN positions`).to.deep.equal(w.map((v) => Number.isNaN(v)));
  expectClose(Array.from(got, (v) => (Number.isNaN(v) ? 0 : v)), w.map((v) => (Number.isNaN(v) ? 0 : v)), { rtol: 1e-6, atol: 1e-7 }, label);
}

forEachDevice((device) => {
  describe('max/min over a dim and max pooling: a NaN maximum takes the gradient (PyTorch torch.max(x, dim), max_pool)', () => {
    const dtypes: gg.DType[] = device === 'cpu' ? ['float64', 'float32'] : ['float32'];
    for (const c of tools().probe.maxNan) {
      if (!dtypes.includes(c.dtype)) continue;
      it(`${c.name} (${c.dtype})`, async () => {
        const x = gg.tensor(nums(c.input), { shape: c.input.shape, dtype: c.dtype, device, requiresGrad: true });
        const y = RUN[c.op]!(x, c.dim);
        expect(y.shape).to.deep.equal(c.output.shape);
        expectValues(await y.data(), c.output, 'output');
        y.backward(gg.tensor(nums(c.gout), { shape: c.gout.shape, dtype: c.dtype, device }));
        expectValues(await x.grad!.data(), c.grad, 'gradient');
      });
    }
    it('the issue\'s two cases: max(1) of [[1, NaN, 3]] and maxPool2d of [1, NaN, 3, 4] give [0, 1, 0(, 0)]', async () => {
      const x = gg.tensor([[1, NaN, 3]], { device, requiresGrad: true });
      x.max(1).sum().backward();
      expect([...(await x.grad!.data())]).to.deep.equal([0, 1, 0]);
      const p = gg.tensor([1, NaN, 3, 4], { shape: [1, 1, 2, 2], device, requiresGrad: true });
      F.maxPool2d(p, 2).sum().backward();
      expect([...(await p.grad!.data())]).to.deep.equal([0, 1, 0, 0]);
    });
  });
});
