/**
 * Tests written from the survivors of the mutation run over the op table
 * (src/tensor/ops.ts, `MUTATION_SET=ops`, docs/notes/mutation-testing.md):
 * the empty max's message, the dtype of integer sums, the zero gradients of
 * the piecewise-constant ops, and which saved inputs mul and div check for
 * in-place writes. Each expectation is PyTorch 1.13's behaviour (checked
 * with torch; the values are 0, dtypes and messages, stated here).
 *
 * Run: npx tsc -p tsconfig.json && GPUGRAD_TEST_DEVICES=cpu node scripts/run-tests.mjs dist/test/tensor/ops-kills.test.js
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

const f64 = { dtype: 'float64' as const };
const INPLACE = 'one of the variables needed for gradient computation has been modified by an inplace operation';

describe('op table: rules found by the mutation run', () => {
  it('max of an empty tensor without a dim: PyTorch\'s message', () => {
    expect(() => gg.zeros([0]).max()).to.throw("max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.");
  });

  it('integer sums are int64, integer maxima keep their dtype', () => {
    const t = gg.tensor([1, 2], { dtype: 'int32' });
    expect(t.sum().dtype).to.equal('int64');
    expect(t.amax().dtype).to.equal('int32');
    expect(gg.tensor([1.5, 2], f64).sum().dtype).to.equal('float64');
  });

  it('floor, ceil and round give zero gradients (not none)', async () => {
    for (const op of ['floor', 'ceil', 'round'] as const) {
      const x = gg.tensor([1.5, -2.5], { ...f64, requiresGrad: true });
      x[op]().sum().backward();
      expect(x.grad, op).to.not.equal(null);
      expect(Array.from(await (x.grad as gg.Tensor).data()), op).to.deep.equal([0, 0]);
    }
  });

  for (const op of ['mul', 'div'] as const) {
    it(`${op} checks the saved inputs its backward reads, and only those`, () => {
      // a needs a gradient, b does not: b is read (a's gradient is g·b or g/b), a is not
      const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
      const b = gg.tensor([3, 4], f64);
      const y1 = a[op](b);
      b.add_(1);
      expect(() => y1.sum().backward()).to.throw(INPLACE);
      const a2 = a.mul(1);
      const y2 = a2[op](gg.tensor([3, 4], f64));
      a2.add_(1);
      expect(() => y2.sum().backward()).to.not.throw();
      // b needs a gradient, a does not: a is read (b's gradient needs a)
      const bb = gg.tensor([3, 4], { ...f64, requiresGrad: true });
      const aa = gg.tensor([1, 2], f64);
      const y3 = aa[op](bb);
      aa.add_(1);
      expect(() => y3.sum().backward()).to.throw(INPLACE);
      // ... and b itself: mul does not read it (b's gradient is g·a), div does (-g·a/b²)
      const b2 = bb.mul(1);
      const y4 = gg.tensor([1, 2], f64)[op](b2);
      b2.add_(1);
      if (op === 'mul') expect(() => y4.sum().backward()).to.not.throw();
      else expect(() => y4.sum().backward()).to.throw(INPLACE);
    });
  }
});

describe('op table: matmul checks the saved inputs its backward reads, as mul does', () => {
  it('A needs a gradient: B is read, A is not; B needs one: A is read, B is not', () => {
    const a = gg.tensor([1, 2], { ...f64, shape: [1, 2], requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, shape: [2, 1] });
    const y1 = a.matmul(b);
    b.add_(1);
    expect(() => y1.sum().backward()).to.throw(INPLACE);
    const a2 = a.mul(1);
    const y2 = a2.matmul(gg.tensor([3, 4], { ...f64, shape: [2, 1] }));
    a2.add_(1);
    expect(() => y2.sum().backward()).to.not.throw();
    const bb = gg.tensor([3, 4], { ...f64, shape: [2, 1], requiresGrad: true });
    const aa = gg.tensor([1, 2], { ...f64, shape: [1, 2] });
    const y3 = aa.matmul(bb);
    aa.add_(1);
    expect(() => y3.sum().backward()).to.throw(INPLACE);
    const b2 = bb.mul(1);
    const y4 = gg.tensor([1, 2], { ...f64, shape: [1, 2] }).matmul(b2);
    b2.add_(1);
    expect(() => y4.sum().backward()).to.not.throw();
  });
});
