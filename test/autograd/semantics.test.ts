/** Autograd's user model, PyTorch's way: accumulation, graph lifetime, hooks, grad(), custom functions. */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { customFunction } from '../helpers/custom-function.js';
import { expectClose, F64, values } from '../helpers/compare.js';
import { leaf } from '../helpers/random.js';

const f64 = (data: number[] | number, requiresGrad = true): gg.Tensor => gg.tensor(data, { dtype: 'float64', requiresGrad });
const grad = (t: gg.Tensor): gg.Tensor => {
  expect(t.grad, 'expected a gradient').to.not.equal(null);
  return t.grad as gg.Tensor;
};

describe('autograd: accumulation and graph lifetime', () => {
  it('accumulates into .grad across two backwards', async () => {
    const x = f64([1, 2, 3]);
    x.mul(x).sum().backward();
    expect(await values(grad(x))).to.deep.equal([2, 4, 6]);
    x.mul(x).sum().backward();
    expect(await values(grad(x))).to.deep.equal([4, 8, 12]);
  });

  it('accumulates a leaf used twice in one graph', async () => {
    const x = f64([1, 2]);
    x.mul(3).add(x.mul(x)).sum().backward(); // 3 + 2x
    expect(await values(grad(x))).to.deep.equal([5, 7]);
  });

  it('retainGraph lets a graph be walked twice', async () => {
    const x = f64([1, 2, 3]);
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(await values(grad(x))).to.deep.equal([4, 8, 12]);
  });

  it('a second backward through freed saved tensors throws PyTorch\'s message', async () => {
    const x = f64([1, 2, 3]);
    const y = x.mul(x).sum();
    y.backward();
    expect(() => y.backward()).to.throw(/^Trying to backward through the graph a second time/);
    // nothing was added by the failed call
    expect(await values(grad(x))).to.deep.equal([2, 4, 6]);
  });

  it('backward on a non-scalar without a gradient throws', () => {
    const x = f64([1, 2, 3]);
    expect(() => x.mul(2).backward()).to.throw('grad can be implicitly created only for scalar outputs');
  });

  it('backward with an explicit gradient on a non-scalar output', async () => {
    const x = f64([1, 2, 3]);
    x.mul(x).backward(f64([1, 0, -1], false));
    expect(await values(grad(x))).to.deep.equal([2, 0, -6]);
  });

  it('requiresGrad can be set on leaves only', () => {
    const x = f64([1, 2]);
    const y = x.mul(2);
    expect(y.isLeaf).to.equal(false);
    expect(() => {
      y.requiresGrad = false;
    }).to.throw(/^you can only change requires_grad flags of leaf variables/);
    const z = gg.tensor([1, 2], { dtype: 'float32' });
    z.requiresGrad = true;
    expect(z.requiresGrad).to.equal(true);
    expect(z.isLeaf).to.equal(true);
  });

  it('backward of a tensor that does not require grad throws', () => {
    expect(() => gg.tensor(1).backward()).to.throw('element 0 of tensors does not require grad and does not have a grad_fn');
  });
});

describe('autograd: grad mode, detach, retainGrad, hooks', () => {
  it('noGrad and enableGrad return what fn returns, and restore the mode', () => {
    const x = f64([1, 2]);
    const obj = { a: 1 };
    expect(gg.noGrad(() => obj)).to.equal(obj);
    expect(gg.enableGrad(() => 42)).to.equal(42);
    const y = gg.noGrad(() => x.mul(2));
    expect(y.requiresGrad).to.equal(false);
    expect(y.isLeaf).to.equal(true);
    const z = gg.noGrad(() => gg.enableGrad(() => x.mul(2)));
    expect(z.requiresGrad).to.equal(true);
    expect(gg.isGradEnabled()).to.equal(true);
    expect(() => gg.noGrad(() => {
      throw new Error('boom');
    })).to.throw('boom');
    expect(gg.isGradEnabled(), 'mode restored after a throw').to.equal(true);
  });

  it('detach shares the values, cuts the graph', async () => {
    const x = f64([1, 2, 3]);
    const y = x.mul(2);
    const d = y.detach();
    expect(d.requiresGrad).to.equal(false);
    expect(d.isLeaf).to.equal(true);
    expect(await values(d)).to.deep.equal([2, 4, 6]);
    // the detached branch contributes no gradient
    y.mul(d).sum().backward(); // d/dx (2x · const) = 2·d
    expect(await values(grad(x))).to.deep.equal([4, 8, 12]);
  });

  it('retainGrad keeps .grad on a non-leaf; without it, non-leaf .grad stays null', async () => {
    const x = f64([1, 2, 3]);
    const y = x.mul(2);
    const z = y.mul(y);
    y.retainGrad();
    z.sum().backward();
    expect(await values(grad(y))).to.deep.equal([4, 8, 12]); // 2y
    expect(z.grad).to.equal(null);
    expect(await values(grad(x))).to.deep.equal([8, 16, 24]);
  });

  it('registerHook on a leaf can replace its gradient', async () => {
    const x = f64([1, 2, 3]);
    const seen: number[][] = [];
    x.registerHook((g) => {
      seen.push(Array.from(g.dataSync()));
    });
    const h = x.registerHook((g) => g.mul(10));
    x.mul(x).sum().backward();
    expect(seen).to.deep.equal([[2, 4, 6]]);
    expect(await values(grad(x))).to.deep.equal([20, 40, 60]);
    h.remove();
    x.grad = null;
    x.mul(x).sum().backward();
    expect(await values(grad(x))).to.deep.equal([2, 4, 6]);
  });

  it('registerHook on a non-leaf changes what flows further back', async () => {
    const x = f64([1, 2]);
    const y = x.mul(3);
    y.registerHook((g) => g.neg());
    y.sum().backward();
    expect(await values(grad(x))).to.deep.equal([-3, -3]);
  });
});

describe('autograd.grad', () => {
  it('returns gradients without touching .grad', async () => {
    const x = f64([1, 2, 3]);
    const [g] = gg.autograd.grad(x.mul(x).sum(), [x]);
    expect(await values(g as gg.Tensor)).to.deep.equal([2, 4, 6]);
    expect(x.grad).to.equal(null);
  });

  it('allowUnused gives null for an input outside the graph; without it, an error', () => {
    const x = f64([1, 2]);
    const unused = f64([5]);
    const y = x.mul(x).sum();
    expect(() => gg.autograd.grad(y, [x, unused], { retainGraph: true })).to.throw(
      /^One of the differentiated Tensors appears to not have been used in the graph/,
    );
    const [gx, gu] = gg.autograd.grad(y, [x, unused], { allowUnused: true });
    expect(gx).to.not.equal(null);
    expect(gu).to.equal(null);
  });

  it('createGraph gives double backward: d²/dx² x³ = 6x', async () => {
    const x = f64([0.5, -1, 2]);
    const y = x.pow(3).sum();
    const [dx] = gg.autograd.grad(y, [x], { createGraph: true });
    expectClose(await values(dx as gg.Tensor), [0.75, 3, 12], F64, 'dy/dx = 3x²');
    const [ddx] = gg.autograd.grad((dx as gg.Tensor).sum(), [x]);
    expectClose(await values(ddx as gg.Tensor), [3, -6, 12], F64, 'd²y/dx² = 6x');
  });

  it('backward with createGraph makes .grad differentiable', async () => {
    const x = f64([2]);
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const g = grad(x);
    expect(g.requiresGrad).to.equal(true);
    const [gg2] = gg.autograd.grad(g.sum(), [x]);
    expect(await values(gg2 as gg.Tensor)).to.deep.equal([12]);
  });

  it('a 100,000-op chain backwards without overflowing the stack', async function () {
    this.timeout(120_000);
    const x = f64([1.5]);
    let y = x;
    for (let i = 0; i < 100_000; i++) y = y.neg();
    y.sum().backward();
    expect(await values(grad(x))).to.deep.equal([1]);
  });
});

// ---- custom functions ---------------------------------------------------------------------------------

class Cube extends customFunction({ saves: true, forward: (x) => x.mul(x).mul(x), backward: (g, x) => g.mul(x.mul(x).mul(3)) }) {}

class WrongCube extends customFunction({
  saves: true,
  forward: (x) => x.mul(x).mul(x),
  backward: (g, x) => g.mul(x.mul(x).mul(2)), // should be 3x²
}) {}

/** Σx², whose backward forgets to multiply by the incoming gradient. */
class IgnoresGrad extends customFunction({ saves: true, forward: (x) => x.mul(x).sum(), backward: (_g, x) => x.mul(2) }) {}

/** 2x, whose backward's factor wobbles a little each call. */
class Noisy extends customFunction({
  forward: (x) => x.mul(2),
  backward: (g) => {
    const noise = gg.rand(g.shape, { dtype: g.dtype }).mul(1e-9);
    return g.mul(noise.add(2));
  },
}) {}

/** A two-input, two-output function: (a·b, a + b). */
class MulAdd extends gg.autograd.Function {
  static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor, b: gg.Tensor): gg.Tensor[] {
    ctx.saveForBackward(a, b);
    return [a.mul(b), a.add(b)];
  }
  static override backward(ctx: gg.autograd.FunctionCtx, gProd: gg.Tensor, gSum: gg.Tensor): gg.Tensor[] {
    const [a, b] = ctx.savedTensors as [gg.Tensor, gg.Tensor];
    return [gProd.mul(b).add(gSum), gProd.mul(a).add(gSum)];
  }
}

describe('autograd.Function', () => {
  it('a right backward passes gradcheck and gradgradcheck', async () => {
    const x = leaf([4], 'any', 7);
    expect(await gg.autograd.gradcheck((t) => Cube.apply(t), [x])).to.equal(true);
    expect(await gg.autograd.gradgradcheck((t) => Cube.apply(t), [x])).to.equal(true);
    const y = Cube.apply(x);
    expect(y.gradFn?.name).to.equal('CubeBackward');
  });

  it('multiple inputs and outputs', async () => {
    const a = leaf([3], 'any', 8);
    const b = leaf([3], 'any', 9);
    expect(await gg.autograd.gradcheck((p, q) => MulAdd.apply<gg.Tensor[]>(p, q), [a, b])).to.equal(true);
    // only one output used: the other gets a zero gradient
    MulAdd.apply<gg.Tensor[]>(a, b)[1]?.sum().backward();
    expect(await values(grad(a))).to.deep.equal([1, 1, 1]);
  });

  it('a wrong backward fails with "Jacobian mismatch for output 0 with respect to input 0"', async () => {
    const x = leaf([3], 'any', 10);
    let message = '';
    try {
      await gg.autograd.gradcheck((t) => WrongCube.apply(t), [x]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/^Jacobian mismatch for output 0 with respect to input 0/);
    expect(message).to.include('numerical');
    expect(message).to.include('analytical');
  });

  it('saved tensors are freed after backward', () => {
    const x = leaf([2], 'any', 11);
    const y = Cube.apply(x).sum();
    y.backward();
    expect(() => y.backward()).to.throw(/^Trying to backward through the graph a second time/);
  });
});

describe('gradcheck: options and messages (docs/spec/gradcheck.md)', () => {
  it('throws when no input requires grad', async () => {
    const x = f64([1, 2], false);
    let message = '';
    try {
      await gg.autograd.gradcheck((t) => t.mul(2), [x]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.equal(
      'gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.',
    );
  });

  it('warns when an input is not float64', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      const x = gg.tensor([1, 2, 3], { requiresGrad: true });
      await gg.autograd.gradcheck((t) => t.mul(2), [x], { raiseException: false, eps: 1e-2, atol: 1e-2 });
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.some((w) => /Input #0 requires gradient and is not a double precision floating point/.test(w)), warnings.join('\n')).to.equal(true);
  });

  it('raiseException: false resolves false instead of throwing', async () => {
    const x = leaf([3], 'any', 12);
    expect(await gg.autograd.gradcheck((t) => WrongCube.apply(t), [x], { raiseException: false })).to.equal(false);
  });

  it('checkGradDtypes: gradients come back in each input\'s dtype, even when a backward returns another', async () => {
    const x = leaf([4], 'any', 21);
    // NOTE: a hook may not change the dtype (PyTorch: "hook has changed the type of value"); a custom
    // backward may, and the engine casts its gradient back to the input's dtype, as PyTorch does
    class Cube32 extends customFunction({ saves: true, forward: (t) => t.mul(t).mul(t), backward: (g, t) => g.mul(t.mul(t)).mul(3).to('float32') }) {}
    for (const fastMode of [false, true]) {
      expect(await gg.autograd.gradcheck((t) => Cube32.apply(t), [x], { checkGradDtypes: true, fastMode, atol: 1e-4, rtol: 1e-3 })).to.equal(true);
    }
  });

  it('fastMode catches a wrong backward and passes a right one', async () => {
    const x = leaf([5], 'any', 13);
    expect(await gg.autograd.gradcheck((t) => Cube.apply(t), [x], { fastMode: true })).to.equal(true);
    let message = '';
    try {
      await gg.autograd.gradcheck((t) => WrongCube.apply(t), [x], { fastMode: true });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/^Jacobian mismatch for output 0 with respect to input 0/);
    expect(await gg.autograd.gradcheck((t) => WrongCube.apply(t), [x], { fastMode: true, raiseException: false })).to.equal(false);
  });

  it('a nondeterministic backward fails "Backward is not reentrant" unless nondetTol allows it', async () => {
    const x = leaf([3], 'any', 14);
    let message = '';
    try {
      await gg.autograd.gradcheck((t) => Noisy.apply(t), [x]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/^Backward is not reentrant/);
    expect(await gg.autograd.gradcheck((t) => Noisy.apply(t), [x], { nondetTol: 1e-6 })).to.equal(true);
  });

  it('a backward that ignores grad_output fails "backward not multiplied by grad_output"', async () => {
    const x = leaf([3], 'any', 15);
    let message = '';
    try {
      await gg.autograd.gradcheck((t) => IgnoresGrad.apply(t), [x]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/backward not multiplied by grad_output/);
  });

  it('gradgradcheck catches a wrong double backward', async () => {
    // a backward that is right to first order but built from detached values has no second derivative
    class FirstOrderOnly extends customFunction({ saves: true, forward: (x) => x.mul(x).mul(x), backward: (g, x) => g.mul(x.detach().mul(x.detach()).mul(3)) }) {}
    const x = leaf([3], 'any', 16);
    expect(await gg.autograd.gradcheck((t) => FirstOrderOnly.apply(t), [x])).to.equal(true);
    expect(await gg.autograd.gradgradcheck((t) => FirstOrderOnly.apply(t), [x], { raiseException: false })).to.equal(false);
  });
});
