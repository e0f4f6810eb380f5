/**
 * Printing as PyTorch 1.13 prints (test/fixtures/make_tools.py stores
 * `repr(t)` for each case): integer, fixed and scientific modes, ties
 * rounded to even, -0, NaN/inf, empty tensors, line wrapping at 80 columns,
 * summaries past 1000 elements, and the dtype/grad suffixes.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { tensorRepr } from '../../src/tensor/print.js';
import { nums, tools } from '../helpers/tools-fixture.js';

describe('printing: tensorRepr against PyTorch repr()', () => {
  for (const c of tools().reprs) {
    it(c.name, () => {
      const got = tensorRepr({
        data: nums({ shape: c.shape, data: c.data }),
        shape: c.shape,
        dtype: c.dtype,
        defaultDtype: 'float32',
        device: 'cpu',
        gradFn: c.gradFn ? 'MulBackward0' : null,
        requiresGrad: c.requiresGrad,
      });
      expect(got).to.equal(c.repr);
    });
  }

  it("a device other than cpu is named, as PyTorch names 'cuda:0'", () => {
    const s = tensorRepr({ data: [1, 2], shape: [2], dtype: 'float32', defaultDtype: 'float32', device: 'gpu:webgpu', gradFn: null, requiresGrad: false });
    expect(s).to.equal("tensor([1., 2.], device='gpu:webgpu')");
  });
});

describe('printing: Tensor.toString and console.log', () => {
  it('toString and util.inspect print as PyTorch', async () => {
    const { inspect } = await import('node:util');
    const x = gg.tensor([[1, 5, 3]], { dtype: 'float64', requiresGrad: true });
    expect(String(x)).to.equal('tensor([[1., 5., 3.]], dtype=torch.float64, requires_grad=True)');
    expect(inspect(x)).to.equal(String(x));
    expect(String(x.mul(2))).to.equal('tensor([[ 2., 10.,  6.]], dtype=torch.float64, grad_fn=<MulBackward0>)');
    expect(inspect({ t: gg.tensor([0.5]) })).to.equal('{ t: tensor([0.5000]) }');
  });

  it('a disposed tensor says so', () => {
    const t = gg.zeros([2, 3]);
    t.dispose();
    expect(String(t)).to.equal('tensor(<disposed>, size=(2, 3), dtype=torch.float32)');
  });
});
