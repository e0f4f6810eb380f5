/** A gradcheck failure carries both Jacobians as tensors, and the tour draws them. */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as gg from '../../src/index.js';
import { drawJacobians } from '../../examples/gradcheck-tour.js';
import { decodePng } from '../helpers/png.js';

class WrongDouble extends gg.autograd.Function {
  static override forward(_ctx: gg.autograd.FunctionCtx, x: gg.Tensor): gg.Tensor {
    return x.mul(2);
  }
  static override backward(_ctx: gg.autograd.FunctionCtx, g: gg.Tensor): gg.Tensor {
    return g.mul(3); // wrong: should be 2
  }
}

describe('gradcheck: Jacobians on the error', function () {
  this.timeout(60_000);

  it('a mismatch throws GradcheckError with analytical and numerical Jacobians [inputs, outputs]', async () => {
    const x = gg.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    let err: unknown;
    await gg.autograd.gradcheck((t) => WrongDouble.apply(t).narrow(0, 0, 2), [x]).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(gg.autograd.GradcheckError);
    const e = err as gg.autograd.GradcheckError;
    expect(e.message).to.match(/^Jacobian mismatch for output 0 with respect to input 0/);
    expect([e.outputIndex, e.inputIndex]).to.deep.equal([0, 0]);
    expect(e.analytical!.shape).to.deep.equal([3, 2]);
    expect(e.numerical!.dtype).to.equal('float64');
    expect(await e.analytical!.array()).to.deep.equal([[3, 0], [0, 3], [0, 0]]);
    const num = (await e.numerical!.array()) as number[][];
    num.flat().forEach((v, i) => expect(v).to.be.closeTo([2, 0, 0, 2, 0, 0][i]!, 1e-6));
  });

  it('raiseException: false gives false and no tensors', async () => {
    const x = gg.tensor([1], { dtype: 'float64', requiresGrad: true });
    expect(await gg.autograd.gradcheck((t) => WrongDouble.apply(t), [x], { raiseException: false })).to.equal(false);
  });

  it('the gradcheck tour draws analytical, numerical and their difference as a PNG heatmap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpugrad-jac-'));
    try {
      const a = gg.tensor([[3, 0], [0, 3]], { dtype: 'float64' });
      const n = gg.tensor([[2, 0], [0, 2]], { dtype: 'float64' });
      await drawJacobians(a, n, join(dir, 'j.png'));
      const png = decodePng(readFileSync(join(dir, 'j.png')));
      expect(png.width).to.be.greaterThan(300);
      expect(png.height).to.be.greaterThan(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
