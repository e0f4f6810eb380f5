/**
 * Tests written for mutants that survived `npm run mutation` in spectral
 * norm and parametrize (docs/notes/mutation-testing.md): the ModuleDict of
 * parametrizations, typeBeforeParametrizations, a parametrization that
 * returns no tensor, removeSpectralNorm's refusals, the printed form and
 * applySpectralNorm's choices.
 */
import { expect } from 'chai';
import * as gg from '../../src/index.js';

const P = gg.nn.utils.parametrize;

/** A parametrization that doubles (rightInverse halves). */
class Double extends gg.nn.Module {
  forward(x: gg.Tensor): gg.Tensor {
    return x.mul(2);
  }
  rightInverse(x: gg.Tensor): gg.Tensor {
    return x.div(2);
  }
}

describe('parametrize and spectral norm: what mutation testing found untested', () => {
  it("the parametrizations' ModuleDict: keys in insertion order, and it is not callable", () => {
    const lin = new gg.nn.Linear(2, 3);
    P.registerParametrization(lin, 'weight', new Double());
    P.registerParametrization(lin, 'bias', new Double());
    const dict = P.parametrizationsOf(lin)!;
    expect(dict.keys()).to.deep.equal(['weight', 'bias']);
    expect(() => (dict as unknown as { forward(): unknown }).forward()).to.throw('ModuleDict is not callable: call its entries');
  });

  it('typeBeforeParametrizations gives the class the module had', () => {
    const lin = new gg.nn.Linear(2, 2);
    expect(P.typeBeforeParametrizations(lin)).to.equal(gg.nn.Linear);
    P.registerParametrization(lin, 'weight', new Double());
    expect(P.typeBeforeParametrizations(lin)).to.equal(gg.nn.Linear);
    expect(lin).to.be.instanceOf(gg.nn.Linear);
  });

  it("a parametrization must return a tensor (PyTorch's message), first or chained", () => {
    class Bad extends gg.nn.Module {
      forward(): gg.Tensor {
        return 3 as unknown as gg.Tensor;
      }
    }
    expect(() => P.registerParametrization(new gg.nn.Linear(2, 2), 'weight', new Bad())).to.throw('A parametrization must return a tensor. Got int.');
    const lin = new gg.nn.Linear(2, 2);
    P.registerParametrization(lin, 'weight', new Double());
    expect(() => P.registerParametrization(lin, 'weight', new Bad())).to.throw('A parametrization must return a tensor. Got int.');
  });

  it("removeSpectralNorm refuses a name without one, and a chain with other parametrizations", () => {
    const plain = new gg.nn.Linear(2, 2);
    expect(() => gg.nn.utils.removeSpectralNorm(plain)).to.throw("spectral_norm of 'weight' not found in");
    const both = gg.nn.utils.spectralNorm(new gg.nn.Linear(2, 2));
    P.registerParametrization(both, 'weight', new Double());
    expect(() => gg.nn.utils.removeSpectralNorm(both)).to.throw("removeSpectralNorm: 'weight' of");
    expect(() => gg.nn.utils.removeSpectralNorm(both)).to.throw('has other parametrizations besides the spectral norm; use parametrize.removeParametrizations');
  });

  it('the spectral norm prints with nothing inside its parentheses', () => {
    const lin = gg.nn.utils.spectralNorm(new gg.nn.Linear(2, 2));
    const sn = P.parametrizationList(lin, 'weight')!.chain[0] as gg.nn.utils.SpectralNorm;
    expect(sn.extraRepr()).to.equal('');
    expect(String(lin)).to.include('(0): SpectralNorm()\n');
  });

  it('applySpectralNorm skips a module without the parameter, one already normalised, and what the predicate refuses', () => {
    const net = new gg.nn.Sequential(new gg.nn.Linear(2, 2, { bias: false }), new gg.nn.ReLU(), new gg.nn.Linear(2, 2));
    expect(gg.nn.utils.applySpectralNorm(net, { name: 'bias' })).to.deep.equal(['2']);
    expect(gg.nn.utils.applySpectralNorm(net, { name: 'bias' })).to.deep.equal([]);
    expect(gg.nn.utils.applySpectralNorm(net, { predicate: (_m, n) => n !== '0' })).to.deep.equal(['2']);
    expect(gg.nn.utils.applySpectralNorm(net)).to.deep.equal(['0']);
  });
});
