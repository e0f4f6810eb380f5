/**
 * gg.nn.utils.clipGradNorm_ / clipGradValue_ against PyTorch 1.13
 * (test/fixtures/make_tools.py): the total norm returned and the clipped
 * gradients, for p = 2, 1, 3 and inf, one case under the limit, and errors.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { num, nums, tools, type ToolTensor } from '../helpers/tools-fixture.js';

function leafWithGrad(g: ToolTensor): gg.Tensor {
  const p = gg.zeros(g.shape, { dtype: 'float64', requiresGrad: true });
  p.grad = gg.tensor(nums(g), { shape: g.shape, dtype: 'float64' });
  return p;
}
function close(got: ArrayLike<number>, want: number[], what: string): void {
  expect(got.length, what).to.equal(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i] as number, `${what}[${i}]`).to.be.closeTo(want[i] as number, 1e-12 * (1 + Math.abs(want[i] as number)));
}

describe('nn.utils.clipGradNorm_ / clipGradValue_ (PyTorch 1.13 goldens)', () => {
  for (const c of tools().clips) {
    it(`${c.kind} ${c.name}`, () => {
      const params = c.grads.map(leafWithGrad);
      const grads = params.map((p) => p.grad);
      if (c.kind === 'norm') {
        const total = gg.nn.utils.clipGradNorm_(params, c.maxNorm as number, { normType: num(c.normType) });
        expect(total.shape).to.deep.equal([]);
        expect(total.itemSync()).to.be.closeTo(num(c.totalNorm), 1e-12);
      } else {
        gg.nn.utils.clipGradValue_(params, c.clipValue as number);
      }
      params.forEach((p, i) => {
        expect(p.grad, 'the gradient tensor is written in place').to.equal(grads[i]);
        close(p.grad!.dataSync(), nums(c.clipped[i] as ToolTensor), `grad ${i}`);
      });
    });
  }

  it('skips parameters without a gradient and returns 0 when there is none', () => {
    const a = gg.zeros([2], { requiresGrad: true });
    expect(gg.nn.utils.clipGradNorm_([a], 1).itemSync()).to.equal(0);
    const b = gg.zeros([2], { dtype: 'float64', requiresGrad: true });
    b.grad = gg.tensor([3, 4], { dtype: 'float64' });
    expect(gg.nn.utils.clipGradNorm_([a, b], 1).itemSync()).to.be.closeTo(5, 1e-12);
    expect(Array.from(b.grad.dataSync())[0]).to.be.closeTo(0.6, 1e-6);
  });

  it("a non-finite norm with errorIfNonfinite throws PyTorch's message and changes nothing", () => {
    const b = gg.zeros([2], { dtype: 'float64', requiresGrad: true });
    b.grad = gg.tensor([Infinity, 1], { dtype: 'float64' });
    expect(() => gg.nn.utils.clipGradNorm_(b, 1, { errorIfNonfinite: true })).to.throw(
      'The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be clipped.',
    );
    expect(Array.from(b.grad.dataSync())).to.deep.equal([Infinity, 1]);
  });
});
