/**
 * Gradients handed to the engine by user code are checked, with PyTorch
 * 1.13's messages (checked with /usr/bin/python3):
 * hooks (`hook '<lambda>' has changed the size of value`), custom
 * Function.backward (`Function MyOpBackward returned an invalid gradient at
 * index 0 - got [3, 2] but expected shape compatible with [2, 3]`), and
 * `x.grad = ...` (`assigned grad has data of a different size`).
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

const { Function: Fn } = gg.autograd;
type Ctx = gg.autograd.FunctionCtx;

/** A custom op y = 2x whose backward returns what `grad` makes of (g, x). */
function opReturning(name: string, grad: (g: gg.Tensor) => unknown) {
  const C = class extends Fn {
    static override forward(_ctx: Ctx, x: gg.Tensor): gg.Tensor {
      return x.mul(2);
    }
    static override backward(_ctx: Ctx, g: gg.Tensor): gg.Tensor {
      return grad(g) as gg.Tensor;
    }
  };
  Object.defineProperty(C, 'name', { value: name });
  return C;
}

describe('safety: tensor hooks may not change a gradient\'s size, dtype or device', () => {
  it('a hook returning another shape is refused (PyTorch: has changed the size of value)', () => {
    const x = gg.ones([2], { requiresGrad: true });
    x.registerHook(function widen() {
      return gg.ones([5]);
    });
    expect(() => x.mul(2).sum().backward()).to.throw("hook 'widen' has changed the size of value (was [2] got [5])");
    expect(x.grad).to.equal(null);
  });

  it('a hook returning another dtype is refused (PyTorch: has changed the type of value)', () => {
    const x = gg.ones([2], { requiresGrad: true });
    x.registerHook((g) => g.double());
    expect(() => x.mul(2).sum().backward()).to.throw("hook '<anonymous>' has changed the type of value (was float32 got float64)");
  });

  it('a hook returning a non-tensor is refused; returning nothing keeps the gradient', () => {
    const x = gg.ones([2], { requiresGrad: true });
    const h = x.registerHook(() => 3 as unknown as gg.Tensor);
    expect(() => x.mul(2).sum().backward()).to.throw(TypeError, "hook '<anonymous>' returned int: a tensor hook must return a Tensor or nothing");
    h.remove();
    x.registerHook(() => undefined);
    x.mul(2).sum().backward();
    expect(Array.from(x.grad!.dataSync())).to.deep.equal([2, 2]);
  });

  it('a hook returning a same-shaped tensor replaces the gradient', () => {
    const x = gg.ones([2], { requiresGrad: true });
    x.registerHook((g) => g.mul(10));
    x.mul(2).sum().backward();
    expect(Array.from(x.grad!.dataSync())).to.deep.equal([20, 20]);
  });
});

describe('safety: a custom Function.backward returns checked gradients', () => {
  it('a transposed gradient is refused with PyTorch\'s message', () => {
    const a = gg.ones([2, 3], { requiresGrad: true });
    const MyOp = opReturning('MyOp', () => gg.ones([3, 2]));
    expect(() => MyOp.apply(a).sum().backward()).to.throw(
      'Function MyOpBackward returned an invalid gradient at index 0 - got [3, 2] but expected shape compatible with [2, 3]',
    );
  });

  it('[4] for a [3] input is refused; a gradient the input broadcasts to is summed back', () => {
    const b = gg.ones([3], { requiresGrad: true });
    expect(() => opReturning('MyOp6', () => gg.ones([4])).apply(b).sum().backward()).to.throw(
      'Function MyOp6Backward returned an invalid gradient at index 0 - got [4] but expected shape compatible with [3]',
    );
    const c = gg.ones([3], { requiresGrad: true });
    opReturning('Wide', () => gg.ones([2, 3])).apply(c).sum().backward();
    expect(Array.from(c.grad!.dataSync())).to.deep.equal([2, 2, 2]);
  });

  it('a wrong count, a non-tensor, a wrong device are refused; another dtype is cast', () => {
    const a = gg.ones([2], { requiresGrad: true });
    expect(() => opReturning('MyOp2', (g) => [g, g]).apply(a).sum().backward()).to.throw(
      'function MyOp2Backward returned an incorrect number of gradients (expected 1, got 2)',
    );
    expect(() => opReturning('MyOp3', () => 3).apply(a).sum().backward()).to.throw(
      'Function MyOp3Backward returned an invalid gradient at index 0 - expected a Tensor or null (got int)',
    );
    // trailing nulls beyond the inputs are allowed, as PyTorch allows trailing Nones
    opReturning('Extra', (g) => [g, null]).apply(a).sum().backward();
    expect(Array.from(a.grad!.dataSync())).to.deep.equal([1, 1]);
    const d = gg.ones([2], { requiresGrad: true });
    opReturning('MyOp4', (g) => g.double()).apply(d).sum().backward();
    expect(d.grad!.dtype).to.equal('float32');
  });

  it('a forward returning a number passes it through, as PyTorch', () => {
    const a = gg.ones([2], { requiresGrad: true });
    const F = class extends Fn {
      static override forward(): gg.Tensor {
        return 3 as unknown as gg.Tensor;
      }
      static override backward(_ctx: Ctx, g: gg.Tensor): gg.Tensor {
        return g;
      }
    };
    expect(F.apply(a)).to.equal(3);
  });
});

describe('safety: x.grad = ... is checked (PyTorch: assigned grad has data of a different size)', () => {
  it('refuses another size, dtype or a non-tensor; accepts a match and null', () => {
    const x = gg.ones([2], { requiresGrad: true });
    expect(() => (x.grad = gg.ones([3]))).to.throw('assigned grad has data of a different size');
    expect(() => (x.grad = gg.ones([2], { dtype: 'float64' }))).to.throw('assigned grad has data of a different type');
    expect(() => (x.grad = [1, 2] as unknown as gg.Tensor)).to.throw(TypeError, 'assigned grad expected to be a Tensor or None but got grad of type list');
    expect(x.grad).to.equal(null);
    x.grad = gg.zeros([2]);
    expect(Array.from(x.grad.dataSync())).to.deep.equal([0, 0]);
    x.grad = null;
    expect(x.grad).to.equal(null);
  });
});
