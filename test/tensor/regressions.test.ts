/** One test per bug fixed in the core (every bug fix gets a regression test). */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { expectClose, F32, values } from '../helpers/compare.js';
import { forEachDevice } from '../helpers/devices.js';

describe('regressions', () => {
  it('pow: the gradient in the base is 0 where the exponent is 0, also at base 0 (PyTorch)', async () => {
    const a = gg.tensor([0, 0, 2, -1], { dtype: 'float64', requiresGrad: true });
    const b = gg.tensor([0, 2, 0, 3], { dtype: 'float64', requiresGrad: true });
    a.pow(b).sum().backward();
    expect(await values(a.grad as gg.Tensor)).to.deep.equal([0, 0, 0, 3]);
    expect((await values(b.grad as gg.Tensor)).slice(0, 3)).to.deep.equal([0, 0, Math.log(2)]);
  });

  it('sum([]) and mean([]) reduce every dim, as PyTorch 1.13 does', async () => {
    const x = gg.tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    expect(await x.sum([]).item()).to.equal(10);
    expect(await x.mean([]).item()).to.equal(2.5);
  });

  it("size() is the shape and size(dim) one dim, as PyTorch's; numel() counts, ndim is the rank", () => {
    const x = gg.zeros([2, 3, 4]);
    expect(x.size()).to.deep.equal([2, 3, 4]);
    expect(x.size(1)).to.equal(3);
    expect(x.size(-1)).to.equal(4);
    expect(() => x.size(3)).to.throw(/^Dimension out of range/);
    expect(x.numel()).to.equal(24);
    expect(x.ndim).to.equal(3);
    expect(gg.tensor(5).size()).to.deep.equal([]);
  });
  it('expand(-1, ...) on a new leading dim is an error (PyTorch), not size 1', () => {
    expect(() => gg.ones([3]).expand(-1, 3)).to.throw("The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension 0");
  });

  forEachDevice((device) => {
    it('pow of a negative base with an integer exponent (GLSL/WGSL pow is undefined there)', async () => {
      const a = gg.tensor([-2, -1.5, -3, 2, -0.5], { device });
      expectClose(await values(a.pow(3)), [-8, -3.375, -27, 8, -0.125], F32, 'odd exponent');
      expectClose(await values(a.pow(2)), [4, 2.25, 9, 4, 0.25], F32, 'even exponent');
      expectClose(await values(a.pow(-1)), [-0.5, -1 / 1.5, -1 / 3, 0.5, -2], F32, 'negative exponent');
      const frac = await values(a.pow(0.5));
      expect(frac.map((v) => Number.isNaN(v))).to.deep.equal([true, true, true, false, true]);
    });

    it('reading a non-contiguous tensor frees its temporary copy and handle', async () => {
      const live = (): number => gg.memory().devices[device]?.liveBuffers ?? 0;
      const t = gg.tensor([[1, 2], [3, 4]], { device });
      const v = t.t();
      const base = live();
      expect(await values(v)).to.deep.equal([1, 3, 2, 4]);
      expect(live()).to.equal(base);
      t.dispose();
      v.dispose();
      expect(live()).to.equal(base - 1);
    });
  });
});
