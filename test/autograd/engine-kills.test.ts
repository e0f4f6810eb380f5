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
