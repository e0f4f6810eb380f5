/**
 * The backward engine's edges (src/autograd/engine.ts), written for the
 * mutants `MUTATION_SET=engine npm run mutation` left alive
 * (docs/notes/mutation-testing.md): the messages of autograd.grad and
 * backward for bad grad_outputs and inputs, backward(inputs=...) with leaves
 * and non-leaves, retained gradients, hooks, and accumulation. Expected
 * values are hand computations stated next to each check.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';
import { customFunction } from '../helpers/custom-function.js';

const f64 = { dtype: 'float64' as const };
const vals = (t: gg.Tensor | null | undefined): number[] => Array.from(t!.dataSync());

describe('engine: grad_outputs and inputs of autograd.grad and backward (mutation-testing kills)', () => {
  it("a grad_output of another shape, dtype or an input that does not require grad is refused with its index", () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(2);
    const z = x.mul(3);
    expect(() => gg.autograd.grad([y, z], [x], { gradOutputs: [gg.ones([2], f64), gg.ones([3], f64)] })).to.throw(
      'Mismatch in shape: grad_output[1] has a shape of [3] and output[1] has a shape of [2].',
    );
    expect(() => gg.autograd.grad([y, z], [x], { gradOutputs: [gg.ones([2], f64), gg.ones([2])] })).to.throw(
      "Mismatch in dtype or device: grad_output[1] is float32 on 'cpu' but output[1] is float64 on 'cpu'.",
    );
    const c = gg.tensor([1, 2], f64);
    expect(() => gg.autograd.grad(y, [x, c])).to.throw('One of the differentiated Tensors does not require grad (input 1)');
    expect(() => y.backward(gg.ones([3], f64))).to.throw('Mismatch in shape: grad_output[0] has a shape of [3] and output[0] has a shape of [2].');
  });

  it("an unknown option is refused with the function's name (Python's TypeError)", () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(x).sum();
    expect(() => gg.autograd.grad(y, [x], { bogus: 1 } as never)).to.throw("grad() got an unexpected keyword argument 'bogus'");
    expect(() => y.backward(undefined, { bogus: 1 } as never)).to.throw("backward() got an unexpected keyword argument 'bogus'");
  });

  it('an unused input is named by its index; allowUnused gives null in its place', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const w = gg.tensor([3], { ...f64, requiresGrad: true });
    const y = x.mul(x).sum();
    expect(() => gg.autograd.grad(y, [x, w], { retainGraph: true })).to.throw(
      'One of the differentiated Tensors appears to not have been used in the graph. Set allowUnused: true if this is the desired behavior. (input 1)',
    );
    const [gx, gw] = gg.autograd.grad(y, [x, w], { allowUnused: true });
    // d/dx Σx² = 2x
    expect(vals(gx)).to.deep.equal([2, 4]);
    expect(gw).to.equal(null);
    // without createGraph the result records nothing
    expect(gx!.requiresGrad).to.equal(false);
  });

  it('grad_outputs as one tensor, or null for a scalar output', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    // d/dx Σ g·x² = 2·g·x
    expect(vals(gg.autograd.grad(x.mul(x), x, { gradOutputs: gg.tensor([1, 10], f64) })[0])).to.deep.equal([2, 40]);
    expect(vals(gg.autograd.grad(x.mul(x).sum(), x, { gradOutputs: null })[0])).to.deep.equal([2, 4]);
  });

  it('backward(inputs): only the named leaves accumulate; a named non-leaf gets .grad as a leaf would', () => {
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    const h = a.mul(b);
    // L = Σ h·h: dL/dh = 2h = [6, 16]; dL/da = 2h·b = [18, 64]; dL/db = 2h·a = [6, 32]
    h.mul(h).sum().backward(undefined, { inputs: [b] });
    expect(a.grad).to.equal(null);
    expect(vals(b.grad)).to.deep.equal([6, 32]);
    const h2 = a.mul(b);
    h2.mul(h2).sum().backward(undefined, { inputs: [h2, a] });
    expect(vals(h2.grad)).to.deep.equal([6, 16]);
    expect(vals(a.grad)).to.deep.equal([18, 64]);
    // b was not named this time: its .grad is what the first call left
    expect(vals(b.grad)).to.deep.equal([6, 32]);
  });

  it('retained gradients and leaf gradients accumulate across backward calls; createGraph keeps the graph by default', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(x);
    y.retainGrad();
    // first call with createGraph (retainGraph follows it), second plain: dL/dy = 1, dL/dx = 2x
    y.sum().backward(undefined, { createGraph: true });
    expect(x.grad!.requiresGrad).to.equal(true);
    y.sum().backward();
    expect(vals(y.grad)).to.deep.equal([2, 2]);
    expect(vals(x.grad)).to.deep.equal([4, 8]);
  });
});

describe('engine: the graph walk, broadcast gradients, hooks and the trace (mutation-testing kills)', () => {
  it('shared subexpressions are walked once: autograd.grad through 60 doublings', () => {
    // y = x·2⁶⁰ built as y = y + y: each node reaches the one below by two edges
    const x = gg.tensor([1], { ...f64, requiresGrad: true });
    let y = x;
    for (let i = 0; i < 60; i++) y = y.add(y);
    expect(vals(gg.autograd.grad(y, [x])[0])).to.deep.equal([2 ** 60]);
  });

  it("a custom Function's broadcast gradient is summed back to its input's shape", () => {
    // forward a + b with a [3] and b [2, 1] broadcast to [2, 3]; backward hands both the [2, 3] gradient
    class AddBroadcast extends customFunction({ forward: (a, b) => a.add(b), backward: (g) => [g, g] }) {}
    const a = gg.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    const b = gg.tensor([[10], [20]], { ...f64, requiresGrad: true });
    const g = gg.tensor([[1, 2, 3], [4, 5, 6]], f64);
    const [ga, gb] = gg.autograd.grad(AddBroadcast.apply(a, b), [a, b], { gradOutputs: [g] });
    // a: column sums [5, 7, 9], shape [3]; b: row sums [6, 15], shape [2, 1]
    expect(ga!.shape).to.deep.equal([3]);
    expect(vals(ga)).to.deep.equal([5, 7, 9]);
    expect(gb!.shape).to.deep.equal([2, 1]);
    expect(vals(gb)).to.deep.equal([6, 15]);
  });

  it("a tensor hook's replacement must keep the gradient's shape, dtype and device (PyTorch's messages)", () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const run = (hook: gg.GradHook): (() => void) => () => {
      const y = x.mul(2);
      y.registerHook(hook);
      y.sum().backward();
    };
    const returnsNumber = (): unknown => 3;
    expect(run(returnsNumber as gg.GradHook)).to.throw(TypeError, "hook 'returnsNumber' returned int: a tensor hook must return a Tensor or nothing");
    expect(run((() => 'x') as unknown as gg.GradHook)).to.throw(TypeError, "hook '<anonymous>' returned str: a tensor hook must return a Tensor or nothing");
    expect(run(function widen() {
      return gg.ones([3], f64);
    })).to.throw("hook 'widen' has changed the size of value (was [2] got [3])");
    expect(run(function narrowType() {
      return gg.ones([2]);
    })).to.throw("hook 'narrowType' has changed the type of value (was float64 got float32)");
    // float32 (gpu:cpu holds no float64)
    const x32 = gg.tensor([1, 2], { requiresGrad: true });
    const y32 = x32.mul(2);
    y32.registerHook(function move(g: gg.Tensor) {
      return g.to('gpu:cpu');
    });
    expect(() => y32.sum().backward()).to.throw("hook 'move' has changed the device of value (was cpu got gpu:cpu)");
    // a hook returning nothing (undefined or null, as PyTorch's None) keeps the gradient: d/dx Σ2x = 2
    x.grad = null;
    run(() => undefined)();
    expect(vals(x.grad)).to.deep.equal([2, 2]);
    x.grad = null;
    run((() => null) as unknown as gg.GradHook)();
    expect(vals(x.grad)).to.deep.equal([2, 2]);
  });

  it("a node's post hooks see its gradients and may replace what it sends on; the trace counts them", () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.mul(x);
    const seen: number[][] = [];
    // MulBackward0 sends g·x along both of its edges (both to x); the hook multiplies each by 10: 10·2x = [20, 40]
    let kept: gg.Tensor | null = null;
    y.gradFn!.postHooks.push((gin, gout) => {
      seen.push(vals(gout[0]));
      // what a hook makes and keeps is its own (not freed with the rule's temporaries)
      kept = gout[0]!.mul(5);
      return gin.map((g) => (g ? g.mul(10) : null));
    });
    y.gradFn!.postHooks.push(() => undefined);
    const t = gg.autograd.trace(() => y.sum().backward());
    expect(seen).to.deep.equal([[1, 1]]);
    expect(vals(x.grad)).to.deep.equal([20, 40]);
    expect(vals(kept)).to.deep.equal([5, 5]);
    expect(t.steps.find((s) => s.name === 'MulBackward0')!.hooks).to.equal(2);
    // a captured node does not run: its post hooks neither run nor count
    const h = x.mul(3);
    let ran = 0;
    h.gradFn!.postHooks.push(() => void ran++);
    const c = gg.autograd.trace(() => gg.autograd.grad(h.sum(), [h]));
    expect(ran).to.equal(0);
    expect(c.steps.find((s) => s.action === 'capture')!.hooks).to.equal(0);
  });

  it('a hook on an output that receives no gradient is not called', () => {
    class Two extends gg.autograd.Function {
      static override forward(ctx: gg.autograd.FunctionCtx, a: gg.Tensor): gg.Tensor[] {
        void ctx;
        return [a.mul(2), a.mul(3)];
      }
      static override backward(ctx: gg.autograd.FunctionCtx, gp: gg.Tensor, gq: gg.Tensor): gg.Tensor {
        void ctx;
        return gp.mul(2).add(gq.mul(3));
      }
    }
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const [p, q] = Two.apply(x);
    let calls = 0;
    q!.registerHook(() => void calls++);
    p!.sum().backward();
    expect(calls).to.equal(0);
    // d/dx Σ2x = 2 (q's zero gradient adds nothing)
    expect(vals(x.grad)).to.deep.equal([2, 2]);
  });

  it('a captured non-leaf (autograd.grad) and a named one (backward inputs) do not run: the graph below them stays usable', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const h = x.mul(x);
    // d/dh Σh² = 2h = [2, 8]
    expect(vals(gg.autograd.grad(h.mul(h).sum(), [h])[0])).to.deep.equal([2, 8]);
    h.mul(h).sum().backward(undefined, { inputs: [h] });
    expect(vals(h.grad)).to.deep.equal([2, 8]);
    expect(x.grad).to.equal(null);
    // h's MulBackward0 kept its saved tensors: d/dx Σx² = 2x
    h.sum().backward();
    expect(vals(x.grad)).to.deep.equal([2, 4]);
  });

  it('the trace of autograd.grad names a captured non-leaf "capture" and does not run it', () => {
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const h = x.mul(3);
    const t = gg.autograd.trace(() => gg.autograd.grad(h.mul(h).sum(), [h]));
    // d/dh Σh² = 2h = [6, 12]
    expect(vals(t.result[0])).to.deep.equal([6, 12]);
    expect(t.steps.map((s) => [s.name, s.action])).to.deep.equal([
      ['SumBackward0', 'backward'],
      ['MulBackward0', 'backward'],
      ['MulBackward0', 'capture'],
    ]);
    // a leaf's AccumulateGrad is captured too; in backward it accumulates
    const leaf = gg.autograd.trace(() => gg.autograd.grad(x.mul(x).sum(), [x]));
    expect(leaf.steps.map((s) => s.action)).to.deep.equal(['backward', 'backward', 'capture']);
    const acc = gg.autograd.trace(() => x.mul(x).sum().backward());
    expect(acc.steps.map((s) => s.action)).to.deep.equal(['backward', 'backward', 'accumulate']);
  });
});

describe('engine: accumulation and the tensors it frees (mutation-testing kills)', () => {
  it("what a custom backward keeps is its own; the caller's gradient and an earlier createGraph .grad stay readable", () => {
    let keptInBackward: gg.Tensor | null = null;
    class Keeps extends customFunction({
      forward: (a) => a.mul(2),
      backward: (g) => {
        keptInBackward = g.mul(7);
        return g.mul(2);
      },
    }) {}
    const x = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const gradient = gg.tensor([1, 3], f64);
    Keeps.apply(x).backward(gradient);
    expect(vals(keptInBackward)).to.deep.equal([7, 21]);
    expect(vals(gradient)).to.deep.equal([1, 3]);
    // d/dx Σ g·2x = 2g
    expect(vals(x.grad)).to.deep.equal([2, 6]);
    // createGraph: the first .grad is part of the recorded sum and stays readable
    const z = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    z.mul(z).sum().backward(undefined, { createGraph: true });
    const first = z.grad!;
    z.mul(z).sum().backward(undefined, { createGraph: true });
    expect(vals(first)).to.deep.equal([2, 4]);
    expect(vals(z.grad)).to.deep.equal([4, 8]);
  });

  it('a leaf whose backward sends no gradient keeps .grad null; autograd.grad of a non-scalar needs grad_outputs', () => {
    class FirstOnly extends customFunction({ forward: (a, b) => a.mul(b), backward: (g) => [g, null] }) {}
    const a = gg.tensor([1, 2], { ...f64, requiresGrad: true });
    const b = gg.tensor([3, 4], { ...f64, requiresGrad: true });
    FirstOnly.apply(a, b).sum().backward();
    expect(vals(a.grad)).to.deep.equal([1, 1]);
    expect(b.grad).to.equal(null);
    expect(() => gg.autograd.grad(a.mul(2), [a])).to.throw('grad can be implicitly created only for scalar outputs');
  });
});
